"""`facesvg run`: the local stack on this machine, the bundled sample through it, then serve."""

from __future__ import annotations

import argparse
import errno
import threading
import time
from pathlib import Path

from facesvg import names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=names.LOCAL_API_PORT, help="API port on 127.0.0.1 (0 = any)"
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
        "--api-key", default=None, help="require this x-api-key on API calls, as a usage plan would"
    )
    parser.add_argument("--log-level", default="INFO")


def main(args: argparse.Namespace) -> int:
    import httpx
    from rich.console import Console
    from rich.table import Table

    from facesvg.commands.payload import sample_payload
    from facesvg.commands.submit import SubmitError, submit, wait, write_results
    from facesvg.local.runtime import LocalRuntime, RuntimeConfig

    console = Console()
    config = RuntimeConfig(
        api_port=args.port,
        process_workers=args.workers,
        artificial_delay_seconds=args.delay,
        api_key=args.api_key,
        log_level=args.log_level.upper(),
    )
    runtime = LocalRuntime(config)
    with console.status("starting moto's server, creating resources, loading functions…"):
        try:
            runtime.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                console.print(f"[red]port {args.port} is in use[/red]: try [bold]facesvg run --port 0[/bold]")
                runtime.stop()
                return 2
            raise

    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("API", runtime.api_url)
    table.add_row("Swagger UI", runtime.swagger_url)
    table.add_row("OpenAPI", runtime.swagger_url + "?format=json")
    table.add_row("AWS endpoint (moto: DynamoDB, SQS)", runtime.endpoint)
    table.add_row("S3 endpoint (moto)", runtime.s3_endpoint)
    table.add_row("drop folder", f"s3://{names.BUCKET_NAME}/{names.PREFIX_INCOMING}<name>/")
    console.print(table)

    code = 0
    try:
        if not args.no_sample:
            headers = {"x-api-key": args.api_key} if args.api_key else {}
            with httpx.Client(base_url=runtime.api_url, headers=headers, timeout=60) as client:
                started = time.monotonic()
                accepted = submit(client, sample_payload())
                console.print(f"submitted the QOVES sample: job [bold]{accepted['id']}[/bold]")
                final = wait(client, accepted, interval=0.1)
                if final["status"] != "completed":
                    console.print(f"[red]the sample failed:[/red] {final.get('error')}")
                    code = 1
                else:
                    written = write_results(client, final, args.out)
                    console.print(
                        f"[green]completed[/green] in {time.monotonic() - started:.2f} s; "
                        f"wrote {len(written)} files to [bold]{args.out.resolve()}[/bold] "
                        f"(face.svg, regions/, contours.json)"
                    )
        if not args.once:
            prefix = names.ROUTE_PREFIXES[0]
            console.print(
                "\n[bold]try[/bold]\n"
                "  facesvg payload -o payload.json\n"
                f"  curl -s -X POST {runtime.api_url}{prefix}{names.SUBMIT_PATH} "
                "-H 'Content-Type: application/json' --data @payload.json\n"
                f"  curl -s {runtime.api_url}{prefix}/status/<id>\n"
                f"  facesvg submit --api {runtime.api_url} --wait --out out/mine\n"
                "\n[bold]webhooks[/bold] (in two more terminals)\n"
                f"  AWS_ENDPOINT_URL={runtime.endpoint} facesvg webhook-listen --port 8765\n"
                f"  facesvg submit --api {runtime.api_url} --callback-url http://127.0.0.1:8765/hook"
                " --client-reference demo\n"
                "\nserving; Ctrl-C to stop"
            )
            threading.Event().wait()
    except KeyboardInterrupt:
        console.print("stopping")
    except (SubmitError, httpx.HTTPError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        code = 2
    finally:
        runtime.stop()
    return code
