"""The event bus (EventBridge): job-end events. AWS errors leave as the service's errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from facesvg import names
from facesvg.service.aws.errors import UNAVAILABLE_CODES, translated
from facesvg.service.errors import StoreError, StoreUnavailable


@dataclass
class EventBridgePublisher:
    client: Any
    bus_name: str

    @translated("EventBridge: publishing an event")
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        out = self.client.put_events(
            Entries=[
                {
                    "Source": names.EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, separators=(",", ":")),
                    "EventBusName": self.bus_name,
                }
            ]
        )
        if out.get("FailedEntryCount"):
            entry: dict[str, Any] = next((e for e in out.get("Entries", []) if e.get("ErrorCode")), {})
            code = str(entry.get("ErrorCode", ""))
            detail_text = f"EventBridge: publishing an event: {code} {entry.get('ErrorMessage', '')}"
            if code in UNAVAILABLE_CODES or "Internal" in code or "Throttl" in code:
                raise StoreUnavailable(detail_text)
            raise StoreError(detail_text)
