"""`facesvg endpoints`: the addresses of the local stack serving from a data directory, read from
the ``endpoints.json`` that ``facesvg run`` keeps there while it serves. For scripts and the
README's blocks, whatever ports the stack is on::

    API=$(.venv/bin/facesvg endpoints api)     # fails, saying why, when no stack serves
    eval "$(.venv/bin/facesvg endpoints --export)"   # AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, FACESVG_API
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from facesvg import names
from facesvg.client.endpoints import read_endpoints

# name (its endpoints.json key) → the environment variable --export sets
ENDPOINTS = {
    "api": "FACESVG_API",
    "aws": names.ENV_ENDPOINT_URL,
    "s3": names.ENV_ENDPOINT_URL_S3,
    "metrics": "FACESVG_METRICS",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", nargs="?", choices=sorted(ENDPOINTS), help="print only this address (default: all)"
    )
    parser.add_argument("--export", action="store_true", help="as shell `export NAME=value` lines")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(names.LOCAL_DATA_DIR),
        help="the stack's data directory (default: .facesvg, as `facesvg run`)",
    )


def main(args: argparse.Namespace) -> int:
    running = read_endpoints(args.data_dir)
    if running is None:
        print(
            f"error: no local stack is serving from {args.data_dir}/ (start one in another terminal: "
            "make run, or .venv/bin/facesvg run --data-dir …)",
            file=sys.stderr,
        )
        return 1
    chosen = [args.name] if args.name else list(ENDPOINTS)
    for name in chosen:
        variable = ENDPOINTS[name]
        value = running.get(name) or ""
        if args.export:
            print(f"export {variable}={shlex.quote(str(value))}")
        elif args.name:
            print(value)
        else:
            print(f"{name:<8} {value}")
    return 0
