"""moto's server on loopback and the local stack's boto3 clients (the resources on it:
``facesvg.local.resources``)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from facesvg.local import moto_patches
from facesvg.local.persist import DataDirError

LOCAL_REGION = "us-east-1"
# moto accepts any credentials; these make sure nothing local ever signs with real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class MotoServer:
    """``ThreadedMotoServer`` bound to 127.0.0.1 (a free port unless one is given).

    By default it runs in a process of its own (``python -m facesvg.local.aws``): moto parses and
    hashes every S3 body in Python, and sharing a GIL with the API and the event sources made the
    emulator, not the service, the bottleneck (a job's ~17 result objects). ``in_process=True``
    keeps it in this process (one interpreter, e.g. under a debugger).
    """

    def __init__(
        self,
        port: int | None = None,
        in_process: bool = False,
        speedups: bool | None = None,
        data_dir: Path | None = None,
        journal: str = "",
        role: str = "moto",
        s3_auth: bool = False,
    ) -> None:
        self.requested_port = port or 0  # 0: the server binds any free port and reports it
        self.port = self.requested_port
        self.in_process = in_process
        # With a data directory the server journals its state there and restores it on start
        # (facesvg.local.persist); None keeps everything in memory, as moto does.
        self.data_dir = data_dir
        self.journal = journal
        self.role = role  # named in errors ("S3", "DynamoDB and SQS")
        # moto_patches' speed-only patches: None = the FACESVG_MOTO_SPEEDUPS environment variable
        self.speedups = moto_patches.speedups_requested() if speedups is None else speedups
        # SigV4 checks in front of moto (s3_auth.py): signatures, presigned URL expiry, no anonymity
        self.s3_auth = s3_auth
        self._server: Any = None
        self._proc: subprocess.Popen[str] | None = None
        # What the start could not restore from the journal (lines to show), and the objects whose
        # stored bytes failed verification: (bucket, key, why).
        self.restore_problems: list[str] = []
        self.damaged_objects: list[tuple[str, str, str]] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        if self.requested_port:
            _check_free(self.requested_port, self.role)  # an error, not a hang in moto's start()
        journal = [str(self.data_dir / self.journal)] if self.data_dir is not None and self.journal else []
        if self.in_process:
            self.port = self.requested_port or free_port()
            self._server = _threaded_server(self.port, self.speedups, *journal)
            self.restore_problems = list(self._server.restore_problems)
            self.damaged_objects = list(self._server.damaged_objects)
            self._server.start()
            if self.s3_auth:
                _require_signatures(self._server)
            return
        self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "facesvg.local.aws",
                str(self.requested_port),
                *(["--s3-auth"] if self.s3_auth else []),
                *[f"--journal={path}" for path in journal],
            ],
            env={**os.environ, moto_patches.SPEEDUPS_ENV: "1" if self.speedups else "0"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout_s)
        line = self._proc.stdout.readline() if ready else ""
        # What the restore could not do comes first, all at once, then "ready" (or "error").
        while line.startswith(("problem ", "damaged ")):
            kind, _, doc = line.partition(" ")
            if kind == "problem":
                self.restore_problems.append(str(json.loads(doc)))
            else:
                bucket, key, why = json.loads(doc)
                self.damaged_objects.append((str(bucket), str(key), str(why)))
            line = self._proc.stdout.readline()
        if line.startswith("error "):
            self.stop()
            raise DataDirError(line[len("error ") :].strip())
        if not line.startswith("ready "):
            exit_code = self._proc.poll()
            self.stop()
            raise RuntimeError(f"moto's server did not start (exit {exit_code})")
        self.port = int(line.split()[1])

    def stop(self, timeout_s: float = 1.5) -> None:
        """Stop the server; the process exits as soon as its stdin closes (every write it answered
        is already in the journal), and is killed if it has not within ``timeout_s``."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the server process exits when its stdin closes
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _threaded_server(port: int, speedups: bool | None = None, journal_path: str | None = None) -> Any:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    moto_patches.apply(speedups)
    # werkzeug logs every request moto serves; keep that out of the console.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    journal = None
    problems: list[str] = []
    damaged: list[tuple[str, str, str]] = []
    if journal_path is not None:
        from facesvg.local.persist import Journal
        from facesvg.local.restore import restore_s3

        path = Path(journal_path)
        journal = Journal(path.parent, path.name)
        problems = journal.problems
        damaged = restore_s3(journal, LOCAL_REGION)  # before the first request (none on DynamoDB/SQS's)

    class Server(ThreadedMotoServer):
        """moto's threaded server, its app wrapped in the journal when there is a data directory."""

        journal: Any = None
        restore_problems: list[str]
        damaged_objects: list[tuple[str, str, str]]

        def _server_entry(self) -> None:
            from facesvg.local.journal_middleware import JournalMiddleware

            app: Any = DomainDispatcherApplication(create_backend_app)
            if self.journal is not None:
                app = JournalMiddleware(app, self.journal)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    server = Server(ip_address="127.0.0.1", port=port, verbose=False)
    server.journal = journal
    server.restore_problems = problems  # what the journal could not restore (said at start)
    server.damaged_objects = damaged
    return server


def _require_signatures(server: Any) -> None:
    """Put ``s3_auth.authenticate`` in front of a started ``ThreadedMotoServer``'s app (werkzeug's
    request handler reads ``server.app`` for every request): a request is checked before the
    journal (``journal_middleware.JournalMiddleware``) records anything."""
    from facesvg.local.s3_auth import authenticate

    wsgi = server._server  # moto keeps its werkzeug server there (test_integration_local checks)
    wsgi.app = authenticate(wsgi.app)


class PortInUseError(OSError):
    """A fixed local port is taken (another stack, or another program)."""


def _check_free(port: int, role: str = "moto") -> None:
    try:
        _bind_once(port)
    except OSError as exc:
        raise PortInUseError(
            exc.errno, f"port {port} ({role}) is in use: another `facesvg run`, or another program"
        ) from exc


def port_free(port: int) -> bool:
    """Whether the servers could bind ``port`` on 127.0.0.1 now."""
    try:
        _bind_once(port)
    except OSError:
        return False
    return True


def _bind_once(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as the servers bind: a port in TIME_WAIT after a restart is free, a listening one is not
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def serve(port: int, s3_auth: bool = False, journal_path: str | None = None) -> int:
    """The server process: serve until stdin closes (the parent stopped, or died). Port 0 binds
    any free port; the last line of its start on stdout is ``ready <port>`` (or ``error <why>``
    for an unusable data directory), after a ``problem <json>`` / ``damaged <json>`` line per thing
    the restore could not do. With a journal the state is restored before that line and every
    write is journaled before it is answered; when stdin closes the journal is checkpointed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group; the parent stops us
    try:
        server = _threaded_server(port, None, journal_path)
    except DataDirError as exc:  # one line for the parent to show, no traceback
        print(f"error {exc}", flush=True)
        return 2
    server.start()
    if s3_auth:
        _require_signatures(server)
    for problem in server.restore_problems:  # before "ready": the parent collects them
        print("problem " + json.dumps(problem), flush=True)
    for damaged in server.damaged_objects:
        print("damaged " + json.dumps(damaged), flush=True)
    print(f"ready {server.get_host_and_port()[1]}", flush=True)
    sys.stdin.read()
    if server.journal is not None:
        server.journal.lock.acquire()  # no write is half-recorded when we go
        with contextlib.suppress(Exception):  # a clean stop: the state moves into the database file
            server.journal.checkpoint()
    os._exit(0)


def local_session() -> Any:
    """A boto3 session with the local credentials and region (never the machine's own)."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=LOCAL_REGION,
    )


def local_clients(endpoint: str, s3_endpoint: str | None = None) -> dict[str, Any]:
    """boto3 clients for the local stack: ``s3``, ``sqs``, ``dynamodb``, and ``s3_events`` (SQS on
    the S3 server, where the bucket's notifications are queued)."""
    session = local_session()
    s3_endpoint = s3_endpoint or endpoint
    return {
        "s3": session.client("s3", endpoint_url=s3_endpoint),
        "sqs": session.client("sqs", endpoint_url=endpoint),
        "dynamodb": session.client("dynamodb", endpoint_url=endpoint),
        "s3_events": session.client("sqs", endpoint_url=s3_endpoint),
    }


def apply_environment(env: dict[str, str]) -> None:
    """Set the functions' environment in this process (the handlers run in-process)."""
    os.environ.update(env)


if __name__ == "__main__":
    journal_arg = next((a.split("=", 1)[1] for a in sys.argv[2:] if a.startswith("--journal=")), None)
    sys.exit(serve(int(sys.argv[1]), s3_auth="--s3-auth" in sys.argv[2:], journal_path=journal_arg))
