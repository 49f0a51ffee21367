"""Client scopes: whose a job is, and who may read it.

A scope names the client a job belongs to: ``key:<apiKeyId>`` (API Gateway's usage-plan key),
``hdr:<hash of the key>`` (a gateway that checks the key but has no ids: the local one),
``local`` (no key: the local stack without ``--api-key``) or ``drop`` (the S3 drop folder). The
cache item is per scope (``HASH#<hash>#<scope>``), and the status of a job is answered only to its
scope (``may_read``; the store filters by ``readable_scopes``). Standard library only: the status
function imports this.
"""

from __future__ import annotations

import hashlib
import re

LOCAL_SCOPE = "local"  # no API key (the local stack without --api-key)
DROP_SCOPE = "drop"  # the S3 drop folder (whoever may write incoming/)
_API_KEY_ID = re.compile(r"^[A-Za-z0-9]{1,128}$")


def client_scope(api_key_id: str | None, api_key: str | None) -> str:
    """Whose cache a request uses: API Gateway's ``requestContext.identity.apiKeyId`` (the usage
    plan's key, set by API Gateway, not the caller), else a hash of ``identity.apiKey`` (the key the
    local gateway checked; it has no ids), else ``local``. Never the key itself, and never the
    ``x-api-key`` header: a caller may repeat it with values the gateway did not check."""
    if api_key_id and _API_KEY_ID.fullmatch(api_key_id):
        return f"key:{api_key_id}"
    if api_key:
        return "hdr:" + hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return LOCAL_SCOPE


def may_read(caller: str, job_scope: str) -> bool:
    """Whether a caller in scope ``caller`` may see a job of scope ``job_scope``: only its own.

    * a ``drop`` job is no API caller's (the API never computes ``drop``): its results are read
      from ``results/<name>/`` by whoever may read the bucket; nothing polls its status.
    * a job written before scopes existed (``job_scope`` empty) cannot be told whose it is: only
      the keyless ``local`` scope reads it (the local stack without ``--api-key``, one tenant, whose
      restored state keeps answering); every keyed caller — every caller on AWS, where the key is
      required — gets 404, as for a job that never existed (its owner submits again: a new job).
    """
    return caller == (job_scope or LOCAL_SCOPE)


def readable_scopes(caller: str) -> tuple[str, ...]:
    """The job scopes ``may_read`` lets ``caller`` read, for a store to filter by (``""``: a job
    written before scopes, read only by the keyless ``local`` scope)."""
    return (caller, "") if caller == LOCAL_SCOPE else (caller,)
