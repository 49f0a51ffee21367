"""`facesvg drop NAME`: put a face's three files under ``incoming/NAME/`` of the data bucket (the drop
folder), optionally wait for ``results/NAME/`` and list it; no aws CLI needed.

The S3 endpoint is the local stack's: ``--s3-endpoint``, else what the ``facesvg run`` serving from
this directory wrote to ``.facesvg/endpoints.json``, else ``AWS_ENDPOINT_URL_S3``, else
``http://127.0.0.1:3002``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from facesvg import names
from facesvg.commands.payload import SAMPLE_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the drop folder's name (letters, digits, _.-)")
    parser.add_argument("--image", type=Path, default=SAMPLE_DIR / "original_image.png")
    parser.add_argument("--segmentation", type=Path, default=SAMPLE_DIR / "segmentation_map.png")
    parser.add_argument("--landmarks", type=Path, default=SAMPLE_DIR / "landmarks.txt")
    parser.add_argument("--bucket", default=names.BUCKET_NAME)
    parser.add_argument("--s3-endpoint", default=None, help="S3 endpoint (default: the local stack's)")
    parser.add_argument("--wait", action="store_true", help="wait for results/<name>/ and list it")
    parser.add_argument("--timeout", type=float, default=120.0)


def s3_endpoint(explicit: str | None = None) -> str:
    from facesvg.commands.run import read_endpoints

    running = read_endpoints()
    return (
        explicit
        or (running or {}).get("s3")
        or os.environ.get(names.ENV_ENDPOINT_URL_S3)
        or f"http://127.0.0.1:{names.LOCAL_S3_PORT}"
    )


def main(args: argparse.Namespace) -> int:
    from facesvg.local.aws import local_clients

    s3 = local_clients(s3_endpoint(args.s3_endpoint))["s3"]
    files = {
        f"image{args.image.suffix.lower()}": args.image,
        "segmentation_map.png": args.segmentation,
        f"landmarks{args.landmarks.suffix.lower()}": args.landmarks,
    }
    for file_name, source in files.items():
        key = f"{names.PREFIX_INCOMING}{args.name}/{file_name}"
        s3.put_object(Bucket=args.bucket, Key=key, Body=source.read_bytes())
        print(f"uploaded s3://{args.bucket}/{key}")
    if not args.wait:
        return 0
    prefix = f"{names.PREFIX_RESULTS}{args.name}/"
    deadline = time.monotonic() + args.timeout
    while True:
        listed = s3.list_objects_v2(Bucket=args.bucket, Prefix=prefix).get("Contents", [])
        done = {o["Key"].removeprefix(prefix) for o in listed} & {"job.json", "error.json"}
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for obj in sorted(listed, key=lambda o: o["Key"]):
        print(f"{obj['Size']:>10}  s3://{args.bucket}/{obj['Key']}")
    if "error.json" in done:
        print("the inputs were rejected: see error.json", file=sys.stderr)
        return 1
    return 0 if done else 2
