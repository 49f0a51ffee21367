"""The moto server's side of the data directory's journal (``facesvg.local.persist``): a WSGI
middleware that records, after every write that succeeded, the resulting state of what the request
touched, before the response leaves."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from facesvg.local.persist import Journal, os_reason

logger = logging.getLogger("facesvg.local.persist")  # the journal's, one name for its messages

_DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "DeleteTable"}
_SQS_WRITES = {"SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch", "PurgeQueue"}
# Requests during which moto itself puts messages into queues (besides SQS's own send actions).
_EVENTS_DELIVERIES = {"PutEvents"}  # EventBridge: the bus's rules deliver to their SQS targets


def moto_account() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return str(DEFAULT_ACCOUNT_ID)


def _region(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 3:
            return scope[2]
    return "us-east-1"


def s3_backend() -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[moto_account()]["aws"]


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
            refused = self._arrivals_or_refusal(delivered, start_response, "json")
            return refused if refused is not None else answer.send(start_response)
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
                    elif (refused := self._arrivals_or_refusal(notified, start_response, "xml")) is not None:
                        return refused
                return answer.send(start_response)
        return self.app(environ, start_response)

    def _arrivals_or_refusal(
        self, noted: list[tuple[Any, Any]], start_response: Callable[..., Any], protocol: str
    ) -> list[bytes] | None:
        """Record the messages moto queued by itself (nothing to do without any); if the journal
        cannot, take them back out and answer 503 (returned; None when recorded)."""
        if not noted:
            return None
        try:
            self._record_arrivals(noted)
        except _UNRECORDED as exc:
            _discard(noted)
            return self._refuse(start_response, protocol, exc)
        return None

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
        backend = s3_backend()
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
        backend = s3_backend()
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
        backend = dynamodb_backends[moto_account()][region]
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

    for backend in sqs_backends[moto_account()].values():
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
