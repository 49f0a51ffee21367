"""Drop folder: key checks, waiting for all three files, publishing to results/<name>/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from facesvg.service.dropfolder import IngestOutcome
from facesvg.service.layout import INGEST_ACCEPTED_FILES, is_drop_name, split_incoming_key
from facesvg.service.models import JobStatus
from service_fakes import Harness, make_harness

LANDMARKS = json.dumps({"landmarks": [[{"x": 1, "y": 2}, {"x": 3, "y": 4}]], "dimensions": [100, 100]})


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("incoming/face-1/image.png", ("face-1", "image.png")),
        ("incoming/a.b_c/landmarks.txt", ("a.b_c", "landmarks.txt")),
        ("incoming/face-1/options.json", ("face-1", "options.json")),
        ("incoming/face-1/options.JSON", None),
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
    """The checks ``DropFolder.ingest`` makes of a key, in its order: the layout
    (``split_incoming_key``), the folder name, then the file name."""
    split = split_incoming_key(key)
    accepted = split if split and is_drop_name(split[0]) and split[1] in INGEST_ACCEPTED_FILES else None
    assert accepted == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("incoming/face-1/image.png", ("face-1", "image.png")),
        ("incoming/a/b/image.png", ("a", "b/image.png")),  # refused by its file name
        ("incoming/../results/x/image.png", ("..", "results/x/image.png")),  # refused by its name
        ("incoming/..", None),
        ("incoming//image.png", None),
        ("incoming/face-1/", None),  # the folder marker
        ("results/face-1/image.png", None),
    ],
)
def test_the_key_splits_into_folder_and_rest(key: str, expected: tuple[str, str] | None) -> None:
    assert split_incoming_key(key) == expected


def _drop(h: Harness, name: str, files: dict[str, bytes]) -> IngestOutcome:
    outcome = IngestOutcome.IGNORED
    for file_name, data in files.items():
        h.blobs.put(f"incoming/{name}/{file_name}", data, "application/octet-stream")
        outcome = h.service.ingest(h.service.settings.bucket, f"incoming/{name}/{file_name}")
    return outcome


def test_the_job_starts_once_all_three_files_exist_and_results_are_published() -> None:
    h = make_harness()
    assert _drop(h, "face-1", {"segmentation_map.png": b"map"}) is IngestOutcome.WAITING
    assert _drop(h, "face-1", {"image.png": b"img"}) is IngestOutcome.WAITING
    assert _drop(h, "face-1", {"landmarks.json": LANDMARKS.encode()}) is IngestOutcome.SUBMITTED
    assert len(h.queue.messages) == 1
    job_id = h.queue.messages[0].job_id
    assert not [k for k in h.blobs.objects if k.startswith("results/face-1/")]  # nothing until it finishes

    h.service.process(job_id)

    assert json.loads(h.blobs.objects["results/face-1/job.json"])["id"] == job_id
    assert h.blobs.objects["results/face-1/face.svg"] == b"<svg>face</svg>"
    assert "results/face-1/regions/nose.svg" in h.blobs.objects


def test_image_and_landmarks_are_a_complete_set_without_a_map() -> None:
    # Given a folder holding only the image and the landmarks
    h = make_harness()
    assert _drop(h, "two", {"image.png": b"img"}) is IngestOutcome.WAITING
    assert _drop(h, "two", {"landmarks.json": LANDMARKS.encode()}) is IngestOutcome.SUBMITTED
    # Then one job, whose stored map is the empty "no map" object the worker reads as None
    assert len(h.queue.messages) == 1
    job = h.jobs.get_job(h.queue.messages[0].job_id)
    assert job is not None
    assert h.blobs.objects[f"inputs/{job.content_hash}/segmentation_map"] == b""
    h.service.process(job.job_id)
    assert h.core.rendered_segmentations[-1] is None
    assert h.blobs.objects["results/two/face.svg"] == b"<svg>face</svg>"


def test_a_map_uploaded_after_a_mapless_set_renders_the_set_again_with_it() -> None:
    # Given a map-less set taken (the map was uploaded last)
    h = make_harness()
    outcomes = _upload_one_at_a_time(
        h, "late", {"image.png": b"img", "landmarks.json": LANDMARKS.encode(), "segmentation_map.png": b"map"}
    )
    # Then the map starts a second job, with the map: a different content hash
    assert outcomes == [IngestOutcome.WAITING, IngestOutcome.SUBMITTED, IngestOutcome.SUBMITTED]
    first, second = (h.jobs.get_job(m.job_id) for m in h.queue.messages)
    assert first is not None and second is not None and first.content_hash != second.content_hash
    h.service.process(second.job_id)
    assert h.core.rendered_segmentations[-1] == b"map"


def test_a_repeated_event_does_not_start_a_second_job() -> None:
    h = make_harness()
    _drop(h, "f", {"segmentation_map.png": b"map", "image.png": b"img", "landmarks.json": LANDMARKS.encode()})
    assert h.service.ingest(h.service.settings.bucket, "incoming/f/image.png") is IngestOutcome.SUBMITTED
    assert len(h.queue.messages) == 1


def test_a_second_folder_with_the_same_content_gets_the_finished_results_at_once() -> None:
    h = make_harness()
    files = {"segmentation_map.png": b"map", "image.png": b"img", "landmarks.json": LANDMARKS.encode()}
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
    _drop(h, "f", {"segmentation_map.png": b"map", "image.png": b"img", "landmarks.json": LANDMARKS.encode()})
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


# -- the folder publishes exactly one uploaded set ------------------------------------------------

SET_A = {"image.png": b"img-a", "segmentation_map.png": b"map-a", "landmarks.json": LANDMARKS.encode()}
SET_B = {"image.png": b"img-b", "segmentation_map.png": b"map-b", "landmarks.json": LANDMARKS.encode()}


def _published(h: Harness, name: str) -> dict[str, bytes]:
    prefix = f"results/{name}/"
    return {k[len(prefix) :]: v for k, v in h.blobs.objects.items() if k.startswith(prefix)}


def _job_of(h: Harness, name: str) -> dict[str, str]:
    return dict(json.loads(_published(h, name)["job.json"]))


def _inputs_of(h: Harness, job_id: str) -> tuple[bytes, bytes]:
    job = h.jobs.get_job(job_id)
    assert job is not None
    return (
        h.blobs.objects[f"inputs/{job.content_hash}/image"],
        h.blobs.objects[f"inputs/{job.content_hash}/segmentation_map"],
    )


def _upload_one_at_a_time(h: Harness, name: str, files: dict[str, bytes]) -> list[IngestOutcome]:
    outcomes = []
    for file_name, data in files.items():
        h.clock[0] += 1  # S3 keeps whole seconds: each upload a second later
        outcomes.append(_drop(h, name, {file_name: data}))
    return outcomes


def test_re_uploading_one_file_at_a_time_starts_only_the_complete_new_set() -> None:
    # Given set A published
    h = make_harness()
    _upload_one_at_a_time(h, "f", SET_A)
    h.service.process(h.queue.messages[0].job_id)
    job_a = _job_of(h, "f")["id"]

    # When set B replaces it one file at a time
    outcomes = _upload_one_at_a_time(h, "f", SET_B)

    # Then neither (new photo + old map + old landmarks) nor (new, new, old) started a job: only B
    assert outcomes == [IngestOutcome.WAITING, IngestOutcome.WAITING, IngestOutcome.SUBMITTED]
    assert len(h.queue.messages) == 2
    job_b = h.queue.messages[1].job_id
    assert _inputs_of(h, job_b) == (b"img-b", b"map-b")
    assert _job_of(h, "f")["id"] == job_a  # A stays published until B is rendered
    h.service.process(job_b)
    assert _job_of(h, "f")["id"] == job_b and "error.json" not in _published(h, "f")


def test_replacing_one_file_of_a_finished_set_starts_nothing() -> None:
    h = make_harness()
    _upload_one_at_a_time(h, "f", SET_A)
    h.clock[0] += 5
    assert _drop(h, "f", {"image.png": b"img-b"}) is IngestOutcome.WAITING
    assert _drop(h, "f", {"image.png": b"img-b"}) is IngestOutcome.WAITING  # a repeated event too
    assert len(h.queue.messages) == 1


def test_a_job_of_a_replaced_set_never_publishes() -> None:
    # Given set A's job still pending when set B is taken
    h = make_harness()
    _upload_one_at_a_time(h, "f", SET_A)
    _upload_one_at_a_time(h, "f", SET_B)
    job_a, job_b = (m.job_id for m in h.queue.messages)

    # When B finishes first and A last
    h.service.process(job_b)
    h.service.process(job_a)

    # Then the folder shows B, and only B
    assert _job_of(h, "f")["id"] == job_b
    assert h.jobs.get_job(job_a).status is JobStatus.COMPLETED  # type: ignore[union-attr]


def test_a_failing_re_upload_leaves_only_its_error_and_job() -> None:
    from facesvg.core.errors import InputError

    h = make_harness()
    _upload_one_at_a_time(h, "f", SET_A)
    h.service.process(h.queue.messages[0].job_id)
    assert "face.svg" in _published(h, "f")

    _upload_one_at_a_time(h, "f", SET_B)
    h.core.render_error = InputError("segmentation_map", "corrupt")
    h.service.process(h.queue.messages[1].job_id)

    published = _published(h, "f")
    assert set(published) == {"error.json", "job.json"}
    failed = h.queue.messages[1].job_id
    assert _job_of(h, "f")["id"] == failed
    assert json.loads(published["error.json"]) == {
        "id": failed,
        "error": {"code": "InvalidInput", "message": "segmentation_map: corrupt"},
    }


def test_a_re_upload_refused_at_ingest_leaves_only_its_error() -> None:
    h = make_harness()
    _upload_one_at_a_time(h, "f", SET_A)
    h.service.process(h.queue.messages[0].job_id)

    outcomes = _upload_one_at_a_time(h, "f", {**SET_B, "image.png": b"bad"})

    assert outcomes[-1] is IngestOutcome.INVALID and len(h.queue.messages) == 1
    published = _published(h, "f")
    assert set(published) == {"error.json"}
    assert json.loads(published["error.json"])["error"]["field"] == "image"
    # and a later complete set is rendered and replaces the error
    _upload_one_at_a_time(h, "f", SET_B)
    h.service.process(h.queue.messages[1].job_id)
    assert "error.json" not in _published(h, "f") and "face.svg" in _published(h, "f")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("my face", "ASCII letters"),
        ("visage-é", "ASCII letters"),
        ("x" * 65, "at most 64"),
        ("-dash", "start with"),
    ],
)
def test_refused_folder_names_get_an_error_saying_why(name: str, reason: str) -> None:
    h = make_harness()
    assert _drop(h, name, SET_A) is IngestOutcome.INVALID
    error = json.loads(h.blobs.objects[f"results/{name}/error.json"])["error"]
    assert error["code"] == "InvalidName" and reason in error["message"]
    assert h.queue.messages == [] and set(_published(h, name)) == {"error.json"}


@pytest.mark.parametrize(
    "name", ["g" * 64, "a" * 64, "0" * 64, "..", ".hidden", 'q"uote', "a\\b", "<script>", "a%2Fb"]
)
def test_names_unsafe_as_a_key_or_shaped_like_a_content_hash_write_nothing(name: str) -> None:
    h = make_harness()
    before = set(h.blobs.objects)
    h.blobs.put(f"incoming/{name}/image.png", b"img", "image/png")
    outcome = h.service.ingest(h.service.settings.bucket, f"incoming/{name}/image.png")
    if name == "g" * 64:  # 64 characters, not hex: a valid name
        assert outcome is IngestOutcome.WAITING
    else:
        assert outcome is IngestOutcome.IGNORED
        assert set(h.blobs.objects) - before == {f"incoming/{name}/image.png"}


def test_a_wrongly_named_file_makes_the_folder_an_error_naming_it() -> None:
    # Given a published set
    h = make_harness()
    _upload_one_at_a_time(h, "f", SET_A)
    h.service.process(h.queue.messages[0].job_id)

    # When a file the folder does not accept arrives (wrong case)
    h.clock[0] += 1
    assert _drop(h, "f", {"image.PNG": b"img"}) is IngestOutcome.INVALID

    # Then the folder holds only an error naming it, and the accepted names
    published = _published(h, "f")
    assert set(published) == {"error.json"}
    error = json.loads(published["error.json"])["error"]
    assert error["code"] == "InvalidFileName" and "'image.PNG'" in error["message"]
    assert "image.png" in error["message"]
    assert _drop(h, "f", {"image.PNG": b"img"}) is IngestOutcome.INVALID  # the same state again: no-op


def test_publishing_waits_for_a_publish_in_progress() -> None:
    # Given a finished job of the folder's current set while another publisher holds the lease
    h = make_harness()
    _upload_one_at_a_time(h, "f", SET_A)
    state = h.jobs.get_drop("f")
    assert state is not None
    h.jobs.drop_leases["f"] = ("someone-else", h.clock[0] + 0.3)

    def later(seconds: float) -> None:
        h.sleeps.append(seconds)
        h.clock[0] += seconds

    h.service._publisher.sleep = later

    # When the worker completes it
    h.service.process(h.queue.messages[0].job_id)

    # Then it published after the other lease ended
    assert h.sleeps and "face.svg" in _published(h, "f")


def test_a_publish_that_fails_is_retried_by_the_redelivery() -> None:
    # Given a job whose first publish fails half-way (S3 refuses a copy)
    h = make_harness()
    _upload_one_at_a_time(h, "f", SET_A)
    job_id = h.queue.messages[0].job_id
    real_copy = h.blobs.copy
    calls = {"n": 0}

    def flaky_copy(source: str, dest: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("S3 hiccup")
        real_copy(source, dest)

    h.blobs.copy = flaky_copy  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        h.service.process(job_id)  # completed, but the record fails: SQS redelivers
    assert "face.svg" not in _published(h, "f")

    # When the message is redelivered
    from facesvg.service.worker import ProcessOutcome

    assert h.service.process(job_id, receive_count=2) is ProcessOutcome.ALREADY_DONE

    # Then the folder is published in full, rendered once
    assert "face.svg" in _published(h, "f") and h.core.renders == 1


@pytest.mark.parametrize("name", ["face\n", "face\r\n", "face\x1b[2J", "face\u2028"])
def test_a_name_ending_in_a_newline_or_holding_control_characters_is_never_a_drop_name(name: str) -> None:
    # ("$" in a Python pattern also matches before a final newline: the check is a fullmatch)
    from facesvg.service.layout import has_error_folder, is_drop_name

    assert not is_drop_name(name) and not has_error_folder(name)
    h = make_harness()
    h.blobs.put(f"incoming/{name}/image.png", b"img", "image/png")
    assert h.service.ingest(h.service.settings.bucket, f"incoming/{name}/image.png") is IngestOutcome.IGNORED
    assert [k for k in h.blobs.objects if not k.startswith("incoming/")] == []


def test_the_s3_consoles_folder_marker_is_not_a_file() -> None:
    h = make_harness()
    h.blobs.put("incoming/f/", b"", "application/x-directory")
    assert _drop(h, "f", SET_A) is IngestOutcome.SUBMITTED


# -- options.json: the API's options for the folder's sets ---------------------------------------


def _options_of(h: Harness, job_id: str) -> dict[str, object]:
    job = h.jobs.get_job(job_id)
    assert job is not None
    return dict(json.loads(h.blobs.objects[f"inputs/{job.content_hash}/options.json"]))


def _error_of(h: Harness, name: str) -> dict[str, str]:
    return dict(json.loads(_published(h, name)["error.json"])["error"])


def test_options_json_uploaded_first_is_the_sets_options() -> None:
    h = make_harness()
    options = {"label_scheme": "faceparsing19", "zones": "all", "style": {"stroke": "#000000"}}
    outcomes = _upload_one_at_a_time(h, "f", {"options.json": json.dumps(options).encode(), **SET_A})

    assert outcomes == [IngestOutcome.WAITING] * 3 + [IngestOutcome.SUBMITTED]
    assert len(h.queue.messages) == 1
    assert _options_of(h, h.queue.messages[0].job_id) == options  # what is stored and rendered
    h.service.process(h.queue.messages[0].job_id)
    assert "face.svg" in _published(h, "f")


def test_the_same_drop_with_other_options_is_another_render() -> None:
    h = make_harness()
    _upload_one_at_a_time(h, "plain", SET_A)
    _upload_one_at_a_time(h, "zoned", {"options.json": b'{"zones": "all"}', **SET_A})
    _upload_one_at_a_time(h, "zoned-too", {"options.json": b'{ "zones" : "all" }', **SET_A})

    hashes = {}
    for name in ("plain", "zoned", "zoned-too"):
        state = h.jobs.get_drop(name)
        job = h.jobs.get_job(state.job_id or "") if state else None
        assert job is not None
        hashes[name] = job.content_hash
    assert hashes["plain"] != hashes["zoned"]
    # the hash is over the options' canonical form, as for the API: spacing does not matter (one job)
    assert hashes["zoned"] == hashes["zoned-too"] and len(h.queue.messages) == 2
    # and the API's options give the same hash as options.json's (the same prepare)
    from facesvg.core.options import RenderOptions
    from facesvg.service.hashing import prepare

    api = prepare(
        h.core.as_render_core(),
        h.service.settings.limits,
        SET_A["image.png"],
        SET_A["segmentation_map.png"],
        LANDMARKS,
        RenderOptions.model_validate({"zones": "all"}),
    )
    assert api.content_hash == hashes["zoned"]


def test_options_json_on_its_own_or_after_the_set_starts_nothing_and_is_not_refused() -> None:
    h = make_harness()
    # alone in a new folder
    assert _drop(h, "f", {"options.json": b'{"zones": "all"}'}) is IngestOutcome.WAITING
    assert h.queue.messages == [] and _published(h, "f") == {} and h.jobs.get_drop("f") is None

    # after a set was taken (and again after it was published)
    _upload_one_at_a_time(h, "g", SET_A)
    h.clock[0] += 1
    assert _drop(h, "g", {"options.json": b'{"zones": "all"}'}) is IngestOutcome.WAITING
    h.service.process(h.queue.messages[0].job_id)
    h.clock[0] += 1
    assert _drop(h, "g", {"options.json": b'{"zones": "aesthetic"}'}) is IngestOutcome.WAITING
    # nor does a re-delivered event of the set's files take it again with the new options
    assert h.service.ingest(h.service.settings.bucket, "incoming/g/image.png") is IngestOutcome.SUBMITTED

    assert len(h.queue.messages) == 1
    assert _options_of(h, h.queue.messages[0].job_id) == {}
    assert "error.json" not in _published(h, "g") and "face.svg" in _published(h, "g")

    # a bad options.json's own event is not refused either: it is read (and refused) with a set
    assert _drop(h, "g", {"options.json": b"not json"}) is IngestOutcome.WAITING
    assert "error.json" not in _published(h, "g")


def test_options_json_stays_in_force_until_replaced_or_deleted() -> None:
    h = make_harness()
    _upload_one_at_a_time(h, "f", {"options.json": b'{"canvas_size": 512}', **SET_A})
    _upload_one_at_a_time(h, "f", SET_B)  # the three files again: options.json still applies
    h.blobs.delete("incoming/f/options.json")
    _upload_one_at_a_time(h, "f", SET_A)  # and without it, the defaults

    assert [_options_of(h, m.job_id) for m in h.queue.messages] == [
        {"canvas_size": 512},
        {"canvas_size": 512},
        {},
    ]


@pytest.mark.parametrize(
    ("document", "field", "says"),
    [
        (b'{"label_schema": "faceparsing19"}', "options.label_schema", "did you mean 'label_scheme'"),
        (b'{"canvas_size": 99999}', "options.canvas_size", "less than or equal to 4096"),
        (b'{"face_index": true}', "options.face_index", "valid integer"),
        (b'{"canvas_size": 512.0}', "options.canvas_size", "valid integer"),
        (b'{"label_scheme": "celeba"}', "options.label_scheme", "faceparsing19"),
        (b'{"zones": ["nose", "third_eye"]}', "options.zones", "third_eye"),
        (b'{"style": {"fill": "red"}}', "options.style.fill", "pattern"),
        (b'{"style": {"colour": "#000000"}}', "options.style.colour", "unknown field"),
        (b'{"zones": "all",}', "options", "not valid JSON"),
        (b'["zones", "all"]', "options", "must be a JSON object"),
        (b"\xff\xfe{}", "options", "not UTF-8"),
        (b'{"style": ' + b"[" * 5000 + b"]" * 5000 + b"}", "options", "lists and objects"),
    ],
)
def test_a_bad_options_json_leaves_an_error_naming_the_file_and_the_field(
    document: bytes, field: str, says: str
) -> None:
    # Given a published set
    h = make_harness()
    _upload_one_at_a_time(h, "f", SET_A)
    h.service.process(h.queue.messages[0].job_id)
    inputs_before = {k for k in h.blobs.objects if k.startswith("inputs/")}

    # When the next set comes with a bad options.json
    outcomes = _upload_one_at_a_time(h, "f", {"options.json": document, **SET_B})

    # Then that set is refused: only error.json, naming options.json and the field; no job, no inputs
    assert outcomes[-1] is IngestOutcome.INVALID
    assert set(_published(h, "f")) == {"error.json"}
    error = _error_of(h, "f")
    assert (error["code"], error["field"], error["file"]) == ("InvalidOptions", field, "options.json")
    assert error["message"].startswith("options.json: ") and says in error["message"], error
    assert len(h.queue.messages) == 1
    assert {k for k in h.blobs.objects if k.startswith("inputs/")} == inputs_before
    # (a repeated event of the refused set changes nothing)
    assert h.service.ingest(h.service.settings.bucket, "incoming/f/image.png") is IngestOutcome.INVALID

    # And a fixed options.json with all three files again is rendered and replaces the error
    _upload_one_at_a_time(h, "f", {"options.json": b'{"zones": "all"}', **SET_B})
    h.service.process(h.queue.messages[1].job_id)
    assert "error.json" not in _published(h, "f") and "face.svg" in _published(h, "f")


@pytest.mark.parametrize("listed_size", [True, False])
def test_an_oversized_options_json_is_refused_before_it_is_parsed(
    listed_size: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from facesvg.core import documents
    from facesvg.service import layout

    h = make_harness()
    parsed: list[str] = []
    real_loads = documents.loads_json
    monkeypatch.setattr(
        documents, "loads_json", lambda text, **kw: parsed.append(text) or real_loads(text, **kw)
    )
    if not listed_size:  # a store whose listing has no sizes: the bytes are checked before parsing
        real_list = h.blobs.list_objects
        monkeypatch.setattr(
            h.blobs,
            "list_objects",
            lambda prefix, limit=None: [o._replace(size=-1) for o in real_list(prefix, limit)],
        )
    big = b'{"zones": "all", "pad": "' + b" " * layout.INGEST_OPTIONS_MAX_BYTES + b'"}'

    outcomes = _upload_one_at_a_time(h, "f", {"options.json": big, **SET_A})

    assert outcomes[-1] is IngestOutcome.INVALID
    error = _error_of(h, "f")
    assert (error["code"], error["field"], error["file"]) == ("OptionsTooLarge", "options", "options.json")
    assert f"{len(big)} bytes; at most 65536" in error["message"]
    assert parsed == [] and h.queue.messages == [] and h.jobs.rows == {}
    # by its listed size it is not even read
    assert ("incoming/f/options.json" in h.blobs.gets) is (not listed_size)


def test_an_options_json_of_exactly_the_bound_is_accepted() -> None:
    from facesvg.service import layout

    h = make_harness()
    head = b'{"zones": "all"}'
    exact = head + b" " * (layout.INGEST_OPTIONS_MAX_BYTES - len(head))
    assert _upload_one_at_a_time(h, "f", {"options.json": exact, **SET_A})[-1] is IngestOutcome.SUBMITTED
    assert _options_of(h, h.queue.messages[0].job_id) == {"zones": "all"}


def test_stray_files_cost_a_bounded_listing_and_one_error_write_per_change() -> None:
    # Given a folder that receives 300 files it does not accept, one event each (and a good folder)
    h = make_harness()
    listed: list[int] = []
    real_list, real_put = h.blobs.list_objects, h.blobs.put
    writes: list[str] = []

    def counting_list(prefix: str, limit: int | None = None) -> list[Any]:
        page = real_list(prefix, limit)
        listed.append(len(page))
        return page

    def counting_put(key: str, data: bytes, content_type: str) -> None:
        writes.append(key)
        real_put(key, data, content_type)

    h.blobs.list_objects = counting_list  # type: ignore[method-assign]
    h.blobs.put = counting_put  # type: ignore[method-assign]
    for i in range(300):
        assert _drop(h, "junk", {f"stray-{i:03d}.bin": b"x"}) is IngestOutcome.INVALID

    # Then each event listed one bounded page, and error.json was written only when it changed
    # (the first five names stay the first five: the error says the same thing)
    assert len(listed) == 300 and max(listed) <= 16, max(listed)  # the accepted names + 2, not 300
    assert writes.count("results/junk/error.json") == 5, writes.count("results/junk/error.json")
    error = json.loads(h.blobs.objects["results/junk/error.json"])["error"]
    assert error["code"] == "InvalidFileName" and "'stray-000.bin'" in error["message"]
    # and an accepted file among the junk still finds the folder refused, from the bounded page
    listed.clear()
    assert _drop(h, "junk", {"image.png": b"img"}) is IngestOutcome.INVALID
    assert len(listed) == 1 and listed[0] <= 16
    # while another folder is not affected at all
    assert _drop(h, "good", {"image.png": b"img"}) is IngestOutcome.WAITING
    assert _drop(h, "good", {"landmarks.json": LANDMARKS.encode()}) is IngestOutcome.SUBMITTED
