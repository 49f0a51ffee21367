"""One Logger, Tracer and Metrics for every function.

In Lambda the logger writes Powertools' structured JSON (one object per line, CloudWatch-friendly);
anywhere else (the local runtime, tests, a terminal) it writes readable Rich lines with the same
structured keys appended. Tracing is a no-op outside Lambda or with ``POWERTOOLS_TRACE_DISABLED``
(``NoTracer``: aws_xray_sdk is not even imported); metrics are EMF
records: ``record(metric, value, **dimensions)`` emits one immediately (each call builds its own
Powertools EMF provider, so concurrent invocations in one process — the local API's threads — never
share or lose a metric set); ``metrics.log_metrics(capture_cold_start_metric=True)`` on each handler
adds ``ColdStart``. Every metric is defined once in ``facesvg.service.metrics_catalog``.

Where EMF records go: stdout (in Lambda, CloudWatch Logs extracts them), unless a transport is set
with ``set_emf_transport``: the local runtime sends them to its Prometheus exporter
(``facesvg.local.prometheus``); nothing in Lambda sets one.

Log correlation: the API handlers set Powertools' correlation id from the API Gateway request id;
``correlation(job_id=…, content_hash=…)`` adds keys to every log line inside it (thread-safe).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from facesvg import names
from facesvg.service.metrics_catalog import COLD_START, MetricDef

__all__ = [
    "MetricUnit",
    "correlation",
    "emit_record",
    "in_lambda",
    "logger",
    "metrics",
    "record",
    "set_emf_sink",
    "set_emf_transport",
    "tracer",
]

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
    return Logger(
        service=names.SERVICE_NAME, logger_handler=_console_handler(), logger_formatter=ConsoleFormatter()
    )


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (pytest's capture replaces it)."""

    @property
    def stream(self) -> Any:
        import sys

        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _console_handler() -> logging.Handler:
    """Rich's handler when the CLI/local extra is installed (``facesvg[cli]``), else plain stderr."""
    import sys

    try:
        from rich.console import Console
        from rich.logging import RichHandler
    except ImportError:  # the Lambda dependencies only: a plain line per record
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(message)s"))
        return handler
    # Not a terminal (CI, a pipe): wide lines rather than Rich's 80-column default.
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
    return RichHandler(
        console=console, show_path=False, markup=False, rich_tracebacks=False, log_time_format="%H:%M:%S.%f"
    )


# ------------------------------------------------------------------------------------ metrics

_sink: Callable[[dict[str, Any]], None] | None = None
_transport: Callable[[str], None] | None = None


def set_emf_sink(sink: Callable[[dict[str, Any]], None] | None) -> None:
    """Send EMF records to ``sink`` instead of stdout/the transport (tests); None restores."""
    global _sink
    _sink = sink


def set_emf_transport(transport: Callable[[str], None] | None) -> None:
    """Send each serialized EMF record to ``transport`` instead of stdout (the local runtime's
    exporter); None restores stdout."""
    global _transport
    _transport = transport


def emit_record(emf: dict[str, Any]) -> None:
    """One serialized EMF record → the sink, the transport, or stdout (CloudWatch Logs)."""
    if _sink is not None:
        _sink(emf)
        return
    text = json.dumps(emf, separators=(",", ":"))
    if _transport is not None:
        _transport(text)
    else:
        print(text)


class EmfProvider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, flushing through ``emit_record``; ColdStart once per function."""

    _cold_started: set[str] = set()
    _cold_lock = threading.Lock()

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if not self.metric_set:
            if raise_on_empty_metrics:
                super().flush_metrics(raise_on_empty_metrics=True)
            return
        if not is_metrics_disabled():
            emit_record(dict(self.serialize_metric_set()))
        self.clear_metrics()

    def _add_cold_start_metric(self, context: Any) -> None:
        # Powertools keeps one flag per process; the local runtime hosts several functions in one
        # process, so remember cold starts per function name instead. A private hook (Powertools'
        # log_metrics calls it): tests/unit/service/test_framework_hooks.py fails if it is not.
        name = str(getattr(context, "function_name", "") or self.function_name or "unknown")
        with self._cold_lock:
            if name in self._cold_started:
                return
            self._cold_started.add(name)
        record(COLD_START, 1, function_name=name)


def record(metric: MetricDef, value: float, **dimensions: str) -> None:
    """Emit one catalogued metric now, as its own EMF record (thread-safe)."""
    if set(dimensions) != set(metric.dimensions):
        raise ValueError(f"{metric.name} takes dimensions {metric.dimensions}, got {sorted(dimensions)}")
    provider = EmfProvider(namespace=names.METRICS_NAMESPACE, service=names.SERVICE_NAME)
    for key, val in dimensions.items():
        provider.add_dimension(name=key, value=str(val) or "none")
    provider.add_metric(name=metric.name, unit=MetricUnit(metric.unit), value=float(value))
    provider.flush_metrics()


# ------------------------------------------------------------------------------------ logging


@contextmanager
def correlation(**keys: Any) -> Iterator[None]:
    """Add ``keys`` (job_id, content_hash, …) to every log line of this thread inside the block."""
    present = {k: v for k, v in keys.items() if v not in (None, "")}
    logger.thread_safe_append_keys(**present)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(present.keys())


_TRUTHY = ("1", "y", "yes", "t", "true", "on")


def tracing_enabled() -> bool:
    """Powertools' documented rule, from the documented variables: in Lambda, unless
    ``POWERTOOLS_TRACE_DISABLED`` is true, or under SAM's or Chalice's local emulation."""
    if not in_lambda() or os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in _TRUTHY:
        return False
    return not (os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE"))


class NoTracer:
    """The part of Powertools' ``Tracer`` the functions use, doing nothing. Used when tracing is
    off (outside Lambda, or ``POWERTOOLS_TRACE_DISABLED=true``), where Powertools' Tracer would be a
    no-op too but still imports and patches with ``aws_xray_sdk`` (~0.1-0.5 s of every cold start)."""

    @staticmethod
    def _decorator(function: Any = None, **_options: Any) -> Any:
        return function if function is not None else (lambda f: f)

    capture_lambda_handler = _decorator
    capture_method = _decorator

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        pass


logger: Logger = _build_logger()
# X-Ray only when tracing is on (the stack's functions have active tracing): then Powertools' Tracer.
# What the functions call out with: AWS (botocore) and the webhooks (http.client). Patching only
# these, not every library aws_xray_sdk knows (requests, sqlite3, httpx, ...: Powertools' default
# imports each one it finds), is ~60 ms less of a traced cold start (make bench-cold).
TRACED_MODULES = ("botocore", "httplib")
tracer: Tracer = (
    Tracer(service=names.SERVICE_NAME, patch_modules=TRACED_MODULES)
    if tracing_enabled()
    else cast(Tracer, NoTracer())
)
metrics: Metrics = Metrics(
    provider=EmfProvider(namespace=names.METRICS_NAMESPACE, service=names.SERVICE_NAME)
)

# boto3/botocore and moto are chatty at DEBUG; keep them at WARNING unless asked otherwise.
for _name in ("botocore", "boto3", "urllib3", "werkzeug"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# Functions that answer with an error add no metric; that is expected, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")
