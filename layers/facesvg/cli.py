"""`facesvg` command line: one subcommand per module in ``facesvg.commands``.

Each command module exposes ``add_arguments(parser)`` and ``main(args) -> int``; modules are
imported only when their subcommand runs, so ``facesvg render`` never imports boto3 and
``facesvg submit`` never imports OpenCV.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module under facesvg.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "render": ("render", "Render one face (image + segmentation + landmarks) to SVG files."),
    "bench": ("bench", "Time each render stage on the bundled QOVES sample."),
    "fidelity": ("fidelity", "Score the regions on the sample and ../shared faces; exit 1 when a bar fails."),
    "run": ("run", "Start the local stack (moto + API on 127.0.0.1:3000) and process the sample."),
    "endpoints": (
        "endpoints",
        "Print the running local stack's addresses (for scripts: API=$(facesvg endpoints api)).",
    ),
    "payload": ("payload", "Build a submit request body from raw image/segmentation/landmarks files."),
    "submit": ("submit", "Submit a job to a facesvg API, wait for it and write the results."),
    "drop": (
        "drop",
        "Upload a face to the local stack's drop folder (incoming/<name>/) and wait for results/<name>/.",
    ),
    "redrive": ("redrive", "Move the jobs DLQ's messages back to the jobs queue (reopening failed jobs)."),
    "webhook-listen": ("webhook_listen", "Receive webhooks on 127.0.0.1 and print the verified deliveries."),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facesvg", description="Face photo + segmentation map + landmarks -> styled SVG contours."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        # Only the chosen command's module is imported (to add its arguments).
        if name in argv:
            module = importlib.import_module(f"facesvg.commands.{module_name}")
            module.add_arguments(sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    module = importlib.import_module(f"facesvg.commands.{COMMANDS[args.command][0]}")
    return int(module.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
