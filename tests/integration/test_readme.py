"""Every shell block of the README runs verbatim against a live local stack on ports that are not
the defaults, stops at its first failing command with the error shown, and writes nothing outside
``out/``; the stack prints its addresses whole.

The stack is a real ``facesvg run`` (what ``make run`` starts) on free ports in a scratch directory
holding links to this checkout's ``.venv`` and ``samples`` (so parallel test runs and a ``make run``
of your own do not collide). Each block runs as pasted (``bash -c``, the block's own ``set -e``),
unchanged: it finds the stack through ``facesvg endpoints``. Blocks marked ``<!-- readme-test:
needs AWS … -->`` or ``needs Docker`` are skipped, and the one marked ``the stack`` is what this
test starts itself.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from facesvg import names
from local_process import StackProcess, clean_environment, free_ports

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_BLOCK_OUTPUT = 4000  # characters: the README's jq filters keep answers short
BLOCK_TIMEOUT_S = 180


def shell_blocks(text: str) -> list[tuple[int, str, str]]:
    """(line, marker, code) of every ```bash block; marker is the ``readme-test:`` comment right
    above it, if any."""
    out = []
    for m in re.finditer(r"^```(?:bash|sh|shell)\n(.*?)^```", text, flags=re.M | re.S):
        before = text[: m.start()].rstrip().splitlines()
        marker = before[-1] if before and "readme-test:" in before[-1] else ""
        out.append((text[: m.start()].count("\n") + 1, marker, m.group(1)))
    return out


def _skipped(marker: str) -> bool:
    return any(reason in marker for reason in ("needs AWS", "needs Docker", "the stack"))


BLOCKS = shell_blocks(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("readme")
    for name in (".venv", "samples"):
        (d / name).symlink_to(ROOT / name)
    return d


@pytest.fixture(scope="module")
def stack(scratch: Path) -> Iterator[StackProcess]:
    # something on a port the metrics exporter wants: the stack must take another and say which
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    proc = StackProcess(
        Path(names.LOCAL_DATA_DIR),
        free_ports(3),
        "--metrics-port",
        str(taken.getsockname()[1]),
        cwd=scratch,
        env={"COLUMNS": "40"},  # a narrow terminal must not cut an address either
    )
    try:
        proc.start()
        yield proc
    finally:
        taken.close()
        proc.kill()


RUNNABLE = [b for b in BLOCKS if not _skipped(b[1])]
SCRATCH_LINKS = {".venv", "samples", names.LOCAL_DATA_DIR, "out"}  # all a block may leave behind


def test_the_readme_has_runnable_blocks() -> None:
    assert len(RUNNABLE) >= 3
    assert all(" facesvg " not in f" {code}" for _, _, code in BLOCKS), "call .venv/bin/facesvg"
    for line, _, code in RUNNABLE:  # each stops at its first failing command, pasted or not
        assert code.startswith("(set -euo pipefail"), f"README.md:{line}: start with (set -euo pipefail"
        assert "127.0.0.1:300" not in code, f"README.md:{line}: a fixed port (use facesvg endpoints)"
    assert (
        "payload.json" in (ROOT / ".gitignore").read_text()
        and ".facesvg/" in (ROOT / ".gitignore").read_text()
    )


@pytest.mark.parametrize("line,marker,code", BLOCKS, ids=[f"README.md:{b[0]}" for b in BLOCKS])
def test_readme_block_runs_as_written(
    stack: StackProcess, scratch: Path, line: int, marker: str, code: str
) -> None:
    if _skipped(marker):
        pytest.skip(marker.strip("<!-> "))
    for tool in ("curl", "jq"):
        if re.search(rf"\b{tool}\b", code) and shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (a README prerequisite)")

    assert stack.ports[0] != names.LOCAL_API_PORT  # the blocks must find the stack by themselves
    done = subprocess.run(
        ["bash", "-c", code],
        cwd=scratch,
        # a fresh shell: none of the session stack's AWS_* / FACESVG_* variables this process holds
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )

    assert done.returncode == 0, f"README.md:{line} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert len(done.stdout) <= MAX_BLOCK_OUTPUT, f"README.md:{line} printed {len(done.stdout)} characters"
    assert "null" not in done.stdout.split(), done.stdout
    left = {p.name for p in scratch.iterdir()} - SCRATCH_LINKS
    assert not left, f"README.md:{line} wrote outside out/: {sorted(left)}"


@pytest.mark.parametrize("line,marker,code", RUNNABLE, ids=[f"README.md:{b[0]}" for b in RUNNABLE])
def test_a_block_without_a_stack_stops_at_once_saying_why(
    tmp_path: Path, line: int, marker: str, code: str
) -> None:
    if "endpoints" not in code and "submit" not in code and "drop" not in code:
        pytest.skip("needs no stack")
    for name in (".venv", "samples"):
        (tmp_path / name).symlink_to(ROOT / name)
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", code],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    assert done.returncode != 0, f"README.md:{line} went on without a stack:\n{done.stdout}"
    assert time.monotonic() - started < 60, f"README.md:{line} hung before failing"
    assert "error" in done.stderr.lower(), f"README.md:{line}: no visible error:\n{done.stderr}"


def test_addresses_are_printed_whole(stack: StackProcess, scratch: Path) -> None:
    api, aws, s3 = stack.ports
    out = stack.output
    for address in (
        f"http://127.0.0.1:{api}/docs",
        f"http://127.0.0.1:{api}/redoc",
        f"http://127.0.0.1:{api}/openapi.json",
        f"http://127.0.0.1:{aws}",
        f"http://127.0.0.1:{s3}",
        f"s3://{names.BUCKET_NAME}/{names.PREFIX_INCOMING}<name>/",
        f"ID=$(curl -sS --fail-with-body -X POST http://127.0.0.1:{api}/api/v1/submit "
        "-H 'content-type: application/json' -d @out/payload.json | jq -r .job_id)",
    ):
        assert address in out, f"{address!r} not printed whole:\n{out}"
    # the metrics port is printed even when the default one is taken
    assert re.search(r"metrics \(Prometheus\)\s+http://127\.0\.0\.1:\d+/metrics", out), out
    # the hints call the CLI by a path that works from here (not a bare `facesvg`)
    assert "  facesvg " not in out

    # `facesvg payload` names the port actually serving
    hint = subprocess.run(
        [".venv/bin/facesvg", "payload", "-o", "out/payload-hint.json"],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"http://127.0.0.1:{api}/api/v1/submit" in hint.stderr


def test_ctrl_c_after_the_readme(stack: StackProcess) -> None:
    assert stack.stop(signal.SIGINT) <= 2.0
    assert not (Path(stack.cwd or ".") / names.LOCAL_DATA_DIR / names.LOCAL_ENDPOINTS_FILE).exists()
    assert os.path.isdir(Path(stack.cwd or ".") / names.LOCAL_DATA_DIR)
