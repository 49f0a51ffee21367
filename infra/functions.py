"""What every facesvg function shares: runtime, tracing, log group, and the environment.

The environment is derived from ``facesvg.service.settings.Settings`` (the only reader of env vars
in the code): every setting gets its variable, so the deployed value is explicit and a setting
added later cannot be forgotten here (``tests/infra`` checks it). Resource names come from the
stack; everything else from the context (``infra.config``) or, when not given, the code default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from facesvg import names
from facesvg.stack_config import RESOURCE_SETTINGS, settings_env_names, settings_environment

from infra.config import StackConfig
from infra.layer import ARCHITECTURE, IMAGE_REQUIREMENTS, LAMBDA_PACKAGE_PARTS, REPO_ROOT, RUNTIME
from infra.nag import acknowledge

FUNCTIONS_DIR = REPO_ROOT / "functions"
# functions/<name>/handler.py defines ``lambda_handler(event, context)`` (tests/infra checks it).
HANDLER_MODULE = "handler"
HANDLER_FUNCTION = "lambda_handler"
# How each function ships, by what it imports (tests/infra checks the split against the handlers):
# the ones that never import NumPy/OpenCV run as zip functions on the light layer; the ones that
# decode images (submit's and ingest's input checks, process's render) run from the container image
# (OpenCV + NumPy alone are ~220 MiB unzipped, too close to Lambda's 250 MiB limit for a zip).
ZIP_FUNCTIONS = ("status", "notify")
IMAGE_FUNCTIONS = ("submit", "ingest", "process")
IMAGE_DOCKERFILE = "functions/process/Dockerfile"
# The image's build context is the repo root, reduced to what the Dockerfile COPYs (an allow-list,
# Docker-ignore syntax), so edits elsewhere neither bloat the context nor change the image hash.
# tests/infra checks every COPY source of the Dockerfile is in the staged context, and that the
# context holds only the package parts Lambda runs (no local/, commands/, cli.py).
IMAGE_CONTEXT_EXCLUDE = [
    "*",
    f"!{IMAGE_REQUIREMENTS.relative_to(REPO_ROOT)}",
    *(f"!layers/facesvg/{part}" for part in LAMBDA_PACKAGE_PARTS),
    *(f"!functions/{name}/{HANDLER_MODULE}.py" for name in IMAGE_FUNCTIONS),
    f"!{IMAGE_DOCKERFILE}",
    "**/__pycache__",
    "**/*.pyc",
    "**/*.egg-info",
]
__all__ = [
    "RESOURCE_SETTINGS",
    "function_environment",
    "image_function",
    "settings_env_names",
    "zip_function",
]


def function_environment(config: StackConfig, resources: dict[str, str]) -> dict[str, str]:
    """Every variable the settings model reads (``facesvg.stack_config.settings_environment``, the
    same the local runtime uses), plus Powertools' own."""
    env = settings_environment(config, resources)
    env.update(
        {
            "POWERTOOLS_SERVICE_NAME": names.SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": names.METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": config.log_level,
            # Results are whole SVGs: far too big for an X-Ray segment.
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            **names.RUNTIME_ENVIRONMENT,
        }
    )
    return env


def log_group(scope: Construct, construct_id: str, config: StackConfig) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        retention=_retention(config.log_retention_days),
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


# CloudWatch Logs' allowed retention periods, in the order of ``logs.RetentionDays`` (then INFINITE).
_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def _retention(days: int) -> logs.RetentionDays:
    by_days = dict(zip(_RETENTION_DAYS, list(logs.RetentionDays), strict=False))
    if days not in by_days:
        raise ValueError(
            f"facesvg:logRetentionDays={days} is not one of CloudWatch's periods {_RETENTION_DAYS}"
        )
    return by_days[days]


def _common_props(
    scope: Construct,
    construct_id: str,
    config: StackConfig,
    environment: dict[str, str],
    memory_mb: int,
    timeout_seconds: int,
    reserved_concurrency: int | None,
) -> dict[str, Any]:
    """What every function has, zip or image: size, time, concurrency, tracing, variables, logs."""
    return {
        "memory_size": memory_mb,
        "timeout": cdk.Duration.seconds(timeout_seconds),
        "reserved_concurrent_executions": reserved_concurrency,
        "tracing": lambda_.Tracing.ACTIVE,
        "environment": environment,
        "log_group": log_group(scope, f"{construct_id}Logs", config),
    }


def zip_function(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    layer: lambda_.ILayerVersion,
    environment: dict[str, str],
    config: StackConfig,
    memory_mb: int,
    timeout_seconds: int,
    reserved_concurrency: int | None = None,
    description: str,
) -> lambda_.Function:
    """A Python zip function from ``functions/<name>/handler.py`` on the light layer."""
    if name not in ZIP_FUNCTIONS:
        raise ValueError(f"{name} imports NumPy/OpenCV: it runs from the image (image_function)")
    source: Path = FUNCTIONS_DIR / name
    fn = lambda_.Function(
        scope,
        construct_id,
        code=lambda_.Code.from_asset(str(source), exclude=["**/__pycache__", "**/*.pyc", "Dockerfile"]),
        handler=f"{HANDLER_MODULE}.{HANDLER_FUNCTION}",
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        layers=[layer],
        **_common_props(
            scope, construct_id, config, environment, memory_mb, timeout_seconds, reserved_concurrency
        ),
        description=description,
    )
    acknowledge_xray(fn)
    return fn


def image_command(name: str) -> str:
    """The image's handler for ``name``: ``functions/<name>/handler.py`` is ``<name>/handler.py``
    under the task root (the Dockerfile's COPY lines; tests/infra checks them), imported as the
    module ``<name>.handler`` (a namespace package)."""
    return f"{name}.{HANDLER_MODULE}.{HANDLER_FUNCTION}"


def image_function(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    environment: dict[str, str],
    config: StackConfig,
    memory_mb: int,
    timeout_seconds: int,
    reserved_concurrency: int | None = None,
    description: str,
) -> lambda_.DockerImageFunction:
    """A function from the container image (one image asset shared by ``IMAGE_FUNCTIONS``), with
    its own handler as the command."""
    if name not in IMAGE_FUNCTIONS:
        raise ValueError(f"{name} does not import NumPy/OpenCV: it runs as a zip function")
    fn = lambda_.DockerImageFunction(
        scope,
        construct_id,
        code=lambda_.DockerImageCode.from_image_asset(
            str(REPO_ROOT),
            file=IMAGE_DOCKERFILE,
            cmd=[image_command(name)],
            exclude=IMAGE_CONTEXT_EXCLUDE,
            ignore_mode=cdk.IgnoreMode.DOCKER,
            platform=cdk.aws_ecr_assets.Platform.LINUX_AMD64,
        ),
        architecture=ARCHITECTURE,
        **_common_props(
            scope, construct_id, config, environment, memory_mb, timeout_seconds, reserved_concurrency
        ),
        description=description,
    )
    acknowledge_xray(fn)
    return fn


def acknowledge_xray(fn: lambda_.IFunction) -> None:
    acknowledge(
        fn,
        "AwsSolutions-IAM5[Resource::*]",
        "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
        "permissions, so CDK grants them on * (the only statement with Resource *).",
    )
