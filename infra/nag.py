"""cdk-nag (AwsSolutions) wiring and the one helper every justified acknowledgement goes through.

cdk-nag v3 runs as a CDK policy-validation plugin: an unacknowledged finding fails ``cdk synth``.
Acknowledgements use CDK's ``Validations.of(construct).acknowledge`` with the finding id, e.g.
``AwsSolutions-IAM5[Action::s3:GetObject*]``; the reason is mandatory and reviewed like code.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(construct: IConstruct, finding_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``construct`` (and everything below it), with a reason."""
    if len(reason) < 20:
        raise ValueError(f"acknowledging {finding_id} needs a real justification, got {reason!r}")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding_id, reason=reason))


def add_aws_solutions_checks(app: cdk.App) -> None:
    """Run the AwsSolutions pack on the whole app at synth time."""
    from cdk_nag import AwsSolutionsChecks

    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
