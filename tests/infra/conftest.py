"""Shared fixtures for the infrastructure tests: the stack is synthesized once per session (per
xdist worker), with the context from ``cdk.json`` and asset bundling skipped (``make synth`` does
the real bundling)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


def test_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context, bundling skipped for every stack, asset metadata on (as the CLI does)."""
    context = cdk_json_context()
    context.update({"aws:cdk:bundling-stacks": [], "aws:cdk:enable-asset-metadata": True})
    context.update({f"facesvg:{k}": v for k, v in overrides.items()})
    return context


@dataclass
class Synth:
    stack: Any
    template: Any  # aws_cdk.assertions.Template
    json: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.json["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.resolve(self.stack.get_logical_id(construct.node.default_child)))


def synthesize(tmp_dir: Path, *, nag: bool = False, **overrides: Any) -> Synth:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    import infra.processing
    from infra.app import build_app

    if not (REPO_ROOT / infra.processing.PROCESS_DOCKERFILE).is_file():
        pytest.skip(f"{infra.processing.PROCESS_DOCKERFILE} does not exist yet")

    app = cdk.App(context=test_context(**overrides), outdir=str(tmp_dir))
    app, stack = build_app(app, nag=nag)
    template = Template.from_stack(stack)
    return Synth(stack=stack, template=template, json=dict(template.to_json()))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack with the context from cdk.json (the default deployment)."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def synth_with(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Synth]:
    def build(*, nag: bool = False, **overrides: Any) -> Synth:
        return synthesize(tmp_path_factory.mktemp("cdk-variant"), nag=nag, **overrides)

    return build
