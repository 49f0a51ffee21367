"""The embedded local stack: moto's server + resources + API on loopback + event sources, all
driving the very handler modules that Lambda runs.

    with LocalRuntime() as rt:          # or rt.start() / rt.stop()
        print(rt.api_url, rt.swagger_url)
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facesvg import names
from facesvg.local.apigw import ApiGateway
from facesvg.local.aws import LOCAL_REGION, MotoServer, apply_environment, local_clients
from facesvg.local.emf import install_from_environment as install_emf_transport
from facesvg.local.lambdas import FUNCTION_NAMES, LocalFunction, ProcessFunction
from facesvg.local.persist import AWS_JOURNAL, S3_JOURNAL, DataDirError, os_reason
from facesvg.local.pollers import S3NotificationSource, SqsEventSource
from facesvg.local.prometheus import EmfExporter
from facesvg.local.resources import LocalResources, provision
from facesvg.service.observability import set_emf_transport
from facesvg.stack_config import StackConfig

# A file name, not a secret: where the data directory keeps the webhook signing secret.
WEBHOOK_SECRET_FILE = "webhook-secret"  # noqa: S105
# Notify invocations each notify poller keeps running at once: a batch waiting on slow webhook
# receivers (each POST ends by its deadline) never holds up the next batch's deliveries.
NOTIFY_IN_FLIGHT_PER_WORKER = 4


@dataclass
class RuntimeConfig:
    api_port: int = names.LOCAL_API_PORT  # 0 = any free port
    moto_port: int | None = None  # DynamoDB and SQS; None = any free port
    moto_s3_port: int | None = None  # S3; None = any free port
    process_workers: int = 2  # concurrent process "Lambda" environments polling SQS
    batch_size: int = 10
    retry_delay_seconds: int = 1
    artificial_delay_seconds: float | None = None  # None: keep the environment's value
    load_test_mode: bool | None = None
    api_key: str | tuple[str, ...] | None = None  # several: each key a client of its own (its own jobs)
    log_level: str | None = None
    # When False the runtime does not poll SQS (tests drive the process handler themselves).
    start_pollers: bool = True
    # Run each process worker's execution environment in its own (spawned) process, as Lambda
    # does: the renderer then does not share this process's GIL with the API and moto's server.
    isolate_process_workers: bool = True
    warm: bool = True
    # Prometheus /metrics on 127.0.0.1 (fed by the functions' EMF records); a free port when this
    # one is taken, 0 = any free port, None = no exporter (EMF disabled, as before).
    metrics_port: int | None = names.LOCAL_METRICS_PORT
    # The stack's config (queue visibility, redrive, lease...): None = cdk.json's, as `cdk synth`.
    stack: StackConfig | None = None
    # moto_patches' speed-only patches in the emulator processes (None: FACESVG_MOTO_SPEEDUPS).
    moto_speedups: bool | None = None
    # Where the stack keeps its state across restarts (facesvg.local.persist); None = in memory.
    data_dir: Path | None = None
    # Start empty: remove the data directory's state first.
    fresh: bool = False
    # Base of the webhook retry backoff (FACESVG_NOTIFY_BACKOFF_SECONDS); None: the environment's
    # value or the code default (30 s). Tests use 0: retries come back at once, in order.
    notify_backoff_seconds: float | None = None
    notify_workers: int = 2  # concurrent notify "Lambda" invocations polling the notify queue
    # S3 refuses unsigned requests, bad signatures and expired presigned URLs (local/s3_auth.py).
    s3_auth: bool = True


class LocalRuntime:
    def __init__(self, config: RuntimeConfig | None = None) -> None:
        self.config = config or RuntimeConfig()
        # Two emulator processes: S3 moves megabytes per job in Python, and on one server (one GIL)
        # every DynamoDB and SQS request of the job queued behind those bodies.
        data_dir = self.config.data_dir
        self.moto = MotoServer(
            self.config.moto_port,
            speedups=self.config.moto_speedups,
            data_dir=data_dir,
            journal=AWS_JOURNAL,
            role="DynamoDB and SQS",
        )
        self.moto_s3 = MotoServer(
            self.config.moto_s3_port,
            speedups=self.config.moto_speedups,
            s3_auth=self.config.s3_auth,
            data_dir=data_dir,
            journal=S3_JOURNAL,
            role="S3",
        )
        self.restored: dict[str, int] = {}  # what start() restored from the data directory
        # What start() could not restore (damaged journal, objects that failed verification) and
        # what it did about the jobs concerned: one line each, for `facesvg run` to show.
        self.restore_problems: list[str] = []
        self._data_dir_lock: Any = None
        self.functions = {name: LocalFunction(name) for name in FUNCTION_NAMES}
        self.resources: LocalResources | None = None
        self.api: ApiGateway | None = None
        self.clients: dict[str, Any] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._pollers_started = False
        self._workers: list[ProcessFunction] = []
        self.exporter: EmfExporter | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> LocalRuntime:
        data_dir = self.config.data_dir
        if data_dir is not None:
            try:
                data_dir.mkdir(parents=True, exist_ok=True)
                self._lock_data_dir(data_dir)
                if self.config.fresh:
                    clear_data_dir(data_dir)
            except OSError as exc:  # read-only, not a directory, no access: one clear line
                raise DataDirError(f"{data_dir} cannot hold the stack's state: {os_reason(exc)}") from None
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:  # each spends ~1.5 s importing moto
                for started in [pool.submit(server.start) for server in (self.moto, self.moto_s3)]:
                    started.result()
        except BaseException:
            self.moto.stop()
            self.moto_s3.stop()
            raise
        try:
            secret = None if data_dir is None else kept_webhook_secret(data_dir)
        except OSError as exc:
            raise DataDirError(f"{data_dir} cannot hold the stack's state: {os_reason(exc)}") from None
        self.resources = provision(
            self.moto.endpoint, self.moto_s3.endpoint, self.config.stack, webhook_secret=secret
        )
        if data_dir is not None:
            self._restore(data_dir)
        env = self.resources.function_environment()
        if self.config.metrics_port is None:
            env["POWERTOOLS_METRICS_DISABLED"] = "true"  # EMF records would flood the console locally
        else:  # EMF records go to the exporter (workers inherit the environment), not the console
            self.exporter = EmfExporter(self.config.metrics_port).start()
            env["POWERTOOLS_METRICS_DISABLED"] = "false"
            env[names.ENV_EMF_ENDPOINT] = self.exporter.emf_endpoint
        if self.config.artificial_delay_seconds is not None:
            env[names.ENV_ARTIFICIAL_DELAY] = str(self.config.artificial_delay_seconds)
        if self.config.load_test_mode is not None:
            env[names.ENV_LOAD_TEST_MODE] = "true" if self.config.load_test_mode else "false"
        if self.config.log_level:
            env["POWERTOOLS_LOG_LEVEL"] = self.config.log_level
        if self.config.notify_backoff_seconds is not None:
            env[names.ENV_NOTIFY_BACKOFF_SECONDS] = str(self.config.notify_backoff_seconds)
        apply_environment(env)
        install_emf_transport()  # this process's functions; the workers install it themselves
        self._reset_service_caches()
        if self.config.log_level:
            from facesvg.service.observability import logger

            logger.setLevel(self.config.log_level)
        self.clients = local_clients(self.moto.endpoint, self.moto_s3.endpoint)

        if self.config.warm:
            for fn in self.functions.values():
                fn.warm()
            from facesvg.service.composition import default_service

            default_service().render_core  # noqa: B018 (imports the render core once, up front)
        self.api = ApiGateway(self.invoke, self.config.api_port, api_key=self.config.api_key)
        self.api.start()
        if self.config.start_pollers:
            self.start_pollers()
        return self

    def start_pollers(self) -> None:
        assert self.resources is not None
        with self._lock:
            if self._pollers_started:
                return
            self._pollers_started = True
        r = self.resources
        invokers = self._process_invokers()
        for i, invoke in enumerate(invokers):
            self._threads.append(
                SqsEventSource(
                    self.clients["sqs"],
                    r.queue_url,
                    r.queue_arn,
                    invoke,
                    self._stop,
                    name=f"local-sqs-process-{i}",
                    batch_size=self.config.batch_size,
                    retry_delay_seconds=self.config.retry_delay_seconds,
                    crash_visibility_seconds=self._crash_visibility_seconds(),
                    region=LOCAL_REGION,
                )
            )
        # Bus → rule → notify queue is moto's own delivery (as on AWS); the notify function then
        # backs its retries off by the message's visibility itself, so the poller leaves it alone.
        for i in range(self.config.notify_workers):
            self._threads.append(
                SqsEventSource(
                    self.clients["sqs"],
                    r.notify_queue_url,
                    r.notify_queue_arn,
                    lambda event: self.invoke("notify", event),
                    self._stop,
                    name=f"local-sqs-notify-{i}",
                    batch_size=self.config.batch_size,
                    retry_delay_seconds=None,
                    max_in_flight=NOTIFY_IN_FLIGHT_PER_WORKER,
                    region=LOCAL_REGION,
                )
            )
        self._threads.append(
            S3NotificationSource(
                self.clients["s3_events"],
                r.ingest_queue_url,
                lambda event: self.invoke("ingest", event),
                self._stop,
            )
        )
        for t in self._threads:
            t.start()

    def stop_pollers(self) -> None:
        """Stop the event sources' threads (joined before this returns); ``start_pollers`` starts
        them again. The process workers stay (idle processes). Tests call this so no thread of the
        stack runs during a test that did not ask for the stack."""
        with self._lock:
            if not self._pollers_started:
                return
            self._stop.set()
            threads, self._threads = self._threads, []
        for t in threads:
            t.join(timeout=10)
        with self._lock:
            self._stop = threading.Event()
            self._pollers_started = False

    @property
    def pollers_running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _process_invokers(self) -> list[Callable[[dict[str, Any]], Any]]:
        n = self.config.process_workers
        if not self.config.isolate_process_workers:
            return [lambda event: self.invoke("process", event)] * n
        if not self._workers:
            assert self.resources is not None
            timeout = self.resources.config.process_timeout_seconds
            self._workers = [
                ProcessFunction("process", timeout_seconds=timeout, preload=("facesvg.core.pipeline",))
                for _ in range(n)
            ]
            for worker in self._workers:
                worker.wait_ready()  # handler loaded, render core imported (they start in parallel)
        return [w.invoke for w in self._workers]

    def _lock_data_dir(self, data_dir: Path) -> None:
        """One stack per data directory (two would journal over each other); the kernel drops the
        lock when this process ends, however it ends."""
        import fcntl

        handle = (data_dir / "lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise DataDirInUseError(f"{data_dir} is in use by another running stack") from None
        self._data_dir_lock = handle

    def _restore(self, data_dir: Path) -> None:
        """Write the journaled DynamoDB items and SQS messages back (S3 restored itself)."""
        from facesvg.local.persist import Journal
        from facesvg.local.restore import restore_items, restore_messages, settle_damaged
        from facesvg.service.models import JobMessage

        assert self.resources is not None
        r = self.resources
        c = local_clients(self.moto.endpoint, self.moto_s3.endpoint)
        queues = {
            names.QUEUE_NAME: (c["sqs"], r.queue_url),
            names.DLQ_NAME: (c["sqs"], r.dlq_url),
            names.LOCAL_INGEST_EVENTS_QUEUE_NAME: (c["s3_events"], r.ingest_queue_url),
        }
        if r.notify_queue_url:  # webhooks waiting for delivery (those the bus had queued too)
            queues[names.NOTIFY_QUEUE_NAME] = (c["sqs"], r.notify_queue_url)
        if r.notify_dlq_url:  # webhooks that failed every attempt (`facesvg redrive --notify`)
            queues[names.NOTIFY_DLQ_NAME] = (c["sqs"], r.notify_dlq_url)
        damaged = self.moto_s3.damaged_objects
        problems = [*self.moto.restore_problems, *self.moto_s3.restore_problems]
        problems += [f"s3://{bucket}/{key}: {why}: not restored" for bucket, key, why in damaged]
        aws_journal = Journal(data_dir, AWS_JOURNAL, check=False)  # its server checked it
        s3_journal = Journal(data_dir, S3_JOURNAL, check=False)
        try:
            requeue, settled = settle_damaged(aws_journal, damaged)
            self.restored = {
                "items": restore_items(c["dynamodb"], aws_journal),
                "messages": restore_messages(queues, aws_journal) + restore_messages(queues, s3_journal),
                "objects": s3_journal.object_count(),
            }
            problems += aws_journal.problems + s3_journal.problems  # rows left unreadable
        finally:
            aws_journal.close()
            s3_journal.close()
        for job_id, content_hash in requeue:  # rendered again from its inputs
            message = JobMessage(job_id=job_id, content_hash=content_hash).model_dump_json()
            c["sqs"].send_message(QueueUrl=r.queue_url, MessageBody=message)
        self.restore_problems = problems + settled

    def _crash_visibility_seconds(self) -> int:
        """How long the batch of a worker that died stays in flight: past any lease the worker
        took (the functions' lease, as set in the environment, + the local retry delay), so the
        redelivery can claim the job. See local/README.md, "When a render worker dies"."""
        assert self.resources is not None
        lease = int(os.environ.get(names.ENV_LEASE_SECONDS) or self.resources.config.lease_seconds)
        return lease + max(1, self.config.retry_delay_seconds)

    @property
    def process_worker_pids(self) -> list[int]:
        """The current render worker processes (a replaced worker has a new pid)."""
        return [w.pid for w in self._workers]

    def stop(self) -> None:
        """Stop everything, in parallel where it can be: the API and the event sources first (no
        new work), then the workers and moto's servers. Every write moto answered is already in the
        data directory (the servers only checkpoint their journals as they go); a job a worker was
        rendering is picked up again by the next start (its message is still journaled)."""
        self._stop.set()
        with ThreadPoolExecutor(max_workers=4 + len(self._workers)) as pool:
            if self.api is not None:
                pool.submit(self.api.stop)
            pool.submit(self.stop_pollers)
            for w in self._workers:
                pool.submit(w.stop, 0.5)  # an idle worker exits at once; a rendering one is killed
            if self.exporter is not None:
                pool.submit(self.exporter.stop)
        if self.exporter is not None:
            set_emf_transport(None)
        with ThreadPoolExecutor(max_workers=2) as pool:
            pool.submit(self.moto.stop)
            pool.submit(self.moto_s3.stop)
        if self._data_dir_lock is not None:
            self._data_dir_lock.close()
            self._data_dir_lock = None

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def _reset_service_caches() -> None:
        from facesvg.service import composition

        composition.reset_caches()

    # -- use --------------------------------------------------------------------------------

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        return self.functions[function].invoke(event)

    @property
    def api_url(self) -> str:
        assert self.api is not None
        return self.api.url

    @property
    def swagger_url(self) -> str:
        return self.api_url + names.SWAGGER_PATH

    @property
    def metrics_url(self) -> str | None:
        return self.exporter.url if self.exporter is not None else None

    def webhook_secret(self) -> str:
        """The local stack's webhook signing secret (for ``facesvg webhook-listen``)."""
        assert self.resources is not None
        from facesvg.local.resources import local_secret

        return local_secret(self.endpoint, self.resources.webhook_secret_id)

    @property
    def endpoint(self) -> str:
        """DynamoDB and SQS (``AWS_ENDPOINT_URL``)."""
        return self.moto.endpoint

    @property
    def s3_endpoint(self) -> str:
        """S3 (``AWS_ENDPOINT_URL_S3``)."""
        return self.moto_s3.endpoint


class DataDirInUseError(RuntimeError):
    """Another running stack keeps its state in this data directory."""


def clear_data_dir(data_dir: Path) -> None:
    """Remove the stack's state from ``data_dir`` (its journals and blobs; nothing else)."""
    from facesvg.local.persist import BLOBS

    for name in (AWS_JOURNAL, S3_JOURNAL):
        for suffix in ("", "-wal", "-shm"):
            (data_dir / f"{name}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(data_dir / BLOBS, ignore_errors=True)
    (data_dir / WEBHOOK_SECRET_FILE).unlink(missing_ok=True)


def kept_webhook_secret(data_dir: Path) -> str:
    """The webhook signing secret of the stack that keeps its state in ``data_dir``: the same after
    a restart (a receiver started before it, e.g. ``facesvg webhook-listen``, still verifies the
    deliveries; restored ones included). Created on first use, readable by the owner only."""
    import secrets

    path = data_dir / WEBHOOK_SECRET_FILE
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept
    kept = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(kept)
    os.replace(tmp, path)
    return kept


def environment_summary() -> dict[str, str | None]:
    keys = (
        names.ENV_ENDPOINT_URL,
        names.ENV_ENDPOINT_URL_S3,
        names.ENV_BUCKET,
        names.ENV_TABLE,
        names.ENV_QUEUE_URL,
    )
    return {k: os.environ.get(k) for k in keys}
