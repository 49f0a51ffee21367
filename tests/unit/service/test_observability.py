"""Metrics catalogue → EMF records → Prometheus exporter; cold start; log correlation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from facesvg import names
from facesvg.local.prometheus import EmfExporter, build_registry, emf_metrics
from facesvg.service import metrics_catalog as mc
from facesvg.service import observability as obs


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    records: list[dict[str, Any]] = []
    obs.set_emf_sink(records.append)
    try:
        yield records
    finally:
        obs.set_emf_sink(None)


def _dims(metric: mc.MetricDef) -> dict[str, str]:
    return {d: "x" for d in metric.dimensions}


def test_every_metric_is_one_emf_record_and_one_prometheus_metric(emf: list[dict[str, Any]]) -> None:
    exporter = EmfExporter.__new__(EmfExporter)  # the registry part only: no sockets (unit test)
    exporter.registry, exporter._metrics = build_registry()
    exporter.records = 0
    exporter._lock = threading.Lock()
    for metric in mc.CATALOG.values():
        obs.record(metric, 1500.0 if metric.unit == "Milliseconds" else 2, **_dims(metric))
    assert len(emf) == len(mc.CATALOG)
    for metric, record in zip(mc.CATALOG.values(), emf, strict=True):
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == names.METRICS_NAMESPACE
        assert directive["Metrics"] == [{"Name": metric.name, "Unit": metric.unit}]
        assert sorted(directive["Dimensions"][0]) == sorted([*metric.dimensions, "service"])
        assert [(m.name, labels) for m, _, labels in emf_metrics(record)] == [(metric.name, _dims(metric))]
        exporter.ingest(record)
    text = exporter.text()
    for metric in mc.CATALOG.values():
        assert metric.prometheus_name in text
        if metric.unit == "Milliseconds":  # histogram in seconds
            assert exporter.registry.get_sample_value(metric.prometheus_base + "_sum", _dims(metric)) == 1.5
        else:
            assert exporter.value(metric, _dims(metric)) == (2 if metric.is_counter else 1)


def test_prometheus_names_follow_one_rule() -> None:
    assert mc.QUEUE_WAIT.prometheus_name == "facesvg_queue_wait_seconds"
    assert mc.JOBS_FAILED.prometheus_name == "facesvg_jobs_failed_total"
    assert mc.PAYLOAD_BYTES.prometheus_name == "facesvg_payload_bytes"
    assert len({m.prometheus_base for m in mc.CATALOG.values()}) == len(mc.CATALOG)


def test_record_refuses_undeclared_dimensions(emf: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="error_code"):
        obs.record(mc.JOBS_FAILED, 1)
    with pytest.raises(ValueError):
        obs.record(mc.JOBS_COMPLETED, 1, stage="render")
    assert emf == []


def test_records_go_to_stdout_without_an_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv(names.ENV_EMF_ENDPOINT, raising=False)
    obs.record(mc.JOBS_COMPLETED, 1)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(line)["JobsCompleted"] == [1.0]


def test_cold_start_once_per_function(emf: list[dict[str, Any]]) -> None:
    class Ctx:
        function_name = "facesvg-test-cold-start"
        function_version = "1"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn"
        aws_request_id = "r"

    @obs.metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: Any, context: Any) -> str:
        return "ok"

    handler({}, Ctx())
    handler({}, Ctx())
    cold = [r for r in emf if "ColdStart" in r]
    assert len(cold) == 1
    assert cold[0]["function_name"] == "facesvg-test-cold-start"


def test_log_lines_carry_the_correlation_keys(capsys: pytest.CaptureFixture[str]) -> None:
    with obs.correlation(job_id="0123abcd", content_hash="feedbeef"):
        obs.logger.warning("inside")
    obs.logger.warning("outside")
    err = capsys.readouterr().err
    inside = next(line for line in err.splitlines() if "inside" in line)
    outside = next(line for line in err.splitlines() if "outside" in line)
    assert "job_id=0123abcd" in inside and "content_hash=feedbeef" in inside
    assert "job_id" not in outside


def test_the_yace_config_covers_the_catalogue() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "infra" / "yace.yml").read_text()
    assert f"namespace: {names.METRICS_NAMESPACE}" in text
    for metric in mc.CATALOG.values():
        assert f"- name: {metric.name}\n" in text


def _in_lambda_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter with a Lambda-like environment; its stdout."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    layers = Path(__file__).resolve().parents[3] / "layers"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    environ.update(
        {
            "LAMBDA_TASK_ROOT": "/var/task",
            "AWS_LAMBDA_FUNCTION_NAME": "facesvg-test",
            "AWS_REGION": "us-east-1",
            "PYTHONPATH": str(layers),
            # the resources a deployed function is always given (facesvg.service.settings)
            names.ENV_BUCKET: names.BUCKET_NAME,
            names.ENV_TABLE: names.TABLE_NAME,
            names.ENV_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/facesvg-jobs",
            **env,
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_traced_functions_patch_only_what_they_call_out_with() -> None:
    """Powertools' default patches every library aws_xray_sdk knows and finds installed (~60 ms of a
    traced cold start); the functions call only AWS (botocore) and webhooks (http.client)."""
    code = (
        "import json, sys\n"
        "from facesvg.service import observability as o\n"
        "from aws_xray_sdk.core import patcher\n"
        "print(json.dumps([type(o.tracer).__name__, sorted(patcher._PATCHED_MODULES),"
        " 'sqlite3' in sys.modules]))"
    )
    kind, patched, sqlite_imported = json.loads(_in_lambda_python(code, POWERTOOLS_TRACE_DISABLED="false"))
    assert kind == "Tracer"
    assert patched == ["botocore", "httplib"]
    assert not sqlite_imported


def test_a_handler_init_runs_without_gc_and_freezes_what_it_made() -> None:
    """facesvg.service.init_phase: off during the init, on again after it, the init's objects frozen;
    outside Lambda (the local runtime, tests) the collector is left alone."""
    from pathlib import Path

    handler = Path(__file__).resolve().parents[3] / "functions" / "status" / "handler.py"
    code = (
        "import gc, importlib.util, json\n"
        f"spec = importlib.util.spec_from_file_location('handler', {str(handler)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(json.dumps([gc.isenabled(), gc.get_freeze_count()]))"
    )
    enabled, frozen = json.loads(_in_lambda_python(code, POWERTOOLS_TRACE_DISABLED="true"))
    assert enabled and frozen > 10_000
    outside = _in_lambda_python(code, LAMBDA_TASK_ROOT="", POWERTOOLS_TRACE_DISABLED="true")
    enabled, frozen = json.loads(outside)
    assert enabled and frozen == 0
