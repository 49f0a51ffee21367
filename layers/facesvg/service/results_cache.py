"""A caching reader for objects that never change once written (``results/<hash>/``): a warm
environment answers repeated status polls of a finished job without reading S3 again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from facesvg.service.ports import BlobReader

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class ImmutableCache:
    """A small thread-safe LRU of bytes, bounded by their total size."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)


@dataclass
class CachingReader:
    """``get_many`` through an ``ImmutableCache``: only the misses reach ``inner`` (in one call)."""

    inner: BlobReader
    cache: ImmutableCache = field(default_factory=lambda: ImmutableCache(DEFAULT_MAX_BYTES))

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found = {key: hit for key in keys if (hit := self.cache.get(key)) is not None}
        missing = [key for key in keys if key not in found]
        if missing:
            for key, data in self.inner.get_many(missing).items():
                self.cache.put(key, data)
                found[key] = data
        return found
