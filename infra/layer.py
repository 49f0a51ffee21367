"""The Lambda layer for the zip functions: the ``facesvg`` package plus its runtime dependencies.

Built at synth time without Docker: :class:`PipLayerBundler` runs ``pip install`` for the Lambda
platform (manylinux2014 x86_64, CPython 3.11, wheels only) into ``<asset>/python`` and copies the
package next to it. If that is impossible on the host (no pip), CDK falls back to the declared
Docker bundling image (the SAM build image for the runtime) running the same commands.

The requirement specifiers come from ``pyproject.toml`` (one source of versions); packages the
zip functions do not need are left out, each for a stated reason, because Lambda caps a function
plus its layers at 250 MB unzipped and numpy + OpenCV + SciPy alone exceed it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import LAMBDA_UNZIPPED_LIMIT_MB

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "layers" / "facesvg"

RUNTIME = lambda_.Runtime.PYTHON_3_11
ARCHITECTURE = lambda_.Architecture.X86_64
PIP_PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.11",
    "--only-binary=:all:",
)

# Project dependencies that do not go into the layer, and why.
EXCLUDED_DEPENDENCIES: dict[str, str] = {
    "boto3": "provided by the Lambda Python runtime",
    "scipy": "render core only (smoothing): the process function is a container image with it; "
    "numpy + OpenCV + SciPy exceed Lambda's 250 MB unzipped limit for zip functions",
    "rich": "CLI only",
    "httpx": "CLI and local runtime only",
}
# Installed as dependencies of the above but already in the Lambda runtime: removed after pip.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
# Budget left for the function code itself next to the layer.
CODE_BUDGET_MB = 5
BUNDLER_VERSION = "1"  # bump to force a rebuild when the bundling steps change


def _dist_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"unparsable requirement {requirement!r}")
    return match.group(1).lower().replace("_", "-")


def layer_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The project's runtime dependencies (with their specifiers) minus the excluded ones."""
    deps: list[str] = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [d for d in deps if _dist_name(d) not in EXCLUDED_DEPENDENCIES]


def _package_files() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )


def layer_asset_hash(requirements: list[str]) -> str:
    """Source hash: the package files, the requirement specifiers and the bundling recipe."""
    digest = hashlib.sha256()
    for part in (BUNDLER_VERSION, *PIP_PLATFORM_ARGS, *requirements):
        digest.update(part.encode() + b"\0")
    for path in _package_files():
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / (1024 * 1024)


def slim(site: Path) -> None:
    """Drop what the runtime already has and what is never imported at run time."""
    for entry in site.iterdir():
        base = entry.name.split("-")[0].lower()
        if base in RUNTIME_PROVIDED:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    for tests in list(site.glob("numpy/**/tests")):
        shutil.rmtree(tests, ignore_errors=True)
    if (site / "bin").is_dir():
        shutil.rmtree(site / "bin")


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundler:
    """Local (Docker-free) bundling of the layer with the host's pip."""

    def __init__(self, requirements: list[str]) -> None:
        self.requirements = requirements

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        if os.environ.get("FACESVG_FORCE_DOCKER_BUNDLING") == "1":
            return False
        site = Path(output_dir) / "python"
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--upgrade",
            *PIP_PLATFORM_ARGS,
            "--target",
            str(site),
            *self.requirements,
        ]
        try:
            subprocess.run(cmd, check=True)  # noqa: S603 - fixed argv, no shell
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"facesvg layer: local pip bundling failed ({exc}); trying Docker", file=sys.stderr)
            shutil.rmtree(site, ignore_errors=True)
            return False
        shutil.copytree(PACKAGE_DIR, site / "facesvg", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        slim(site)
        size = _dir_size_mb(site)
        budget = LAMBDA_UNZIPPED_LIMIT_MB - CODE_BUDGET_MB
        if size > budget:
            raise RuntimeError(
                f"facesvg layer is {size:.0f} MB unzipped, over the {budget} MB budget "
                f"(Lambda's limit is {LAMBDA_UNZIPPED_LIMIT_MB} MB for function + layers)"
            )
        print(f"facesvg layer: bundled locally, {size:.0f} MB unzipped", file=sys.stderr)
        return True


def docker_command(requirements: list[str]) -> list[str]:
    """The same recipe for the Docker fallback (SAM build image, /asset-input = layers/)."""
    quoted = " ".join(f"'{r}'" for r in requirements)
    removed = " ".join(f"/asset-output/python/{n}*" for n in RUNTIME_PROVIDED)
    return [
        "bash",
        "-c",
        f"pip install --no-compile --target /asset-output/python {quoted}"
        " && cp -r /asset-input/facesvg /asset-output/python/"
        f" && rm -rf {removed} /asset-output/python/bin"
        " && find /asset-output/python -name __pycache__ -prune -exec rm -rf {} +",
    ]


class FaceSvgLayer(Construct):
    """``LayerVersion`` with ``python/facesvg`` and the dependencies the zip functions import."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        requirements = layer_requirements()
        self.requirements = requirements
        code = lambda_.Code.from_asset(
            str(PACKAGE_DIR.parent),
            asset_hash=layer_asset_hash(requirements),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            exclude=["*.egg-info", "**/__pycache__", "**/*.pyc"],
            bundling=cdk.BundlingOptions(
                image=RUNTIME.bundling_image,
                command=docker_command(requirements),
                local=PipLayerBundler(requirements),
                platform="linux/amd64",
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="facesvg package + runtime dependencies (numpy, OpenCV, pydantic, Powertools)",
        )
