"""Write the ``--env-vars`` file for ``sam local invoke``: the deployed stack's resource names.

``sam local`` runs the handlers on this machine (in the Lambda emulation container) against the
resources of a deployed stack; the template's env values are CloudFormation references, which SAM
cannot resolve, so this fills them in from the stack outputs::

    python -m infra.sam_env > .aws-sam-env.json            # default stack FaceSvg
    python -m infra.sam_env --stack MyFaceSvg > .aws-sam-env.json
"""

from __future__ import annotations

import argparse
import json
import sys

from facesvg import names

from infra.stack import STACK_NAME

# stack output -> env var (the outputs are declared in infra/stack.py)
OUTPUT_TO_ENV = {
    "BucketName": names.ENV_BUCKET,
    "TableName": names.ENV_TABLE,
    "QueueUrl": names.ENV_QUEUE_URL,
    "EventBusName": names.ENV_EVENT_BUS,
    "NotifyQueueUrl": names.ENV_NOTIFY_QUEUE_URL,
    "WebhookSecretArn": names.ENV_WEBHOOK_SECRET_ID,
}


def env_file(outputs: dict[str, str]) -> dict[str, dict[str, str]]:
    """SAM's format: ``Parameters`` apply to every function in the template."""
    return {"Parameters": {env: outputs[key] for key, env in OUTPUT_TO_ENV.items() if key in outputs}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", default=STACK_NAME)
    args = parser.parse_args(argv)
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    json.dump(env_file(outputs), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
