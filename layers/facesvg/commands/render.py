"""`facesvg render`: files in, ``face.svg`` + ``regions/<name>.svg`` + ``result.json`` (and the
same as GeoJSON and COCO) out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from facesvg.core.errors import InputError
from facesvg.core.label_schemes import SCHEME_NAMES
from facesvg.core.options import Limits, RenderOptions, zones_from_text
from facesvg.core.pipeline import render

EXIT_BAD_INPUT = 2
DEFAULTS = RenderOptions.model_validate({})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image", type=Path, required=True, help="face photo (PNG, JPEG, WebP, HEIC/HEIF or AVIF)"
    )
    parser.add_argument(
        "--segmentation",
        type=Path,
        default=None,
        help="label map (PNG, grey or palette) in --label-scheme; optional: without one the labels are "
        "derived from the landmarks and the photo",
    )
    parser.add_argument(
        "--landmarks", type=Path, required=True, help="MediaPipe landmarks (JSON or QOVES .txt)"
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--canvas-size", type=int, default=DEFAULTS.canvas_size)
    parser.add_argument("--margin", type=float, default=DEFAULTS.margin)
    parser.add_argument("--image-format", choices=("png", "jpeg", "webp"), default="png")
    parser.add_argument("--image-quality", type=int, default=DEFAULTS.image_quality)
    parser.add_argument("--max-pixels", type=int, default=Limits().max_pixels)
    parser.add_argument("--label-scheme", choices=SCHEME_NAMES, default=DEFAULTS.label_scheme)
    parser.add_argument("--face-index", type=int, default=DEFAULTS.face_index, help="face of several, from 0")
    parser.add_argument(
        "--zones",
        default="standard",
        help="layers to draw: standard (regions), aesthetic (zones), all, or comma-separated names",
    )


def _read(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(field, f"cannot read {path}: {exc.strerror}", "Unreadable") from exc  # type: ignore[arg-type]


def main(args: argparse.Namespace) -> int:
    try:
        options = RenderOptions.model_validate(
            {
                "canvas_size": args.canvas_size,
                "margin": args.margin,
                "image_format": args.image_format,
                "image_quality": args.image_quality,
                "zones": zones_from_text(args.zones),
                "label_scheme": args.label_scheme,
                "face_index": args.face_index,
            }
        )
    except ValueError as exc:
        print(f"error: options: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    limits = Limits(max_pixels=args.max_pixels)
    try:
        result = render(
            _read(args.image, "image"),
            _read(args.segmentation, "segmentation_map") if args.segmentation is not None else None,
            _read(args.landmarks, "landmarks"),
            options,
            limits,
        )
    except InputError as exc:
        print(f"error: {exc.field}: {exc.message} ({exc.code})", file=sys.stderr)
        return EXIT_BAD_INPUT
    out: Path = args.out
    (out / "regions").mkdir(parents=True, exist_ok=True)
    (out / "face.svg").write_bytes(result.svg)
    for name, doc in result.region_svgs.items():
        (out / "regions" / f"{name}.svg").write_bytes(doc)
    for name, document in result.documents(args.image.name).items():
        (out / name).write_text(json.dumps(document, separators=(",", ":")) + "\n")
    missing = f", missing: {', '.join(result.missing)}" if result.missing else ""
    print(f"wrote {out}/face.svg and {len(result.region_svgs)} region files{missing}")
    return 0
