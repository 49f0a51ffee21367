"""Running ``functions/<name>/handler.py`` in-process the way Lambda runs it.

Each *execution environment* is its own copy of the handler module (loaded by file path under a
unique module name: every function folder has a ``handler.py``), used by one invocation at a time,
as in Lambda: module-level state such as a resolver's current event or a ``BatchProcessor`` is
never shared between concurrent invocations. A new environment is created (a cold start) when all
existing ones are busy.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import facesvg

FUNCTION_NAMES = ("submit", "status", "process", "ingest")


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
