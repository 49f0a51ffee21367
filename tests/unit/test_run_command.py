"""`facesvg run`'s choice of ports and the command it suggests when one is taken."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from facesvg import names
from facesvg.commands.run import chosen_ports, retry_command


def _args(**ports: int | None) -> argparse.Namespace:
    return argparse.Namespace(
        port=ports.get("port"), aws_port=ports.get("aws_port"), s3_port=ports.get("s3_port")
    )


def test_make_run_gets_the_make_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACESVG_VIA_MAKE", "run")
    ports = {"api": 3100, "aws": 3101, "s3": 3102}
    assert retry_command(ports, ["--port", "3000", "--once", "--s3-port=3002"]) == (
        'make run ARGS="--once --port 3100 --aws-port 3101 --s3-port 3102"'
    )


def test_the_cli_gets_its_own_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACESVG_VIA_MAKE", raising=False)
    monkeypatch.setenv("MAKELEVEL", "1")  # another target (make test) is not make run
    command = retry_command({"api": 3100, "aws": 3101, "s3": 3102}, ["--data-dir", "d"])
    assert command.endswith("facesvg run --data-dir d --port 3100 --aws-port 3101 --s3-port 3102")


def test_flags_override_the_remembered_ports_which_override_the_defaults(tmp_path: Path) -> None:
    assert chosen_ports(_args(), tmp_path) == {"api": 3000, "aws": 3001, "s3": 3002}
    (tmp_path / names.LOCAL_PORTS_FILE).write_text(json.dumps({"api": 4000, "aws": 4001, "s3": 4002}))
    assert chosen_ports(_args(), tmp_path) == {"api": 4000, "aws": 4001, "s3": 4002}
    assert chosen_ports(_args(port=5000), tmp_path) == {"api": 5000, "aws": 4001, "s3": 4002}
    assert chosen_ports(_args(), None) == {"api": 3000, "aws": 3001, "s3": 3002}  # --in-memory
    (tmp_path / names.LOCAL_PORTS_FILE).write_text('{"api": "x", "s3": 99999}')  # damaged: ignored
    assert chosen_ports(_args(), tmp_path) == {"api": 3000, "aws": 3001, "s3": 3002}
