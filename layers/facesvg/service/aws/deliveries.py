"""Which webhook deliveries reached their receiver: ``DELIVERY#<delivery id>`` items in the job
table (kind=delivery, job_id, delivered_at, expires_at). A duplicate event or message finds the
item and is not POSTed again."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from facesvg import names
from facesvg.service.aws.errors import error_code, translated

DELIVERY_KEY_PREFIX = "DELIVERY#"


@dataclass
class DynamoDeliveryLog:
    client: Any
    table: str

    def _key(self, delivery_id: str) -> dict[str, Any]:
        return {names.TABLE_PARTITION_KEY: {"S": DELIVERY_KEY_PREFIX + delivery_id}}

    @translated("DynamoDB: reading a delivery")
    def delivered(self, delivery_id: str) -> bool:
        out = self.client.get_item(TableName=self.table, Key=self._key(delivery_id), ConsistentRead=True)
        return "Item" in out

    @translated("DynamoDB: recording a delivery")
    def mark_delivered(self, delivery_id: str, job_id: str, expires_at: int) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self._key(delivery_id),
                    "kind": {"S": "delivery"},
                    "job_id": {"S": job_id},
                    "delivered_at": {"N": str(int(time.time()))},
                    names.TABLE_TTL_ATTRIBUTE: {"N": str(expires_at)},
                },
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": names.TABLE_PARTITION_KEY},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
