"""Every environment variable the functions read, read once into one pydantic model.

The variable *names* live in ``facesvg.names`` (shared with the CDK stack and the local runtime).
AWS endpoints are not settings: boto3 reads the standard ``AWS_ENDPOINT_URL`` itself, so the same
code talks to moto, LocalStack or AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from facesvg import names
from facesvg.core.options import Limits
from facesvg.service.clock import expires_at

if TYPE_CHECKING:
    from facesvg.service.url_policy import UrlPolicy


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseModel):
    """Runtime configuration of the submit, status, process and ingest functions.

    ``Settings()`` reads the environment (keyword arguments win over it), ``model_validate`` only
    what it is given. A plain pydantic model rather than pydantic-settings: every field is one
    variable holding a scalar, which pydantic's lax mode converts as pydantic-settings would, and
    importing pydantic-settings (dotenv, its cloud secret sources) was ~10 ms of every cold start.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    def __init__(self, **values: Any) -> None:
        environment = _from_environment(os.environ)
        if in_lambda(os.environ):
            require_deployed(environment, values)
        super().__init__(**{**environment, **values})

    bucket: str = Field(default=names.BUCKET_NAME, validation_alias=_env(names.ENV_BUCKET))
    table: str = Field(default=names.TABLE_NAME, validation_alias=_env(names.ENV_TABLE))
    queue_url: str = Field(default="", validation_alias=_env(names.ENV_QUEUE_URL))
    artificial_delay_seconds: float = Field(
        default=0.0, ge=0.0, le=900.0, validation_alias=_env(names.ENV_ARTIFICIAL_DELAY)
    )
    load_test_mode: bool = Field(default=False, validation_alias=_env(names.ENV_LOAD_TEST_MODE))
    presign_seconds: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, validation_alias=_env(names.ENV_PRESIGN_SECONDS)
    )
    job_ttl_days: int = Field(default=30, ge=1, le=3650, validation_alias=_env(names.ENV_JOB_TTL_DAYS))
    max_pixels: int = Field(default=Limits.max_pixels, ge=1, validation_alias=_env(names.ENV_MAX_PIXELS))
    # API Gateway REST takes 10 MB, but a synchronous Lambda invocation carries at most 6 MB of
    # event (body + headers + context): refuse bigger bodies with a clear 413 instead of a 502.
    max_body_bytes: int = Field(default=5_500_000, ge=1024, validation_alias=_env(names.ENV_MAX_BODY_BYTES))
    max_receive_count: int = Field(
        default=names.MAX_RECEIVE_COUNT, ge=1, le=1000, validation_alias=_env(names.ENV_MAX_RECEIVE_COUNT)
    )
    cors_allow_origin: str = Field(
        default="",
        pattern=r"^(|\*|https?://[A-Za-z0-9.-]+(:[0-9]+)?)$",
        validation_alias=_env(names.ENV_CORS_ALLOW_ORIGIN),
    )
    requeue_pending_seconds: int = Field(
        default=900, ge=10, le=86400, validation_alias=_env(names.ENV_REQUEUE_PENDING_SECONDS)
    )
    lease_seconds: int = Field(default=120, ge=1, le=43200, validation_alias=_env(names.ENV_LEASE_SECONDS))
    # Notifications (facesvg.service.notify). Empty bus / queue / secret: that part is off.
    event_bus: str = Field(default="", validation_alias=_env(names.ENV_EVENT_BUS))
    notify_queue_url: str = Field(default="", validation_alias=_env(names.ENV_NOTIFY_QUEUE_URL))
    webhook_secret_id: str = Field(default="", validation_alias=_env(names.ENV_WEBHOOK_SECRET_ID))
    notify_max_attempts: int = Field(
        default=names.NOTIFY_MAX_RECEIVE_COUNT,
        ge=1,
        le=1000,
        validation_alias=_env(names.ENV_NOTIFY_MAX_ATTEMPTS),
    )
    notify_backoff_seconds: float = Field(
        default=30.0, ge=0.0, le=900.0, validation_alias=_env(names.ENV_NOTIFY_BACKOFF_SECONDS)
    )
    notify_timeout_seconds: float = Field(
        default=5.0, gt=0.0, le=30.0, validation_alias=_env(names.ENV_NOTIFY_TIMEOUT_SECONDS)
    )
    callback_allow_http: bool = Field(default=False, validation_alias=_env(names.ENV_CALLBACK_ALLOW_HTTP))
    callback_allow_loopback: bool = Field(
        default=False, validation_alias=_env(names.ENV_CALLBACK_ALLOW_LOOPBACK)
    )

    @property
    def effective_delay_seconds(self) -> float:
        """The simulated long-job delay; ``LOAD_TEST_MODE=true`` turns it off."""
        return 0.0 if self.load_test_mode else self.artificial_delay_seconds

    @property
    def url_policy(self) -> UrlPolicy:
        from facesvg.service.url_policy import UrlPolicy

        return UrlPolicy(allow_http=self.callback_allow_http, allow_loopback=self.callback_allow_loopback)

    @property
    def limits(self) -> Limits:
        return Limits(max_pixels=self.max_pixels)

    @property
    def ttl_seconds(self) -> int:
        """How long job, cache, render, drop-folder and delivery items live (DynamoDB TTL)."""
        return self.job_ttl_days * 86400

    def expires_at(self, now_epoch: float) -> int:
        """The TTL attribute of an item written at ``now_epoch``."""
        return expires_at(now_epoch, self.ttl_seconds)


@lru_cache(maxsize=1)
def env_names() -> dict[str, str]:
    """Settings field name → the environment variable it is read from (``facesvg.names``)."""
    out: dict[str, str] = {}
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        out[field_name] = str(choices[0]) if choices else (str(alias) if alias else field_name.upper())
    return out


def _from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables the model names, by their names, case-sensitively."""
    return {field: environ[variable] for field, variable in env_names().items() if variable in environ}


# The resources a deployed function must be told: their local defaults name no deployed resource,
# so a function without them would write to a bucket that does not exist, on its first request.
REQUIRED_IN_LAMBDA = ("bucket", "table", "queue_url")


class MissingSetting(ValueError):
    """A deployed function lacks a variable it cannot run without (raised at init)."""


def in_lambda(environ: Mapping[str, str]) -> bool:
    """True inside a Lambda execution environment (the runtime sets AWS_LAMBDA_FUNCTION_NAME)."""
    return bool(environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def require_deployed(environment: Mapping[str, str], values: Mapping[str, Any]) -> None:
    """Refuse to start in Lambda without the resource variables (locally the defaults stand)."""
    variables = env_names()
    missing = [
        variables[field]
        for field in REQUIRED_IN_LAMBDA
        if field not in values and not environment.get(field, "").strip()
    ]
    if missing:
        raise MissingSetting(f"{', '.join(missing)} not set: a deployed function cannot run without it")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return Settings()
