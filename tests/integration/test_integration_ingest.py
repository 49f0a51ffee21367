"""The S3 drop folder: incoming/<name>/… → the same job → results/<name>/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from facesvg import names
from facesvg.commands.payload import SAMPLE_DIR
from integration_helpers import eventually, keys

pytestmark = pytest.mark.integration

FILES = {
    "image.png": SAMPLE_DIR / "original_image.png",
    "segmentation_map.png": SAMPLE_DIR / "segmentation_map.png",
    "landmarks.txt": SAMPLE_DIR / "landmarks.txt",
}


def _upload(stack: Any, name: str, files: dict[str, Path | bytes]) -> None:
    for file_name, source in files.items():
        data = source.read_bytes() if isinstance(source, Path) else source
        stack.clients["s3"].put_object(
            Bucket=names.BUCKET_NAME, Key=f"incoming/{name}/{file_name}", Body=data
        )


def _get(stack: Any, key: str) -> bytes:
    return bytes(stack.clients["s3"].get_object(Bucket=names.BUCKET_NAME, Key=key)["Body"].read())


def test_a_complete_drop_folder_produces_results_under_its_name(local_stack: Any) -> None:
    _upload(local_stack, "sample_1.v2", FILES)

    eventually(
        lambda: "results/sample_1.v2/face.svg" in keys(local_stack, "results/sample_1.v2/"), timeout=30
    )

    published = keys(local_stack, "results/sample_1.v2/")
    assert {"results/sample_1.v2/result.json", "results/sample_1.v2/job.json"} <= set(published)
    assert "results/sample_1.v2/regions/nose.svg" in published
    assert b"<svg" in _get(local_stack, "results/sample_1.v2/face.svg")[:400]

    # The same content dropped under a second name: no second job, the results are copied over.
    _upload(local_stack, "sample-copy", FILES)
    eventually(
        lambda: "results/sample-copy/face.svg" in keys(local_stack, "results/sample-copy/"), timeout=30
    )
    job_1 = json.loads(_get(local_stack, "results/sample_1.v2/job.json"))["id"]
    job_2 = json.loads(_get(local_stack, "results/sample-copy/job.json"))["id"]
    assert job_1 == job_2


def test_bad_drop_folder_inputs_leave_an_error_file(local_stack: Any) -> None:
    _upload(local_stack, "broken", {**FILES, "image.png": b"this is no image"})

    eventually(lambda: keys(local_stack, "results/broken/error.json"), timeout=30)

    error = json.loads(_get(local_stack, "results/broken/error.json"))["error"]
    assert error["field"] == "image"


def test_names_that_fail_the_check_are_ignored(local_stack: Any) -> None:
    # "my face" arrives URL-encoded as "my+face"; decoded, the space fails the name pattern.
    _upload(local_stack, "my face", FILES)
    _upload(local_stack, "ok-name", {"notes.txt": b"not one of the three files"})
    marker = "incoming/zz-marker/"
    _upload(local_stack, "zz-marker", {"image.png": FILES["image.png"]})

    # Events are handled in order; once the marker's event is consumed the others were too.
    eventually(lambda: not _pending_ingest_events(local_stack), timeout=15)
    assert keys(local_stack, "results/my face/") == [] and keys(local_stack, "results/my+face/") == []
    assert keys(local_stack, "results/ok-name/") == []
    assert keys(local_stack, marker)  # the upload itself is untouched


def _pending_ingest_events(stack: Any) -> bool:
    from facesvg.local.aws import queue_depth

    return queue_depth(stack.clients["s3_events"], stack.resources.ingest_queue_url) > 0
