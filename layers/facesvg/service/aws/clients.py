"""boto3 clients: one per service and process, built on first use.

Endpoints come from the standard ``AWS_ENDPOINT_URL`` (moto, LocalStack) or default to AWS. Building
a client costs tens of milliseconds; a function that never talks to SQS never builds that client,
and none is built while a handler module is imported (the cold start).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

from facesvg import names

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=64)
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))

_client_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """The process's client for ``service`` (region and endpoint from the environment).

    Clients are thread-safe once built; building them is not, hence the lock.
    """
    with _client_lock:
        if service not in _clients:
            session = boto3.session.Session()
            config = _S3_CONFIG if service == "s3" else _CONFIG
            if service == "s3" and _plain_http_endpoint(service):
                # Over plain HTTP (moto, LocalStack) SigV4 already hashes every body; the CRC32
                # that botocore adds on top costs each ~1 MB result object a second pass on both
                # ends. On AWS (HTTPS, unsigned payloads) the checksum stays on.
                config = config.merge(Config(request_checksum_calculation="when_required"))
            _clients[service] = session.client(service, config=config)  # type: ignore[call-overload]
        return _clients[service]


def forget_clients() -> None:
    with _client_lock:
        _clients.clear()


class LazyClient:
    """Stands in for ``client(service)`` and builds it at the first attribute access."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self.service), name)

    def __repr__(self) -> str:
        return f"LazyClient({self.service!r})"


def _plain_http_endpoint(service: str) -> bool:
    env = names.ENV_ENDPOINT_URL
    url = os.environ.get(f"{env}_{service.upper()}") or os.environ.get(env)
    return bool(url) and str(url).startswith("http://")
