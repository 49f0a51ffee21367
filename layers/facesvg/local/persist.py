"""State that survives a restart: a write-through journal of moto's state in a data directory.

Each moto server process (``aws.serve``) wraps its WSGI app in ``JournalMiddleware``: after every
write that succeeded it records the *resulting* state of what the request touched, before the
response leaves, so a client that saw a 200 finds it again after a crash (SIGKILL included):

* S3 objects: the bytes in ``blobs/`` (written to a temporary file, then renamed), a row per key
  with their size and SHA-256 (a restore serves only bytes that match);
* DynamoDB items: the item as DynamoDB JSON, read back from moto after the write, a row per key;
* SQS messages: a row per sent message (body and message attributes), removed when it is deleted;
  also the messages moto puts into a queue by itself while it serves a request: EventBridge's rule
  targets (``PutEvents``), S3 bucket notifications (an S3 write) and the redrive to a dead-letter
  queue (``ReceiveMessage``). ``Queue.add_message`` is wrapped to note, in the request's thread
  only, what arrived in which queue during those requests (no queue is scanned); a message moved
  to a DLQ keeps its row, under the DLQ's name.

One SQLite file per server process (``s3.sqlite``, ``dynamodb-sqs.sqlite``; WAL, one transaction per
request). On start the S3 server puts its objects straight into moto's backend before it reports
ready (no HTTP per object, no drop-folder notification); the runtime then provisions as always and
writes the items back (``BatchWriteItem``) and sends the messages again (``SendMessageBatch``), so
moto's own request handling rebuilds its state. Why not moto's recorder (replays every request,
receives and visibility changes included, and keeps every body ever sent) or pickling moto's backends
(a full dump per write, or a window a SIGKILL loses): this records only the final state, per key.

What a start cannot restore is said, never passed over (``Journal.problems``, ``restore_s3``'s
damaged objects, ``settle_damaged`` for their jobs): a write-ahead log SQLite would replay only in
part, a database file that fails ``quick_check``, blobs that fail their checks. A write the
journal cannot record (a full disk) is undone in moto and answered 503. A clean stop checkpoints.

A restored job message is a new message (receive count 1): a restart is a new life for the queue.
A job a worker was rendering when the stack died holds a lease of a worker that no longer exists;
``restore_items`` ends such leases, so the restored message claims the job at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

logger = logging.getLogger(__name__)

S3_JOURNAL = "s3.sqlite"
AWS_JOURNAL = "dynamodb-sqs.sqlite"
BLOBS = "blobs"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS s3_objects (bucket TEXT, key TEXT, blob TEXT, metadata TEXT,
    size INTEGER, sha256 TEXT, PRIMARY KEY (bucket, key));
CREATE TABLE IF NOT EXISTS ddb_items (table_name TEXT, key TEXT, item TEXT, PRIMARY KEY (table_name, key));
CREATE TABLE IF NOT EXISTS sqs_messages (queue TEXT, message_id TEXT, body TEXT, attributes TEXT,
    seq INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE UNIQUE INDEX IF NOT EXISTS sqs_messages_id ON sqs_messages (queue, message_id);
"""

_DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "DeleteTable"}
_SQS_WRITES = {"SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch", "PurgeQueue"}
# Requests during which moto itself puts messages into queues (besides SQS's own send actions).
_EVENTS_DELIVERIES = {"PutEvents"}  # EventBridge: the bus's rules deliver to their SQS targets


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
    db.executescript(_SCHEMA)
    columns = {str(r[1]) for r in db.execute("PRAGMA table_info(s3_objects)")}
    for column, kind in (("size", "INTEGER"), ("sha256", "TEXT")):  # a journal from before checksums
        if column not in columns:
            db.execute(f"ALTER TABLE s3_objects ADD COLUMN {column} {kind}")
    return db


def _is_corruption(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("malformed", "not a database", "corrupt", "disk image"))


def os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.errno is None else os.strerror(exc.errno).lower()
    return str(exc)


_WAL_HEADER = 32
_FRAME_HEADER = 24


def _wal_checksum(data: bytes, big_endian: bool, s0: int, s1: int) -> tuple[int, int]:
    """SQLite's WAL checksum (https://sqlite.org/fileformat.html#checksum_algorithm)."""
    import struct

    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def wal_damage(wal: Path, name: str) -> list[str]:
    """What SQLite would silently leave out of a write-ahead log, read before SQLite replays it:
    frames of this log (its salts) past the first one whose checksum fails (a bit flip, a torn
    write), and a log cut inside a frame. Frames of an older log generation (other salts) are
    stale by design and not counted. Uncommitted frames of a killed writer are not damage."""
    import struct

    try:
        data = wal.read_bytes()
    except FileNotFoundError:
        return []
    if len(data) < _WAL_HEADER:
        return (
            []
            if not data
            else [f"{name}: its write-ahead log is cut short ({len(data)} bytes): not restored"]
        )
    magic, _version, page_size, _seq, salt1, salt2, c0, c1 = struct.unpack(">8I", data[:_WAL_HEADER])
    if magic not in (0x377F0682, 0x377F0683) or page_size < 512 or page_size & (page_size - 1):
        return [f"{name}: its write-ahead log's header is damaged: none of its writes are restored"]
    big = magic & 1 == 1
    frame = _FRAME_HEADER + page_size
    frames = (len(data) - _WAL_HEADER) // frame
    s0, s1 = _wal_checksum(data[:24], big, 0, 0)
    if (s0, s1) != (c0, c1):
        return [
            f"{name}: its write-ahead log's header is damaged: its {frames} frames (the latest writes) "
            "are not restored"
        ]
    good = lost = lost_commits = 0
    broken = False
    for i in range(frames):
        at = _WAL_HEADER + i * frame
        page_no, commit, f_salt1, f_salt2, f0, f1 = struct.unpack(">6I", data[at : at + _FRAME_HEADER])
        ours = (f_salt1, f_salt2) == (salt1, salt2)
        if not broken:
            if ours:
                n0, n1 = _wal_checksum(data[at : at + 8] + data[at + _FRAME_HEADER : at + frame], big, s0, s1)
                if (n0, n1) == (f0, f1) and page_no:
                    s0, s1 = n0, n1
                    good += 1
                    continue
            broken = True  # the end of what SQLite replays
        if ours:  # a frame of this log past that end: a write SQLite would drop without a word
            lost += 1
            lost_commits += commit != 0
    cut = (len(data) - _WAL_HEADER) % frame
    if lost:
        writes = f" ({lost_commits} committed writes)" if lost_commits else ""
        what = f"{lost} frames{writes} not restored"
        return [f"{name}: its write-ahead log is damaged after {good} good frames: {what}"]
    if cut:
        return [
            f"{name}: its write-ahead log ends inside a frame after {good} good frames: the write then "
            "in progress (or, if the file was cut, later ones) is not restored"
        ]
    return []


class DataDirError(RuntimeError):
    """The data directory cannot hold the stack's state (read-only, not a directory, no access)."""


class Journal:
    """One SQLite file (and the blob folder) in the data directory; thread-safe.

    ``problems``: what opening it found that cannot be restored (a damaged write-ahead log or
    database file), one line each; said at start, never passed over silently."""

    def __init__(self, data_dir: Path, name: str, check: bool = True) -> None:
        """``check``: look for damage first (the server process that owns the journal does, before
        SQLite replays the log; another reader of the same files at the same time does not)."""
        self.dir = Path(data_dir)
        self.name = name
        self.blobs = self.dir / BLOBS
        self.problems: list[str] = []
        self.lock = threading.RLock()
        try:
            self.blobs.mkdir(parents=True, exist_ok=True)
            if check:
                self.problems += wal_damage(self.dir / f"{name}-wal", name)  # before SQLite replays it
            self._db = self._open() if check else _connect(self.dir / name)
        except (OSError, sqlite3.OperationalError) as exc:
            raise DataDirError(f"{self.dir} cannot hold the stack's state: {os_reason(exc)}") from None

    def _open(self) -> sqlite3.Connection:
        path = self.dir / self.name
        try:
            db = _connect(path)
            check = [str(r[0]) for r in db.execute("PRAGMA quick_check").fetchall()]
            if check != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(check[:3]))
            return db
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not _is_corruption(exc):
                raise
        # Damaged beyond SQLite's own recovery: keep it aside (for a person to look at) and start
        # this journal empty; the start says so.
        aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{path}{suffix}", f"{aside}{suffix}")
        self.problems.append(
            f"{self.name} is damaged and was set aside as {aside.name}: its state is not restored"
        )
        return _connect(path)

    def close(self) -> None:
        with self.lock:
            self._db.close()

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file and empty it (a clean stop): the state
        then lives in the database file alone, which ``quick_check`` verifies at the next start."""
        with self.lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back itself (disk full)
                    self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise

    # -- S3 -------------------------------------------------------------------------------------

    def put_object(self, bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> None:
        """The bytes first (a temporary file renamed over the blob), then the row, which records
        their size and SHA-256: a restore serves only bytes that match them."""
        blob = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()
        tmp = self.blobs / f".{blob}.{threading.get_ident()}.tmp"
        try:
            tmp.write_bytes(body)
            os.replace(tmp, self.blobs / blob)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary behind
            raise
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO s3_objects (bucket, key, blob, metadata, size, sha256) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (bucket, key, blob, json.dumps(metadata), len(body), hashlib.sha256(body).hexdigest()),
            )

    def get_object(self, bucket: str, key: str) -> tuple[bytes, dict[str, str]] | None:
        """The journaled object (None when there is none, or its bytes do not verify)."""
        with self.lock:
            row = self._db.execute(
                "SELECT blob, metadata, size, sha256 FROM s3_objects WHERE bucket = ? AND key = ?",
                (bucket, key),
            ).fetchone()
        if row is None:
            return None
        body, _ = self._verified(row[0], row[2], row[3])
        return None if body is None else (body, json.loads(row[1]))

    def delete_object(self, bucket: str, key: str) -> None:
        with self.transaction() as db:
            row = db.execute(
                "SELECT blob FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            db.execute("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key))
        if row:
            with contextlib.suppress(FileNotFoundError):
                (self.blobs / row[0]).unlink()

    def object_count(self) -> int:
        with self.lock:
            return int(self._db.execute("SELECT count(*) FROM s3_objects").fetchone()[0])

    def objects(
        self, damaged: list[tuple[str, str, str]] | None = None
    ) -> Iterator[tuple[str, str, bytes, dict[str, str]]]:
        """Every journaled object whose bytes verify (size and SHA-256 recorded when written).
        One that does not is not yielded: it is appended to ``damaged`` as (bucket, key, why)."""
        with self.lock:
            rows = self._db.execute(
                "SELECT bucket, key, blob, metadata, size, sha256 FROM s3_objects"
            ).fetchall()
        for bucket, key, blob, metadata, size, sha256 in rows:
            body, why = self._verified(blob, size, sha256)
            kept = self._loaded(metadata, f"the object s3://{bucket}/{key}") if body is not None else None
            if body is None or kept is None:
                if damaged is not None:
                    damaged.append((bucket, key, why or "its journal row is damaged"))
                continue
            yield bucket, key, body, kept

    def _verified(self, blob: str, size: int | None, sha256: str | None) -> tuple[bytes | None, str]:
        try:
            body = (self.blobs / blob).read_bytes()
        except FileNotFoundError:
            return None, "its stored bytes are missing"
        if size is not None and len(body) != size:
            return None, f"{len(body)} bytes stored of {size}"
        if sha256 is not None and hashlib.sha256(body).hexdigest() != sha256:
            return None, "its stored bytes do not match their SHA-256"
        return body, ""

    def forget_objects(self, keys: Iterable[tuple[str, str]]) -> None:
        """Drop the rows (and blobs) of objects that could not be restored: the journal then holds
        what the server holds, and the next start does not report them again."""
        for bucket, key in keys:
            self.delete_object(bucket, key)

    # -- DynamoDB ---------------------------------------------------------------------------------

    def put_item(self, table: str, key: str, item: dict[str, Any] | None) -> None:
        with self.transaction() as db:
            if item is None:
                db.execute("DELETE FROM ddb_items WHERE table_name = ? AND key = ?", (table, key))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO ddb_items VALUES (?, ?, ?)", (table, key, json.dumps(item))
                )

    def put_items(self, rows: Iterable[tuple[str, str, dict[str, Any] | None]]) -> None:
        """Several items' states in one transaction: (table, key, item or None when deleted)."""
        with self.transaction() as db:
            for table, key, item in rows:
                if item is None:
                    db.execute("DELETE FROM ddb_items WHERE table_name = ? AND key = ?", (table, key))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO ddb_items VALUES (?, ?, ?)", (table, key, json.dumps(item))
                    )

    def get_item(self, table: str, key: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT item FROM ddb_items WHERE table_name = ? AND key = ?", (table, key)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def drop_table(self, table: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM ddb_items WHERE table_name = ?", (table,))

    def items(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            rows = self._db.execute("SELECT table_name, item FROM ddb_items").fetchall()
        out: dict[str, list[dict[str, Any]]] = {}
        for table, item in rows:
            loaded = self._loaded(item, f"an item of {table}")
            if loaded is not None:
                out.setdefault(table, []).append(loaded)
        return out

    def _loaded(self, text: str, what: str) -> Any:
        """A row's JSON; None (and a problem said) when damage in the file left it unreadable."""
        try:
            return json.loads(text)
        except (ValueError, TypeError):
            problem = f"{self.name}: {what} is damaged: not restored"
            if problem not in self.problems:
                self.problems.append(problem)
            return None

    # -- SQS --------------------------------------------------------------------------------------

    def sent(self, queue: str, messages: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO sqs_messages (queue, message_id, body, attributes) "
                "VALUES (?, ?, ?, ?)",
                [(queue, mid, body, json.dumps(attrs)) for mid, body, attrs in messages],
            )

    def deleted(self, queue: str, message_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM sqs_messages WHERE queue = ? AND message_id = ?",
                [(queue, m) for m in message_ids],
            )

    def arrived(
        self, queue: str, messages: Iterable[tuple[str, str, dict[str, Any]]], gone: Iterable[str] = ()
    ) -> None:
        """Messages moto put into ``queue`` by itself. One already journaled in another queue (a
        redrive to the DLQ) moves there with its row (order and attributes kept); ``gone``: ids
        that arrived but were deleted again before this was recorded (their rows go, wherever)."""
        with self.transaction() as db:
            for mid, body, attrs in messages:
                moved = db.execute(
                    "UPDATE OR REPLACE sqs_messages SET queue = ? WHERE message_id = ?", (queue, mid)
                ).rowcount
                if not moved:
                    db.execute(
                        "INSERT OR REPLACE INTO sqs_messages (queue, message_id, body, attributes) "
                        "VALUES (?, ?, ?, ?)",
                        (queue, mid, body, json.dumps(attrs)),
                    )
            db.executemany("DELETE FROM sqs_messages WHERE message_id = ?", [(m,) for m in gone])

    def purged(self, queue: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM sqs_messages WHERE queue = ?", (queue,))

    def messages(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(queue name, message id, body, message attributes), oldest first."""
        with self.lock:
            rows = self._db.execute(
                "SELECT queue, message_id, body, attributes FROM sqs_messages ORDER BY seq"
            ).fetchall()
        out = []
        for q, m, b, a in rows:
            attributes = self._loaded(a, f"a message of {q}")
            if attributes is not None:
                out.append((q, m, b, attributes))
        return out


# --- the moto side: record writes, restore S3 ------------------------------------------------------


def _moto_account() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return str(DEFAULT_ACCOUNT_ID)


def _region(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 3:
            return scope[2]
    return "us-east-1"


def _s3_backend() -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[_moto_account()]["aws"]


def restore_s3(journal: Journal, region: str) -> list[tuple[str, str, str]]:
    """Put every journaled object whose bytes verify back into this process's moto S3 backend
    (before it serves). Those that do not are not restored, leave the journal, and are returned:
    (bucket, key, why)."""
    backend = _s3_backend()
    damaged: list[tuple[str, str, str]] = []
    for bucket, key, body, metadata in journal.objects(damaged):
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, region)
        obj = backend.put_object(bucket, key, body, disable_notification=True)
        if metadata:
            obj.set_metadata(metadata)
    journal.forget_objects((bucket, key) for bucket, key, _ in damaged)
    return damaged


@dataclass
class _Answer:
    status: str = "500 Internal Server Error"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return int(self.status.split()[0]) < 300

    def send(self, start_response: Callable[..., Any]) -> list[bytes]:
        start_response(self.status, self.headers)
        return [self.body]


# What a journal write raises when the data directory cannot take it (ENOSPC, EROFS, EIO...).
_UNRECORDED = (OSError, sqlite3.Error)


def _discard(noted: list[tuple[Any, Any]]) -> None:
    """Take messages moto queued during a request back out of their queues (the request is
    answered 503 and its write undone: nothing it caused may stay)."""
    for queue, message in noted:
        with contextlib.suppress(ValueError):
            queue._messages.remove(message)


# What moto put into queues while this thread serves a request that notes it (``_arrivals_noted``):
# (moto Queue, moto Message) pairs. Thread-local: moto's server runs each request in one thread.
_arrivals = threading.local()
_patch_lock = threading.Lock()
_patched = False


def _note_arrivals() -> None:
    """Wrap moto's ``Queue.add_message`` (once per process), the one way a message gets into a
    queue in moto: SQS's send actions, EventBridge targets, S3 notifications, the redrive to a DLQ.
    Outside a noting request it only reads one thread-local attribute."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        import inspect

        from moto.sqs.models import Queue

        from facesvg.local.moto_patches import MotoHookMissing

        original = getattr(Queue, "add_message", None)
        if original is None or list(inspect.signature(original).parameters) != ["self", "message"]:
            raise MotoHookMissing("moto.sqs.models.Queue.add_message", "gone or its signature changed")

        def add_message(self: Any, message: Any) -> None:
            original(self, message)
            noted = getattr(_arrivals, "messages", None)
            if noted is not None:
                noted.append((self, message))

        Queue.add_message = add_message  # type: ignore[method-assign]
        _patched = True


@contextlib.contextmanager
def _arrivals_noted() -> Iterator[list[tuple[Any, Any]]]:
    noted: list[tuple[Any, Any]] = []
    outer = getattr(_arrivals, "messages", None)
    _arrivals.messages = noted
    try:
        yield noted
    finally:
        _arrivals.messages = outer


class JournalMiddleware:
    """WSGI middleware around moto's server app: records each successful write (see the module)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], journal: Journal) -> None:
        self.app = app
        self.journal = journal
        self._ddb_lock = threading.Lock()
        self._sqs_lock = threading.Lock()
        self._s3_locks = [threading.Lock() for _ in range(64)]
        self._receipts: OrderedDict[str, str] = OrderedDict()  # receipt handle -> message id
        _note_arrivals()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        action = target.rsplit(".", 1)[-1]
        method = environ.get("REQUEST_METHOD", "GET")
        if target.startswith("DynamoDB_") and action in _DDB_WRITES:
            with self._ddb_lock:
                request, answer = self._call(environ)
                if answer.ok:
                    try:
                        self._record_dynamodb(action, request, _region(environ))
                    except _UNRECORDED as exc:
                        return self._refuse(start_response, "json", exc)
            return answer.send(start_response)
        if target.startswith("AmazonSQS."):
            if action in _SQS_WRITES:
                with self._sqs_lock:
                    request, answer = self._call(environ)
                    if answer.ok:
                        try:
                            self._record_sqs(action, request, answer.body)
                        except _UNRECORDED as exc:
                            if action.startswith("Send"):
                                return self._refuse(start_response, "json", exc)
                            # A delete not recorded: the message comes back after a restart (SQS
                            # delivers at least once); the delete itself did happen.
                            logger.warning("journal: an SQS %s was not recorded: %s", action, exc)
                return answer.send(start_response)
            if action == "ReceiveMessage":
                with _arrivals_noted() as moved:  # to a dead-letter queue, by the redrive policy
                    request, answer = self._call(environ)
                if moved:
                    try:
                        self._record_arrivals(moved)
                    except _UNRECORDED as exc:  # still in the DLQ; not after a restart
                        logger.warning("journal: a redrive to a DLQ was not recorded: %s", exc)
                if answer.ok and b"ReceiptHandle" in answer.body:
                    self._remember_receipts(answer.body)
                return answer.send(start_response)
        elif target.startswith("AWSEvents.") and action in _EVENTS_DELIVERIES:
            with _arrivals_noted() as delivered:  # the bus's rules' SQS targets
                request, answer = self._call(environ)
            if delivered:
                try:
                    self._record_arrivals(delivered)
                except _UNRECORDED as exc:
                    _discard(delivered)
                    return self._refuse(start_response, "json", exc)
            return answer.send(start_response)
        elif not target and method in ("PUT", "POST", "DELETE"):
            keys = self._s3_keys(environ)
            if keys:
                lock = self._s3_locks[hash(keys[0]) % len(self._s3_locks)]
                with lock:
                    with _arrivals_noted() as notified:  # the bucket's notifications to SQS
                        request, answer = self._call(environ)
                    if answer.ok:
                        if keys[0][1] == "":  # a multi-object delete: the keys are in the body
                            keys = self._deleted_keys(environ, request)
                        try:
                            for bucket, key in keys:
                                self._record_s3(bucket, key)
                            if notified:
                                self._record_arrivals(notified)
                        except _UNRECORDED as exc:
                            _discard(notified)
                            for bucket, key in keys:
                                self._revert_s3(bucket, key)
                            return self._refuse(start_response, "xml", exc)
                    elif notified:
                        try:
                            self._record_arrivals(notified)
                        except _UNRECORDED as exc:
                            _discard(notified)
                            return self._refuse(start_response, "xml", exc)
                return answer.send(start_response)
        return self.app(environ, start_response)

    def _call(self, environ: dict[str, Any]) -> tuple[bytes, _Answer]:
        """moto's answer to the request, held back: it leaves only once the write is recorded."""
        import io

        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(request)
        answer = _Answer()

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer.status, answer.headers = status, list(headers)
            return lambda data: None

        result = self.app(environ, capture)
        try:
            answer.body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        return request, answer

    def _refuse(self, start_response: Callable[..., Any], protocol: str, exc: BaseException) -> list[bytes]:
        """The journal could not record a write (a full disk, an unusable data directory): moto's
        state went back to the journal's, and the client is told to retry (503, as AWS answers an
        unavailable service), never a 500 and never a write that a restart would lose."""
        logger.error("journal: a write could not be recorded (%s); answered 503", os_reason(exc))
        message = "the local stack cannot store this write now (its data directory is full or unusable)"
        if protocol == "xml":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
                f"<Message>{message}</Message></Error>"
            ).encode()
            content_type = "application/xml"
        else:
            body = json.dumps({"__type": "ServiceUnavailable", "message": message}).encode()
            content_type = "application/x-amz-json-1.0"
        start_response(
            "503 Service Unavailable",
            [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Retry-After", "1")],
        )
        return [body]

    # -- S3 -------------------------------------------------------------------------------------

    @staticmethod
    def _s3_keys(environ: dict[str, Any]) -> list[tuple[str, str]]:
        """The (bucket, key) a path-style write names; [("", "")] for a multi-object delete (keys in
        the body); [] for anything that changes no object (bucket requests, multipart parts...)."""
        path = environ.get("PATH_INFO", "")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        bucket, _, key = path.lstrip("/").partition("/")
        if environ["REQUEST_METHOD"] == "POST" and "delete" in query and bucket and not key:
            return [(bucket, "")]
        if not bucket or not key or bucket == "moto-api" or "partNumber" in query:
            return []
        if environ["REQUEST_METHOD"] == "POST" and "uploadId" not in query:
            return []
        return [(bucket, unquote(key))]

    @staticmethod
    def _deleted_keys(environ: dict[str, Any], request: bytes) -> list[tuple[str, str]]:
        import xml.etree.ElementTree as ET

        bucket = environ.get("PATH_INFO", "").lstrip("/").partition("/")[0]
        try:
            root = ET.fromstring(request)  # noqa: S314 (a request our own clients sent to loopback)
        except ET.ParseError:
            return []
        return [(bucket, el.text or "") for el in root.iter() if el.tag.endswith("Key") and el.text]

    def _record_s3(self, bucket: str, key: str) -> None:
        if not key:
            return
        backend = _s3_backend()
        if bucket not in backend.buckets:
            return
        try:
            obj = backend.get_object(bucket, key)
        except Exception:
            obj = None
        if obj is None:
            self.journal.delete_object(bucket, key)
        else:
            self.journal.put_object(bucket, key, bytes(obj.value), dict(obj.metadata))

    def _revert_s3(self, bucket: str, key: str) -> None:
        """moto's object goes back to the journal's (or away, when the journal has none)."""
        if not key:
            return
        backend = _s3_backend()
        kept = self.journal.get_object(bucket, key)
        with contextlib.suppress(Exception):
            if kept is None:
                backend.delete_object(bucket, key)
            else:
                obj = backend.put_object(bucket, key, kept[0], disable_notification=True)
                if kept[1]:
                    obj.set_metadata(kept[1])

    # -- DynamoDB ---------------------------------------------------------------------------------

    def _record_dynamodb(self, action: str, request: bytes, region: str) -> None:
        from moto.dynamodb.models import dynamodb_backends

        doc = json.loads(request or b"{}")
        backend = dynamodb_backends[_moto_account()][region]
        if action == "DeleteTable":
            self.journal.drop_table(doc["TableName"])
            return
        touched: list[tuple[str, dict[str, Any]]] = []
        if action == "PutItem":
            touched.append((doc["TableName"], doc["Item"]))
        elif action in ("UpdateItem", "DeleteItem"):
            touched.append((doc["TableName"], doc["Key"]))
        elif action == "BatchWriteItem":
            for table, requests in doc.get("RequestItems", {}).items():
                for r in requests:
                    if "PutRequest" in r:
                        touched.append((table, r["PutRequest"]["Item"]))
                    elif "DeleteRequest" in r:
                        touched.append((table, r["DeleteRequest"]["Key"]))
        elif action == "TransactWriteItems":
            for t in doc.get("TransactItems", []):
                for kind, op in t.items():
                    if kind == "Put":
                        touched.append((op["TableName"], op["Item"]))
                    elif kind in ("Update", "Delete"):
                        touched.append((op["TableName"], op["Key"]))
        rows: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for table_name, attrs in touched:
            table = backend.get_table(table_name)
            key_names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            key = {k: attrs[k] for k in key_names}
            item = backend.get_item(table_name, key)
            rows.append((table_name, key, None if item is None else _item_json(item)))
        try:
            self.journal.put_items((t, json.dumps(k, sort_keys=True), item) for t, k, item in rows)
        except _UNRECORDED:
            for table_name, key, _ in rows:  # moto goes back to what the journal holds
                kept = self.journal.get_item(table_name, json.dumps(key, sort_keys=True))
                if kept is None:
                    backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, kept)
            raise

    # -- SQS --------------------------------------------------------------------------------------

    def _remember_receipts(self, body: bytes) -> None:
        for m in json.loads(body).get("Messages", []):
            self._receipts[m["ReceiptHandle"]] = m["MessageId"]
        while len(self._receipts) > 100_000:
            self._receipts.popitem(last=False)

    def _record_arrivals(self, noted: list[tuple[Any, Any]]) -> None:
        """Journal the messages moto put into queues by itself during a request. Under the SQS lock,
        which a DeleteMessage holds for its moto call and its record: a message still in its queue
        is journaled (and deleted later as any other), one already deleted again is not (and no row
        of it stays). Reads only the queues that received something."""
        by_queue: dict[str, tuple[Any, list[Any]]] = {}
        for queue, message in noted:
            by_queue.setdefault(queue.name, (queue, []))[1].append(message)
        with self._sqs_lock:
            for name, (queue, messages) in by_queue.items():
                present = {m.id for m in list(queue._messages)}  # a copy: other threads change it
                self.journal.arrived(
                    name,
                    [(m.id, m.body, _message_attributes(queue, m)) for m in messages if m.id in present],
                    [m.id for m in messages if m.id not in present],
                )

    def _record_sqs(self, action: str, request: bytes, response: bytes) -> None:
        doc = json.loads(request or b"{}")
        queue = str(doc.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
        answer = json.loads(response or b"{}")
        if action in ("SendMessage", "SendMessageBatch"):
            if action == "SendMessage":
                sent = [(answer["MessageId"], doc["MessageBody"], _send_attributes(doc))]
            else:
                entries = {e["Id"]: e for e in doc.get("Entries", [])}
                sent = [
                    (ok["MessageId"], entries[ok["Id"]]["MessageBody"], _send_attributes(entries[ok["Id"]]))
                    for ok in answer.get("Successful", [])
                ]
            try:
                self.journal.sent(queue, sent)
            except _UNRECORDED:
                _unsend(queue, {mid for mid, _, _ in sent})  # answered 503: the send did not happen
                raise
        elif action == "DeleteMessage":
            mid = self._receipts.pop(doc.get("ReceiptHandle", ""), None)
            if mid:
                self.journal.deleted(queue, [mid])
        elif action == "DeleteMessageBatch":
            handles = {e["Id"]: e["ReceiptHandle"] for e in doc.get("Entries", [])}
            ids = [self._receipts.pop(handles.get(ok["Id"], ""), None) for ok in answer.get("Successful", [])]
            self.journal.deleted(queue, [m for m in ids if m])
        elif action == "PurgeQueue":
            self.journal.purged(queue)


def _unsend(queue_name: str, message_ids: set[str]) -> None:
    from moto.sqs.models import sqs_backends

    for backend in sqs_backends[_moto_account()].values():
        queue = backend.queues.get(queue_name)
        if queue is not None:
            _discard([(queue, m) for m in list(queue._messages) if m.id in message_ids])


def _send_attributes(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        k: entry[k] for k in ("MessageAttributes", "MessageGroupId", "MessageDeduplicationId") if k in entry
    }


def _message_attributes(queue: Any, message: Any) -> dict[str, Any]:
    """A moto Message's send parameters, as ``_send_attributes`` keeps them from a request."""
    out: dict[str, Any] = {}
    if message.message_attributes:
        out["MessageAttributes"] = message.message_attributes
    if queue.fifo_queue:
        if message.group_id:
            out["MessageGroupId"] = message.group_id
        if message.deduplication_id:
            out["MessageDeduplicationId"] = message.deduplication_id
    return out


def _item_json(item: Any) -> dict[str, Any]:
    """A moto Item as DynamoDB JSON (what GetItem answers)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    def plain(value: Any) -> Any:
        if isinstance(value, DynamoType):
            return plain(value.to_json())
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {name: plain(attr.to_json()) for name, attr in item.attrs.items()}


# --- the runtime side: write items and messages back ------------------------------------------------

# The job table's lease (facesvg.service.aws.dynamo): a job in ``processing`` belongs to a worker of
# the stack that died with it; ending the lease lets the restored message claim it again.
_PROCESSING = "processing"


def _end_dead_lease(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("status", {}).get("S") == _PROCESSING and "lease_until" in item:
        return {**item, "lease_until": {"N": "0"}}
    return item


_RESULTS_OR_INPUTS = re.compile(r"(results|inputs)/([0-9a-f]{64})/")


def settle_damaged(
    journal: Journal, damaged: Iterable[tuple[str, str, str]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """The jobs whose stored objects failed verification at start (``restore_s3``), settled in the
    journal before its items are written back: a completed job whose results are damaged is
    rendered again from its inputs (pending again: the caller enqueues the returned (job id,
    content hash) pairs), unless its inputs are damaged too; a job whose inputs are damaged, and
    that has no intact result, fails with the reason (``ProcessingFailed``: submitting the inputs
    again renders them). The shared render record of damaged results goes, so no other client's
    submit reuses them. Returns the jobs to enqueue and one line per job settled."""
    from facesvg import names

    results: set[str] = set()
    inputs: set[str] = set()
    for _, key, _ in damaged:
        found = _RESULTS_OR_INPUTS.match(key)
        if found:
            (results if found.group(1) == "results" else inputs).add(found.group(2))
    if not results and not inputs:
        return [], []
    pk = names.TABLE_PARTITION_KEY
    requeue: list[tuple[str, str]] = []
    lines: list[str] = []
    rows: list[tuple[str, str, dict[str, Any] | None]] = []
    for table, items in journal.items().items():
        for item in items:
            key = json.dumps({pk: item[pk]}, sort_keys=True)
            name = str(item.get(pk, {}).get("S", ""))
            if name.startswith(names.RENDER_KEY_PREFIX) and name[len(names.RENDER_KEY_PREFIX) :] in results:
                rows.append((table, key, None))
                continue
            if not name.startswith(names.JOB_KEY_PREFIX):
                continue
            digest = item.get("content_hash", {}).get("S", "")
            status = item.get("status", {}).get("S", "")
            job_id = item.get("job_id", {}).get("S", "")
            lost_results = digest in results and status == "completed"
            if not lost_results and not (digest in inputs and status in ("pending", "processing")):
                continue
            settled = {k: v for k, v in item.items() if k not in _RENDER_STATE}
            if digest in inputs:
                settled["status"] = {"S": "failed"}
                settled["error_code"] = {"S": "ProcessingFailed"}
                settled["error_message"] = {
                    "S": "the stored inputs of this job were damaged on disk and could not be restored; "
                    "submit them again"
                }
                lines.append(f"job {job_id}: its stored inputs were damaged: failed (submit them again)")
            else:
                settled["status"] = {"S": "pending"}
                settled["attempts"] = {"N": "0"}
                requeue.append((job_id, digest))
                lines.append(
                    f"job {job_id}: its stored results were damaged: rendering it again from its inputs"
                )
            rows.append((table, key, settled))
    journal.put_items(rows)
    return requeue, lines


# What a job item keeps of a render (result, error, lease): a job settled by ``settle_damaged``
# starts again without them.
_RENDER_STATE = frozenset({"result", "error_code", "error_message", "lease_token", "lease_until"})


def restore_items(dynamodb: Any, journal: Journal) -> int:
    n = 0
    for table, items in journal.items().items():
        for i in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": _end_dead_lease(item)}} for item in items[i : i + 25]]
            pending: dict[str, Any] = {table: batch}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            n += len(batch)
    return n


def restore_messages(sqs_by_queue: dict[str, Any], journal: Journal) -> int:
    """Send every journaled message again (a new message) and drop the old rows; ``sqs_by_queue``
    maps a queue name to (client, queue url). Queues that no longer exist are skipped."""
    n = 0
    by_queue: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for queue, mid, body, attrs in journal.messages():
        by_queue.setdefault(queue, []).append((mid, body, attrs))
    for queue, messages in by_queue.items():
        target = sqs_by_queue.get(queue)
        if target is None:
            continue
        client, url = target
        for i in range(0, len(messages), 10):
            chunk = messages[i : i + 10]
            client.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(j), "MessageBody": body, **attrs} for j, (_, body, attrs) in enumerate(chunk)
                ],
            )
            journal.deleted(queue, [mid for mid, _, _ in chunk])
            n += len(chunk)
    return n
