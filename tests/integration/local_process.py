"""`facesvg run` as a user runs it: a real process (and its children) on ports of the test's choosing,
started, stopped with Ctrl-C (SIGINT) or SIGKILL, and started again on the same data directory."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from facesvg.commands.run import port_free  # as the stack checks its own ports

START_TIMEOUT_S = 90.0


def clean_environment() -> dict[str, str]:
    """This environment without what the session's in-process stack exported into it (endpoints,
    resource names, LOAD_TEST_MODE…): a process started with it is what a fresh shell starts."""
    dropped = ("AWS_", "FACESVG_", "POWERTOOLS_", "LOAD_TEST_MODE", "ARTIFICIAL_DELAY_SECONDS")
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


_PICK = random.SystemRandom()  # not the seeded ``random``: two test processes must not pick alike


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(n: int) -> list[int]:
    """``n`` free ports below the kernel's ephemeral range: a port the kernel handed out for port 0
    could be handed out again, to an outgoing connection or another server, before the stack binds
    it; ports below that range are only ever taken by name."""
    low = max(_ephemeral_low(), 12000)
    ports: list[int] = []
    while len(ports) < n:
        port = _PICK.randrange(10000, low)
        if port not in ports and port_free(port):
            ports.append(port)
    return ports


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc)."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += [int(child), *children(int(child))]
    except OSError:
        pass
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class StackProcess:
    """One ``facesvg run --no-sample`` process serving on fixed ports with a data directory."""

    def __init__(
        self,
        data_dir: Path,
        ports: list[int],
        *extra: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir, self.ports, self.extra, self.cwd = data_dir, ports, extra, cwd
        self.env = env or {}
        self.port_flags = True  # False: start without --port/--aws-port/--s3-port (the remembered ones)
        self.proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self.lines: list[str] = []
        self.pids: list[int] = []

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def start(self, check: bool = True) -> StackProcess:
        api, aws, s3 = self.ports
        deadline = time.monotonic() + 30
        while check and not all(port_free(p) for p in self.ports):  # the previous stack's sockets closing
            assert time.monotonic() < deadline, f"ports {self.ports} still taken"
            time.sleep(0.1)
        self.lines = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facesvg.cli",
                "run",
                "--no-sample",
                *(
                    ["--port", str(api), "--aws-port", str(aws), "--s3-port", str(s3)]
                    if self.port_flags
                    else []
                ),
                "--metrics-port",
                "0",
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "WARNING",
                *self.extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.cwd,
            env={**clean_environment(), "PYTHONUNBUFFERED": "1", **self.env},
        )
        ready = threading.Event()
        self._reader = threading.Thread(
            target=self._read, args=(ready,), name="test-stack-output", daemon=True
        )
        self._reader.start()
        assert ready.wait(START_TIMEOUT_S), "the stack did not start:\n" + "".join(self.lines)
        if check:
            assert self.proc.poll() is None, "".join(self.lines)
        self.pids = children(self.proc.pid)
        return self

    def _read(self, ready: threading.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("serving;"):
                ready.set()
        ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 30.0) -> float:
        """Send ``sig``; the seconds until the process and every process it started are gone."""
        assert self.proc is not None
        pids = [self.proc.pid, *children(self.proc.pid)]
        started = time.monotonic()
        self.proc.send_signal(sig)
        self.proc.wait(timeout=timeout_s)
        while any(alive(p) for p in pids[1:]):
            assert time.monotonic() - started < timeout_s, "a child process outlived the stack"
            time.sleep(0.02)
        took = time.monotonic() - started
        if self._reader is not None:
            self._reader.join(timeout=10)
        return took

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop(signal.SIGKILL)
        if self._reader is not None:
            self._reader.join(timeout=10)


def wait_status(
    client: httpx.Client, job_id: str, statuses: set[str], timeout_s: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        doc: dict[str, Any] = client.get(f"/api/v1/status/{job_id}").json()
        if doc.get("status") in statuses or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)
