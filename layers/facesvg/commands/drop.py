"""`facesvg drop NAME`: put a face's files (image, landmarks, and a map when there is one) under
``incoming/NAME/`` of the data bucket (the drop folder), optionally wait for ``results/NAME/`` and
list it; no aws CLI needed.

Render options (``--options-file``, ``--label-scheme``, ``--zones``; the flags override the file's
fields) are checked here, then uploaded as ``options.json`` before the face's files (the folder
reads it when the set is complete). Without options, an ``options.json`` an earlier drop left in the
folder is deleted first, so the folder renders exactly what this command was given.

The S3 endpoint is the local stack's: ``--s3-endpoint``, else what the ``facesvg run`` serving from
this directory wrote to ``.facesvg/endpoints.json``, else ``AWS_ENDPOINT_URL_S3``, else
``http://127.0.0.1:3002``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from facesvg import names
from facesvg.client.endpoints import read_endpoints
from facesvg.client.payload import SAMPLE_DIR
from facesvg.commands.option_flags import add_option_flags, with_option_flags
from facesvg.commands.payload import add_segmentation_arguments, segmentation_path

OPTIONS_FILE = "options.json"  # facesvg.service.layout.INGEST_OPTIONS_FILE
MAP_FILE = "segmentation_map.png"  # facesvg.service.layout.INGEST_MAP_FILES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the drop folder's name (letters, digits, _.-)")
    parser.add_argument("--image", type=Path, default=SAMPLE_DIR / "original_image.png")
    add_segmentation_arguments(parser)
    parser.add_argument("--landmarks", type=Path, default=SAMPLE_DIR / "landmarks.txt")
    parser.add_argument(
        "--options-file",
        type=Path,
        default=None,
        help="render options: a JSON file holding the API's `options` object (uploaded as options.json)",
    )
    add_option_flags(parser)
    parser.add_argument("--bucket", default=names.BUCKET_NAME)
    parser.add_argument("--s3-endpoint", default=None, help="S3 endpoint (default: the local stack's)")
    parser.add_argument("--wait", action="store_true", help="wait for results/<name>/ and list it")
    parser.add_argument("--timeout", type=float, default=120.0)


def s3_endpoint(explicit: str | None = None) -> str:
    running = read_endpoints()
    return (
        explicit
        or (running or {}).get("s3")
        or os.environ.get(names.ENV_ENDPOINT_URL_S3)
        or f"http://127.0.0.1:{names.LOCAL_S3_PORT}"
    )


def render_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The options to upload (None: none given); ``ValueError`` saying what is wrong with them."""
    from facesvg.core.options import RenderOptions

    options: dict[str, Any] | None = None
    if args.options_file is not None:
        try:
            options = json.loads(args.options_file.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{args.options_file}: {exc}") from None
        if not isinstance(options, dict):
            raise ValueError(f"{args.options_file}: must hold a JSON object (the API's `options`)")
    options = with_option_flags(options, args)
    if options is not None:
        from pydantic import ValidationError

        try:
            RenderOptions.model_validate(options)
        except ValidationError as exc:
            raise ValueError(str(exc)) from None
    return options


def _step_past_earlier_results(s3: Any, bucket: str, prefix: str) -> None:
    """S3 keeps whole seconds: when the folder's current results were written in the store's
    current second, wait for the next one, so that they are older than this drop's uploads."""
    from email.utils import parsedate_to_datetime

    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    newest = max((o["LastModified"] for o in listed.get("Contents", [])), default=None)
    if newest is None:
        return
    date = listed.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date is None or newest >= parsedate_to_datetime(date):
        time.sleep(1.0)


def main(args: argparse.Namespace) -> int:
    from facesvg.local.aws import local_clients

    try:
        options = render_options(args)
    except ValueError as exc:
        print(f"error: options: {exc}", file=sys.stderr)
        return 2
    s3 = local_clients(s3_endpoint(args.s3_endpoint))["s3"]
    folder = f"{names.PREFIX_INCOMING}{args.name}/"
    prefix = f"{names.PREFIX_RESULTS}{args.name}/"
    if args.wait:
        _step_past_earlier_results(s3, args.bucket, prefix)
    options_key = folder + OPTIONS_FILE
    # options.json first: the folder reads it when the set's third file arrives
    if options is not None:
        s3.put_object(Bucket=args.bucket, Key=options_key, Body=json.dumps(options).encode())
        print(f"uploaded s3://{args.bucket}/{options_key}")
    elif s3.list_objects_v2(Bucket=args.bucket, Prefix=options_key).get("KeyCount", 0):
        s3.delete_object(Bucket=args.bucket, Key=options_key)
        print(f"removed s3://{args.bucket}/{options_key} (left by an earlier drop; no options given)")
    segmentation = segmentation_path(args)
    map_key = folder + MAP_FILE
    if segmentation is None and s3.list_objects_v2(Bucket=args.bucket, Prefix=map_key).get("KeyCount", 0):
        s3.delete_object(Bucket=args.bucket, Key=map_key)  # an earlier drop's map is not this face's
        print(f"removed s3://{args.bucket}/{map_key} (left by an earlier drop; no map given)")
    # The map first: the image and landmarks complete the set (a map uploaded last would first
    # let them render without it).
    files = {MAP_FILE: segmentation} if segmentation is not None else {}
    files |= {
        f"image{args.image.suffix.lower()}": args.image,
        f"landmarks{args.landmarks.suffix.lower()}": args.landmarks,
    }
    for file_name, source in files.items():
        key = folder + file_name
        s3.put_object(Bucket=args.bucket, Key=key, Body=source.read_bytes())
        print(f"uploaded s3://{args.bucket}/{key}")
    if not args.wait:
        return 0
    # What this drop publishes is no older than its last upload (by the store's own clock, whole
    # seconds), and an earlier drop's results/<name>/ are older than that (above).
    since = s3.head_object(Bucket=args.bucket, Key=key)["LastModified"]
    deadline = time.monotonic() + args.timeout
    while True:
        listed = s3.list_objects_v2(Bucket=args.bucket, Prefix=prefix).get("Contents", [])
        # face.svg is published last; error.json (+ job.json) is a refused set or a failed job
        done = {
            o["Key"].removeprefix(prefix)
            for o in listed
            if o["Key"].removeprefix(prefix) in ("face.svg", "error.json") and o["LastModified"] >= since
        }
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for obj in sorted(listed, key=lambda o: o["Key"]):
        print(f"{obj['Size']:>10}  s3://{args.bucket}/{obj['Key']}")
    if "error.json" in done:
        body = s3.get_object(Bucket=args.bucket, Key=prefix + "error.json")["Body"].read()
        error = json.loads(body).get("error", {})
        where = error.get("file") or error.get("field") or "the inputs"
        print(f"refused ({where}): {error.get('code')}: {error.get('message')}", file=sys.stderr)
        return 1
    return 0 if done else 2
