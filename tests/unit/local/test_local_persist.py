"""The state journal (facesvg.local.persist) without moto: rows in, rows out, leases ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facesvg.local.journal_middleware import JournalMiddleware
from facesvg.local.persist import Journal
from facesvg.local.restore import restore_items, restore_messages


def test_objects_items_and_messages_survive_reopening(tmp_path: Path) -> None:
    # Given a journal with an object, an item and two messages, one of them deleted
    journal = Journal(tmp_path, "j.sqlite")
    journal.put_object("b", "results/x/face.svg", b"<svg/>", {"Content-Type": "image/svg+xml"})
    journal.put_object("b", "gone", b"1", {})
    journal.delete_object("b", "gone")
    journal.put_item("t", '{"pk": {"S": "JOB#1"}}', {"pk": {"S": "JOB#1"}, "status": {"S": "completed"}})
    journal.sent("q", [("m1", "one", {}), ("m2", "two", {"MessageAttributes": {}})])
    journal.deleted("q", ["m1"])
    journal.close()

    # When it is opened again (a new process after a restart)
    again = Journal(tmp_path, "j.sqlite")

    # Then it holds exactly what was left
    assert [(b, k, body) for b, k, body, _ in again.objects()] == [("b", "results/x/face.svg", b"<svg/>")]
    assert again.object_count() == 1
    assert again.items() == {"t": [{"pk": {"S": "JOB#1"}, "status": {"S": "completed"}}]}
    assert [(q, m, body) for q, m, body, _ in again.messages()] == [("q", "m2", "two")]
    assert len(list((tmp_path / "blobs").iterdir())) == 1


class _Dynamo:
    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        for requests in RequestItems.values():
            self.written += [r["PutRequest"]["Item"] for r in requests]
        return {}


class _Sqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> None:
        self.sent += Entries


def test_restore_ends_the_lease_of_a_dead_worker_and_resends_messages_once(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "j.sqlite")
    processing = {"pk": {"S": "JOB#2"}, "status": {"S": "processing"}, "lease_until": {"N": "9999999999"}}
    journal.put_item("t", "k2", processing)
    journal.sent("facesvg-local-jobs", [("m", '{"job_id": "2"}', {})])

    dynamo, sqs = _Dynamo(), _Sqs()
    assert restore_items(dynamo, journal) == 1
    assert restore_messages({"facesvg-local-jobs": (sqs, "url")}, journal) == 1

    assert dynamo.written[0]["lease_until"] == {"N": "0"}  # the restored message claims it at once
    assert [e["MessageBody"] for e in sqs.sent] == ['{"job_id": "2"}']
    assert journal.messages() == []  # the old row is gone: the resent message journals itself


def test_which_s3_requests_write_an_object() -> None:
    def keys(method: str, path: str, query: str = "") -> list[tuple[str, str]]:
        return JournalMiddleware._s3_keys(
            {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
        )

    assert keys("PUT", "/bucket/results/a%20b/face.svg") == [("bucket", "results/a b/face.svg")]
    assert keys("DELETE", "/bucket/k") == [("bucket", "k")]
    assert keys("POST", "/bucket", "delete") == [("bucket", "")]  # keys in the body
    assert keys("POST", "/bucket/k", "uploadId=1") == [("bucket", "k")]  # multipart complete
    assert keys("PUT", "/bucket/k", "partNumber=1&uploadId=1") == []
    assert keys("PUT", "/bucket") == []


def test_the_webhook_secret_is_kept_in_the_data_directory_until_fresh(tmp_path: Path) -> None:
    from facesvg.local.runtime import WEBHOOK_SECRET_FILE, clear_data_dir, kept_webhook_secret

    first = kept_webhook_secret(tmp_path)
    assert len(first) >= 32
    assert kept_webhook_secret(tmp_path) == first  # a restart signs with the same secret
    assert (tmp_path / WEBHOOK_SECRET_FILE).stat().st_mode & 0o777 == 0o600
    clear_data_dir(tmp_path)  # --fresh
    assert kept_webhook_secret(tmp_path) != first


def _journal_with_writes(path: Path, n: int) -> Journal:
    journal = Journal(path, "j.sqlite")
    for i in range(n):
        journal.put_item("t", f"k{i}", {"pk": {"S": f"JOB#{i}"}, "pad": {"S": "x" * 600}})
    return journal


def _snapshot(src: Path, dest: Path) -> Path:
    """The journal's files as a killed process leaves them (the WAL not yet checkpointed)."""
    dest.mkdir()
    for name in ("j.sqlite", "j.sqlite-wal"):
        (dest / name).write_bytes((src / name).read_bytes())
    return dest


def test_a_bit_flip_in_the_write_ahead_log_is_said_not_passed_over(tmp_path: Path) -> None:
    # Given the files of a journal killed after 40 committed writes (all still in its WAL)
    live = _journal_with_writes(tmp_path / "live", 40)
    copy = _snapshot(tmp_path / "live", tmp_path / "copy")
    live.close()
    wal = copy / "j.sqlite-wal"
    data = bytearray(wal.read_bytes())
    assert len(data) > 40 * 1024, "the writes are in the WAL"

    # When one bit flips in the middle of the log
    data[len(data) // 2] ^= 0x10
    wal.write_bytes(bytes(data))

    # Then opening it says what SQLite drops (it would replay only the frames before the flip)
    journal = Journal(copy, "j.sqlite")
    (problem,) = journal.problems
    assert "j.sqlite: its write-ahead log is damaged after" in problem and "committed writes" in problem
    assert 0 < len(journal.items().get("t", [])) < 40  # what SQLite kept: the writes before the flip


def test_a_write_ahead_log_cut_inside_a_frame_is_said(tmp_path: Path) -> None:
    live = _journal_with_writes(tmp_path / "live", 10)
    copy = _snapshot(tmp_path / "live", tmp_path / "copy")
    live.close()
    wal = copy / "j.sqlite-wal"
    wal.write_bytes(wal.read_bytes()[:-1000])

    (problem,) = Journal(copy, "j.sqlite").problems
    assert "ends inside a frame" in problem


def test_an_intact_log_and_a_clean_stop_report_nothing(tmp_path: Path) -> None:
    live = _journal_with_writes(tmp_path / "live", 10)
    copy = _snapshot(tmp_path / "live", tmp_path / "copy")
    assert Journal(copy, "j.sqlite").problems == []
    # a clean stop moves the log into the database file: nothing is left in the WAL to damage
    live.checkpoint()
    assert (tmp_path / "live" / "j.sqlite-wal").stat().st_size == 0
    live.close()
    assert len(Journal(tmp_path / "live", "j.sqlite").items()["t"]) == 10


def test_a_damaged_database_file_is_set_aside_and_said(tmp_path: Path) -> None:
    live = _journal_with_writes(tmp_path, 30)
    live.checkpoint()
    live.close()
    db = tmp_path / "j.sqlite"
    data = bytearray(db.read_bytes())
    for page in range(4096, len(data), 4096):  # every b-tree page header after the schema's
        data[page : page + 8] = b"\xff" * 8
    db.write_bytes(bytes(data))

    journal = Journal(tmp_path, "j.sqlite")
    assert journal.problems and "set aside" in journal.problems[0], journal.problems
    assert journal.items() == {}
    assert list(tmp_path.glob("j.sqlite.damaged-*"))


def test_a_blob_that_does_not_match_its_recorded_size_or_checksum_is_not_restored(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "j.sqlite")
    journal.put_object("b", "results/h/result.json", b'{"a": 1}' * 100, {})
    journal.put_object("b", "results/h/face.svg", b"<svg>" + b" " * 800 + b"</svg>", {})
    journal.put_object("b", "inputs/h/landmarks.json", b"[1, 2, 3]", {})
    blobs = {p.stat().st_size: p for p in (tmp_path / "blobs").iterdir()}
    truncated = blobs[800]
    truncated.write_bytes(truncated.read_bytes()[:100])  # result.json cut short
    flipped = blobs[811]
    flipped.write_bytes(flipped.read_bytes().replace(b"<svg>", b"<svG>"))  # same size, other bytes

    damaged: list[tuple[str, str, str]] = []
    restored = [key for _, key, _, _ in journal.objects(damaged)]

    assert restored == ["inputs/h/landmarks.json"]
    assert sorted(damaged) == [
        ("b", "results/h/face.svg", "its stored bytes do not match their SHA-256"),
        ("b", "results/h/result.json", "100 bytes stored of 800"),
    ]


def test_damaged_results_render_the_job_again_and_damaged_inputs_fail_it(tmp_path: Path) -> None:
    from facesvg.local.restore import settle_damaged

    journal = Journal(tmp_path, "j.sqlite")
    a, b = "a" * 64, "b" * 64
    done = {"status": {"S": "completed"}, "result": {"S": "{}"}, "lease_until": {"N": "1"}}
    journal.put_item(
        "t",
        '{"pk": {"S": "JOB#1"}}',
        {"pk": {"S": "JOB#1"}, "job_id": {"S": "1"}, "content_hash": {"S": a}, **done},
    )
    journal.put_item(
        "t",
        '{"pk": {"S": "JOB#2"}}',
        {"pk": {"S": "JOB#2"}, "job_id": {"S": "2"}, "content_hash": {"S": b}, **done},
    )
    journal.put_item(
        "t", '{"pk": {"S": "RENDER#' + a + '"}}', {"pk": {"S": "RENDER#" + a}, "result": {"S": "{}"}}
    )
    damaged = [
        ("bucket", f"results/{a}/result.json", "cut"),
        ("bucket", f"results/{b}/face.svg", "cut"),
        ("bucket", f"inputs/{b}/image.png", "cut"),
    ]

    requeue, lines = settle_damaged(journal, damaged)

    assert requeue == [("1", a)]
    jobs = {i["job_id"]["S"]: i for i in journal.items()["t"] if "job_id" in i}
    assert (
        jobs["1"]["status"] == {"S": "pending"}
        and "result" not in jobs["1"]
        and "lease_until" not in jobs["1"]
    )
    assert jobs["2"]["status"] == {"S": "failed"} and jobs["2"]["error_code"] == {"S": "ProcessingFailed"}
    assert "inputs of this job were damaged" in jobs["2"]["error_message"]["S"]
    assert not [i for i in journal.items()["t"] if i["pk"]["S"].startswith("RENDER#")]
    assert len(lines) == 2
