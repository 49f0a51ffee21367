"""State that survives a restart: a write-through journal of moto's state in a data directory.

Each moto server process (``aws.serve``) wraps its WSGI app in ``JournalMiddleware``: after every
write that succeeded it records the *resulting* state of what the request touched, before the
response leaves, so a client that saw a 200 finds it again after a crash (SIGKILL included):

* S3 objects: the bytes in ``blobs/`` (written to a temporary file, then renamed), a row per key;
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
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

S3_JOURNAL = "s3.sqlite"
AWS_JOURNAL = "dynamodb-sqs.sqlite"
BLOBS = "blobs"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS s3_objects (bucket TEXT, key TEXT, blob TEXT, metadata TEXT,
    PRIMARY KEY (bucket, key));
CREATE TABLE IF NOT EXISTS ddb_items (table_name TEXT, key TEXT, item TEXT, PRIMARY KEY (table_name, key));
CREATE TABLE IF NOT EXISTS sqs_messages (queue TEXT, message_id TEXT, body TEXT, attributes TEXT,
    seq INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE UNIQUE INDEX IF NOT EXISTS sqs_messages_id ON sqs_messages (queue, message_id);
"""

_DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "DeleteTable"}
_SQS_WRITES = {"SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch", "PurgeQueue"}
# Requests during which moto itself puts messages into queues (besides SQS's own send actions).
_EVENTS_DELIVERIES = {"PutEvents"}  # EventBridge: the bus's rules deliver to their SQS targets


class Journal:
    """One SQLite file (and the blob folder) in the data directory; thread-safe."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self.dir = Path(data_dir)
        self.blobs = self.dir / BLOBS
        self.blobs.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.dir / name, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
        self._db.executescript(_SCHEMA)
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- S3 -------------------------------------------------------------------------------------

    def put_object(self, bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> None:
        blob = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()
        tmp = self.blobs / f".{blob}.{threading.get_ident()}.tmp"
        tmp.write_bytes(body)
        os.replace(tmp, self.blobs / blob)
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO s3_objects VALUES (?, ?, ?, ?)",
                (bucket, key, blob, json.dumps(metadata)),
            )

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

    def objects(self) -> Iterator[tuple[str, str, bytes, dict[str, str]]]:
        with self.lock:
            rows = self._db.execute("SELECT bucket, key, blob, metadata FROM s3_objects").fetchall()
        for bucket, key, blob, metadata in rows:
            try:
                body = (self.blobs / blob).read_bytes()
            except FileNotFoundError:
                continue
            yield bucket, key, body, json.loads(metadata)

    # -- DynamoDB ---------------------------------------------------------------------------------

    def put_item(self, table: str, key: str, item: dict[str, Any] | None) -> None:
        with self.transaction() as db:
            if item is None:
                db.execute("DELETE FROM ddb_items WHERE table_name = ? AND key = ?", (table, key))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO ddb_items VALUES (?, ?, ?)", (table, key, json.dumps(item))
                )

    def drop_table(self, table: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM ddb_items WHERE table_name = ?", (table,))

    def items(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            rows = self._db.execute("SELECT table_name, item FROM ddb_items").fetchall()
        out: dict[str, list[dict[str, Any]]] = {}
        for table, item in rows:
            out.setdefault(table, []).append(json.loads(item))
        return out

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
        return [(q, m, b, json.loads(a)) for q, m, b, a in rows]


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


def restore_s3(journal: Journal, region: str) -> int:
    """Put every journaled object back into this process's moto S3 backend (before it serves)."""
    backend = _s3_backend()
    n = 0
    for bucket, key, body, metadata in journal.objects():
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, region)
        obj = backend.put_object(bucket, key, body, disable_notification=True)
        if metadata:
            obj.set_metadata(metadata)
        n += 1
    return n


@dataclass
class _Captured:
    status: int = 0


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
                request, status, body = self._call(environ, start_response)
                if status < 300:
                    self._record_dynamodb(action, request, _region(environ))
            return [body]
        if target.startswith("AmazonSQS."):
            if action in _SQS_WRITES:
                with self._sqs_lock:
                    request, status, body = self._call(environ, start_response)
                    if status < 300:
                        self._record_sqs(action, request, body)
                return [body]
            if action == "ReceiveMessage":
                with _arrivals_noted() as moved:  # to a dead-letter queue, by the redrive policy
                    request, status, body = self._call(environ, start_response)
                if moved:
                    self._record_arrivals(moved)
                if status < 300 and b"ReceiptHandle" in body:
                    self._remember_receipts(body)
                return [body]
        elif target.startswith("AWSEvents.") and action in _EVENTS_DELIVERIES:
            with _arrivals_noted() as delivered:  # the bus's rules' SQS targets
                request, status, body = self._call(environ, start_response)
            if delivered:
                self._record_arrivals(delivered)
            return [body]
        elif not target and method in ("PUT", "POST", "DELETE"):
            keys = self._s3_keys(environ)
            if keys:
                lock = self._s3_locks[hash(keys[0]) % len(self._s3_locks)]
                with lock:
                    with _arrivals_noted() as notified:  # the bucket's notifications to SQS
                        request, status, body = self._call(environ, start_response)
                    if status < 300:
                        if keys[0][1] == "":  # a multi-object delete: the keys are in the body
                            keys = self._deleted_keys(environ, request)
                        for bucket, key in keys:
                            self._record_s3(bucket, key)
                    if notified:
                        self._record_arrivals(notified)
                return [body]
        return self.app(environ, start_response)

    def _call(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> tuple[bytes, int, bytes]:
        import io

        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(request)
        captured = _Captured()

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.status = int(status.split()[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        return request, captured.status, body

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
        for table_name, attrs in touched:
            table = backend.get_table(table_name)
            key_names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            key = {k: attrs[k] for k in key_names}
            item = backend.get_item(table_name, key)
            self.journal.put_item(
                table_name, json.dumps(key, sort_keys=True), None if item is None else _item_json(item)
            )

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
        if action == "SendMessage":
            self.journal.sent(queue, [(answer["MessageId"], doc["MessageBody"], _send_attributes(doc))])
        elif action == "SendMessageBatch":
            entries = {e["Id"]: e for e in doc.get("Entries", [])}
            self.journal.sent(
                queue,
                [
                    (ok["MessageId"], entries[ok["Id"]]["MessageBody"], _send_attributes(entries[ok["Id"]]))
                    for ok in answer.get("Successful", [])
                ],
            )
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
