"""The service's own errors. ``facesvg.service.api`` maps them to status codes (one table there);
the adapters translate AWS errors into them, so no botocore type reaches the rules or the API."""

from __future__ import annotations


class ServiceError(Exception):
    """An error the API turns into a JSON error response."""

    code = "ServiceError"
    field: str | None = None  # the request field at fault, when there is one

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobNotFound(ServiceError):
    code = "NotFound"


class InvalidCallbackUrl(ServiceError):
    """A ``callback_url`` the service refuses to call (400 naming the field)."""

    code = "InvalidCallbackUrl"
    field = "callback_url"


class TooManyCallbacks(ServiceError):
    code = "TooManyCallbacks"
    field = "callback_url"


class PayloadTooLarge(ServiceError):
    code = "PayloadTooLarge"


class ServiceUnavailable(ServiceError):
    """Temporary: the client should retry after ``retry_after_seconds`` (503 + ``Retry-After``)."""

    code = "ServiceUnavailable"
    retry_after_seconds = 1


class StoreUnavailable(ServiceUnavailable):
    """A backing store (DynamoDB, S3, SQS) throttled or could not be reached, after the SDK's own
    retries. The client gets the same answer as for any other 503; ``str()`` keeps the detail for
    the logs and a failed job's reason."""

    def __init__(self, detail: str) -> None:
        super().__init__("temporarily unavailable, retry shortly")
        self.args = (detail,)


class StoreError(Exception):
    """A backing store refused a call for a reason a retry will not fix (a bug, a missing object,
    a permission): an internal error, never shown to the client."""


class TransientError(Exception):
    """Raised by ``process`` to make SQS deliver the message again later."""
