"""The local stack's state on disk when things go wrong: damaged journals and blobs, a full disk, an
unusable data directory. Real `facesvg run` processes, real files damaged between runs, a real full
filesystem (a small tmpfs: mounting needs root, as here and in CI; skipped with a message elsewhere)."""

from __future__ import annotations

import base64
import os
import re
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from facesvg.client.payload import sample_payload
from local_process import StackProcess, children, free_ports, wait_status

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[StackProcess]:
    proc = StackProcess(tmp_path / "data", free_ports(3))
    try:
        yield proc
    finally:
        proc.kill()


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): needs root")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB filesystem of its own (unmounted afterwards, whatever happens)."""
    where = tmp_path / "small-disk"
    _mount_tmpfs(where, "size=4m")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _completed(stack: StackProcess, options: dict[str, Any] | None = None) -> dict[str, Any]:
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        job_id = client.post("/api/v1/submit", json=sample_payload(options)).json()["id"]
        done = wait_status(client, job_id, {"completed", "failed"})
    assert done["status"] == "completed", done
    return done


def _content_hash(job: dict[str, Any]) -> str:
    found = re.search(r"/results/([0-9a-f]{64})/face\.svg", job["svg_url"])
    assert found, job["svg_url"]
    return found.group(1)


def _blob(data_dir: Path, key: str) -> Path:
    with sqlite3.connect(data_dir / "s3.sqlite") as db:
        (blob,) = db.execute("SELECT blob FROM s3_objects WHERE key = ?", (key,)).fetchone()
    return data_dir / "blobs" / blob


def _restore_lines(stack: StackProcess) -> list[str]:
    return [line.strip() for line in stack.lines if line.strip().startswith("restore:")]


def test_a_clean_stop_leaves_the_state_in_the_database_file(stack: StackProcess) -> None:
    # Given a stack with a finished job, stopped with Ctrl-C
    stack.start()
    job = _completed(stack)
    stack.stop(signal.SIGINT)

    # Then nothing is left in a write-ahead log (damage to one cannot lose anything), and a start
    # restores the job and says nothing is missing
    for name in ("s3.sqlite", "dynamodb-sqs.sqlite"):
        wal = stack.data_dir / f"{name}-wal"
        assert not wal.exists() or wal.stat().st_size == 0, (name, wal.stat().st_size)
    stack.start()
    assert _restore_lines(stack) == []
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        assert client.get(f"/api/v1/status/{job['id']}").json()["svg"] == job["svg"]


def test_a_damaged_write_ahead_log_is_said_at_start(stack: StackProcess) -> None:
    # Given a stack killed right after a job completed (its writes still in the write-ahead logs)
    stack.start()
    _completed(stack)
    _kill_all(stack)
    wal = stack.data_dir / "dynamodb-sqs.sqlite-wal"
    data = bytearray(wal.read_bytes())
    assert len(data) > 8192, "the job's writes are in the log"

    # When one bit of the log flips (a frame in its first half)
    data[len(data) // 3] ^= 0x01
    wal.write_bytes(bytes(data))

    # Then the start says that writes of the log could not be restored (it used to say nothing and
    # come back without them)
    stack.start()
    lines = _restore_lines(stack)
    assert any("dynamodb-sqs.sqlite: its write-ahead log is damaged after" in line for line in lines), (
        stack.output
    )


def _kill_all(stack: StackProcess) -> None:
    """SIGKILL the stack and every process it started at once (a power cut, the OOM killer): the
    moto servers get no chance to checkpoint their journals."""
    assert stack.proc is not None
    for pid in children(stack.proc.pid):
        os.kill(pid, signal.SIGKILL)
    stack.stop(signal.SIGKILL)


def test_damaged_results_are_not_served_and_the_job_is_rendered_again(stack: StackProcess) -> None:
    # Given two finished jobs, stopped cleanly
    stack.start()
    first = _completed(stack)
    second = _completed(stack, {"canvas_size": 512})
    stack.stop(signal.SIGINT)
    a, b = _content_hash(first), _content_hash(second)

    # When the first job's result.json and face.svg are cut short on disk, and the second job's
    # result.json and its photo (its inputs) too
    for key in (f"results/{a}/result.json", f"results/{a}/face.svg", f"results/{b}/result.json"):
        blob = _blob(stack.data_dir, key)
        blob.write_bytes(blob.read_bytes()[:1024])
    photo = f"inputs/{b}/image"
    blob = _blob(stack.data_dir, photo)
    blob.write_bytes(blob.read_bytes()[:5000])
    stack.start()

    # Then the start names each damaged object, one line each, and what it did about the jobs
    lines = _restore_lines(stack)
    for key in (f"results/{a}/result.json", f"results/{a}/face.svg", f"results/{b}/result.json", photo):
        assert any(key in line and "not restored" in line for line in lines), (key, lines)
    assert any(first["id"] in line and "rendering it again" in line for line in lines), lines
    assert any(second["id"] in line and "inputs were damaged" in line for line in lines), lines
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        # the first job is never answered with a 500 nor its truncated SVG: it is rendered again
        again = wait_status(client, first["id"], {"completed", "failed"})
        assert again["status"] == "completed" and again["svg"] == first["svg"]
        svg = httpx.get(again["svg_url"], timeout=30)
        assert svg.status_code == 200 and svg.content == base64.b64decode(first["svg"])
        assert client.get(f"/api/v1/status/{first['id']}").status_code == 200
        # the second, whose inputs are gone, failed saying why; submitting them again renders them
        failed = client.get(f"/api/v1/status/{second['id']}")
        assert failed.status_code == 200 and failed.json()["status"] == "failed"
        assert "inputs of this job were damaged" in failed.json()["error"]["message"]
        resent = client.post("/api/v1/submit", json=sample_payload({"canvas_size": 512})).json()
        assert wait_status(client, resent["id"], {"completed", "failed"})["status"] == "completed"


@pytest.mark.parametrize("room", [200_000, 8_000], ids=["no-room-for-the-photo", "no-room-for-the-job-item"])
def test_a_full_disk_answers_503_and_the_request_completes_after_a_restart_with_room(
    tmpfs: Path, room: int
) -> None:
    # Given a stack whose data directory is on a filesystem with little room left: less than the
    # photo (0.9 MB), or less than a few of the job table's pages
    stack = StackProcess(tmpfs / "data", free_ports(3))
    try:
        stack.start()
        stats = os.statvfs(tmpfs)
        (tmpfs / "filler").write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - room))

        # When a job is submitted
        with httpx.Client(base_url=stack.api, timeout=120) as client:
            refused = client.post("/api/v1/submit", json=sample_payload())

        # Then it is refused as unavailable (503 + Retry-After), not as an internal error
        assert refused.status_code == 503, refused.text
        assert refused.headers.get("retry-after") and refused.json()["error"]["code"] == "ServiceUnavailable"

        # and the same request, sent again after a restart with room, completes (it used to stay
        # pending for good: a half-created job swallowed the retry)
        stack.stop(signal.SIGINT)
        (tmpfs / "filler").unlink()
        subprocess.run(["mount", "-o", "remount,size=96m", str(tmpfs)], check=True)
        stack.start()
        # (at most: the refused write, cut short in a log the full disk kept from its checkpoint)
        lines = _restore_lines(stack)
        assert all("ends inside a frame" in line for line in lines), lines
        with httpx.Client(base_url=stack.api, timeout=120) as client:
            resent = client.post("/api/v1/submit", json=sample_payload())
            assert resent.status_code == 202, resent.text
            assert wait_status(client, resent.json()["id"], {"completed", "failed"})["status"] == "completed"
    finally:
        stack.kill()


def test_a_read_only_data_directory_is_one_error_line(tmp_path: Path) -> None:
    where = tmp_path / "read-only"
    _mount_tmpfs(where, "size=1m,ro")
    try:
        stack = StackProcess(where / "data", free_ports(3))
        stack.start(check=False)
        assert stack.proc is not None and stack.proc.wait(timeout=60) == 2
        errors = [line for line in stack.lines if line.startswith("error:")]
        assert len(errors) == 1 and "read-only" in errors[0], stack.output
        assert "Traceback" not in stack.output
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(where: Path) -> Path:
    """Take every free byte of the filesystem."""
    filler = where / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_write_the_journal_cannot_record_is_undone_and_answered_503(tmpfs: Path) -> None:
    """The cause of a retry swallowed after a full disk, at its root: a write moto applied and the
    journal could not record was a 500, which the SDK retried against moto's changed state (a
    rollback then failed its condition), while the journal kept the state before it. Now the write
    is undone in moto, answered 503, and moto, the journal and the client agree."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from facesvg.local.aws import LOCAL_CREDENTIALS, LOCAL_REGION, MotoServer
    from facesvg.local.persist import AWS_JOURNAL, S3_JOURNAL, Journal

    data_dir = tmpfs / "data"
    servers = [
        MotoServer(data_dir=data_dir, journal=AWS_JOURNAL, role="DynamoDB and SQS"),
        MotoServer(data_dir=data_dir, journal=S3_JOURNAL, role="S3"),
    ]
    once = Config(retries={"max_attempts": 1, "mode": "standard"})  # see each answer, no retries
    try:
        for server in servers:
            server.start()

        def client(service: str, server: MotoServer) -> Any:
            return boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=server.endpoint,
                region_name=LOCAL_REGION,
                aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                config=once,
            )

        ddb, s3 = client("dynamodb", servers[0]), client("s3", servers[1])
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3.create_bucket(Bucket="journal-test")
        key = {"pk": {"S": "JOB#1"}}
        ddb.put_item(TableName="t", Item={**key, "status": {"S": "pending"}})

        # When the disk is full: a delete of the item, and a new object
        filler = _fill(tmpfs)
        with pytest.raises(ClientError) as deleting:
            ddb.delete_item(TableName="t", Key=key)
        with pytest.raises(ClientError) as putting:
            s3.put_object(Bucket="journal-test", Key="inputs/x/image", Body=b"\1" * 300_000)

        # Then each is refused as unavailable (503), not as an internal error (500), and neither
        # happened: moto still holds the item and holds no object, as the journal does
        for refused in (deleting.value, putting.value):
            assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 503, refused.response
            assert refused.response["Error"]["Code"] == "ServiceUnavailable"
        assert ddb.get_item(TableName="t", Key=key).get("Item", {}).get("status") == {"S": "pending"}
        assert s3.list_objects_v2(Bucket="journal-test").get("KeyCount", 0) == 0
        assert not [p for p in (data_dir / "blobs").iterdir()], "no half-written blob left behind"

        # and with room again both go through, recorded
        filler.unlink()
        ddb.delete_item(TableName="t", Key=key)
        s3.put_object(Bucket="journal-test", Key="inputs/x/image", Body=b"\1" * 300_000)
        journal = Journal(data_dir, AWS_JOURNAL, check=False)
        assert journal.items().get("t", []) == []
        journal.close()
        assert Journal(data_dir, S3_JOURNAL, check=False).object_count() == 1
    finally:
        for server in servers:
            server.stop()
