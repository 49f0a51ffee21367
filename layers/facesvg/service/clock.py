"""Timestamps as the job records store them (ISO 8601 UTC with milliseconds and a ``Z``), and when
an item expires."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def expires_at(now_epoch: float, ttl_seconds: int) -> int:
    """The DynamoDB TTL attribute (whole epoch seconds) of an item written at ``now_epoch``."""
    return int(now_epoch) + ttl_seconds


def epoch_of(iso: str) -> float:
    """The inverse of ``utc_now_iso`` (raises ValueError for anything else)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
