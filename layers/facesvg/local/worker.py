"""A function's execution environment in its own process: JSON events in on stdin, one JSON answer
line per event on stdout (``{"ok": result}`` or ``{"error": [type, message]}``); logs on stderr.

    python -m facesvg.local.worker <function> <functions dir> <timeout s> [module to preload ...]

Started by ``facesvg.local.lambdas.ProcessFunction``; not meant to be run by hand.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
from pathlib import Path

from facesvg.local.emf import install_from_environment
from facesvg.local.lambdas import LocalFunction


def main(argv: list[str]) -> int:
    name, directory, timeout, *preload = argv
    # Ctrl-C goes to the whole process group: the parent stops us by closing stdin instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The protocol owns the real stdout; anything the code prints goes to stderr instead.
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    install_from_environment()  # EMF records to the runtime's exporter (FACESVG_EMF_ENDPOINT)
    function = LocalFunction(name, Path(directory), float(timeout))
    function.warm()
    for module in preload:  # what a cold start imports anyway, done before the first event
        importlib.import_module(module)
    protocol.write(json.dumps({"ready": True}) + "\n")

    for line in sys.stdin:
        try:
            answer = {"ok": function.invoke(json.loads(line))}
        except Exception as exc:
            answer = {"error": [type(exc).__name__, str(exc)]}
        protocol.write(json.dumps(answer, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
