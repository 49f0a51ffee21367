"""`facesvg payload`: build a submit request body from the raw QOVES files (for curl and Swagger)."""

from __future__ import annotations

import argparse
import ast
import base64
import json
import sys
from pathlib import Path
from typing import Any

from facesvg import names

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "samples" / "qoves"


def read_landmarks(path: Path) -> Any:
    """JSON, or a QOVES ``landmarks.txt`` (a Python literal, read with ``ast.literal_eval``)."""
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = ast.literal_eval(text)
    if isinstance(doc, dict):  # keep what the API reads; drop extras such as image_url
        return {k: doc[k] for k in ("landmarks", "dimensions") if k in doc}
    return doc


SAMPLE_IMAGE = SAMPLE_DIR / "original_image.png"
SAMPLE_MAP = SAMPLE_DIR / "segmentation_map.png"


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


def build_payload(
    image: Path, segmentation: Path | None, landmarks: Path, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The submit body; ``segmentation`` None: no map is sent."""
    body: dict[str, Any] = {"image": base64.b64encode(image.read_bytes()).decode("ascii")}
    if segmentation is not None:
        body["segmentation_map"] = base64.b64encode(segmentation.read_bytes()).decode("ascii")
    body["landmarks"] = read_landmarks(landmarks)
    if options:
        body["options"] = options
    return body


def sample_payload(options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request body for the bundled QOVES sample."""
    return build_payload(SAMPLE_IMAGE, SAMPLE_MAP, SAMPLE_DIR / "landmarks.txt", options)


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
    args.output.write_text(body, encoding="utf-8")
    from facesvg.commands.run import read_endpoints

    running = read_endpoints()  # the port the local stack actually serves on, when one runs here
    api = running["api"] if running else f"http://127.0.0.1:{names.LOCAL_API_PORT}"
    url = f"{api}{names.ROUTE_PREFIXES[0]}{names.SUBMIT_PATH}"
    print(
        f"wrote {args.output} ({len(body) / 1e6:.1f} MB); submit it with:\n"
        f"  curl -s -X POST {url} -H 'content-type: application/json' -d @{args.output} "
        "| jq '{id, status}'",
        file=sys.stderr,
    )
    return 0
