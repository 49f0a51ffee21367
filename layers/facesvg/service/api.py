"""The HTTP API: routes of both families, request validation, OpenAPI/Swagger, and the ONE place
where errors become status codes.

Both the submit and the status function serve this resolver (API Gateway sends each function only
its own routes; each function's IAM role only allows what its routes need), so the OpenAPI document
and the error mapping are the same wherever they are served. Every error body is
``{"detail": <message>, "error": {"code", "message", "field"}}`` (``detail``: FastAPI-style clients).

==============================  ======  ==========================================
error                           status  body ``{"error": {"code", "message", "field"}}``
==============================  ======  ==========================================
request body fails the schema   400     code ``ValidationError``, field = dotted path
body not JSON / not UTF-8       400     code ``ValidationError``, field ``body``
POST with a non-JSON type       415     ``UnsupportedMediaType``, field ``Content-Type``
``InputError`` (core)           400     its code and field
``NoFace`` (core)               422     ``NoFace``
``InvalidCallbackUrl``          400     field ``callback_url`` (refused URL class)
``TooManyCallbacks``            409     field ``callback_url``
``JobNotFound`` / unknown route 404     ``NotFound`` (also another client's job)
``PayloadTooLarge``             413
``ServiceUnavailable``          503     with ``Retry-After`` (``StoreUnavailable``: an AWS
                                        store throttled or unreachable)
anything else                   500     ``InternalError`` (details only in the logs)
==============================  ======  ==========================================
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from facesvg import names
from facesvg.core import documents
from facesvg.core.errors import InputError, NoFace
from facesvg.service import api_docs
from facesvg.service import metrics_catalog as mc
from facesvg.service import validation_hints as hints
from facesvg.service.errors import (
    InvalidCallbackUrl,
    JobNotFound,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    TooManyCallbacks,
)
from facesvg.service.jobs import JobService
from facesvg.service.models import (
    ErrorResponse,
    Job,
    JobStatusResponse,
    SubmitAccepted,
    SubmitRequest,
)
from facesvg.service.observability import correlation, logger, record
from facesvg.service.scopes import client_scope
from facesvg.service.status import bounded_json
from facesvg.service.status_response import status_response

API_TITLE = "facesvg"
API_VERSION = "1.0.0"
API_DESCRIPTION = (
    "Face photo + segmentation map + landmarks → SVG of smooth, styled facial-region contours. "
    "Submit returns a job id at once; poll the status URL until the job is completed or failed. "
    "Identical submissions with the same API key return the same job. With `callback_url`, a signed "
    "webhook is POSTed there when the job ends (docs/notifications.md)."
)

_STATUS_CODES: dict[type[ServiceError], HTTPStatus] = {
    JobNotFound: HTTPStatus.NOT_FOUND,
    InvalidCallbackUrl: HTTPStatus.BAD_REQUEST,
    TooManyCallbacks: HTTPStatus.CONFLICT,
    PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ServiceUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def _error(
    status: HTTPStatus,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> Response[Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    body.update(details or {})
    return Response(
        status_code=status.value,
        content_type="application/json",
        # ``detail``: where FastAPI-style clients read the message; ``error`` has the code and field.
        body=json.dumps({"detail": message, "error": body}),
        headers=headers,
    )


def _error_doc(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorResponse}}}


def _ok_doc(description: str, model: type) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


def _client_scope(event: APIGatewayProxyEvent) -> str:
    """The caller's scope, only from what the gateway validated and wrote into the event's
    ``requestContext.identity`` (``apiKeyId``, ``apiKey``): never from the ``x-api-key`` headers,
    where a caller may repeat the header with other values than the one the gateway checked."""
    identity = (event.get("requestContext") or {}).get("identity") or {}  # absent in hand-made events
    if not isinstance(identity, dict):
        return client_scope(None, None)
    return client_scope(_text(identity.get("apiKeyId")), _text(identity.get("apiKey")))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json(model: Any, status: HTTPStatus) -> Response[Any]:
    # Serialised here (pydantic-core, fast) rather than by the resolver: the routes carry no return
    # annotation, so Powertools does not re-validate a response with thousands of contour points.
    # The OpenAPI responses are declared explicitly on each route instead.
    # A status body is kept under Lambda's 6 MB response limit (facesvg.service.status).
    body = (
        bounded_json(model)
        if isinstance(model, JobStatusResponse)
        else model.model_dump_json(exclude_none=True)
    )
    return Response(status_code=status.value, content_type="application/json", body=body)


_MAX_BODY_CONTAINERS = 200_000  # a request has ~500 (the landmarks); a hostile 5 MB body ~1.8 million


def _json_body(text: str) -> Any:
    """The request body as JSON, bounded: a number too long for Python's int() (over 4300 digits)
    reads as infinity and is refused where it is used, naming its field; nesting deeper than the
    interpreter allows is a 400 naming the top-level field it is in (a 500 before); so many lists
    and objects that parsing them would cost seconds and hundreds of MB is refused before parsing."""
    if documents.count_containers(text) > _MAX_BODY_CONTAINERS:
        error = {
            "type": "too_many_values",
            "loc": ("body",),
            "msg": "too many lists and objects",
            "input": {},
        }
        raise RequestValidationError([error])
    try:
        return json.loads(text, parse_int=documents.bounded_int)
    except RecursionError:
        field = documents.deep_key(text) or "body"
        error = {"type": "too_deep", "loc": ("body", field), "msg": "nested too deeply", "input": {}}
        raise RequestValidationError([error]) from None


class Resolver(APIGatewayRestResolver):
    """Powertools' REST resolver whose documentation pages (``names.DOCS_PATHS``) are set up on the
    first request for one: that imports Powertools' OpenAPI models (~30 ms), which no other request
    needs and every cold start of the status function used to pay.

    ``/docs`` is Swagger UI and ``/openapi.json`` the OpenAPI document, where FastAPI services serve
    them: both are answered by the ``/swagger`` route (``?format=json`` for the document; the
    event is rewritten in :func:`resolve`, before anything reads it)."""

    def __init__(self, *, serve_docs: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._serve_docs = serve_docs
        self._docs_pending = serve_docs
        self._docs_lock = threading.Lock()

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if self._serve_docs and event.get("path") in names.DOCS_PATHS:
            self._enable_docs()
        return super().resolve(event, context)

    def _enable_docs(self) -> None:
        with self._docs_lock:  # the local API resolves requests on several threads
            if self._docs_pending:
                self.enable_swagger(
                    path=names.SWAGGER_PATH, title=API_TITLE, description=API_DESCRIPTION, version=API_VERSION
                )
                self._docs_pending = False

    def redoc_page(self) -> Response[Any]:
        """``GET /redoc``: ReDoc over the same OpenAPI document, its script served inline."""
        bundle = api_docs.redoc_bundle()
        if bundle is None:
            return _error(HTTPStatus.NOT_FOUND, "NotFound", api_docs.REDOC_MISSING)
        spec = self.get_openapi_json_schema(title=API_TITLE, description=API_DESCRIPTION, version=API_VERSION)
        return Response(
            status_code=HTTPStatus.OK.value,
            content_type="text/html; charset=utf-8",
            body=api_docs.redoc_html(spec, bundle, API_TITLE),
            headers={"Content-Security-Policy": api_docs.REDOC_CSP},
        )


def create_app(
    service_factory: Callable[[], JobService], cors_allow_origin: str = "", serve_docs: bool = True
) -> Resolver:
    """A resolver with every route of both families, Swagger UI and the error mapping.

    ``cors_allow_origin`` (``FACESVG_CORS_ALLOW_ORIGIN``) lets a page on another origin (the viewer
    on its own host) read the responses; empty means same-origin use only. ``serve_docs``: answer
    ``names.DOCS_PATHS`` (the status function does; API Gateway never sends them to submit).
    """
    cors = (
        CORSConfig(allow_origin=cors_allow_origin, allow_headers=["x-api-key", "content-type"], max_age=600)
        if cors_allow_origin
        else None
    )
    app = Resolver(
        serve_docs=serve_docs, enable_validation=True, cors=cors, json_body_deserializer=_json_body
    )
    for prefix in names.ROUTE_PREFIXES:
        _add_job_routes(app, service_factory, prefix)
    if serve_docs:
        app.get(names.REDOC_PATH, include_in_schema=False)(app.redoc_page)
    _add_error_handlers(app)
    return app


# ------------------------------------------------------------------------------ job routes


def _add_job_routes(app: Resolver, service_factory: Callable[[], JobService], prefix: str) -> None:
    """``POST <prefix>/submit`` and ``GET <prefix>/status/{id}`` of one route family."""
    family = "frontal_crop" if "frontal" in prefix else "v1"
    app.post(
        prefix + names.SUBMIT_PATH,
        operation_id=f"submit_{family}",
        summary="Submit a face for rendering",
        tags=["jobs"],
        responses={
            202: _ok_doc("Job accepted (new, or an identical job is still running)", SubmitAccepted),
            200: _ok_doc(
                "An identical job of the same API key already finished: its status, with the result",
                JobStatusResponse,
            ),
            400: _error_doc("The body is invalid (or callback_url is refused); error.field names the field"),
            409: _error_doc("The job already has the most callbacks it takes (TooManyCallbacks)"),
            413: _error_doc("The body is too large"),
            415: _error_doc("The Content-Type is not JSON (application/json or a +json type)"),
            422: _error_doc("The inputs show no usable face (NoFace)"),
            503: _error_doc("Temporarily unavailable; retry"),
        },
    )(_submit_route(app, service_factory, prefix))
    app.get(
        prefix + names.STATUS_PATH.replace("{id}", "<id>"),
        operation_id=f"status_{family}",
        summary="Job status, with the SVG and contours once completed",
        tags=["jobs"],
        responses={
            200: _ok_doc("The job", JobStatusResponse),
            404: _error_doc("No job with this id for this API key"),
        },
    )(_status_route(app, service_factory, prefix))


def _submit_route(
    app: Resolver, service_factory: Callable[[], JobService], prefix: str
) -> Callable[[SubmitRequest], Response[Any]]:
    def submit(body: SubmitRequest):  # type: ignore[no-untyped-def]  # no annotation: see _json
        outcome = service_factory().submit_request(body, scope=_client_scope(app.current_event))
        job = outcome.job
        record(mc.JOBS_SUBMITTED, 1)
        kind = mc.CACHE_MISSES if outcome.created else mc.CACHE_HITS if job.status.terminal else mc.DUPLICATES
        record(kind, 1)
        with correlation(job_id=job.job_id, content_hash=job.content_hash):
            logger.info("job submitted", extra={"new_job": outcome.created, "status": job.status})
        if job.status.terminal:
            finished = _job_body(app, service_factory(), job, prefix)
            finished.client_reference = body.client_reference
            return _json(finished, HTTPStatus.OK)
        accepted = SubmitAccepted(
            id=job.job_id,
            job_id=job.job_id,
            status=job.status,
            status_url=_status_url(app, prefix, job.job_id),
            client_reference=body.client_reference,
        )
        return _json(accepted, HTTPStatus.ACCEPTED)

    return submit


def _status_route(
    app: Resolver, service_factory: Callable[[], JobService], prefix: str
) -> Callable[[str], Response[Any]]:
    def status(id: str):  # type: ignore[no-untyped-def]  # no annotation: see _json
        # Only the caller's own job: another client's is 404 NotFound, the same answer as an
        # unknown id (never 403, which would confirm that the id exists).
        job = service_factory().get_job(id, scope=_client_scope(app.current_event))
        record(mc.STATUS_POLLS, 1, status=job.status.value)
        return _json(_job_body(app, service_factory(), job, prefix), HTTPStatus.OK)

    return status


def _status_url(app: Resolver, prefix: str, job_id: str) -> str:
    """The job's status URL as the caller reached the API (its host, scheme and stage)."""
    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    path = f"{prefix}{names.STATUS_PATH.replace('{id}', job_id)}"
    stage = event.request_context.stage
    if stage and stage != "$default" and (event.request_context.path or "").startswith(f"/{stage}/"):
        path = f"/{stage}{path}"
    host = headers.get("host")
    if not host:
        return path
    return f"{headers.get('x-forwarded-proto', 'https')}://{host}{path}"


def _job_body(app: Resolver, service: JobService, job: Job, prefix: str) -> JobStatusResponse:
    return status_response(service.status_view(job), _status_url(app, prefix, job.job_id))


# ------------------------------------------------------------------- the one error mapping


def _add_error_handlers(app: Resolver) -> None:
    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[Any]:
        field, message = hints.request_problem(exc.errors(), SubmitRequest)
        record(mc.REQUESTS_REJECTED, 1, error_code="ValidationError")
        return _error(HTTPStatus.BAD_REQUEST, "ValidationError", f"{field}: {message}", field)

    @app.exception_handler(InputError)
    def _input_error(exc: InputError) -> Response[Any]:
        status = HTTPStatus.UNPROCESSABLE_ENTITY if isinstance(exc, NoFace) else HTTPStatus.BAD_REQUEST
        record(mc.REQUESTS_REJECTED, 1, error_code=exc.code)
        return _error(status, exc.code, exc.message, exc.field, details=exc.details)

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response[Any]:
        status = next(
            (s for cls, s in _STATUS_CODES.items() if isinstance(exc, cls)), HTTPStatus.INTERNAL_SERVER_ERROR
        )
        headers = None
        if isinstance(exc, ServiceUnavailable):
            logger.warning("service unavailable", extra={"error": str(exc)[:300]})
            headers = {"Retry-After": str(exc.retry_after_seconds)}
        if status is HTTPStatus.BAD_REQUEST:
            record(mc.REQUESTS_REJECTED, 1, error_code=exc.code)
        return _error(status, exc.code, exc.message, exc.field, headers=headers)

    @app.not_found
    def _not_found(exc: Exception) -> Response[Any]:
        return _error(
            HTTPStatus.NOT_FOUND,
            "NotFound",
            f"no route for {app.current_event.http_method} {app.current_event.path}",
        )

    @app.exception_handler(Exception)
    def _internal(exc: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "InternalError", "internal error")


def resolve(app: Resolver, event: dict[str, Any], context: Any, max_body_bytes: int) -> dict[str, Any]:
    """Run one API Gateway event through the app, refusing oversized bodies before parsing them."""
    event = _docs_alias(event)
    body = event.get("body") or ""
    media_type = _media_type(event)
    if event.get("httpMethod") == "POST" and media_type:
        if not _is_json(media_type):
            record(mc.REQUESTS_REJECTED, 1, error_code="UnsupportedMediaType")
            return _proxy_result(
                _error(
                    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    f"Content-Type: the body must be JSON (application/json or a +json type), "
                    f"not {media_type[:100]!r}",
                    "Content-Type",
                )
            )
        event = _with_json_content_type(event)
    size = _body_bytes(body, bool(event.get("isBase64Encoded")))
    if size and event.get("httpMethod") == "POST":
        record(mc.PAYLOAD_BYTES, size)
    if size > max_body_bytes:
        record(mc.REQUESTS_REJECTED, 1, error_code=PayloadTooLarge.code)
        response = _error(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            PayloadTooLarge.code,
            f"the body is larger than {max_body_bytes} bytes",
        )
        return _proxy_result(response)
    if event.get("isBase64Encoded") and event.get("httpMethod") == "POST" and body:
        # A JSON body that arrives base64-encoded (not valid UTF-8 text on the way in): decode it
        # here, so bytes that are not UTF-8 are a 400 naming the body rather than a 500.
        try:
            text = base64.b64decode(body).decode("utf-8")
        except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
            record(mc.REQUESTS_REJECTED, 1, error_code="ValidationError")
            return _proxy_result(
                _error(HTTPStatus.BAD_REQUEST, "ValidationError", "body: the body is not UTF-8 JSON", "body")
            )
        event = {**event, "body": text, "isBase64Encoded": False}
    return app.resolve(event, context)


def _docs_alias(event: dict[str, Any]) -> dict[str, Any]:
    """``GET /docs`` as ``GET /swagger`` and ``GET /openapi.json`` as ``GET /swagger?format=json``
    (the paths FastAPI services serve them at); any other event unchanged."""
    path = event.get("path")
    if event.get("httpMethod") != "GET" or path not in (names.DOCS_PATH, names.OPENAPI_PATH):
        return event
    if path == names.DOCS_PATH:
        return {**event, "path": names.SWAGGER_PATH}
    return {
        **event,
        "path": names.SWAGGER_PATH,
        "queryStringParameters": {"format": "json"},
        "multiValueQueryStringParameters": {"format": ["json"]},
    }


def _media_type(event: dict[str, Any]) -> str:
    """The request's media type, lower-cased (media types are case-insensitive), without parameters."""
    headers = event.get("headers") or {}
    value = next((v for k, v in headers.items() if k.lower() == "content-type"), "") or ""
    return str(value).split(";")[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _with_json_content_type(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its JSON media type spelled ``application/json``: Powertools' body validation
    compares the header case-sensitively with that prefix and raises on anything else
    (``Application/JSON``, ``application/problem+json``...), which would be a 500."""

    def replaced(headers: Any, value: Any) -> Any:
        if not isinstance(headers, dict):
            return headers
        return {**{k: v for k, v in headers.items() if k.lower() != "content-type"}, "Content-Type": value}

    return {
        **event,
        "headers": replaced(event.get("headers"), "application/json"),
        "multiValueHeaders": replaced(event.get("multiValueHeaders"), ["application/json"]),
    }


def _body_bytes(body: str, base64_encoded: bool) -> int:
    """The body's size in bytes, as the limit is stated (a text body's characters may be up to 4
    bytes each in UTF-8)."""
    if base64_encoded:
        return len(body) * 3 // 4
    return len(body) if body.isascii() else len(body.encode("utf-8", "surrogatepass"))


def _proxy_result(response: Response[Any]) -> dict[str, Any]:
    """A response made before the resolver runs, as an API Gateway proxy result."""
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": response.body,
        "isBase64Encoded": False,
    }


__all__ = ["create_app", "resolve", "status_response"]
