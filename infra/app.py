"""CDK app entry point (``cdk.json``: ``python -m infra.app``).

``npx cdk synth`` / ``make synth`` build the layer locally (no Docker) and run cdk-nag's
AwsSolutions pack: an unacknowledged finding fails the synth.
"""

from __future__ import annotations

import os

import aws_cdk as cdk

from infra.config import StackConfig
from infra.nag import add_aws_solutions_checks
from infra.stack import STACK_NAME, FaceSvgStack


def build_app(app: cdk.App | None = None, *, nag: bool = True) -> tuple[cdk.App, FaceSvgStack]:
    app = app or cdk.App()
    config = StackConfig.from_context(app.node)
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    env = cdk.Environment(account=account, region=region) if account and region else None
    stack = FaceSvgStack(
        app,
        STACK_NAME,
        config=config,
        env=env,
        description="facesvg: face photo + segmentation + landmarks -> SVG contours (serverless)",
    )
    if nag:
        add_aws_solutions_checks(app)
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
