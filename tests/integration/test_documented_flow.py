"""The original service's documented flow, followed literally by a FastAPI-style client: a payload
file → ``POST /api/v1/submit`` → ``job_id`` → ``GET /api/v1/status/{job_id}`` until ``completed``
→ the SVG; every error read by its top-level ``detail`` (on both route families)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from facesvg.client.payload import SAMPLE_DIR
from integration_helpers import PREFIXES, eventually, status_url, submit_url, unique_body

pytestmark = pytest.mark.integration


def _payload_file(tmp_path: Path) -> Path:
    path = tmp_path / "payload.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "facesvg.cli",
            "payload",
            "--options",
            '{"canvas_size": 384}',
            "-o",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


def test_the_documented_flow_with_job_id(api: httpx.Client, tmp_path: Path) -> None:
    payload = _payload_file(tmp_path)
    submitted = api.post(
        "/api/v1/submit", content=payload.read_bytes(), headers={"content-type": "application/json"}
    )
    assert submitted.status_code in (200, 202), submitted.text
    job_id = submitted.json()["job_id"]
    assert job_id == submitted.json()["id"]

    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/api/v1/status/{job_id}").json()
        return body if body["status"] in ("completed", "failed") else None

    status = eventually(finished, timeout=60)
    assert status["status"] == "completed", status
    assert status["job_id"] == status["id"] == job_id
    svg = base64.b64decode(status["svg"])
    assert svg.lstrip().startswith((b"<?xml", b"<svg")) and b"<path" in svg


def _sample_points() -> np.ndarray:
    from facesvg.core.landmark_formats import parse_landmarks

    return parse_landmarks((SAMPLE_DIR / "landmarks.txt").read_text()).points


def _with_landmarks(landmarks: Any) -> dict[str, Any]:
    return {**unique_body(), "landmarks": landmarks}


def _points(points: np.ndarray) -> list[dict[str, float]]:
    return [{"x": float(x), "y": float(y)} for x, y in points]


CASES = {
    # no face: an empty list, an empty document, a landmarks.txt holding no face
    "landmarks_empty_list": (400, "InvalidLandmarks", []),
    "landmarks_empty_document": (400, "InvalidLandmarks", {"landmarks": []}),
    "landmarks_txt_without_a_face": (400, "InvalidLandmarks", "{'landmarks': []}"),
    # MediaPipe Tasks' empty detection: no face in the photo
    "mediapipe_no_face": (422, "NoFace", {"face_landmarks": []}),
}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_no_face_answers_read_by_detail(api: httpx.Client, prefix: str, case: str) -> None:
    status, code, landmarks = CASES[case]
    r = api.post(submit_url(prefix), json=_with_landmarks(landmarks))
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code and body["error"]["field"] == "landmarks"
    assert body["detail"] == body["error"]["message"] and body["detail"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_landmarks_of_a_smaller_image_blame_the_landmarks(api: httpx.Client, prefix: str) -> None:
    half = _sample_points() * 0.3  # the landmarks of a photo a third the size: on background here
    r = api.post(submit_url(prefix), json=_with_landmarks(_points(half)))
    assert r.status_code == 400, r.text
    body = r.json()
    assert (body["error"]["code"], body["error"]["field"]) == ("InvalidLandmarks", "landmarks")
    assert "on the face the segmentation map shows" in body["detail"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_landmarks_outside_the_photo_say_so(api: httpx.Client, prefix: str) -> None:
    r = api.post(submit_url(prefix), json=_with_landmarks(_points(_sample_points() + 800)))
    assert r.status_code == 400, r.text
    body = r.json()
    assert (body["error"]["code"], body["error"]["field"]) == ("InvalidLandmarks", "landmarks")
    assert "fall outside the photo's 1101x1100 pixels" in body["detail"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_error_family_has_detail(api: httpx.Client, prefix: str) -> None:
    answers = [
        api.get(status_url("0123456789abcdef0123456789abcdef", prefix)),  # 404 from the function
        api.get(prefix + "/nowhere"),  # 404 from the gateway
        api.post(submit_url(prefix), content=b"{not json", headers={"content-type": "application/json"}),
        api.post(submit_url(prefix), json={**unique_body(), "image": "A" * 6_000_000}),  # 413
        api.post(submit_url(prefix), json={**unique_body(), "segmentation": "x"}),  # unknown field
    ]
    for r in answers:
        assert r.status_code >= 400
        body = json.loads(r.text)
        assert isinstance(body["detail"], str) and body["detail"] == body["error"]["message"], r.text
