"""AWS errors → the service's errors, at the adapter boundary.

botocore has already retried (standard mode, 4 attempts) what it considers retryable; what still
fails here is either *unavailable* (throttled, a 5xx, no connection: ``StoreUnavailable``, 503 with
``Retry-After``) or a refusal a retry will not fix (``StoreError``, an internal error). Conditional
check failures are answers, not errors: each adapter handles its own before this runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from facesvg.service.errors import StoreError, StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

# Error codes (and TransactWriteItems cancellation reasons) that mean "too busy, come back later".
UNAVAILABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "ThrottlingError",
        "TransactionConflict",
        "TransactionInProgressException",
        "ServiceUnavailable",
        "InternalServerError",
        "InternalError",
    }
)
_CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(exc: ClientError) -> list[str]:
    """A cancelled ``TransactWriteItems``' reason per item (``"None"`` for items that were fine)."""
    return [str(r.get("Code")) for r in exc.response.get("CancellationReasons") or []]


def is_unavailable(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return (
        status >= 500
        or error_code(exc) in UNAVAILABLE_CODES
        or any(reason in UNAVAILABLE_CODES for reason in cancellation_reasons(exc))
    )


def translate(exc: Exception, what: str) -> Exception:
    """The service error for ``exc``, raised by an adapter while doing ``what``."""
    if isinstance(exc, ClientError):
        detail = f"{what}: {error_code(exc)}"
        return StoreUnavailable(detail) if is_unavailable(exc) else StoreError(f"{detail}: {exc}")
    detail = f"{what}: {type(exc).__name__}: {exc}"
    return StoreUnavailable(detail) if isinstance(exc, _CONNECTION_ERRORS) else StoreError(detail)


def translated(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an adapter method: AWS errors leave it as the service's errors (the original chained)."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise translate(exc, what) from exc

        return wrapper

    return decorate
