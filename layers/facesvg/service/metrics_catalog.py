"""Every application metric, defined once: name, unit, dimensions, owning function, help text.

The functions emit these as CloudWatch EMF records (``facesvg.service.observability.record``) and
the Prometheus exporter (``facesvg.local.prometheus``) turns the same records into Prometheus
metrics, so both outputs always carry the same set of metrics:

* EMF/CloudWatch: namespace ``facesvg.names.METRICS_NAMESPACE``, metric ``name``, dimensions
  ``service`` + ``dimensions``.
* Prometheus: ``prometheus_name`` — ``facesvg_`` + the name in snake case + a unit suffix
  (``_total`` for counts, ``_seconds`` for durations, converted from milliseconds, ``_bytes`` unless
  the name already ends so);
  counts become counters, durations and sizes become histograms; dimensions become labels.

Dimensions stay small (a handful of values each): ``error_code``, ``stage``, ``reason``,
``outcome``, ``status``, ``function_name``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Unit = Literal["Count", "Milliseconds", "Bytes"]

PROMETHEUS_PREFIX = "facesvg_"

SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
BYTES_BUCKETS = (1e3, 1e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7)


@dataclass(frozen=True)
class MetricDef:
    name: str  # the EMF / CloudWatch metric name
    unit: Unit
    owner: str  # the function that emits it ("*": every function)
    help: str
    dimensions: tuple[str, ...] = ()

    @property
    def is_counter(self) -> bool:
        return self.unit == "Count"

    @property
    def prometheus_base(self) -> str:
        """The name given to prometheus_client (which adds ``_total`` to counters itself)."""
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()
        suffix = {"Count": "", "Milliseconds": "_seconds", "Bytes": "_bytes"}[self.unit]
        if snake.endswith(suffix):  # PayloadBytes → facesvg_payload_bytes, not …_bytes_bytes
            suffix = ""
        return f"{PROMETHEUS_PREFIX}{snake}{suffix}"

    @property
    def prometheus_name(self) -> str:
        """The name in the ``/metrics`` text (counters end in ``_total``, histograms have
        ``_bucket``/``_sum``/``_count`` series under this name)."""
        return self.prometheus_base + ("_total" if self.is_counter else "")

    @property
    def buckets(self) -> tuple[float, ...]:
        return BYTES_BUCKETS if self.unit == "Bytes" else SECONDS_BUCKETS

    def prometheus_value(self, value: float) -> float:
        return value / 1000.0 if self.unit == "Milliseconds" else value


_ALL = (
    # submit
    MetricDef("JobsSubmitted", "Count", "submit", "Accepted submit requests (new or existing job)."),
    MetricDef("CacheMisses", "Count", "submit", "Submits that created a new job (content hash not seen)."),
    MetricDef("CacheHits", "Count", "submit", "Identical submits answered with a finished job's result."),
    MetricDef(
        "Duplicates", "Count", "submit", "Identical submits while the job is still pending/processing."
    ),
    MetricDef(
        "RequestsRejected", "Count", "submit", "Submits refused with a 4xx (bad input).", ("error_code",)
    ),
    MetricDef("PayloadBytes", "Bytes", "submit", "Size of submit request bodies."),
    # status
    MetricDef("StatusPolls", "Count", "status", "Status requests, by the job's status.", ("status",)),
    # process
    MetricDef("Renders", "Count", "process", "Renders performed (one per job when nothing is redone)."),
    MetricDef("JobsCompleted", "Count", "process", "Jobs moved to completed."),
    MetricDef("JobsFailed", "Count", "process", "Jobs moved to failed.", ("error_code",)),
    MetricDef("JobsRetried", "Count", "process", "Transient failures left to SQS to redeliver."),
    MetricDef(
        "MessagesSkipped",
        "Count",
        "process",
        "Messages that needed no work (finished job, lost race, unknown job).",
        ("reason",),
    ),
    MetricDef("QueueWait", "Milliseconds", "process", "Enqueue (SQS SentTimestamp) → processing start."),
    MetricDef(
        "StageDuration",
        "Milliseconds",
        "process",
        "Processing time by stage (download, render stages, upload).",
        ("stage",),
    ),
    MetricDef("EndToEndLatency", "Milliseconds", "process", "Job created → completed."),
    MetricDef("ResultBytes", "Bytes", "process", "Size of the rendered face.svg."),
    MetricDef(
        "EventsPublished",
        "Count",
        "process",
        "Job-end events published to the bus (one per job end).",
        ("status",),
    ),
    # notify
    MetricDef(
        "WebhookAttempts",
        "Count",
        "notify",
        "Webhook delivery attempts by outcome: delivered, retried, exhausted (to the DLQ), rejected "
        "(4xx/3xx, not retried), refused (unsafe URL), duplicate (already delivered).",
        ("outcome",),
    ),
    MetricDef("WebhookLatency", "Milliseconds", "notify", "Time a receiver took to answer a webhook POST."),
    # ingest
    MetricDef("IngestObjects", "Count", "ingest", "Drop-folder objects seen, by outcome.", ("outcome",)),
    # every function (Powertools' cold start metric)
    MetricDef("ColdStart", "Count", "*", "Execution environments started (cold starts).", ("function_name",)),
)

CATALOG: dict[str, MetricDef] = {m.name: m for m in _ALL}

# Names as constants, so call sites cannot misspell them.
JOBS_SUBMITTED = CATALOG["JobsSubmitted"]
CACHE_MISSES = CATALOG["CacheMisses"]
CACHE_HITS = CATALOG["CacheHits"]
DUPLICATES = CATALOG["Duplicates"]
REQUESTS_REJECTED = CATALOG["RequestsRejected"]
PAYLOAD_BYTES = CATALOG["PayloadBytes"]
STATUS_POLLS = CATALOG["StatusPolls"]
RENDERS = CATALOG["Renders"]
JOBS_COMPLETED = CATALOG["JobsCompleted"]
JOBS_FAILED = CATALOG["JobsFailed"]
JOBS_RETRIED = CATALOG["JobsRetried"]
MESSAGES_SKIPPED = CATALOG["MessagesSkipped"]
QUEUE_WAIT = CATALOG["QueueWait"]
STAGE_DURATION = CATALOG["StageDuration"]
END_TO_END_LATENCY = CATALOG["EndToEndLatency"]
RESULT_BYTES = CATALOG["ResultBytes"]
INGEST_OBJECTS = CATALOG["IngestObjects"]
EVENTS_PUBLISHED = CATALOG["EventsPublished"]
WEBHOOK_ATTEMPTS = CATALOG["WebhookAttempts"]
WEBHOOK_LATENCY = CATALOG["WebhookLatency"]
COLD_START = CATALOG["ColdStart"]
