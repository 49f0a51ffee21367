"""The data bucket on S3, with the concurrency of multi-object transfers.

A job writes ~17 objects of ~1 MB (every region SVG embeds the photo) and reads 4; one thread pool
per process (boto3 clients are thread-safe) moves them in parallel, so the rules only say which
objects they need.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from facesvg.service.aws.errors import translated
from facesvg.service.ports import Blob, ObjectInfo, Pending

_TRANSFER_THREADS = 32  # shared by every invocation of a process (the local runtime runs many)
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _transfers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_TRANSFER_THREADS, thread_name_prefix="facesvg-io")
        return _pool


class _AllOf:
    """A ``Pending`` over several futures: waits for every one, then raises the first error."""

    def __init__(self, futures: dict[str, Future[Any]]) -> None:
        self.futures = futures

    def result(self) -> dict[str, Any]:
        done = {key: future.exception() for key, future in self.futures.items()}
        for error in done.values():
            if error is not None:
                raise error
        return {key: future.result() for key, future in self.futures.items()}


class _Wrote:
    def __init__(self, all_of: _AllOf) -> None:
        self.all_of = all_of

    def result(self) -> None:
        self.all_of.result()


@dataclass
class S3BlobStore:
    client: Any
    bucket: str
    # Presigning costs ~1 ms per URL in botocore and a status carries ~17 of them; a URL valid for
    # an hour is reused for its first half (per warm environment, bounded).
    _presigned: dict[tuple[str, int], tuple[float, str]] = field(default_factory=dict, repr=False)
    _presign_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @translated("S3: writing an object")
    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    @translated("S3: reading an object")
    def get(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put_many(self, blobs: Sequence[Blob]) -> None:
        self.begin_put_many(blobs).result()

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        return self.begin_get_many(keys).result()

    def begin_put_many(self, blobs: Sequence[Blob]) -> Pending[None]:
        pool = _transfers()
        return _Wrote(_AllOf({blob.key: pool.submit(self.put, *blob) for blob in blobs}))

    def begin_get_many(self, keys: Sequence[str]) -> Pending[dict[str, bytes]]:
        pool = _transfers()
        return _AllOf({key: pool.submit(self.get, key) for key in keys})

    @translated("S3: listing objects")
    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    @translated("S3: listing objects")
    def list_objects(self, prefix: str, limit: int | None = None) -> list[ObjectInfo]:
        if limit is not None:  # one page of at most ``limit`` keys (S3 returns them in key order)
            pages = [self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=limit)]
        else:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        found: list[ObjectInfo] = []
        for page in pages:
            found.extend(
                ObjectInfo(
                    o["Key"], str(o.get("ETag", "")), o["LastModified"].timestamp(), int(o.get("Size", -1))
                )
                for o in page.get("Contents", [])
            )
        return found[:limit] if limit is not None else found

    @translated("S3: reading an object")
    def get_tagged(self, key: str) -> tuple[bytes, str]:
        out = self.client.get_object(Bucket=self.bucket, Key=key)
        return bytes(out["Body"].read()), str(out.get("ETag", ""))

    @translated("S3: copying an object")
    def copy(self, source_key: str, dest_key: str) -> None:
        self.client.copy_object(
            Bucket=self.bucket, Key=dest_key, CopySource={"Bucket": self.bucket, "Key": source_key}
        )

    @translated("S3: deleting an object")
    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    @translated("S3: presigning a URL")
    def presign_get(self, key: str, expires_in: int) -> str:
        now = time.monotonic()
        with self._presign_lock:
            hit = self._presigned.get((key, expires_in))
        if hit is not None and hit[0] > now:
            return hit[1]
        url = str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
        )
        with self._presign_lock:
            if len(self._presigned) >= 4096:
                self._presigned.clear()
            self._presigned[(key, expires_in)] = (now + expires_in / 2, url)
        return url
