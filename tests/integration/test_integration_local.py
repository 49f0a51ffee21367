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
