"""The S3 drop folder: incoming/<name>/… → the same job → results/<name>/."""

from __future__ import annotations

import json
import struct
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
from facesvg import names
from facesvg.client.payload import SAMPLE_DIR
from integration_helpers import eventually, faceparsing19_map, keys

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


def test_names_that_fail_the_check_are_ignored_or_get_an_error_saying_why(local_stack: Any) -> None:
    # "my face" arrives URL-encoded as "my+face"; decoded, the space fails the name pattern.
    _upload(local_stack, "my face", FILES)
    _upload(local_stack, "visage-é", FILES)
    _upload(local_stack, "x" * 65, FILES)
    _upload(local_stack, "ok-name", {"image.PNG": FILES["image.png"]})  # the case matters
    _upload(local_stack, "a%2Fb", FILES)  # not harmless as a key: ignored
    marker = "incoming/zz-marker/"
    _upload(local_stack, "zz-marker", {"image.png": FILES["image.png"]})

    # Events are handled in order; once the marker's event is consumed the others were too.
    eventually(lambda: not _pending_ingest_events(local_stack), timeout=15)
    # (an event taken off the queue may still be in its handler: wait for each folder's answer)
    for name in ("my face", "visage-é", "x" * 65, "ok-name"):
        eventually(lambda name=name: keys(local_stack, f"results/{name}/"), timeout=15)
    for name, says in (("my face", "ASCII letters"), ("visage-é", "ASCII letters"), ("x" * 65, "at most 64")):
        assert keys(local_stack, f"results/{name}/") == [f"results/{name}/error.json"], name
        error = json.loads(_get(local_stack, f"results/{name}/error.json"))["error"]
        assert error["code"] == "InvalidName" and says in error["message"]
    assert keys(local_stack, "results/my+face/") == []
    assert keys(local_stack, "results/ok-name/") == ["results/ok-name/error.json"]
    error = json.loads(_get(local_stack, "results/ok-name/error.json"))["error"]
    assert error["code"] == "InvalidFileName" and "'image.PNG'" in error["message"]
    assert keys(local_stack, "results/a%2Fb/") == [] and keys(local_stack, "results/a/") == []
    assert keys(local_stack, marker)  # the upload itself is untouched
    assert _jobs_of(local_stack, "my face") == [] and _jobs_of(local_stack, "ok-name") == []


# -- re-uploads: the folder shows exactly one uploaded set -------------------------------------------


def _reencoded(path: Path, level: int) -> bytes:
    """The same pixels in other bytes (a new content hash, the same face)."""
    import cv2
    import numpy as np

    pixels = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    ok, encoded = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, level])
    assert ok
    return bytes(encoded)


def _corrupt_png(data: bytes) -> bytes:
    """Intact chunks (CRCs fixed) over broken compressed data: passes ingest, fails in the worker."""
    out, pos, done = bytearray(data[:8]), 8, False
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype, body = data[pos + 4 : pos + 8], bytearray(data[pos + 8 : pos + 8 + length])
        if ctype == b"IDAT" and not done:
            for i in range(len(body) // 2, len(body) // 2 + 64):
                body[i] ^= 0xFF
            done = True
        crc = zlib.crc32(ctype + bytes(body)) & 0xFFFFFFFF
        out += struct.pack(">I", length) + ctype + body + struct.pack(">I", crc)
        pos += 12 + length
    return bytes(out)


def _jobs_of(stack: Any, name: str) -> list[dict[str, Any]]:
    out = stack.clients["dynamodb"].scan(
        TableName=names.TABLE_NAME,
        FilterExpression="#s = :s",
        ExpressionAttributeNames={"#s": "source"},
        ExpressionAttributeValues={":s": {"S": f"ingest:{name}"}},
    )
    return sorted(out["Items"], key=lambda i: i["created_at"]["S"])


def _one_at_a_time(stack: Any, name: str, files: dict[str, bytes]) -> None:
    """Each file, then wait for its event to be handled (and a second: S3 keeps whole seconds)."""
    for file_name, data in files.items():
        _upload(stack, name, {file_name: data})
        eventually(lambda: not _pending_ingest_events(stack), timeout=15)
        time.sleep(1.05)


def test_re_uploading_one_file_at_a_time_publishes_only_complete_sets(local_stack: Any) -> None:
    name = "reupload-" + uuid.uuid4().hex[:8]
    landmarks = FILES["landmarks.txt"].read_bytes()
    # Given set A (its own content: a re-encoded photo) published
    _upload(local_stack, name, {**FILES, "image.png": _reencoded(FILES["image.png"], 3)})
    eventually(lambda: f"results/{name}/face.svg" in keys(local_stack, f"results/{name}/"), timeout=30)
    job_a = json.loads(_get(local_stack, f"results/{name}/job.json"))["id"]
    time.sleep(1.05)

    # When set B replaces it one file at a time (new photo bytes, new map bytes, landmarks again)
    set_b = {
        "image.png": _reencoded(FILES["image.png"], 1),
        "segmentation_map.png": _reencoded(FILES["segmentation_map.png"], 1),
        "landmarks.txt": landmarks + b"\n",
    }
    _one_at_a_time(local_stack, name, dict(list(set_b.items())[:2]))

    # Then the two partial re-uploads started nothing: A is still what the folder shows
    assert len(_jobs_of(local_stack, name)) == 1
    assert json.loads(_get(local_stack, f"results/{name}/job.json"))["id"] == job_a

    # and the third file completes B, which alone is rendered and published
    _one_at_a_time(local_stack, name, dict(list(set_b.items())[2:]))
    eventually(lambda: json.loads(_get(local_stack, f"results/{name}/job.json"))["id"] != job_a, timeout=30)
    eventually(lambda: f"results/{name}/face.svg" in keys(local_stack, f"results/{name}/"), timeout=30)
    jobs = _jobs_of(local_stack, name)
    assert len(jobs) == 2
    job_b = json.loads(_get(local_stack, f"results/{name}/job.json"))
    assert job_b["id"] == jobs[1]["job_id"]["S"]
    assert _get(local_stack, f"inputs/{job_b['content_hash']}/image") == set_b["image.png"]
    assert (
        _get(local_stack, f"inputs/{job_b['content_hash']}/segmentation_map") == set_b["segmentation_map.png"]
    )
    assert "results/{name}/error.json" not in keys(local_stack, f"results/{name}/")

    # When a re-upload then fails in the worker (a photo whose compressed data is broken)
    set_c = {
        "image.png": _corrupt_png(FILES["image.png"].read_bytes()),
        "segmentation_map.png": FILES["segmentation_map.png"].read_bytes(),
        "landmarks.txt": landmarks + b"\n\n",
    }
    _one_at_a_time(local_stack, name, set_c)

    # Then the folder holds only error.json and job.json, naming the failed job
    eventually(lambda: f"results/{name}/error.json" in keys(local_stack, f"results/{name}/"), timeout=30)
    assert keys(local_stack, f"results/{name}/") == [f"results/{name}/error.json", f"results/{name}/job.json"]
    failed = json.loads(_get(local_stack, f"results/{name}/job.json"))["id"]
    assert failed == _jobs_of(local_stack, name)[-1]["job_id"]["S"] and failed != job_b["id"]
    error = json.loads(_get(local_stack, f"results/{name}/error.json"))
    assert error["id"] == failed and error["error"]["code"] == "Corrupt", error

    # And a re-upload refused at ingest (no job) leaves error.json alone
    _one_at_a_time(local_stack, name, {**set_b, "image.png": b"this is no image"})
    eventually(lambda: keys(local_stack, f"results/{name}/") == [f"results/{name}/error.json"], timeout=30)
    assert json.loads(_get(local_stack, f"results/{name}/error.json"))["error"]["field"] == "image"
    assert len(_jobs_of(local_stack, name)) == 3


def _pending_ingest_events(stack: Any) -> bool:
    from facesvg.local.resources import queue_depth

    return queue_depth(stack.clients["s3_events"], stack.resources.ingest_queue_url) > 0


# -- options.json ---------------------------------------------------------------------------------


def test_a_drop_with_options_json_renders_a_19_class_map(local_stack: Any) -> None:
    fp19 = faceparsing19_map()
    # Without options the 19-class map is refused, and error.json says what to upload
    _upload(local_stack, "fp19-plain", {**FILES, "segmentation_map.png": fp19})
    eventually(lambda: keys(local_stack, "results/fp19-plain/error.json"), timeout=30)
    error = json.loads(_get(local_stack, "results/fp19-plain/error.json"))["error"]
    assert (error["code"], error["field"]) == ("UnknownLabels", "segmentation_map")
    assert error["likely_schemes"][0] == "faceparsing19"
    assert 'options.json holding {"label_scheme": "faceparsing19"}' in error["message"]

    # With options.json uploaded first it completes
    _upload(
        local_stack,
        "fp19",
        {"options.json": b'{"label_scheme": "faceparsing19"}', **FILES, "segmentation_map.png": fp19},
    )
    eventually(lambda: "results/fp19/face.svg" in keys(local_stack, "results/fp19/"), timeout=60)

    published = keys(local_stack, "results/fp19/")
    assert "results/fp19/error.json" not in published and "results/fp19/regions/nose.svg" in published
    job = json.loads(_get(local_stack, "results/fp19/job.json"))
    options = json.loads(_get(local_stack, f"inputs/{job['content_hash']}/options.json"))
    assert options == {"label_scheme": "faceparsing19"}
    assert _get(local_stack, f"inputs/{job['content_hash']}/segmentation_map") == fp19
    result = json.loads(_get(local_stack, "results/fp19/result.json"))
    assert "nose" in result["regions"] and "nose" not in result["missing"]
    assert len(_jobs_of(local_stack, "fp19")) == 1 and _jobs_of(local_stack, "fp19-plain") == []


def test_a_bad_or_oversized_options_json_leaves_an_error_naming_it(local_stack: Any) -> None:
    _upload(local_stack, "opts-bad", {"options.json": b'{"zones": ["nose", "third_eye"]}', **FILES})
    big = b'{"zones": "all", "pad": "' + b" " * (64 * 1024) + b'"}'
    _upload(local_stack, "opts-big", {"options.json": big, **FILES})
    _upload(local_stack, "opts-alone", {"options.json": b'{"zones": "all"}'})

    for name in ("opts-bad", "opts-big"):
        eventually(lambda name=name: keys(local_stack, f"results/{name}/error.json"), timeout=30)
        assert keys(local_stack, f"results/{name}/") == [f"results/{name}/error.json"]
    bad = json.loads(_get(local_stack, "results/opts-bad/error.json"))["error"]
    assert (bad["code"], bad["field"], bad["file"]) == ("InvalidOptions", "options.zones", "options.json")
    assert "third_eye" in bad["message"]
    too_big = json.loads(_get(local_stack, "results/opts-big/error.json"))["error"]
    assert (too_big["code"], too_big["file"]) == ("OptionsTooLarge", "options.json")
    assert f"{len(big)} bytes; at most 65536" in too_big["message"]
    # options.json on its own: not refused, nothing started
    eventually(lambda: not _pending_ingest_events(local_stack), timeout=15)
    assert keys(local_stack, "results/opts-alone/") == []
    assert _jobs_of(local_stack, "opts-bad") == [] and _jobs_of(local_stack, "opts-big") == []


# -- one folder's junk ----------------------------------------------------------------------------

STRAY_FILES = 300
# B's own result takes ~0.5 s (a cache hit less); 300 events of junk queued before B's three took
# ~24 s when each event listed the whole folder and rewrote error.json. Generous for a loaded machine.
OTHER_FOLDER_BUDGET_S = 10.0


def test_stray_files_in_one_folder_do_not_delay_another_folder(local_stack: Any) -> None:
    # Given folder A filling up with 300 files it does not accept (an event each, queued first)
    junk, other = f"junk-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    s3 = local_stack.clients["s3"]
    for i in range(STRAY_FILES):
        s3.put_object(Bucket=names.BUCKET_NAME, Key=f"incoming/{junk}/stray-{i:03d}.bin", Body=b"x")

    # When a complete set arrives in folder B behind them
    started = time.monotonic()
    _upload(local_stack, other, FILES)

    # Then B's result is published promptly, and A holds one error naming its first strays
    eventually(lambda: f"results/{other}/face.svg" in keys(local_stack, f"results/{other}/"), timeout=60)
    took = time.monotonic() - started
    print(f"folder B's result {took:.2f} s after its upload, behind {STRAY_FILES} stray files in folder A")
    assert took < OTHER_FOLDER_BUDGET_S, f"{took:.1f} s"
    eventually(lambda: not _pending_ingest_events(local_stack), timeout=60)
    assert keys(local_stack, f"results/{junk}/") == [f"results/{junk}/error.json"]
    error = json.loads(_get(local_stack, f"results/{junk}/error.json"))["error"]
    assert error["code"] == "InvalidFileName" and "'stray-000.bin'" in error["message"]
