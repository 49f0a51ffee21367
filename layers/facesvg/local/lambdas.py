"""Running ``functions/<name>/handler.py`` in-process the way Lambda runs it.

Each *execution environment* is its own copy of the handler module (loaded by file path under a
unique module name: every function folder has a ``handler.py``), used by one invocation at a time,
as in Lambda: module-level state such as a ``BatchProcessor`` is never shared between concurrent
invocations. A new environment is created (a cold start) when all existing ones are busy.

One thing a module copy does not isolate: Powertools keeps a resolver's current event on the
``BaseRouter`` *class*, shared by every resolver in the process. Lambda runs one invocation per
process; here many run at once, and a route then read another request's body (a submit answered
with another job). ``pin_current_event`` makes each environment's resolver keep its event on the
instance, which every read (``app.current_event``) sees first.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import facesvg

FUNCTION_NAMES = ("submit", "status", "process", "ingest", "notify")


def pin_current_event(app: Any) -> Any:
    """Make an API resolver set its current event and context on itself before resolving, so
    concurrent invocations in this process never share them (returns ``app``; anything that is not a
    resolver is returned untouched)."""
    resolve = getattr(app, "resolve", None)
    to_proxy_event = getattr(app, "_to_proxy_event", None)
    if resolve is None or to_proxy_event is None:
        return app

    def resolve_pinned(event: dict[str, Any], context: Any) -> Any:
        app.current_event = to_proxy_event(event)
        app.lambda_context = context
        return resolve(event, context)

    app.resolve = resolve_pinned
    return app


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
            return env.lambda_handler(event, context)
        finally:
            with self._lock:
                self._idle.append(env)

    def warm(self) -> None:
        """Create one environment ahead of the first request (imports, app construction)."""
        env = self._load()
        with self._lock:
            self._idle.append(env)


# --- execution environments in their own process -------------------------------------------------


class RemoteFunctionError(Exception):
    """An invocation in a worker process raised; ``kind`` is the exception's type name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class ProcessFunction:
    """One execution environment of a function in its own worker process (``facesvg.local.worker``).

    Like a Lambda execution environment it handles one event at a time, takes the event as JSON
    and answers JSON, and has its own interpreter: a CPU-heavy function (the renderer) does not
    compete for this process's GIL with the API, the event sources and moto's server. The worker
    inherits this process's environment (endpoint, resource names, credentials).
    """

    def __init__(
        self,
        name: str,
        directory: Path | None = None,
        timeout_seconds: float = 300.0,
        preload: tuple[str, ...] = (),
    ) -> None:
        import subprocess

        self.name = name
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "facesvg.local.worker",
                name,
                str(directory or functions_dir()),
                str(timeout_seconds),
                *preload,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def wait_ready(self) -> None:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError(f"the {self.name} worker process did not start (exit {self._proc.poll()})")

    def invoke(self, event: dict[str, Any]) -> Any:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with self._lock:
            self._proc.stdin.write(json.dumps(event) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker process died (exit {self._proc.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RemoteFunctionError(*answer["error"])
        return answer["ok"]

    def stop(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except Exception:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
