"""The client commands against the local stack, as a user runs them (separate processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from facesvg.client.payload import SAMPLE_DIR

pytestmark = pytest.mark.integration


def _facesvg(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "facesvg.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_payload_then_submit_wait_writes_the_results(local_stack: Any, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    assert _facesvg("payload", "--options", '{"canvas_size": 640}', "-o", str(payload)).returncode == 0
    body = json.loads(payload.read_text())
    assert {"image", "segmentation_map", "landmarks", "options"} <= body.keys()

    out = tmp_path / "out"
    done = _facesvg(
        "submit",
        "--api",
        local_stack.api_url,
        "--family",
        "frontal-crop",
        "--payload",
        str(payload),
        "--out",
        str(out),
    )

    assert done.returncode == 0, done.stderr
    assert (out / "face.svg").read_bytes().lstrip().startswith(b"<?xml") or b"<svg" in (
        out / "face.svg"
    ).read_bytes()
    assert (out / "regions" / "nose.svg").is_file()
    assert json.loads((out / "contours.json").read_text())
    assert json.loads((out / "status.json").read_text())["status"] == "completed"


def test_run_once_processes_the_bundled_sample(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # The default log level, as `make run` uses it: every INFO line is formatted.
    done = _facesvg(
        "run", "--once", "--port", "0", "--aws-port", "0", "--s3-port", "0", "--in-memory", "--out", str(out)
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "face.svg").is_file() and (out / "contours.json").is_file()
    assert "Swagger UI" in done.stdout
    assert "job completed" in done.stdout + done.stderr


def test_drop_with_a_label_scheme_renders_a_19_class_map(local_stack: Any, tmp_path: Path) -> None:
    from integration_helpers import faceparsing19_map

    seg = tmp_path / "segmentation_map.png"
    seg.write_bytes(faceparsing19_map())
    drop = (
        "drop",
        "cli-fp19",
        "--segmentation",
        str(seg),
        "--s3-endpoint",
        local_stack.s3_endpoint,
        "--wait",
    )

    # Without the scheme the folder is refused, and the command says why
    refused = _facesvg(*drop)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "UnknownLabels" in refused.stderr and "faceparsing19" in refused.stderr

    # With it (options.json uploaded first), the same folder renders; --wait waits for this drop
    options = tmp_path / "options.json"
    options.write_text('{"canvas_size": 512}')
    done = _facesvg(*drop, "--options-file", str(options), "--label-scheme", "faceparsing19")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "incoming/cli-fp19/options.json" in done.stdout.splitlines()[0]
    assert "results/cli-fp19/face.svg" in done.stdout and "error.json" not in done.stdout

    # Bad options are refused before anything is uploaded
    bad = _facesvg(*drop, "--zones", "third_eye")
    assert bad.returncode == 2 and "third_eye" in bad.stderr and "uploaded" not in bad.stdout


def test_submit_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    done = _facesvg(
        "submit", "--image", str(tmp_path / "mine.jpg"), "--landmarks", str(tmp_path / "mine.json")
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == f"error: --image {tmp_path / 'mine.jpg'}: no such file", done.stderr


def test_submit_never_pairs_a_photo_with_the_sample_s_landmarks(tmp_path: Path) -> None:
    photo = tmp_path / "mine.jpg"
    photo.write_bytes((SAMPLE_DIR / "original_image.png").read_bytes())
    alone = _facesvg("submit", "--image", str(photo), "--api", "http://127.0.0.1:9")
    assert alone.returncode == 2 and "Traceback" not in alone.stderr
    assert "--image without --landmarks" in alone.stderr and "--sample" in alone.stderr
    nothing = _facesvg("submit", "--api", "http://127.0.0.1:9")
    assert nothing.returncode == 2 and "--sample" in nothing.stderr
