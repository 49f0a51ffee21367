"""Where the functions' EMF records go locally: one JSON datagram per record to the runtime's
Prometheus exporter (``facesvg.local.prometheus``), the way the CloudWatch agent takes EMF on
``udp://127.0.0.1:25888``. In Lambda nothing sets a transport and the records go to stdout.

The runtime sets ``FACESVG_EMF_ENDPOINT=udp://127.0.0.1:<port>`` for the functions and calls
``install_from_environment()`` in its own process; the process workers (``facesvg.local.worker``)
inherit the variable and call it too.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from contextlib import suppress

from facesvg import names
from facesvg.service import observability


def udp_transport(endpoint: str) -> Callable[[str], None]:
    """A transport for ``observability.set_emf_transport``: each record as one datagram."""
    host, _, port = endpoint.removeprefix("udp://").rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((host, int(port)))
    lock = threading.Lock()

    def send(text: str) -> None:
        with lock, suppress(OSError):  # the exporter is gone (runtime stopping): best effort
            sock.send(text.encode())

    return send


def install_from_environment() -> bool:
    """Send this process's EMF records to ``FACESVG_EMF_ENDPOINT`` when it is a UDP endpoint."""
    endpoint = os.environ.get(names.ENV_EMF_ENDPOINT, "")
    if not endpoint.startswith("udp://"):
        observability.set_emf_transport(None)
        return False
    observability.set_emf_transport(udp_transport(endpoint))
    return True
