"""`facesvg webhook-listen`: a tiny receiver on 127.0.0.1 that prints every verified delivery.

facesvg webhook-listen --port 8765                  # the local stack's secret (AWS_ENDPOINT_URL)
facesvg submit --callback-url http://127.0.0.1:8765/hook --client-reference mine
"""

from __future__ import annotations

import argparse
import json
import os
import threading

from facesvg import names

ENV_SECRET = "FACESVG_WEBHOOK_SECRET"  # noqa: S105 (a variable name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 = any)")
    parser.add_argument(
        "--secret",
        default=os.environ.get(ENV_SECRET),
        help=f"signing secret (default ${ENV_SECRET}, else the local stack's, read from Secrets Manager "
        f"at ${names.ENV_ENDPOINT_URL})",
    )
    parser.add_argument("--endpoint", default=os.environ.get(names.ENV_ENDPOINT_URL), help="moto endpoint")
    parser.add_argument("--answer", type=int, default=200, help="status to answer verified deliveries with")
    parser.add_argument(
        "--count", type=int, default=None, help="exit (0) after this many verified deliveries (scripts)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="exit (1), saying so, when the deliveries have not all arrived after this many seconds",
    )


def main(args: argparse.Namespace) -> int:
    from rich.console import Console

    from facesvg.local.webhooks import Received, WebhookReceiver

    console = Console()
    secret = args.secret
    if not secret:
        if not args.endpoint:
            console.print(
                f"[red]no secret[/red]: pass --secret, set ${ENV_SECRET} or ${names.ENV_ENDPOINT_URL}"
            )
            return 2
        from facesvg.local.resources import local_secret

        secret = local_secret(args.endpoint)

    done = threading.Event()
    verified: list[Received] = []

    def show(got: Received) -> None:
        if not got.verified:
            console.print(f"[red]REJECTED[/red] {got.path}: bad or stale signature (answered 401)")
            return
        verified.append(got)
        body = got.body
        console.print(
            f"[green]verified[/green] {body.get('type')} job [bold]{body.get('id')}[/bold] "
            f"status={body.get('status')} ref={body.get('client_reference')} delivery={got.delivery_id}"
        )
        console.print_json(json.dumps({k: v for k, v in body.items() if k not in ("result_urls",)}))
        if args.count is not None and len(verified) >= args.count:
            done.set()

    receiver = WebhookReceiver(secret, args.port, on_delivery=show)
    if args.answer != 200:
        receiver._answer = lambda path: args.answer  # type: ignore[method-assign]
    with receiver:
        # printed once the socket listens: a script may submit as soon as it reads this line
        console.print(f"listening on [bold]{receiver.url('/hook')}[/bold]; Ctrl-C to stop", soft_wrap=True)
        try:
            if not done.wait(args.timeout):
                console.print(
                    f"[red]error:[/red] {len(verified)} of {args.count or 'the'} deliveries within "
                    f"{args.timeout:g} s",
                    soft_wrap=True,
                )
                return 1
        except KeyboardInterrupt:
            console.print("stopping")
    return 0
