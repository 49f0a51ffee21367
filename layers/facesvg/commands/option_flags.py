"""The render-option flags `facesvg submit` and `facesvg drop` share (``--zones``, ``--label-scheme``):
each overrides its field of the options given otherwise (``--options`` / ``--options-file``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    from facesvg.core.label_schemes import SCHEME_NAMES

    parser.add_argument(
        "--zones",
        default=None,
        help="layers: standard, aesthetic, all, or comma-separated region/zone names (options.zones)",
    )
    parser.add_argument(
        "--label-scheme",
        choices=SCHEME_NAMES,
        default=None,
        help="what the segmentation map's values mean (options.label_scheme; default lapa)",
    )


def with_option_flags(options: dict[str, Any] | None, args: argparse.Namespace) -> dict[str, Any] | None:
    """``options`` with the flags' fields set (None stays None when no flag is given)."""
    from facesvg.core.options import zones_from_text

    if args.zones:
        options = {**(options or {}), "zones": zones_from_text(args.zones)}
    if args.label_scheme:
        options = {**(options or {}), "label_scheme": args.label_scheme}
    return options
