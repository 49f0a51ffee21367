"""The local stack keeps the AWS guarantees the service relies on."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from facesvg import names

pytestmark = pytest.mark.integration


def test_failed_transactions_do_not_undo_concurrent_writes(local_stack: Any) -> None:
    ddb = local_stack.clients["dynamodb"]
    table, pk = names.TABLE_NAME, names.TABLE_PARTITION_KEY
    ddb.put_item(TableName=table, Item={pk: {"S": "TEST#taken"}})
    ddb.put_item(TableName=table, Item={pk: {"S": "TEST#counter"}, "n": {"N": "0"}})
    stop = threading.Event()

    def failing_transactions() -> None:
        while not stop.is_set():
            with contextlib.suppress(ddb.exceptions.TransactionCanceledException):
                ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": table,
                                "Item": {pk: {"S": "TEST#taken"}},
                                "ConditionExpression": "attribute_not_exists(#pk)",
                                "ExpressionAttributeNames": {"#pk": pk},
                            }
                        }
                    ]
                )

    threads = [threading.Thread(target=failing_transactions) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(60):
            ddb.update_item(
                TableName=table,
                Key={pk: {"S": "TEST#counter"}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
    finally:
        stop.set()
        for t in threads:
            t.join()

    item = ddb.get_item(TableName=table, Key={pk: {"S": "TEST#counter"}}, ConsistentRead=True)["Item"]
    assert item["n"]["N"] == "60"


def test_a_failed_transaction_puts_back_exactly_the_items_it_named(local_stack: Any) -> None:
    ddb = local_stack.clients["dynamodb"]
    table, pk = names.TABLE_NAME, names.TABLE_PARTITION_KEY
    ddb.put_item(TableName=table, Item={pk: {"S": "TX#a"}, "v": {"N": "1"}})
    ddb.put_item(TableName=table, Item={pk: {"S": "TX#guard"}, "v": {"N": "1"}})
    ddb.put_item(TableName=table, Item={pk: {"S": "TX#bystander"}, "v": {"N": "7"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {pk: {"S": "TX#new"}, "v": {"N": "1"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {pk: {"S": "TX#a"}},
                        "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {pk: {"S": "TX#guard"}},
                        "ConditionExpression": "v = :never",
                        "ExpressionAttributeValues": {":never": {"N": "99"}},
                    }
                },
            ]
        )

    def item(key: str) -> dict[str, Any] | None:
        got: dict[str, Any] | None = ddb.get_item(TableName=table, Key={pk: {"S": key}}).get("Item")
        return got

    assert item("TX#new") is None  # the put was rolled back
    assert item("TX#a") == {pk: {"S": "TX#a"}, "v": {"N": "1"}}  # the update was rolled back
    assert item("TX#bystander") == {pk: {"S": "TX#bystander"}, "v": {"N": "7"}}

    ddb.transact_write_items(  # and one that succeeds still writes everything
        TransactItems=[
            {"Put": {"TableName": table, "Item": {pk: {"S": "TX#new"}, "v": {"N": "1"}}}},
            {"Delete": {"TableName": table, "Key": {pk: {"S": "TX#bystander"}}}},
        ]
    )
    assert item("TX#new") is not None and item("TX#bystander") is None


def test_the_emulator_process_reports_its_port_and_ends_with_stop() -> None:
    import socket

    from facesvg.local.aws import MotoServer

    server = MotoServer()
    server.start()
    try:
        assert server.port > 0
        proc = server._proc
        assert proc is not None and proc.poll() is None
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass
        with socket.socket() as taken:  # a port in use is an error at once, not a hang
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            with pytest.raises(OSError):
                MotoServer(taken.getsockname()[1]).start()
    finally:
        server.stop()
    assert proc.wait(timeout=10) is not None


def test_concurrent_writes_and_reads_of_one_s3_key_all_succeed(local_stack: Any) -> None:
    """Identical submits write the same inputs/<hash>/ keys at once; S3 takes that (last write
    wins), moto answered some of them with HTTP 500 until its requests were serialised per key."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name="us-east-1")
    s3 = session.client(
        "s3",
        endpoint_url=local_stack.s3_endpoint,
        config=Config(retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=16),
    )
    key, body = "inputs/test-concurrency/image", b"\x89PNG" + bytes(1_000_000)
    s3.put_object(Bucket=names.BUCKET_NAME, Key=key, Body=body)
    errors: list[Exception] = []

    def hammer(write: bool) -> None:
        for _ in range(25):
            try:
                if write:
                    s3.put_object(Bucket=names.BUCKET_NAME, Key=key, Body=body)
                else:
                    assert s3.get_object(Bucket=names.BUCKET_NAME, Key=key)["Body"].read() == body
            except Exception as exc:  # a 500 from the emulator, or a torn read
                errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i % 2 == 0,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_every_moto_patch_still_finds_what_it_replaces() -> None:
    """The patches skip themselves when moto's internals move; a moto upgrade must not drop the
    fixes above silently. The speed-only ones are applied only when asked for."""
    from facesvg.local import moto_patches
    from moto import backends
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response
    from werkzeug.wsgi import LimitedStream

    fixes = {
        "DynamoDB requests": lambda: DynamoHandler.call_action,
        "S3 keys": lambda: S3Response.key_response,
    }
    speedups = {
        "module listing": lambda: backends.list_of_moto_modules,
        "request bodies": lambda: LimitedStream.readall,
        "transaction snapshots": lambda: DynamoDBBackend.transact_write_items,
    }
    moto_patches.apply(speedups=False)
    assert [name for name, f in fixes.items() if not getattr(f(), "_facesvg_patch", False)] == []
    if "speedups" not in moto_patches._applied:  # this process may have asked for them before
        assert [name for name, f in speedups.items() if getattr(f(), "_facesvg_patch", False)] == []
    moto_patches.apply(speedups=True)
    assert [name for name, f in speedups.items() if not getattr(f(), "_facesvg_patch", False)] == []


def test_the_emulator_applies_the_speed_only_patches_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from facesvg.local import moto_patches
    from facesvg.local.aws import MotoServer

    monkeypatch.delenv(moto_patches.SPEEDUPS_ENV, raising=False)
    assert MotoServer().speedups is False
    assert MotoServer(speedups=True).speedups is True
    monkeypatch.setenv(moto_patches.SPEEDUPS_ENV, "1")
    assert MotoServer().speedups is True
