"""The state journal (facesvg.local.persist) without moto: rows in, rows out, leases ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facesvg.local.persist import Journal, JournalMiddleware, restore_items, restore_messages


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
