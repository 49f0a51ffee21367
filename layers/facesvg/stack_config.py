"""Operator settings of the stack, read once from CDK context (``cdk.json`` or ``-c key=value``),
and the numbers of the resources they define: the one description of the infrastructure that the
CDK stack (``infra/``) and the local runtime (``facesvg.local.resources.provision``) both build from.

Every key lives under the ``facesvg:`` prefix; ``cdk.json`` lists them all with their defaults.
Values given on the command line arrive as strings, so each field is coerced here. Nothing here
imports aws_cdk (the local runtime reads ``cdk.json`` itself: ``StackConfig.from_cdk_json``); it is
not shipped to Lambda (``infra/layer.py``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facesvg import names

if TYPE_CHECKING:
    from constructs import Node

CONTEXT_PREFIX = "facesvg:"

# Lambda's own ceiling for the unzipped size of a function plus all its layers.
LAMBDA_UNZIPPED_LIMIT_MB = 250
# Fixed properties of the resources (not operator settings).
QUEUE_RETENTION_DAYS = 4
DLQ_RETENTION_DAYS = 14
# S3 event that starts the drop folder's ingest (with the prefix filter names.PREFIX_INCOMING).
INGEST_S3_EVENT = "s3:ObjectCreated:*"
CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
# API clients (``facesvg:apiClients``): one API key each. A name is the client's identity in the
# stack (construct ids, output names): lowercase letters and digits, single hyphens between them.
API_CLIENT_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
API_CLIENT_NAME_MAX = 32
# A client adds up to 3 resources (key, usage plan, plan key) and 1 output; CloudFormation allows
# 500 resources and 200 outputs per template. More clients than this want keys managed outside
# the stack.
MAX_API_CLIENTS = 50
DEFAULT_API_CLIENT = "default"
_API_CLIENT_FIELDS = {"name", "throttleRateLimit", "throttleBurstLimit", "quotaPerDay", "enabled"}


@dataclass(frozen=True)
class ApiClient:
    """One client of the API: its own API key, in its own usage plan. The limits default to the
    stack's (``facesvg:throttleRateLimit``, ``throttleBurstLimit``, ``quotaPerDay``);
    ``enabled=False`` keeps the key but API Gateway refuses it (403)."""

    name: str
    throttle_rate_limit: float | None = None
    throttle_burst_limit: int | None = None
    quota_per_day: int | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if not (
            isinstance(self.name, str)
            and len(self.name) <= API_CLIENT_NAME_MAX
            and API_CLIENT_NAME.fullmatch(self.name)
        ):
            raise ValueError(
                f"facesvg:apiClients: client name {self.name!r} is not allowed: 1-{API_CLIENT_NAME_MAX} "
                "lowercase letters, digits and single hyphens, starting with a letter "
                "(e.g. 'qoves', 'acme-eu')"
            )
        where = f"facesvg:apiClients: client {self.name!r}:"
        if self.throttle_rate_limit is not None and not self.throttle_rate_limit > 0:
            raise ValueError(f"{where} throttleRateLimit must be above 0")
        if self.throttle_burst_limit is not None and self.throttle_burst_limit < 1:
            raise ValueError(f"{where} throttleBurstLimit must be at least 1")
        if self.quota_per_day is not None and self.quota_per_day < 1:
            raise ValueError(f"{where} quotaPerDay must be at least 1 (leave it out for the stack's)")

    @property
    def id_suffix(self) -> str:
        """The name in construct and output ids: ``acme-eu`` → ``AcmeEu``."""
        return "".join(part.capitalize() for part in self.name.split("-"))

    @classmethod
    def parse(cls, raw: Any) -> ApiClient:
        """``"name"`` or ``{"name": …, "throttleRateLimit": …, "throttleBurstLimit": …,
        "quotaPerDay": …, "enabled": …}`` (cdk.json's spelling)."""
        if isinstance(raw, str):
            return cls(name=raw.strip())
        if not isinstance(raw, Mapping) or "name" not in raw:
            raise ValueError(
                f"facesvg:apiClients: each client is a name or an object with a 'name', got {raw!r}"
            )
        unknown = sorted(set(raw) - _API_CLIENT_FIELDS)
        if unknown:
            raise ValueError(
                f"facesvg:apiClients: client {raw['name']!r}: unknown field(s) {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(_API_CLIENT_FIELDS))})"
            )
        values: dict[str, Any] = {"name": raw["name"]}
        for key, field_name, kind in (
            ("throttleRateLimit", "throttle_rate_limit", "float"),
            ("throttleBurstLimit", "throttle_burst_limit", "int"),
            ("quotaPerDay", "quota_per_day", "int"),
            ("enabled", "enabled", "bool"),
        ):
            value = raw.get(key)
            if value is None:
                continue
            if kind == "bool":
                ok = isinstance(value, bool)
            else:
                number = (int, float) if kind == "float" else int
                ok = isinstance(value, number) and not isinstance(value, bool)
            if not ok:
                raise ValueError(
                    f"facesvg:apiClients: client {raw['name']!r}: {key}={value!r} is not a valid {kind}"
                )
            values[field_name] = float(value) if kind == "float" else value
        return cls(**values)


def parse_api_clients(raw: Any) -> tuple[ApiClient, ...]:
    """``facesvg:apiClients``: a JSON list (cdk.json, or ``-c 'facesvg:apiClients=["a","b"]'``) or
    comma-separated names (``-c facesvg:apiClients=a,b``)."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"facesvg:apiClients: not valid JSON: {exc}") from exc
        else:
            raw = [part for part in (p.strip() for p in text.split(",")) if part]
    if not isinstance(raw, (list, tuple)):
        raise ValueError(f"facesvg:apiClients must be a list of client names, got {raw!r}")
    return tuple(ApiClient.parse(item) for item in raw)


@dataclass(frozen=True)
class StackConfig:
    """What an operator may tune; the defaults are the ones documented in ``cdk.json``."""

    # Process function (container image). Render ~0.1 s on the sample, plus the artificial delay.
    process_memory_mb: int = 1024
    process_timeout_seconds: int = 60
    process_reserved_concurrency: int | None = None
    process_batch_size: int = 1
    process_max_concurrency: int | None = None  # SQS event source maxConcurrency (>= 2 when set)
    # Zip functions (submit, status, ingest).
    api_memory_mb: int = 1024  # numpy + OpenCV import faster with the CPU share of 1 GB
    api_timeout_seconds: int = 29  # API Gateway's integration timeout
    ingest_memory_mb: int = 1024
    ingest_timeout_seconds: int = 60
    api_reserved_concurrency: int | None = None
    # Notify function (webhooks): a batch of deliveries, each POST at most 5 s.
    notify_function_memory_mb: int = 512
    notify_function_timeout_seconds: int = 40
    notify_batch_size: int = 5
    # Queue.
    max_receive_count: int = names.MAX_RECEIVE_COUNT
    visibility_timeout_factor: int = 6  # visibility >= factor x process timeout (AWS guidance: 6)
    # Bucket.
    versioned: bool = False
    inputs_expiration_days: int = 7
    incoming_expiration_days: int = 7
    results_expiration_days: int | None = None
    retain_data: bool = True  # False: bucket and table are destroyed with the stack (dev only)
    # API.
    stage_name: str = "prod"
    throttle_rate_limit: float = 10.0
    throttle_burst_limit: int = 20
    quota_per_day: int | None = None
    cors_allow_origins: tuple[str, ...] = ("*",)
    # One API key (and usage plan) per client; the first keeps the stack's original key ``ApiKey``.
    api_clients: tuple[ApiClient, ...] = (ApiClient(DEFAULT_API_CLIENT),)
    # Application settings handed to the functions through the environment (names in names.py).
    # None = the code's own default (facesvg.service.settings), which the stack then passes on.
    artificial_delay_seconds: float = 0.0
    load_test_mode: bool = False
    presign_seconds: int | None = None
    job_ttl_days: int | None = None
    max_pixels: int | None = None
    max_body_bytes: int | None = None  # API Gateway's own hard payload limit is 10 MB
    log_level: str = "INFO"
    public_swagger: bool = False  # True: GET /swagger needs no API key (browsers cannot send one)
    # Observability.
    log_retention_days: int = 30
    alarm_email: str | None = None
    alarm_topic: bool = False  # create the SNS topic even without an e-mail subscription
    age_of_oldest_message_seconds: int = 300
    api_p95_latency_ms: int = 3000

    def __post_init__(self) -> None:
        if not 1 <= self.max_receive_count <= 1000:
            raise ValueError("facesvg:maxReceiveCount must be between 1 and 1000")
        if not 128 <= self.process_memory_mb <= 10240:
            raise ValueError("facesvg:processMemoryMb must be between 128 and 10240")
        if not 1 <= self.process_timeout_seconds <= 900:
            raise ValueError("facesvg:processTimeoutSeconds must be between 1 and 900")
        if self.artificial_delay_seconds >= self.process_timeout_seconds:
            raise ValueError(
                "facesvg:artificialDelaySeconds must stay below facesvg:processTimeoutSeconds, "
                "or every render times out"
            )
        if self.visibility_timeout_seconds > 43200:
            raise ValueError("the queue visibility timeout (factor x process timeout) exceeds 12 hours")
        if self.process_max_concurrency is not None and not 2 <= self.process_max_concurrency <= 1000:
            raise ValueError("facesvg:processMaxConcurrency must be between 2 and 1000")
        if self.notify_function_timeout_seconds < 6 * self.notify_batch_size:
            raise ValueError(
                "facesvg:notifyFunctionTimeoutSeconds must leave 6 s per delivery of a batch "
                "(facesvg:notifyBatchSize)"
            )
        if self.api_timeout_seconds > 29:
            raise ValueError("facesvg:apiTimeoutSeconds above 29 s is cut off by API Gateway anyway")
        self._check_api_clients()

    def _check_api_clients(self) -> None:
        clients = self.api_clients
        if not clients:
            raise ValueError("facesvg:apiClients must name at least one client (every method needs a key)")
        if len(clients) > MAX_API_CLIENTS:
            raise ValueError(
                f"facesvg:apiClients lists {len(clients)} clients, at most {MAX_API_CLIENTS} fit the "
                "template's resource and output quotas"
            )
        seen: dict[str, str] = {}
        for client in clients:
            if not isinstance(client, ApiClient):
                raise ValueError(f"facesvg:apiClients: {client!r} is not an ApiClient")
            folded = client.name.replace("-", "")
            if folded in seen:
                what = "twice" if seen[folded] == client.name else f"beside {seen[folded]!r} (same ids)"
                raise ValueError(f"facesvg:apiClients: client {client.name!r} is listed {what}")
            seen[folded] = client.name
            # The stage's method throttling caps every request of the stage, whatever the plan.
            for value, stage, key in (
                (client.throttle_rate_limit, self.throttle_rate_limit, "throttleRateLimit"),
                (client.throttle_burst_limit, self.throttle_burst_limit, "throttleBurstLimit"),
            ):
                if value is not None and value > stage:
                    raise ValueError(
                        f"facesvg:apiClients: client {client.name!r}: {key} {value} is above the "
                        f"stage's facesvg:{key} {stage}, which caps all requests of the stage"
                    )

    @property
    def visibility_timeout_seconds(self) -> int:
        return max(6, self.visibility_timeout_factor) * self.process_timeout_seconds

    @property
    def lease_seconds(self) -> int:
        """How long process owns a job: its own timeout, which is below the visibility timeout."""
        return self.process_timeout_seconds

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        """The config of a CDK app (``cdk.json`` and ``-c key=value``)."""
        return cls.from_mapping({key: node.try_get_context(key) for key in context_keys()})

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> StackConfig:
        """The config from ``facesvg:``-prefixed context values (missing or null: the default)."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = context.get(CONTEXT_PREFIX + _camel(f.name))
            if raw is not None:
                values[f.name] = _coerce(f.name, str(f.type), raw)
        return cls(**values)

    @classmethod
    def from_cdk_json(cls, path: Path = CDK_JSON) -> StackConfig:
        """What ``cdk synth`` would use without ``-c`` overrides: ``cdk.json``'s context (the
        defaults when there is no ``cdk.json``, e.g. an installed package)."""
        if not path.is_file():
            return cls()
        return cls.from_mapping(json.loads(path.read_text()).get("context", {}))


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def context_keys() -> list[str]:
    """Every context key the stack reads (``cdk.json`` documents exactly these)."""
    return [CONTEXT_PREFIX + _camel(f.name) for f in dataclasses.fields(StackConfig)]


def _coerce(name: str, type_name: str, raw: Any) -> Any:
    key = CONTEXT_PREFIX + _camel(name)
    if name == "api_clients":
        return parse_api_clients(raw)  # its own messages, naming the client and the field
    try:
        if isinstance(raw, str) and "tuple" not in type_name and raw.strip().lower() in ("", "null", "none"):
            return None if "None" in type_name else raw
        if type_name.startswith("bool"):
            if isinstance(raw, str):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                return raw.lower() in ("true", "1", "yes")
            return bool(raw)
        if type_name.startswith("int"):
            return int(raw)
        if type_name.startswith("float"):
            return float(raw)
        if type_name.startswith("tuple"):
            if isinstance(raw, str):
                raw = json.loads(raw) if raw.startswith("[") else [o.strip() for o in raw.split(",")]
            return tuple(str(o) for o in raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"context {key}={raw!r} is not a valid {type_name}") from exc


# Settings fields whose value is a resource name, filled in by the stack.
RESOURCE_SETTINGS = {
    "bucket": names.ENV_BUCKET,
    "table": names.ENV_TABLE,
    "queue_url": names.ENV_QUEUE_URL,
    "event_bus": names.ENV_EVENT_BUS,
    "notify_queue_url": names.ENV_NOTIFY_QUEUE_URL,
    "webhook_secret_id": names.ENV_WEBHOOK_SECRET_ID,
}


def settings_env_names() -> dict[str, str]:
    """Settings field name → environment variable name, as ``Settings`` declares them."""
    from facesvg.service.settings import env_names

    return dict(env_names())


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings_environment(config: StackConfig, resources: Mapping[str, str]) -> dict[str, str]:
    """Every variable ``Settings`` reads, for the functions of a stack built from ``config``: the
    resource names from ``resources`` (keys of ``RESOURCE_SETTINGS``), the rest from the config or,
    when it has none, the code default. The CDK stack and the local runtime both use this."""
    from facesvg.service.settings import Settings

    env: dict[str, str] = {}
    for field_name, env_name in settings_env_names().items():
        if field_name in RESOURCE_SETTINGS:
            env[env_name] = resources[field_name]
            continue
        if field_name == "lease_seconds":
            value: Any = config.lease_seconds
        else:
            value = getattr(config, field_name, None)
        if value is None:
            value = Settings.model_fields[field_name].default
        env[env_name] = _env_value(value)
    return env
