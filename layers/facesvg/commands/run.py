"""`facesvg run`: the local stack on this machine, the bundled sample through it, then serve.

Addresses and hints are printed as plain lines (never wrapped or cut, whatever the terminal width
or when piped); the stack's state lives in ``--data-dir`` (default ``.facesvg/``) and survives a
restart (``facesvg.local.persist``); its addresses are written to ``<data-dir>/endpoints.json`` for
the other commands (``facesvg payload``, ``facesvg submit``) while it serves.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from facesvg import names

# At most this many lines about what a start could not restore; a count for the rest.
RESTORE_LINES = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=names.LOCAL_API_PORT, help="API port on 127.0.0.1 (0 = any)"
    )
    parser.add_argument(
        "--aws-port",
        type=int,
        default=names.LOCAL_AWS_PORT,
        help="moto's DynamoDB and SQS endpoint port (AWS_ENDPOINT_URL; 0 = any)",
    )
    parser.add_argument(
        "--s3-port",
        type=int,
        default=names.LOCAL_S3_PORT,
        help="moto's S3 endpoint port (AWS_ENDPOINT_URL_S3; 0 = any)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=names.LOCAL_METRICS_PORT,
        help="Prometheus /metrics port (another free one when taken; 0 = any)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(names.LOCAL_DATA_DIR),
        help="where jobs, inputs, results and queued messages are kept across restarts",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="start empty (clears the data directory's state)"
    )
    parser.add_argument(
        "--in-memory", action="store_true", help="keep nothing: no data directory (state is lost on stop)"
    )
    parser.add_argument("--out", type=Path, default=Path("out"), help="where the sample's results go")
    parser.add_argument("--once", action="store_true", help="exit after the sample (tests, CI)")
    parser.add_argument("--no-sample", action="store_true", help="just serve; do not submit the sample")
    parser.add_argument(
        "--delay",
        type=float,
        default=None,
        help=f"simulated long-job delay, seconds ({names.ENV_ARTIFICIAL_DELAY}; default: environment or 0)",
    )
    parser.add_argument("--workers", type=int, default=2, help="concurrent process workers polling SQS")
    parser.add_argument(
        "--notify-workers",
        type=int,
        default=2,
        help="concurrent notify invocations polling the notify queue; 0 holds webhooks there "
        "(as a disabled event source mapping: job-end events wait, queued, until a start with some)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=None,
        help="require this x-api-key on API calls, as a usage plan would; repeat it for several "
        "clients (each key reads only its own jobs; the sample is submitted with the first)",
    )
    parser.add_argument("--log-level", default="INFO")


def facesvg_command() -> str:
    """How to call this CLI again from the current directory: ``.venv/bin/facesvg`` after ``make
    install`` (the script beside this interpreter), bare ``facesvg`` only when there is none."""
    script = Path(sys.executable).parent / "facesvg"
    if not script.is_file():
        return "facesvg"
    rel = os.path.relpath(script.absolute())
    return rel if not rel.startswith("..") else str(script.absolute())


def read_endpoints(data_dir: Path | None = None) -> dict[str, Any] | None:
    """The addresses a running ``facesvg run`` wrote to its data directory (None when none runs)."""
    path = Path(data_dir or names.LOCAL_DATA_DIR) / names.LOCAL_ENDPOINTS_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(doc["pid"]), 0)  # raises when that process is gone
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return doc if isinstance(doc, dict) else None


def _line(label: str, value: str) -> None:
    print(f"  {label:<36} {value}", flush=True)


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(args: argparse.Namespace) -> int:
    import httpx
    from rich.console import Console

    from facesvg.commands.payload import sample_payload
    from facesvg.commands.submit import SubmitError, submit, wait, write_results
    from facesvg.local.persist import DataDirError
    from facesvg.local.runtime import DataDirInUseError, LocalRuntime, RuntimeConfig

    console = Console(stderr=True, highlight=False)
    data_dir = None if args.in_memory else args.data_dir
    config = RuntimeConfig(
        api_port=args.port,
        moto_port=args.aws_port or None,
        moto_s3_port=args.s3_port or None,
        metrics_port=args.metrics_port,
        process_workers=args.workers,
        notify_workers=args.notify_workers,
        artificial_delay_seconds=args.delay,
        api_key=tuple(args.api_key) if args.api_key else None,
        log_level=args.log_level.upper(),
        data_dir=data_dir,
        fresh=args.fresh,
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm)  # `kill` stops the stack as Ctrl-C does
        # Ctrl-C stops it even when started in the background by a shell (which ignores SIGINT there)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    runtime = LocalRuntime(config)
    with console.status("starting moto's server, creating resources, loading functions…"):
        try:
            runtime.start()
        except DataDirInUseError as exc:
            runtime.stop()
            print(f"error: {exc}: stop it, or use another --data-dir", file=sys.stderr)
            return 2
        except DataDirError as exc:
            runtime.stop()
            print(f"error: {exc} (choose another --data-dir, or --in-memory)", file=sys.stderr)
            return 2
        except OSError as exc:
            runtime.stop()
            if exc.errno != errno.EADDRINUSE:
                raise
            what = exc.strerror if "in use" in str(exc.strerror) else f"port {args.port} (API) is in use"
            print(
                f"error: {what}.\n"
                "  Another `facesvg run` may be serving (stop it), or choose other ports: "
                "--port, --aws-port, --s3-port (0 = any free port).",
                file=sys.stderr,
            )
            return 2

    endpoints = {
        "api": runtime.api_url,
        "aws": runtime.endpoint,
        "s3": runtime.s3_endpoint,
        "metrics": runtime.metrics_url,
        "pid": os.getpid(),
    }
    endpoints_file = data_dir / names.LOCAL_ENDPOINTS_FILE if data_dir is not None else None
    if endpoints_file is not None:
        endpoints_file.write_text(json.dumps(endpoints, indent=2) + "\n", encoding="utf-8")

    print("facesvg local stack", flush=True)
    _line("API", runtime.api_url)
    _line("viewer", runtime.api_url + "/")
    _line("Swagger UI", runtime.swagger_url)
    _line("OpenAPI", runtime.swagger_url + "?format=json")
    _line("AWS endpoint (moto: DynamoDB, SQS)", runtime.endpoint)
    _line("S3 endpoint (moto)", runtime.s3_endpoint)
    _line("metrics (Prometheus)", runtime.metrics_url or "off")
    _line("drop folder", f"s3://{names.BUCKET_NAME}/{names.PREFIX_INCOMING}<name>/")
    if data_dir is not None:
        restored = runtime.restored
        _line(
            "data directory",
            f"{data_dir} (restored {restored.get('items', 0)} items, {restored.get('objects', 0)} objects, "
            f"{restored.get('messages', 0)} messages)",
        )
        problems = runtime.restore_problems  # never passed over in silence: one line each
        for problem in problems[:RESTORE_LINES]:
            print(f"  restore: {problem}", flush=True)
        if len(problems) > RESTORE_LINES:
            print(f"  restore: … and {len(problems) - RESTORE_LINES} more", flush=True)
    else:
        _line("data directory", "none (--in-memory: nothing survives a restart)")

    code = 0
    try:
        if not args.no_sample:
            headers = {"x-api-key": args.api_key[0]} if args.api_key else {}
            with httpx.Client(base_url=runtime.api_url, headers=headers, timeout=60) as client:
                started = time.monotonic()
                accepted = submit(client, sample_payload())
                print(f"submitted the QOVES sample: job {accepted['id']}", flush=True)
                final = wait(client, accepted, interval=0.1)
                if final["status"] != "completed":
                    print(f"the sample failed: {final.get('error')}", flush=True)
                    code = 1
                else:
                    written = write_results(client, final, args.out)
                    print(
                        f"completed in {time.monotonic() - started:.2f} s; "
                        f"wrote {len(written)} files to {args.out.resolve()} "
                        "(face.svg, regions/, contours.json)",
                        flush=True,
                    )
        if not args.once:
            cli = facesvg_command()
            submit_url = f"{runtime.api_url}{names.ROUTE_PREFIXES[0]}{names.SUBMIT_PATH}"
            # With --api-key the examples carry the first key: submit and status with the same one.
            key_header = f" -H 'x-api-key: {args.api_key[0]}'" if args.api_key else ""
            key_option = f" --api-key {args.api_key[0]}" if args.api_key else ""
            print(
                "\ntry (from this directory):\n"
                f"  {cli} payload -o payload.json\n"
                f"  ID=$(curl -s -X POST {submit_url}{key_header} -H 'content-type: application/json' "
                "-d @payload.json | jq -r .id)\n"
                f"  curl -s{key_header} {runtime.api_url}{names.ROUTE_PREFIXES[0]}/status/$ID "
                "| jq '{id, status, svg_url}'\n"
                f"  {cli} submit --api {runtime.api_url}{key_option} --wait --out out/mine\n"
                "\nwebhooks (in two more terminals)\n"
                f"  AWS_ENDPOINT_URL={runtime.endpoint} {cli} webhook-listen --port 8765\n"
                f"  {cli} submit --api {runtime.api_url}{key_option} --callback-url http://127.0.0.1:8765/hook"
                " --client-reference demo\n"
                "\nserving; Ctrl-C to stop",
                flush=True,
            )
            threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    except (SubmitError, httpx.HTTPError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    finally:
        stopping = time.monotonic()
        runtime.stop()
        if endpoints_file is not None:
            endpoints_file.unlink(missing_ok=True)
        if not args.once:
            print(f"stopped in {time.monotonic() - stopping:.2f} s", flush=True)
    if threading.current_thread() is threading.main_thread():
        # Everything this command started is stopped and its state is on disk: skip the
        # interpreter's teardown of NumPy, OpenCV, boto3… (a second or more on a busy machine).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
