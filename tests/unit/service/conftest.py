"""Unit tests of the service: fakes only. Sockets are blocked so nothing reaches AWS (or moto) by
accident, and the functions' environment variables are cleared so settings are the defaults."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from facesvg import names

_ENV = [v for k, v in vars(names).items() if k.startswith("ENV_")]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def guard(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unit tests must not open network connections")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket, "create_connection", guard)
    for var in _ENV:
        monkeypatch.delenv(var, raising=False)
    yield
