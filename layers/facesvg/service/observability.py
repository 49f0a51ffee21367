"""One Logger, Tracer and Metrics for every function.

In Lambda the logger writes Powertools' structured JSON (one object per line, CloudWatch-friendly);
anywhere else (the local runtime, tests, a terminal) it writes readable Rich lines with the same
structured keys appended. Tracing is a no-op outside Lambda (Powertools detects it); metrics are EMF
records flushed by ``metrics.log_metrics`` at the end of each invocation.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

from facesvg import names

__all__ = ["MetricUnit", "in_lambda", "logger", "metrics", "tracer"]

# Keys the Rich handler already shows (time, level) or that only matter in CloudWatch.
_HIDDEN_KEYS = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "exception",
        "exception_name",
        "exception_notes",
        "stack_trace",
    }
)


def in_lambda() -> bool:
    """True inside a Lambda execution environment (the runtime sets LAMBDA_TASK_ROOT)."""
    return bool(os.environ.get("LAMBDA_TASK_ROOT"))


class ConsoleFormatter(LambdaPowertoolsFormatter):
    """Powertools' formatter, rendered as ``message  key=value ...`` for a human at a terminal."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        extras = " ".join(f"{k}={v}" for k, v in log.items() if k not in _HIDDEN_KEYS and v not in (None, ""))
        text = str(log.get("message", ""))
        if extras:
            text = f"{text}  {extras}"
        exc = log.get("exception")
        if exc:
            text = f"{text}\n{exc}"
        return text


def _build_logger() -> Logger:
    if in_lambda():
        return Logger(service=names.SERVICE_NAME)
    import sys

    from rich.console import Console
    from rich.logging import RichHandler

    # Not a terminal (CI, a pipe): wide lines rather than Rich's 80-column default.
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
    handler = RichHandler(
        console=console, show_path=False, markup=False, rich_tracebacks=False, log_time_format="%H:%M:%S.%f"
    )
    return Logger(service=names.SERVICE_NAME, logger_handler=handler, logger_formatter=ConsoleFormatter())


logger: Logger = _build_logger()
tracer: Tracer = Tracer(service=names.SERVICE_NAME)
metrics: Metrics = Metrics(namespace=names.METRICS_NAMESPACE, service=names.SERVICE_NAME)

# boto3/botocore and moto are chatty at DEBUG; keep them at WARNING unless asked otherwise.
for _name in ("botocore", "boto3", "urllib3", "werkzeug"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# Functions that answer with an error add no metric; that is expected, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")
