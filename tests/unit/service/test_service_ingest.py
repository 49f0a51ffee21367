"""Drop folder: key checks, waiting for all three files, publishing to results/<name>/."""

from __future__ import annotations

import json

import pytest
from facesvg.service.dropfolder import IngestOutcome
from facesvg.service.layout import parse_incoming_key
from facesvg.service.models import JobStatus
from service_fakes import Harness, make_harness

LANDMARKS = json.dumps({"landmarks": [[{"x": 1, "y": 2}, {"x": 3, "y": 4}]], "dimensions": [100, 100]})


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("incoming/face-1/image.png", ("face-1", "image.png")),
        ("incoming/a.b_c/landmarks.txt", ("a.b_c", "landmarks.txt")),
        ("incoming/face-1/other.png", None),
        ("incoming/../results/x/image.png", None),
        ("incoming/..", None),
        ("incoming/a/b/image.png", None),
        ("incoming/.hidden/image.png", None),
        ("incoming/white space/image.png", None),
        ("results/face-1/image.png", None),
        ("incoming//image.png", None),
    ],
)
def test_only_the_drop_folder_layout_is_accepted(key: str, expected: tuple[str, str] | None) -> None:
    assert parse_incoming_key(key) == expected


def _drop(h: Harness, name: str, files: dict[str, bytes]) -> IngestOutcome:
    outcome = IngestOutcome.IGNORED
    for file_name, data in files.items():
        h.blobs.put(f"incoming/{name}/{file_name}", data, "application/octet-stream")
        outcome = h.service.ingest(h.service.settings.bucket, f"incoming/{name}/{file_name}")
    return outcome


def test_the_job_starts_once_all_three_files_exist_and_results_are_published() -> None:
    h = make_harness()
    assert _drop(h, "face-1", {"image.png": b"img"}) is IngestOutcome.WAITING
    assert _drop(h, "face-1", {"landmarks.json": LANDMARKS.encode()}) is IngestOutcome.WAITING
    assert _drop(h, "face-1", {"segmentation_map.png": b"map"}) is IngestOutcome.SUBMITTED
    assert len(h.queue.messages) == 1
    job_id = h.queue.messages[0].job_id
    assert json.loads(h.blobs.objects["results/face-1/job.json"])["id"] == job_id

    h.service.process(job_id)

    assert h.blobs.objects["results/face-1/face.svg"] == b"<svg>face</svg>"
    assert "results/face-1/regions/nose.svg" in h.blobs.objects


def test_a_repeated_event_does_not_start_a_second_job() -> None:
    h = make_harness()
    _drop(h, "f", {"image.png": b"img", "landmarks.json": LANDMARKS.encode(), "segmentation_map.png": b"map"})
    assert h.service.ingest(h.service.settings.bucket, "incoming/f/image.png") is IngestOutcome.SUBMITTED
    assert len(h.queue.messages) == 1


def test_a_second_folder_with_the_same_content_gets_the_finished_results_at_once() -> None:
    h = make_harness()
    files = {"image.png": b"img", "landmarks.json": LANDMARKS.encode(), "segmentation_map.png": b"map"}
    _drop(h, "first", files)
    h.service.process(h.queue.messages[0].job_id)

    _drop(h, "second", files)

    assert len(h.queue.messages) == 1
    assert h.blobs.objects["results/second/face.svg"] == b"<svg>face</svg>"


def test_invalid_inputs_leave_an_error_file_and_no_job() -> None:
    h = make_harness()
    outcome = _drop(
        h, "bad", {"image.png": b"bad", "landmarks.json": LANDMARKS.encode(), "segmentation_map.png": b"m"}
    )
    assert outcome is IngestOutcome.INVALID
    assert json.loads(h.blobs.objects["results/bad/error.json"])["error"]["field"] == "image"
    assert h.queue.messages == [] and h.jobs.rows == {}


def test_two_images_are_ambiguous() -> None:
    h = make_harness()
    files = {
        "image.png": b"a",
        "image.jpg": b"b",
        "landmarks.json": LANDMARKS.encode(),
        "segmentation_map.png": b"m",
    }
    assert _drop(h, "two", files) is IngestOutcome.INVALID


def test_events_for_other_buckets_or_paths_are_ignored() -> None:
    h = make_harness()
    assert h.service.ingest("someone-elses-bucket", "incoming/x/image.png") is IngestOutcome.IGNORED
    assert h.service.ingest(h.service.settings.bucket, "incoming/x/../../etc") is IngestOutcome.IGNORED


def test_a_job_failing_on_its_inputs_publishes_an_error_file() -> None:
    h = make_harness()
    _drop(h, "f", {"image.png": b"img", "landmarks.json": LANDMARKS.encode(), "segmentation_map.png": b"map"})
    from facesvg.core.errors import InputError

    h.core.render_error = InputError("segmentation_map", "corrupt")
    h.service.process(h.queue.messages[0].job_id)

    job = h.jobs.get_job(h.queue.messages[0].job_id)
    assert job is not None and job.status is JobStatus.FAILED
    assert json.loads(h.blobs.objects["results/f/error.json"])["error"]["code"] == "InvalidInput"


def test_keys_with_control_characters_are_escaped_in_the_log_line() -> None:
    # Given a console log line as `facesvg run` writes it
    import io
    import logging

    from facesvg.service.observability import ConsoleFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ConsoleFormatter())
    target = logging.getLogger("facesvg")
    target.addHandler(handler)
    h = make_harness()
    hostile = "incoming/a\x1b[31mRED\nforged line\u2028x/../image.png"
    try:
        # When an event carries a key with an escape sequence, a newline and a line separator
        assert h.service.ingest(h.service.settings.bucket, hostile) is IngestOutcome.IGNORED
        assert h.service.ingest("bucket\x1b[2J", "incoming/x/image.png") is IngestOutcome.IGNORED
    finally:
        target.removeHandler(handler)

    # Then each log record is one printable line with the characters escaped
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert all(line.isprintable() for line in lines)
    assert "a\\x1b[31mRED\\nforged line\\u2028x" in lines[0]
    assert "bucket\\x1b[2J" in lines[1]
