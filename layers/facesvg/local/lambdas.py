"""Running ``functions/<name>/handler.py`` in-process the way Lambda runs it.

Each *execution environment* is its own copy of the handler module (loaded by file path under a
unique module name: every function folder has a ``handler.py``), used by one invocation at a time,
as in Lambda: module-level state such as the API's resolver is never shared between concurrent
invocations. A new environment is created (a cold start) when all existing ones are busy.

Nor does it isolate the logger: every handler logs through the one ``facesvg.service.observability``
logger, whose formatter keeps its keys (``correlation_id``, ``function_request_id``…) in one dict,
so a drop-folder or worker line carried the correlation id of an earlier API request.
``isolate_log_keys`` gives each invocation its own copy of those keys (a context variable), starting
from the logger's defaults, as a fresh Lambda invocation would.

One more thing a module copy does not isolate: Powertools keeps a resolver's current event on the
``BaseRouter`` *class*, shared by every resolver in the process. Lambda runs one invocation per
process; here many run at once, and a route then read another request's body (a submit answered
with another job). ``pin_current_event`` makes each environment's resolver keep its event on the
instance, which every read (``app.current_event``) sees first.

Both hook into Powertools internals (the resolver's ``_to_proxy_event``, the formatter's
``log_format`` dict), pinned by uv.lock: when one is gone they raise ``FrameworkHookMissing`` naming
it, never run unisolated (tests/unit/service/test_framework_hooks.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import itertools
import json
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import facesvg

FUNCTION_NAMES = ("submit", "status", "process", "ingest", "notify")


class FrameworkHookMissing(RuntimeError):
    """A Powertools internal the local runtime hooks into is gone (another version than uv.lock's)."""

    def __init__(self, hook: str) -> None:
        super().__init__(
            f"Powertools hook {hook} is gone: facesvg.local.lambdas needs updating for this "
            "aws-lambda-powertools, or keep the version uv.lock pins"
        )
        self.hook = hook


def pin_current_event(app: Any) -> Any:
    """Make an API resolver set its current event and context on itself before resolving, so
    concurrent invocations in this process never share them (returns ``app``; anything that is not a
    resolver is returned untouched)."""
    resolve = getattr(app, "resolve", None)
    if resolve is None:
        return app
    to_proxy_event = getattr(app, "_to_proxy_event", None)
    if to_proxy_event is None:
        raise FrameworkHookMissing(f"{type(app).__name__}._to_proxy_event")

    def resolve_pinned(event: dict[str, Any], context: Any) -> Any:
        app.current_event = to_proxy_event(event)
        app.lambda_context = context
        return resolve(event, context)

    app.resolve = resolve_pinned
    return app


_invocation_log_keys: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "facesvg_local_log_keys", default=None
)


def isolate_log_keys(logger: Any) -> None:
    """Make ``logger``'s formatter read and write its keys per invocation (see the module); outside
    an invocation it uses its own dict, as before. Idempotent."""
    formatter = getattr(logger, "registered_formatter", None)
    if formatter is None or getattr(type(formatter), "_facesvg_isolated", False):
        return
    if not isinstance(formatter.__dict__.get("log_format"), dict):
        raise FrameworkHookMissing(f"{type(formatter).__name__}.log_format")
    base = type(formatter)

    def get(self: Any) -> dict[str, Any]:
        keys = _invocation_log_keys.get()
        return keys if keys is not None else self.__dict__["log_format"]

    def set_(self: Any, value: dict[str, Any]) -> None:
        if _invocation_log_keys.get() is not None:
            _invocation_log_keys.set(value)
        else:
            self.__dict__["log_format"] = value

    isolated = type(base.__name__, (base,), {"log_format": property(get, set_), "_facesvg_isolated": True})
    formatter.__class__ = isolated


@contextlib.contextmanager
def invocation_log_keys(logger: Any) -> Iterator[None]:
    """One invocation's own copy of the logger's keys, from the keys it has outside invocations."""
    formatter = getattr(logger, "registered_formatter", None)
    if formatter is None:
        yield
        return
    isolate_log_keys(logger)
    token = _invocation_log_keys.set(dict(formatter.__dict__["log_format"]))
    try:
        yield
    finally:
        _invocation_log_keys.reset(token)


def functions_dir() -> Path:
    """``functions/`` at the repository root (the package is installed from ``layers/``)."""
    return Path(facesvg.__file__).resolve().parents[2] / "functions"


@dataclass
class LocalContext:
    """The attributes of a Lambda context object that Powertools and handlers read."""

    function_name: str
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


class LocalFunction:
    """One function: a pool of execution environments of its handler module."""

    _serial = itertools.count()

    def __init__(self, name: str, directory: Path | None = None, timeout_seconds: float = 30.0) -> None:
        self.name = name
        self.path = (directory or functions_dir()) / name / "handler.py"
        if not self.path.is_file():
            raise FileNotFoundError(self.path)
        self.timeout_seconds = timeout_seconds
        self._idle: list[ModuleType] = []
        self._lock = threading.Lock()
        self.cold_starts = 0
        self.invocations = 0

    def _load(self) -> ModuleType:
        module_name = f"facesvg_local_fn_{self.name}_{next(self._serial)}"
        spec = importlib.util.spec_from_file_location(module_name, self.path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {self.path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        pin_current_event(getattr(module, "app", None))
        return module

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            env = self._idle.pop() if self._idle else None
            self.invocations += 1
            if env is None:
                self.cold_starts += 1
        if env is None:
            env = self._load()
        try:
            context = LocalContext(function_name=f"facesvg-{self.name}", timeout_seconds=self.timeout_seconds)
            with invocation_log_keys(_service_logger()):
                return env.lambda_handler(event, context)
        finally:
            with self._lock:
                self._idle.append(env)

    def warm(self) -> None:
        """Create one environment ahead of the first request (imports, app construction)."""
        env = self._load()
        with self._lock:
            self._idle.append(env)


def _service_logger() -> Any:
    from facesvg.service.observability import logger

    return logger


# --- execution environments in their own process -------------------------------------------------


class RemoteFunctionError(Exception):
    """An invocation in a worker process raised; ``kind`` is the exception's type name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class WorkerCrashed(RuntimeError):
    """The worker process died during an invocation (killed, out of memory, a native crash): the
    invocation has no answer, as when a Lambda execution environment dies mid-invocation. The
    process has been replaced by a fresh one by the time this is raised (``replaced``)."""

    def __init__(self, name: str, exit_code: int | None, replaced: bool, stopping: bool = False) -> None:
        super().__init__(f"the {name} worker process died (exit {exit_code})")
        self.exit_code = exit_code
        self.replaced = replaced
        self.stopping = stopping  # stopped by the stack's shutdown (Ctrl-C), not a crash


class FunctionTimedOut(WorkerCrashed):
    """The invocation outlived the function's timeout: the worker process was killed and replaced,
    as Lambda ends an invocation at its timeout ("Task timed out after … seconds") and discards the
    environment. The event source treats it like a death: an SQS batch is neither deleted nor
    failed, and comes back when its visibility timeout ends."""

    def __init__(self, name: str, timeout_seconds: float, replaced: bool) -> None:
        RuntimeError.__init__(self, f"the {name} function timed out after {timeout_seconds:.2f} seconds")
        self.exit_code = None
        self.replaced = replaced


class ProcessFunction:
    """One execution environment of a function in its own worker process (``facesvg.local.worker``).

    Like a Lambda execution environment it handles one event at a time, takes the event as JSON
    and answers JSON, and has its own interpreter: a CPU-heavy function (the renderer) does not
    compete for this process's GIL with the API, the event sources and moto's server. The worker
    inherits this process's environment (endpoint, resource names, credentials).

    Supervised: a worker process that dies (SIGKILL, OOM, a crash in native code) is replaced by a
    fresh one (a cold start), as Lambda replaces a dead execution environment. A death during an
    invocation raises ``WorkerCrashed`` after the replacement is up; a death while idle is noticed
    and repaired before the next event is sent. ``restarts`` counts the replacements. An invocation
    still running at the function's timeout is ended the same way (``FunctionTimedOut``): a render
    that hangs holds its worker for at most the timeout, as in Lambda.
    """

    def __init__(
        self,
        name: str,
        directory: Path | None = None,
        timeout_seconds: float = 300.0,
        preload: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.timeout_seconds = timeout_seconds
        self._argv = [
            sys.executable,
            "-m",
            "facesvg.local.worker",
            name,
            str(directory or functions_dir()),
            str(timeout_seconds),
            *preload,
        ]
        self._lock = threading.Lock()
        self._stopped = False
        self.restarts = 0
        self._proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[str]:
        return subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    @property
    def pid(self) -> int:
        """The current worker process (a replacement has a new one)."""
        return self._proc.pid

    def wait_ready(self) -> None:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError(f"the {self.name} worker process did not start (exit {self._proc.poll()})")

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"the {self.name} worker is stopped")
            if self._proc.poll() is not None:  # died while idle: nothing was lost, replace it first
                exit_code = self._proc.returncode
                if not self._try_replace():
                    raise WorkerCrashed(self.name, exit_code, replaced=False)
            proc = self._proc
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps(event) + "\n")
                proc.stdin.flush()
                line = self._answer(proc)
            except (OSError, ValueError):  # broken pipe: it died before or while reading the event
                line = ""
            if line is None:
                from facesvg.service.observability import logger

                logger.warning(
                    f"Task timed out after {self.timeout_seconds:.2f} seconds",
                    extra={"function": self.name, "pid": proc.pid},
                )
                _reap(proc, kill=True)
                replaced = not self._stopped and self._try_replace()
                raise FunctionTimedOut(self.name, self.timeout_seconds, replaced)
            if not line:
                exit_code = _reap(proc)
                if self._stopped:  # stop() ended it mid-invocation: a shutdown, not a crash
                    raise WorkerCrashed(self.name, exit_code, replaced=False, stopping=True)
                raise WorkerCrashed(self.name, exit_code, replaced=self._try_replace())
        answer = json.loads(line)
        if "error" in answer:
            raise RemoteFunctionError(*answer["error"])
        return answer["ok"]

    def _answer(self, proc: subprocess.Popen[str]) -> str | None:
        """The worker's answer line ("" when it died), or None at the function's timeout. The pipe
        holds nothing before the answer (one line per event), so waiting on its descriptor is
        exact."""
        assert proc.stdout is not None
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                return proc.stdout.readline()

    def _try_replace(self) -> bool:
        """Replace the dead process; False (logged) when the new one would not start: the next
        invocation tries again."""
        try:
            self._replace()
        except Exception:
            from facesvg.service.observability import logger

            logger.exception("could not start a replacement worker process", extra={"function": self.name})
            return False
        return True

    def _replace(self) -> None:
        """A fresh worker process in place of the dead one (called with the lock held)."""
        old, self._proc = self._proc, self._spawn()
        _close_pipes(old)
        self.restarts += 1
        try:
            self.wait_ready()
        except Exception:
            _reap(self._proc, kill=True)  # the next invoke finds it dead and tries again
            raise
        if self._stopped:  # stop() ran meanwhile: do not leave the replacement behind
            _reap(self._proc, kill=True)

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the worker: an invocation in progress may finish for up to ``timeout_s`` (the event
        sources are stopped before this), then the process is killed (``facesvg run`` passes 0.5 s:
        the job it was rendering is picked up again by the next start)."""
        self._stopped = True
        locked = self._lock.acquire(timeout=timeout_s)
        try:
            proc = self._proc
            if proc.stdin is not None:
                with contextlib.suppress(OSError, ValueError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=min(timeout_s, 10))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            _close_pipes(proc)
        finally:
            if locked:
                self._lock.release()


def _reap(proc: subprocess.Popen[str], kill: bool = False) -> int | None:
    """Wait for a process whose stdout ended (it is exiting); kill it if it lingers."""
    if kill:
        proc.kill()
    try:
        return proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _close_pipes(proc: subprocess.Popen[str]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError, ValueError):
                pipe.close()
