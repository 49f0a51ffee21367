"""Metrics end to end on the local stack: the functions' EMF records reach /metrics; log lines
carry the job id."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from facesvg import names
from facesvg.local.emf import install_from_environment
from facesvg.local.prometheus import EmfExporter
from facesvg.service import metrics_catalog as mc
from facesvg.service import observability as obs
from integration_helpers import eventually, submit_url, unique_body, wait_finished

pytestmark = pytest.mark.integration

# What one new job, its cache hit, a rejected submit and status polls produce (the rest —
# JobsFailed, JobsRetried, Duplicates, IngestObjects — are covered by the unit test of the catalogue).
HAPPY_PATH = {
    "submit": [mc.JOBS_SUBMITTED, mc.CACHE_MISSES, mc.CACHE_HITS, mc.REQUESTS_REJECTED, mc.PAYLOAD_BYTES],
    "status": [mc.STATUS_POLLS],
    "process": [
        mc.RENDERS,
        mc.JOBS_COMPLETED,
        mc.QUEUE_WAIT,
        mc.STAGE_DURATION,
        mc.END_TO_END_LATENCY,
        mc.RESULT_BYTES,
    ],
}


@pytest.fixture
def api_records(local_stack: Any) -> Iterator[list[dict[str, Any]]]:
    """EMF records of the functions running in this process (submit, status, and the process
    handler when invoked here), still forwarded to the stack's exporter."""
    records: list[dict[str, Any]] = []
    exporter = local_stack.exporter

    def sink(record: dict[str, Any]) -> None:
        records.append(record)
        exporter.ingest(record)

    obs.set_emf_sink(sink)
    try:
        yield records
    finally:
        obs.set_emf_sink(None)


def _names(records: list[dict[str, Any]]) -> set[str]:
    return {m["Name"] for r in records for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def test_each_metric_reaches_emf_and_metrics_endpoint(
    local_stack: Any, api: httpx.Client, api_records: list[dict[str, Any]]
) -> None:
    body = unique_body()
    first = api.post(submit_url(), json=body)
    assert first.status_code == 202
    wait_finished(api, first.json()["id"])
    assert api.post(submit_url(), json=body).status_code == 200  # cache hit
    assert api.post(submit_url(), json={**body, "landmarks": []}).status_code == 400

    # The API functions run in this process: their EMF output is here.
    emitted = _names(api_records)
    for metric in HAPPY_PATH["submit"] + HAPPY_PATH["status"]:
        assert metric.name in emitted, metric.name

    # The process function runs in worker processes: its records come over UDP to the exporter.
    def scraped() -> str | None:
        text = httpx.get(local_stack.metrics_url).text
        ok = all(local_stack.exporter.value(m) > 0 for m in HAPPY_PATH["process"] if not m.dimensions)
        return text if ok else None

    text = eventually(scraped, timeout=10)
    for metrics in HAPPY_PATH.values():
        for metric in metrics:
            assert metric.prometheus_name in text, metric.prometheus_name
    assert 'facesvg_stage_duration_seconds_bucket{le="0.5",stage="render"}' in text
    assert 'facesvg_requests_rejected_total{error_code="' in text
    assert local_stack.metrics_url.startswith("http://127.0.0.1:")


def test_process_handler_emits_its_metrics_and_logs_the_job_id(
    local_stack: Any, api_records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = uuid.uuid4().hex
    event = {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "r",
                "body": f'{{"job_id": "{job_id}"}}',
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(time.time() * 1000) - 40),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": local_stack.resources.queue_arn,
                "awsRegion": "us-east-1",
            }
        ]
    }
    assert local_stack.invoke("process", event) == {"batchItemFailures": []}
    by_name = {m["Name"]: r for r in api_records for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert by_name["MessagesSkipped"]["reason"] == "missing"
    assert by_name["QueueWait"]["QueueWait"][0] >= 40
    err = capsys.readouterr().err
    assert any(job_id in line and "unknown job" in line for line in err.splitlines())


def test_exporter_receives_records_over_udp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    exporter = EmfExporter(port=0).start()
    try:
        monkeypatch.setenv(names.ENV_EMF_ENDPOINT, exporter.emf_endpoint)
        previous = obs._transport
        assert install_from_environment()
        try:
            obs.record(mc.JOBS_FAILED, 1, error_code="NoFace")
        finally:
            obs.set_emf_transport(previous)
        eventually(lambda: exporter.value(mc.JOBS_FAILED, {"error_code": "NoFace"}) >= 1, timeout=5)
        assert 'facesvg_jobs_failed_total{error_code="NoFace"} 1.0' in httpx.get(exporter.url).text
    finally:
        exporter.stop()
