"""Where the functions' EMF records go locally: one JSON datagram per record to the runtime's
Prometheus exporter (``facesvg.local.prometheus``), the way the CloudWatch agent takes EMF on
``udp://127.0.0.1:25888``. In Lambda nothing sets a transport and the records go to stdout.

The runtime sets ``FACESVG_EMF_ENDPOINT=udp://127.0.0.1:<port>`` for the functions and calls
``install_from_environment()`` in its own process; the process workers (``facesvg.local.worker``)
inherit the variable and call it too. The variable is read per record: without it, stdout.
"""

from __future__ import annotations

import os
import socket
import threading
from contextlib import suppress

from facesvg import names
from facesvg.service import observability


class EnvironmentTransport:
    """A transport for ``observability.set_emf_transport``: each record as one datagram to
    ``FACESVG_EMF_ENDPOINT`` (read per record), or to stdout when it is not a UDP endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socket: tuple[str, socket.socket] | None = None

    def __call__(self, text: str) -> None:
        endpoint = os.environ.get(names.ENV_EMF_ENDPOINT, "")
        if not endpoint.startswith("udp://"):
            print(text)
            return
        with self._lock:
            if self._socket is None or self._socket[0] != endpoint:
                host, _, port = endpoint.removeprefix("udp://").rpartition(":")
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.connect((host, int(port)))
                self._socket = (endpoint, sock)
            sock = self._socket[1]
        with suppress(OSError):  # the exporter is gone (runtime stopping): metrics are best effort
            sock.send(text.encode())


def install_from_environment() -> bool:
    """Route this process's EMF records through ``FACESVG_EMF_ENDPOINT``; True when it is set."""
    observability.set_emf_transport(EnvironmentTransport())
    return os.environ.get(names.ENV_EMF_ENDPOINT, "").startswith("udp://")
