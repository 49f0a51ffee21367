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

Modules: this one holds the journal (``Journal``: the SQLite file, its checks, the blobs);
``journal_middleware`` records the writes of a moto server; ``restore`` puts the state back.

A restored job message is a new message (receive count 1): a restart is a new life for the queue.
A job a worker was rendering when the stack died holds a lease of a worker that no longer exists;
``restore_items`` ends such leases, so the restored message claims the job at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

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
        self.put_items([(table, key, item)])

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
