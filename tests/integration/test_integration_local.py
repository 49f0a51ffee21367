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
