"""`facesvg payload`: build a submit request body from the raw QOVES files (for curl and Swagger)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from facesvg import names
from facesvg.client.endpoints import read_endpoints
from facesvg.client.payload import SAMPLE_DIR, SAMPLE_IMAGE, SAMPLE_MAP, build_payload


def add_segmentation_arguments(parser: argparse.ArgumentParser) -> None:
    """``--segmentation`` (optional) and ``--no-segmentation``, shared by payload, submit and drop."""
    parser.add_argument(
        "--segmentation",
        type=Path,
        default=None,
        help="label map PNG (optional: without one the labels are derived from the landmarks and the "
        "photo; default: the sample's map when --image is the sample's)",
    )
    parser.add_argument(
        "--no-segmentation", action="store_true", help="send no map, even for the bundled sample"
    )


def segmentation_path(args: argparse.Namespace) -> Path | None:
    """The map to send: the one given, the sample's for the sample photo, or none."""
    if args.no_segmentation:
        return None
    if args.segmentation is not None:
        return Path(args.segmentation)
    return SAMPLE_MAP if Path(args.image).resolve() == SAMPLE_IMAGE.resolve() else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image", type=Path, default=SAMPLE_DIR / "original_image.png", help="face photo (PNG/JPEG)"
    )
    add_segmentation_arguments(parser)
    parser.add_argument(
        "--landmarks", type=Path, default=SAMPLE_DIR / "landmarks.txt", help="landmarks (.json or QOVES .txt)"
    )
    parser.add_argument(
        "--options", type=str, default=None, help="render options as JSON, e.g. '{\"canvas_size\": 512}'"
    )
    parser.add_argument("-o", "--output", type=Path, default=None, help="write here instead of stdout")


def main(args: argparse.Namespace) -> int:
    options = json.loads(args.options) if args.options else None
    body = json.dumps(build_payload(args.image, segmentation_path(args), args.landmarks, options))
    if args.output is None:
        sys.stdout.write(body + "\n")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(body, encoding="utf-8")
    running = read_endpoints()  # the port the local stack actually serves on, when one runs here
    api = running["api"] if running else f"http://127.0.0.1:{names.LOCAL_API_PORT}"
    url = f"{api}{names.ROUTE_PREFIXES[0]}{names.SUBMIT_PATH}"
    print(
        f"wrote {args.output} ({len(body) / 1e6:.1f} MB); submit it with:\n"
        f"  curl -sS --fail-with-body -X POST {url} -H 'content-type: application/json' -d @{args.output} "
        "| jq '{job_id, status}'",
        file=sys.stderr,
    )
    return 0
