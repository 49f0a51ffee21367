"""`facesvg submit`: send a job to a facesvg API (local or deployed), wait, write the results."""

from __future__ import annotations

import argparse
import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

from facesvg import names
from facesvg.client.endpoints import read_endpoints
from facesvg.client.payload import SAMPLE_DIR, build_payload
from facesvg.commands.option_flags import add_option_flags, with_option_flags
from facesvg.commands.payload import add_segmentation_arguments, segmentation_path

FAMILIES = {"v1": names.ROUTE_PREFIXES[0], "frontal-crop": names.ROUTE_PREFIXES[1]}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SubmitError(Exception):
    pass


def submit(client: httpx.Client, body: dict[str, Any] | str, family: str = "v1") -> dict[str, Any]:
    """POST the body; returns the JSON answer (202 accepted, or 200 with a finished job)."""
    content = body if isinstance(body, str) else json.dumps(body)
    r = client.post(
        FAMILIES[family] + names.SUBMIT_PATH, content=content, headers={"Content-Type": "application/json"}
    )
    if r.status_code not in (200, 202):
        raise SubmitError(f"submit answered {r.status_code}: {r.text[:500]}")
    answer: dict[str, Any] = r.json()
    return answer


def wait(
    client: httpx.Client,
    accepted: dict[str, Any],
    family: str = "v1",
    timeout: float = 300.0,
    interval: float = 0.25,
    on_status: Any = None,
) -> dict[str, Any]:
    """Poll the status until the job is completed or failed."""
    if accepted.get("status") in ("completed", "failed") and "created_at" in accepted:
        return accepted
    url = accepted.get("status_url") or FAMILIES[family] + names.STATUS_PATH.replace("{id}", accepted["id"])
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(url)
        if r.status_code != 200:
            raise SubmitError(f"status answered {r.status_code}: {r.text[:500]}")
        body: dict[str, Any] = r.json()
        if on_status is not None:
            on_status(body["status"])
        if body["status"] in ("completed", "failed"):
            return body
        if time.monotonic() > deadline:
            raise SubmitError(f"job {accepted['id']} still {body['status']} after {timeout:.0f} s")
        time.sleep(interval)


def write_results(client: httpx.Client, status: dict[str, Any], out_dir: Path) -> list[Path]:
    """face.svg, regions/<name>.svg, contours.json, the result documents (result.json, .geojson,
    .coco.json) and status.json (without the inline SVG)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if status.get("svg"):
        path = out_dir / "face.svg"
        path.write_bytes(base64.b64decode(status["svg"]))
        written.append(path)
    urls: dict[str, str] = status.get("regions_svg_urls") or {}
    if urls:
        (out_dir / "regions").mkdir(exist_ok=True)
    for name, url in sorted(urls.items()):
        if not _SAFE_NAME.match(name):  # names come from a server: never let them pick a path
            continue
        r = client.get(url)
        r.raise_for_status()
        path = out_dir / "regions" / f"{name}.svg"
        path.write_bytes(r.content)
        written.append(path)
    for name, url in sorted((status.get("result_urls") or {}).items()):
        if not _SAFE_NAME.match(name.replace(".", "_")):
            continue
        r = client.get(url)
        r.raise_for_status()
        path = out_dir / name
        path.write_bytes(r.content)
        written.append(path)
    if status.get("mask_contours") is not None:
        path = out_dir / "contours.json"
        path.write_text(json.dumps(status["mask_contours"]), encoding="utf-8")
        written.append(path)
    path = out_dir / "status.json"
    path.write_text(json.dumps({k: v for k, v in status.items() if k != "svg"}, indent=2), encoding="utf-8")
    written.append(path)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api",
        default=None,
        help=f"API base URL (default: the local stack `facesvg run` serves here, else http://127.0.0.1:{names.LOCAL_API_PORT})",
    )
    parser.add_argument("--api-key", default=None, help="API key (sent as x-api-key), for a deployed API")
    parser.add_argument("--family", choices=sorted(FAMILIES), default="v1", help="route family")
    parser.add_argument(
        "--payload", type=Path, default=None, help="a request body built by `facesvg payload`"
    )
    parser.add_argument("--image", type=Path, default=None, help="face photo (with --landmarks)")
    add_segmentation_arguments(parser)
    parser.add_argument(
        "--landmarks", type=Path, default=None, help="landmarks, .json or QOVES .txt (with --image)"
    )
    parser.add_argument(
        "--sample",
        action="store_true",
        help="the bundled QOVES sample (its photo and landmarks for any not given; its map with its photo)",
    )
    parser.add_argument("--options", default=None, help="render options as JSON")
    add_option_flags(parser)
    parser.add_argument(
        "--callback-url", default=None, help="POST a signed webhook here when the job ends (callback_url)"
    )
    parser.add_argument("--client-reference", default=None, help="your reference, echoed in the webhook")
    parser.add_argument("--wait", action="store_true", help="poll until the job finishes")
    parser.add_argument("--out", type=Path, default=None, help="write the results here (implies --wait)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait")


SAMPLE_FILES = {
    "image": SAMPLE_DIR / "original_image.png",
    "segmentation": SAMPLE_DIR / "segmentation_map.png",
    "landmarks": SAMPLE_DIR / "landmarks.txt",
}


def input_files(args: argparse.Namespace) -> dict[str, Path | None]:
    """The files to send. A photo and its landmarks go together; the map is optional (the sample's
    only with the sample's photo, never with yours). The sample's photo and landmarks fill in only
    with ``--sample``, so a photo of yours is never paired with the sample's landmarks. Raises
    ``SubmitError`` saying what is missing."""
    image, landmarks = args.image, args.landmarks
    if args.sample:
        image, landmarks = image or SAMPLE_FILES["image"], landmarks or SAMPLE_FILES["landmarks"]
    elif image is None and landmarks is None:
        what = "--segmentation alone" if args.segmentation else "no inputs"
        raise SubmitError(
            f"{what}: give --image and --landmarks (and --segmentation), --payload FILE, or --sample "
            "for the bundled QOVES sample"
        )
    else:
        for name, other, path in (("image", "landmarks", image), ("landmarks", "image", landmarks)):
            if path is None:
                raise SubmitError(
                    f"--{other} without --{name}: a photo and its landmarks go together (add --sample "
                    "to take the missing files from the bundled sample)"
                )
    segmentation = segmentation_path(argparse.Namespace(**{**vars(args), "image": image}))
    return {"image": image, "segmentation": segmentation, "landmarks": landmarks}


def _body(args: argparse.Namespace) -> dict[str, Any] | str:
    """The request body, or ``SubmitError`` naming the file that cannot be read."""
    if args.payload is not None:
        files: dict[str, Path | None] = {"payload": args.payload}
    else:
        files = input_files(args)
    for name, path in files.items():
        if path is not None and not path.is_file():
            why = "is a directory" if path.is_dir() else "no such file"
            raise SubmitError(f"--{name} {path}: {why}")
    try:
        if args.payload is not None:
            return str(args.payload.read_text(encoding="utf-8"))
        options = with_option_flags(json.loads(args.options) if args.options else None, args)
        image, segmentation, landmarks = (files[name] for name in SAMPLE_FILES)
        assert image is not None and landmarks is not None
        return build_payload(image, segmentation, landmarks, options)
    except (OSError, UnicodeDecodeError, ValueError, SyntaxError) as exc:  # unreadable or not a document
        raise SubmitError(f"cannot read the inputs: {exc}") from None


def main(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    try:
        body = _body(args)
    except SubmitError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    if args.callback_url or args.client_reference:
        if isinstance(body, str):
            body = json.loads(body)
        assert isinstance(body, dict)
        body = {**body, "callback_url": args.callback_url, "client_reference": args.client_reference}
        body = {k: v for k, v in body.items() if v is not None}
    headers = {"x-api-key": args.api_key} if args.api_key else {}
    if args.api is None:
        running = read_endpoints()
        args.api = running["api"] if running else f"http://127.0.0.1:{names.LOCAL_API_PORT}"
    with httpx.Client(base_url=args.api.rstrip("/"), headers=headers, timeout=60) as client:
        try:
            accepted = submit(client, body, args.family)
            console.print(f"[bold]job[/bold] {accepted['id']}  status [cyan]{accepted['status']}[/cyan]")
            if not (args.wait or args.out):
                print(json.dumps(accepted))
                return 0
            with console.status("waiting…") as spinner:
                started = time.monotonic()

                def show(status: str) -> None:
                    spinner.update(f"{status}  {time.monotonic() - started:.1f} s")

                final = wait(client, accepted, args.family, timeout=args.timeout, on_status=show)
        except (SubmitError, httpx.HTTPError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            return 2
        if final["status"] == "failed":
            console.print(f"[red]failed:[/red] {final.get('error')}")
            return 1
        console.print(f"[green]completed[/green] {final['id']}")
        if args.out:
            for path in write_results(client, final, args.out):
                console.print(f"  wrote {path}")
        else:
            print(json.dumps({k: v for k, v in final.items() if k not in ("svg", "mask_contours")}, indent=2))
    return 0
