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
from urllib.parse import urlsplit

from facesvg import names

# The ports a data directory remembers, by flag: (flag, runtime default).
PORT_FLAGS = {
    "api": ("--port", names.LOCAL_API_PORT),
    "aws": ("--aws-port", names.LOCAL_AWS_PORT),
    "s3": ("--s3-port", names.LOCAL_S3_PORT),
}

# At most this many lines about what a start could not restore; a count for the rest.
RESTORE_LINES = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    remembered = "default: the port the data directory was last started with, else"
    parser.add_argument(
        "--port", type=int, default=None, help=f"API port on 127.0.0.1 (0 = any; {remembered} 3000)"
    )
    parser.add_argument(
        "--aws-port",
        type=int,
        default=None,
        help=f"moto's DynamoDB and SQS endpoint port (AWS_ENDPOINT_URL; 0 = any; {remembered} 3001)",
    )
    parser.add_argument(
        "--s3-port",
        type=int,
        default=None,
        help=f"moto's S3 endpoint port (AWS_ENDPOINT_URL_S3; 0 = any; {remembered} 3002)",
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


def remembered_ports(data_dir: Path | None) -> dict[str, int]:
    """The ports ``data_dir``'s stack was last started with (empty when none or unreadable)."""
    if data_dir is None:
        return {}
    try:
        doc = json.loads((data_dir / names.LOCAL_PORTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: v for k, v in doc.items() if k in PORT_FLAGS and isinstance(v, int) and 0 < v < 65536}


def chosen_ports(args: argparse.Namespace, data_dir: Path | None) -> dict[str, int]:
    """Each port: its flag, else the one the data directory remembers, else the default. A stack
    restarted without flags comes back where it was, so saved endpoints and presigned URLs work."""
    remembered = remembered_ports(data_dir)
    given = {"api": args.port, "aws": args.aws_port, "s3": args.s3_port}
    return {
        name: given[name] if given[name] is not None else remembered.get(name, default)
        for name, (_, default) in PORT_FLAGS.items()
    }


def _remember_ports(data_dir: Path, ports: dict[str, int]) -> None:
    (data_dir / names.LOCAL_PORTS_FILE).write_text(json.dumps(ports) + "\n", encoding="utf-8")


def port_free(port: int) -> bool:
    """The stack's own port check (``facesvg.local.aws``), loaded only when a port is chosen."""
    from facesvg.local.aws import port_free as free

    return free(port)


def _free_ports_like(ports: dict[str, int]) -> dict[str, int]:
    """Three free ports: the chosen ones moved up by 100s (3100, 3101, 3102), else any free ones."""
    for step in range(100, 1000, 100):
        candidate = {name: (port or PORT_FLAGS[name][1]) + step for name, port in ports.items()}
        if all(p < 65536 and port_free(p) for p in candidate.values()):
            return candidate
    return dict.fromkeys(ports, 0)


VIA_MAKE = "FACESVG_VIA_MAKE"


def retry_command(ports: dict[str, int], argv: list[str]) -> str:
    """The exact command to run instead, on free ports: ``make run ARGS="…"`` under make, else
    this CLI; every other flag of this run is kept."""
    kept: list[str] = []
    skip = False
    port_flags = {flag for flag, _ in PORT_FLAGS.values()}
    for token in argv:
        if skip:
            skip = False
            continue
        if token in port_flags:
            skip = True
            continue
        if token.split("=", 1)[0] in port_flags:
            continue
        kept.append(token)
    flags = [*kept, *(f"{PORT_FLAGS[name][0]} {port}" for name, port in ports.items())]
    if os.environ.get(VIA_MAKE) == "run":  # set by the Makefile's run target (not any make: ``make test``)
        return f'make run ARGS="{" ".join(flags)}"'
    return " ".join([facesvg_command(), "run", *flags])


def _line(label: str, value: str) -> None:
    print(f"  {label:<36} {value}", flush=True)


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _runtime_config(args: argparse.Namespace, ports: dict[str, int], data_dir: Path | None) -> Any:
    from facesvg.local.runtime import RuntimeConfig

    return RuntimeConfig(
        api_port=ports["api"],
        moto_port=ports["aws"] or None,
        moto_s3_port=ports["s3"] or None,
        metrics_port=args.metrics_port,
        process_workers=args.workers,
        notify_workers=args.notify_workers,
        artificial_delay_seconds=args.delay,
        api_key=tuple(args.api_key) if args.api_key else None,
        log_level=args.log_level.upper(),
        data_dir=data_dir,
        fresh=args.fresh,
    )


def _start(runtime: Any, ports: dict[str, int]) -> int | None:
    """Start ``runtime``: None when it serves, else the exit code (the reason printed)."""
    from rich.console import Console

    from facesvg.local.persist import DataDirError
    from facesvg.local.runtime import DataDirInUseError

    console = Console(stderr=True, highlight=False)
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
            # the moto servers name their port; the API's bind error does not
            what = exc.strerror if "port " in str(exc.strerror) else f"port {ports['api']} (API) is in use"
            argv = sys.argv[sys.argv.index("run") + 1 :] if "run" in sys.argv else []
            print(
                f"error: {what}.\n"
                "  Another `facesvg run` may be serving (stop it), or run on other ports "
                "(--port, --aws-port, --s3-port; 0 = any free port):\n"
                f"    {retry_command(_free_ports_like(ports), argv)}",
                file=sys.stderr,
            )
            return 2
    return None


def _write_endpoints(runtime: Any, data_dir: Path | None) -> Path | None:
    """``endpoints.json`` in the data directory (for ``facesvg endpoints``), and the ports for the
    next start; the file's path, None without a data directory."""
    if data_dir is None:
        return None
    endpoints = {
        "api": runtime.api_url,
        "aws": runtime.endpoint,
        "s3": runtime.s3_endpoint,
        "metrics": runtime.metrics_url,
        "pid": os.getpid(),
    }
    endpoints_file = data_dir / names.LOCAL_ENDPOINTS_FILE
    endpoints_file.write_text(json.dumps(endpoints, indent=2) + "\n", encoding="utf-8")
    _remember_ports(data_dir, {name: int(urlsplit(str(endpoints[name])).port or 0) for name in PORT_FLAGS})
    return endpoints_file


def _print_addresses(runtime: Any, data_dir: Path | None) -> None:
    print("facesvg local stack", flush=True)
    _line("API", runtime.api_url)
    _line("viewer", runtime.api_url + "/")
    _line("Swagger UI", runtime.api_url + names.DOCS_PATH)
    _line("ReDoc", runtime.api_url + names.REDOC_PATH)
    _line("OpenAPI", runtime.api_url + names.OPENAPI_PATH)
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


def _run_sample(args: argparse.Namespace, runtime: Any) -> int:
    """Submit the QOVES sample, wait, write its results to ``args.out``: the exit code."""
    import httpx

    from facesvg.client.payload import sample_payload
    from facesvg.commands.submit import submit, wait, write_results

    headers = {"x-api-key": args.api_key[0]} if args.api_key else {}
    with httpx.Client(base_url=runtime.api_url, headers=headers, timeout=60) as client:
        started = time.monotonic()
        accepted = submit(client, sample_payload())
        print(f"submitted the QOVES sample: job {accepted['id']}", flush=True)
        final = wait(client, accepted, interval=0.1)
        if final["status"] != "completed":
            print(f"the sample failed: {final.get('error')}", flush=True)
            return 1
        written = write_results(client, final, args.out)
        print(
            f"completed in {time.monotonic() - started:.2f} s; "
            f"wrote {len(written)} files to {args.out.resolve()} "
            "(face.svg, regions/, contours.json)",
            flush=True,
        )
    return 0


def _print_examples(args: argparse.Namespace, runtime: Any) -> None:
    cli = facesvg_command()
    submit_url = f"{runtime.api_url}{names.ROUTE_PREFIXES[0]}{names.SUBMIT_PATH}"
    # With --api-key the examples carry the first key: submit and status with the same one.
    key_header = f" -H 'x-api-key: {args.api_key[0]}'" if args.api_key else ""
    key_option = f" --api-key {args.api_key[0]}" if args.api_key else ""
    print(
        "\ntry (from this directory):\n"
        f"  {cli} payload -o out/payload.json\n"
        f"  ID=$(curl -sS --fail-with-body -X POST {submit_url}{key_header} "
        "-H 'content-type: application/json' -d @out/payload.json | jq -r .job_id)\n"
        f"  curl -sS --fail-with-body{key_header} "
        f"{runtime.api_url}{names.ROUTE_PREFIXES[0]}/status/$ID | jq '{{job_id, status, svg_url}}'\n"
        f"  {cli} submit --api {runtime.api_url}{key_option} --sample --wait --out out/mine\n"
        "\nwebhooks (in two more terminals)\n"
        f"  AWS_ENDPOINT_URL={runtime.endpoint} {cli} webhook-listen --port 8765\n"
        f"  {cli} submit --api {runtime.api_url}{key_option} --sample "
        "--callback-url http://127.0.0.1:8765/hook --client-reference demo\n"
        "\nserving; Ctrl-C to stop",
        flush=True,
    )


def main(args: argparse.Namespace) -> int:
    import httpx

    from facesvg.commands.submit import SubmitError
    from facesvg.local.runtime import LocalRuntime

    data_dir = None if args.in_memory else args.data_dir
    ports = chosen_ports(args, data_dir)
    config = _runtime_config(args, ports, data_dir)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm)  # `kill` stops the stack as Ctrl-C does
        # Ctrl-C stops it even when started in the background by a shell (which ignores SIGINT there)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    runtime = LocalRuntime(config)
    failed = _start(runtime, ports)
    if failed is not None:
        return failed
    endpoints_file = _write_endpoints(runtime, data_dir)
    _print_addresses(runtime, data_dir)

    code = 0
    try:
        if not args.no_sample:
            code = _run_sample(args, runtime)
        if not args.once:
            _print_examples(args, runtime)
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
