"""The local Prometheus exporter: EMF records in, ``/metrics`` out (one definition, two outputs).

Every function (the API's in this process, the process workers in theirs) emits its metrics as
CloudWatch EMF records (``facesvg.service.observability``). The runtime points them, through
``FACESVG_EMF_ENDPOINT`` and ``facesvg.local.emf``, at this exporter's UDP socket on loopback —
the same way the CloudWatch agent takes EMF on ``udp://127.0.0.1:25888`` — and the exporter
turns each record into the Prometheus metrics of ``facesvg.service.metrics_catalog``: counts →
counters, durations and sizes → histograms (seconds, bytes), dimensions → labels. ``/metrics`` is served on
``127.0.0.1:9100`` (``facesvg.names.LOCAL_METRICS_PORT``).

    exporter = EmfExporter(port=9100).start()
    os.environ["FACESVG_EMF_ENDPOINT"] = exporter.emf_endpoint
    facesvg.local.emf.install_from_environment()
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)

from facesvg import names
from facesvg.service.metrics_catalog import CATALOG, MetricDef
from facesvg.service.observability import logger

MAX_DATAGRAM = 65535

disable_created_metrics()  # no *_created series: they only add noise here


def build_registry() -> tuple[CollectorRegistry, dict[str, Counter | Histogram]]:
    """A registry with one Prometheus metric per catalogue entry."""
    registry = CollectorRegistry()
    out: dict[str, Counter | Histogram] = {}
    for metric in CATALOG.values():
        labels = list(metric.dimensions)
        if metric.is_counter:
            out[metric.name] = Counter(metric.prometheus_base, metric.help, labels, registry=registry)
        else:
            out[metric.name] = Histogram(
                metric.prometheus_base, metric.help, labels, registry=registry, buckets=metric.buckets
            )
    return registry, out


def emf_metrics(emf: dict[str, Any]) -> list[tuple[MetricDef, float, dict[str, str]]]:
    """(catalogue entry, value, labels) for every catalogued metric value in one EMF record."""
    out: list[tuple[MetricDef, float, dict[str, str]]] = []
    directives = (emf.get("_aws") or {}).get("CloudWatchMetrics") or []
    for directive in directives:
        for entry in directive.get("Metrics", []):
            metric = CATALOG.get(str(entry.get("Name")))
            if metric is None:
                continue
            labels = {d: str(emf.get(d, "")) for d in metric.dimensions}
            values = emf.get(metric.name)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, int | float):
                    out.append((metric, float(value), labels))
    return out


class EmfExporter:
    """UDP EMF receiver + Prometheus registry + HTTP ``/metrics`` on loopback."""

    def __init__(self, port: int = names.LOCAL_METRICS_PORT, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requested_port = port
        self.port = 0
        self.registry, self._metrics = build_registry()
        self.records = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:  # root may pass net.core.rmem_max (the cap of SO_RCVBUF, ~200 KB): fewer drops
            force = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux-only constant
            self._sock.setsockopt(socket.SOL_SOCKET, force, 4 * 1024 * 1024)
        except (OSError, AttributeError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._sock.bind((host, 0))
        self._thread = threading.Thread(target=self._receive, name="local-emf-exporter", daemon=True)
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def emf_endpoint(self) -> str:
        return f"udp://{self.host}:{self._sock.getsockname()[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def start(self) -> EmfExporter:
        try:
            self._server, self._server_thread = start_http_server(
                self.requested_port, self.host, registry=self.registry
            )
        except OSError:
            # 9100 taken (another stack, e.g. a parallel test process): any free port instead.
            logger.warning("metrics port in use; using a free port", extra={"port": self.requested_port})
            self._server, self._server_thread = start_http_server(0, self.host, registry=self.registry)
        self.port = int(self._server.server_address[1])
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and receiving; both threads are joined before this returns."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._server_thread is not None:
            self._server_thread.join(timeout=5)
        self._stopping.set()
        if self._thread.is_alive():  # wake the blocking recv with an empty datagram
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wake:
                wake.sendto(b"", self._sock.getsockname())
            self._thread.join(timeout=5)
        self._sock.close()

    def _receive(self) -> None:
        while not self._stopping.is_set():
            try:
                data = self._sock.recv(MAX_DATAGRAM)
            except OSError:
                return  # closed
            if self._stopping.is_set():
                return
            try:
                self.ingest(json.loads(data))
            except Exception:
                logger.warning("unreadable EMF record ignored", extra={"bytes": len(data)})

    def ingest(self, emf: dict[str, Any]) -> None:
        """Apply one EMF record to the registry."""
        with self._lock:
            self.records += 1
            for metric, value, labels in emf_metrics(emf):
                prom = self._metrics[metric.name]
                child = prom.labels(**labels) if labels else prom
                if isinstance(child, Counter):
                    child.inc(value)
                else:
                    child.observe(metric.prometheus_value(value))

    def text(self) -> str:
        """The ``/metrics`` body."""
        return generate_latest(self.registry).decode()

    def value(self, metric: MetricDef, labels: dict[str, str] | None = None) -> float:
        """A counter's total, or a histogram's observation count (0 when never seen)."""
        name = metric.prometheus_name if metric.is_counter else metric.prometheus_base + "_count"
        return float(self.registry.get_sample_value(name, labels or {}) or 0.0)
