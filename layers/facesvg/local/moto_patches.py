"""Patches to moto's server, applied only in the local runtime's emulator processes.

Two fix concurrency bugs in moto, where its server breaks guarantees AWS gives and the service
relies on; they are always applied (``tests/integration/test_integration_local.py`` checks both):

* ``_isolate_dynamodb_requests`` (with ``_snapshot_only_touched_items``' lock): a failed
  transaction must not undo concurrent writes, and a read must not see an item mid-update;
* ``_serialise_requests_per_s3_key``: concurrent PUT/GET of one S3 key must not answer HTTP 500.

The others only make the emulator faster and are off unless asked for (``apply(speedups=True)``,
``FACESVG_MOTO_SPEEDUPS=1``, ``RuntimeConfig.moto_speedups``): caching moto's module listing,
reading werkzeug request bodies in one call, and rolling a failed transaction back from the items
it names instead of a deep copy of every table (swapping the ``copy`` module moto's DynamoDB
models see). ``make bench-e2e`` meets its targets without them (``local/README.md`` has the
figures); ``make load`` runs with them, where the full-table snapshot makes every submit of a long
run slower than the last.

``apply()`` installs them, once. They hook into moto's (and werkzeug's) internals, pinned by
``uv.lock``: when a target is gone or changed, ``apply()`` raises ``MotoHookMissing`` naming it,
never skips it (``tests/unit/local/test_moto_hooks.py`` applies every patch).
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

# Environment variable that turns the speed-only patches on in the emulator processes.
SPEEDUPS_ENV = "FACESVG_MOTO_SPEEDUPS"

# moto's DynamoDB requests are serialised by this lock (see ``_isolate_dynamodb_requests``).
_ddb_lock = threading.RLock()
_applied: set[str] = set()


class MotoHookMissing(RuntimeError):
    """A patch's target in moto or werkzeug is gone or changed (another moto than the locked one)."""

    def __init__(self, hook: str, detail: str = "not found") -> None:
        try:
            from importlib.metadata import version

            moto = version("moto")
        except Exception:  # pragma: no cover
            moto = "?"
        super().__init__(
            f"moto hook {hook}: {detail} (moto {moto}); facesvg.local.moto_patches needs updating "
            "for this moto, or keep the version uv.lock pins"
        )
        self.hook = hook


def speedups_requested() -> bool:
    return os.environ.get(SPEEDUPS_ENV, "").lower() in ("1", "true", "yes")


def apply(speedups: bool | None = None) -> None:
    """The concurrency fixes; the speed-only patches too when ``speedups`` (default: the
    ``FACESVG_MOTO_SPEEDUPS`` environment variable)."""
    if "fixes" not in _applied:
        _isolate_dynamodb_requests()
        _serialise_requests_per_s3_key()
        _applied.add("fixes")
    if (speedups_requested() if speedups is None else speedups) and "speedups" not in _applied:
        _cache_module_listing()
        _read_bodies_in_one_call()
        _snapshot_only_touched_items()
        _applied.add("speedups")


def _replace(owner: Any, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    """Set ``owner.name`` to ``make(original)``, once; ``MotoHookMissing`` if it is gone."""
    original = getattr(owner, name, None)
    if original is None:
        raise MotoHookMissing(f"{owner.__module__}.{owner.__name__}.{name}")
    if getattr(original, "_facesvg_patch", False):
        return
    replacement = make(original)
    replacement._facesvg_patch = True  # type: ignore[attr-defined]
    setattr(owner, name, replacement)


def _cache_module_listing() -> None:
    """moto's server lists its own package directory on every request to route it (~2 ms of
    filesystem calls, a good share of a small request). The listing never changes while the
    process runs, so remember it."""
    try:
        from moto import backends
    except ImportError as exc:
        raise MotoHookMissing("from moto import backends", str(exc)) from exc

    def cached(original: Callable[[], Iterable[str]]) -> Callable[[], tuple[str, ...]]:
        modules = tuple(original())
        return lambda: modules

    _replace(backends, "list_of_moto_modules", cached)


def _read_bodies_in_one_call() -> None:
    """werkzeug reads a request body in 64 KB pieces into a growing buffer, then copies it: for
    each ~1 MB result object some 20 reads, each taking the GIL back, in a process where every
    request competes for it. Read the (length-limited) rest with one buffered read instead."""
    try:
        from werkzeug.wsgi import LimitedStream
    except ImportError as exc:
        raise MotoHookMissing("from werkzeug.wsgi import LimitedStream", str(exc)) from exc
    for attribute in ("is_exhausted", "on_exhausted", "on_disconnect"):
        if not hasattr(LimitedStream, attribute):
            raise MotoHookMissing(f"werkzeug.wsgi.LimitedStream.{attribute}")

    def whole(original: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
        def readall(self: Any) -> bytes:
            stream, position, limit = getattr(self, "_stream", None), getattr(self, "_pos", None), self.limit
            if stream is None or position is None or not hasattr(stream, "read"):
                return bytes(original(self))
            if self.is_exhausted:
                self.on_exhausted()
                return b""
            try:
                data = bytes(stream.read(limit - position))  # a buffered read returns all, or EOF
            except (OSError, ValueError) as exc:
                self.on_disconnect(error=exc)
                return b""
            self._pos = position + len(data)
            if len(data) < limit - position:
                self.on_disconnect()
            return data

        return readall

    _replace(LimitedStream, "readall", whole)


def _isolate_dynamodb_requests() -> None:
    """DynamoDB isolates every request from the others; moto's server does not. A failed moto
    transaction puts back a snapshot and would undo writes other threads made meanwhile (a
    worker's claim lost to a concurrent duplicate submit's failed transaction), and a read
    serialises the live item while a concurrent update changes it (HTTP 500, "dictionary changed
    size during iteration"). Serialise moto's DynamoDB requests so the emulator keeps DynamoDB's
    guarantees; they are GIL-bound anyway, so this costs little."""
    try:
        from moto.dynamodb.responses import DynamoHandler
    except ImportError as exc:
        raise MotoHookMissing("from moto.dynamodb.responses import DynamoHandler", str(exc)) from exc
    _replace(DynamoHandler, "call_action", _under(_ddb_lock))


def _under(lock: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A wrapper factory for ``_replace``: the original, holding ``lock``."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)

        return locked

    return make


def _snapshot_only_touched_items() -> None:
    """moto rolls a failed transaction back from a deep copy of every table it touches, taken
    before each transaction: O(items in the table) per submit, so each submit of a load run was
    slower than the last (~10 ms per transaction at a few hundred jobs). Snapshot only the items
    the transaction names and put those back on failure; the lock keeps other requests out
    meanwhile, so the result is the same."""
    try:
        from moto.dynamodb import models
        from moto.dynamodb.models import DynamoDBBackend, Table
    except ImportError as exc:
        raise MotoHookMissing("moto.dynamodb.models", str(exc)) from exc
    if getattr(models, "copy", None) is not copy and not _applied_copy(models):
        raise MotoHookMissing("moto.dynamodb.models.copy", "moto no longer snapshots tables with copy")

    class _TablesByReference:
        """The ``copy`` module as moto's DynamoDB models see it: tables are not copied."""

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def restoring(original: Callable[..., Any]) -> Callable[..., Any]:
        def transact_write_items(
            self: Any, transact_items: list[dict[str, Any]], *args: Any, **kwargs: Any
        ) -> Any:
            with _ddb_lock:
                saved = _touched_items(self, transact_items)
                try:
                    return original(self, transact_items, *args, **kwargs)
                except Exception:
                    for table, hash_key, range_key, item in saved:
                        table.delete_item(hash_key, range_key)
                        if item is not None:
                            table.put_item(item.to_json()["Attributes"])
                    raise

        return transact_write_items

    models.copy = _TablesByReference  # type: ignore[assignment]
    _replace(DynamoDBBackend, "transact_write_items", restoring)


def _applied_copy(models: Any) -> bool:
    """Whether ``models.copy`` is already this module's replacement (applied before)."""
    return getattr(models.copy, "__qualname__", "").endswith("_TablesByReference")


_KEY_LOCKS = tuple(threading.Lock() for _ in range(64))


def _serialise_requests_per_s3_key() -> None:
    """S3 takes concurrent writes and reads of one key (the last write wins); moto's server does
    not: a PUT disposes of the object it replaces while a concurrent PUT or GET of the same key is
    still reading it (HTTP 500, "I/O operation on closed file"). Identical submits that arrive
    together write the same inputs/<hash>/ keys, so this happened under load. Serialise the
    requests of one key (striped locks by path); other keys still run concurrently."""
    try:
        from moto.s3.responses import S3Response
    except ImportError as exc:
        raise MotoHookMissing("from moto.s3.responses import S3Response", str(exc)) from exc

    def per_key(original: Callable[..., Any]) -> Callable[..., Any]:
        def key_response(self: Any, request: Any, full_url: str, *args: Any, **kwargs: Any) -> Any:
            with _KEY_LOCKS[hash(urlsplit(full_url).path) % len(_KEY_LOCKS)]:
                return original(self, request, full_url, *args, **kwargs)

        return key_response

    _replace(S3Response, "key_response", per_key)


def _touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, deep copy of the item or None) for each item a transaction names."""
    saved = []
    for entry in transact_items:
        try:
            (op_type, op), *_ = entry.items()
            table = backend.get_table(op["TableName"])
            if op_type == "Put":
                attrs = op["Item"]
                key = {k: attrs[k] for k in (table.hash_key_attr, table.range_key_attr) if k is not None}
            else:
                key = op["Key"]
            hash_key, range_key = backend.get_keys_value(table, key)
        except Exception:  # noqa: S112 (malformed: moto fails this operation and writes nothing for it)
            continue
        item = table.get_item(hash_key, range_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(item)))
    return saved
