"""SigV4 authentication in front of the local S3 emulator (issue 14.12).

moto's server answers any request: unsigned LISTs and PUTs, presigned URLs with a forged signature
or long expired. moto 5's own IAM authentication (``INITIAL_NO_AUTH_ACTION_COUNT``) reads only the
``Authorization`` header: a presigned URL — what the viewer and ``facesvg submit`` fetch results
with — or an unsigned request then fails inside moto with HTTP 500, and it never checks
``X-Amz-Expires``. So the S3 server process wraps moto's WSGI app in ``authenticate``, which does
what S3 does before moto sees the request:

* a request signed in its ``Authorization`` header (the SDKs, the ``aws`` CLI): the signature must
  match one of the local keys' (``LOCAL_KEYS``) and ``X-Amz-Date`` be within 15 minutes of now;
* a presigned URL (``X-Amz-Signature`` in the query): the signature must match, and the URL must
  not have expired (``X-Amz-Date`` + ``X-Amz-Expires``, at most SigV4's 7 days);
* anything else is anonymous and refused (the bucket has no public objects), except the CORS
  preflight (``OPTIONS``), which S3 answers without credentials too.

Refusals are S3's XML errors with S3's codes: 403 ``AccessDenied`` (anonymous; "Request has
expired"), ``InvalidAccessKeyId``, ``SignatureDoesNotMatch``, ``RequestTimeTooSkewed``, 400
``AuthorizationQueryParametersError``. The payload is taken as the client declared it
(``x-amz-content-sha256``, as S3 checks the body separately; the body is hashed only for requests
without that header, e.g. SQS on this server). Local only: never shipped to Lambda.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import io
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

ALGORITHM = "AWS4-HMAC-SHA256"
# access key id → secret: the credentials the runtime gives the functions, and the usual local ones
# of moto and LocalStack (`AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws s3 ...`).
LOCAL_KEYS: Mapping[str, str] = {"local": "local", "test": "test"}
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
MAX_SKEW_SECONDS = 15 * 60

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def authenticate(
    app: WsgiApp, keys: Mapping[str, str] = LOCAL_KEYS, clock: Callable[[], float] = time.time
) -> WsgiApp:
    """``app`` behind SigV4 checks: refused requests never reach it."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            check(environ, keys, clock())
        except Refused as refused:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{refused.code}</Code><Message>{escape(refused.message)}</Message></Error>"
            ).encode()
            start_response(
                f"{refused.status} {'Forbidden' if refused.status == 403 else 'Bad Request'}",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return app(environ, start_response)

    return wsgi


def check(environ: dict[str, Any], keys: Mapping[str, str], now: float) -> None:
    """Raise ``Refused`` unless the request is signed by one of ``keys`` and still valid."""
    method = environ.get("REQUEST_METHOD", "GET")
    pairs = _query_pairs(environ.get("QUERY_STRING", ""))
    query = dict(pairs)
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if authorization:
        fields = _authorization_fields(authorization)
        credential, signed, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
        amz_date = environ.get("HTTP_X_AMZ_DATE", "")
        if abs(now - _epoch(amz_date)) > MAX_SKEW_SECONDS:
            raise Refused(
                403, "RequestTimeTooSkewed", "The difference between the request time and now is too large"
            )
        payload = environ.get("HTTP_X_AMZ_CONTENT_SHA256") or _body_sha256(environ)
        canonical_query = pairs
    elif "X-Amz-Signature" in query:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise Refused(400, "AuthorizationQueryParametersError", f"X-Amz-Algorithm must be {ALGORITHM}")
        try:
            credential, signed = query["X-Amz-Credential"], query["X-Amz-SignedHeaders"]
            signature, amz_date = query["X-Amz-Signature"], query["X-Amz-Date"]
            expires = int(query["X-Amz-Expires"])
        except (KeyError, ValueError) as exc:
            raise Refused(400, "AuthorizationQueryParametersError", f"missing or bad {exc}") from None
        if not 0 < expires <= MAX_PRESIGN_SECONDS:
            raise Refused(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be 1..604800 seconds")
        if now > _epoch(amz_date) + expires:
            raise Refused(403, "AccessDenied", "Request has expired")
        payload = query.get("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
        canonical_query = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    elif method == "OPTIONS":
        return  # CORS preflight: S3 answers it without credentials
    else:
        raise Refused(403, "AccessDenied", "Access Denied (the local S3 needs signed requests)")

    access_key, _, scope = credential.partition("/")
    secret = keys.get(access_key)
    if secret is None:
        raise Refused(
            403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
        )
    date, region, service, terminator = [*scope.split("/"), "", "", "", ""][:4]
    if terminator != "aws4_request" or not amz_date.startswith(date):
        raise Refused(403, "SignatureDoesNotMatch", "bad credential scope")
    raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"))
    path = raw_path.split("?", 1)[0] or "/"
    if service != "s3":  # the other services sign the normalised, once-encoded path
        path = quote(unquote(path), safe="/~")
    headers = signed.split(";")
    canonical_request = "\n".join(
        [
            method,
            path,
            "&".join(
                f"{_enc(k)}={_enc(v)}"
                for k, v in sorted(canonical_query, key=lambda kv: (_enc(kv[0]), _enc(kv[1])))
            ),
            "".join(f"{h}:{' '.join(_header(environ, h).split())}\n" for h in headers),
            signed,
            payload,
        ]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query_string.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def _authorization_fields(header: str) -> dict[str, str]:
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        raise Refused(400, "InvalidRequest", f"only {ALGORITHM} is supported locally")
    fields = {}
    for item in rest.split(","):
        name, _, value = item.strip().partition("=")
        fields[name] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise Refused(400, "AuthorizationHeaderMalformed", "the Authorization header is malformed")
    return fields


def _header(environ: dict[str, Any], name: str) -> str:
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return str(environ.get(key, ""))
    return str(environ.get("HTTP_" + key, ""))


def _epoch(amz_date: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise Refused(403, "AccessDenied", "X-Amz-Date is missing or malformed") from None


def _body_sha256(environ: dict[str, Any]) -> str:
    """Hash the body (and put it back for the app)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return hashlib.sha256(body).hexdigest()
