"""The Lambda layer for the zip functions: the ``facesvg`` package plus its runtime dependencies.

Built at synth time without Docker: :class:`PipLayerBundler` runs ``pip install`` for the Lambda
platform (manylinux2014 x86_64, CPython 3.11, wheels only) into ``<asset>/python`` and copies the
package next to it. If that is impossible on the host (no pip), CDK falls back to the declared
Docker bundling image (the SAM build image for the runtime) running the same commands.

The requirement specifiers are the project's core dependencies in ``pyproject.toml`` (one source
of versions; the CLI and the local runtime have extras of their own, which never ship); boto3 is
left out because the runtime has it. Only what Lambda runs is shipped: ``LAMBDA_PACKAGE_PARTS``
of the package (core, service, names), never ``local/`` (the emulator and its moto patches),
``commands/`` or ``cli.py``. The process image's Dockerfile copies the same parts.
"""

from __future__ import annotations

import compileall
import hashlib
import itertools
import os
import py_compile
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
REDOC_SOURCE = REPO_ROOT / "node_modules" / "redoc" / "bundles" / "redoc.standalone.js"

RUNTIME = lambda_.Runtime.PYTHON_3_11
RUNTIME_PYTHON = (3, 11)  # the version of RUNTIME: the wheels' tag and the bytecode's
ARCHITECTURE = lambda_.Architecture.X86_64
PIP_PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "{}.{}".format(*RUNTIME_PYTHON),
    "--only-binary=:all:",
)

# The parts of the facesvg package that run in Lambda (paths under layers/facesvg/).
LAMBDA_PACKAGE_PARTS = ("__init__.py", "names.py", "py.typed", "core", "service")
# What must never be in a Lambda artefact (tests/infra checks the staged assets).
NOT_SHIPPED_PARTS = ("local", "commands", "cli.py")
NOT_SHIPPED_DISTRIBUTIONS = ("moto", "rich", "httpx", "prometheus_client", "werkzeug", "flask")

# Project dependencies that do not go into the layer, and why.
EXCLUDED_DEPENDENCIES: dict[str, str] = {
    "boto3": "provided by the Lambda Python runtime",
}
# Installed as dependencies of the above but already in the Lambda runtime: removed after pip.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
# Budget left for the function code itself next to the layer.
CODE_BUDGET_MB = 5
BUNDLER_VERSION = "2"  # bump to force a rebuild when the bundling steps change


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
    """The files of ``LAMBDA_PACKAGE_PARTS`` (sources and data, no bytecode)."""
    files: list[Path] = []
    for part in LAMBDA_PACKAGE_PARTS:
        path = PACKAGE_DIR / part
        candidates = [path] if path.is_file() else list(path.rglob("*"))
        files += [
            p
            for p in candidates
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
        ]
    return sorted(files)


def copy_package(destination: Path) -> None:
    """``LAMBDA_PACKAGE_PARTS`` of the package into ``destination`` (``<site>/facesvg``)."""
    for path in _package_files():
        target = destination / path.relative_to(PACKAGE_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def copy_redoc_bundle(destination: Path) -> bool:
    """ReDoc's standalone script (npm's ``redoc``, installed by ``npm ci``) into the package's
    ``service/static/``, where ``facesvg.service.api_docs`` serves ``/redoc`` from. False (and the
    deployed ``/redoc`` says how to install it) when ``node_modules`` has none."""
    source = REDOC_SOURCE
    if not source.is_file():
        print(f"facesvg layer: no {source} (run `npm ci`): /redoc will not be served", file=sys.stderr)
        return False
    target = destination / "service" / "static" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    return True


def unshipped_paths(root: Path) -> list[str]:
    """Paths under ``root`` (a staged layer asset or image build context) that must not ship: the
    local runtime, the CLI, and the distributions only they use (a top-level package or dist-info
    of a site directory: ``python/`` of a layer, or ``site-packages/``). Empty when clean."""
    found = []
    for path in root.rglob("*"):
        parts = path.relative_to(root).parts
        in_package = any(a == "facesvg" and b in NOT_SHIPPED_PARTS for a, b in itertools.pairwise(parts))
        top_level = [
            b
            for i, (a, b) in enumerate(itertools.pairwise(parts))
            if (a == "python" and i == 0) or a == "site-packages"
        ]
        distribution = any(
            name.lower().removesuffix(".py").split("-")[0] in NOT_SHIPPED_DISTRIBUTIONS for name in top_level
        )
        if in_package or distribution:
            found.append(str(path.relative_to(root)))
    return sorted(found)


def asset_exclude() -> list[str]:
    """Docker-ignore patterns (relative to ``layers/``) that keep only ``LAMBDA_PACKAGE_PARTS``."""
    return [
        "*",
        *(f"!facesvg/{part}" for part in LAMBDA_PACKAGE_PARTS),
        "**/__pycache__",
        "**/*.pyc",
    ]


def layer_asset_hash(requirements: list[str]) -> str:
    """Source hash: the package files, the requirement specifiers and the bundling recipe."""
    digest = hashlib.sha256()
    for part in (BUNDLER_VERSION, *PIP_PLATFORM_ARGS, *requirements):
        digest.update(part.encode() + b"\0")
    for path in _package_files():
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0")
        digest.update(path.read_bytes())
    if REDOC_SOURCE.is_file():  # served by the status function (copy_redoc_bundle)
        digest.update(REDOC_SOURCE.read_bytes())
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


def compile_bytecode(site: Path) -> bool:
    """Ship the layer compiled. ``/opt`` is read-only in Lambda: a layer without ``.pyc`` files
    compiles every module it imports on each cold start (the submit handler's import from a built
    layer: ~370 ms without bytecode, ~160 ms with). Unchecked-hash bytecode, because CDK zips assets
    with a fixed 1980 timestamp, which would make timestamp-checked ``.pyc`` files stale, and a
    layer version never changes. Only with the runtime's Python (bytecode is per version): returns
    False, and the layer ships without it, on another."""
    if sys.version_info[:2] != RUNTIME_PYTHON:
        print(
            f"facesvg layer: no bytecode (bundling with Python {sys.version_info[0]}.{sys.version_info[1]}, "
            f"the runtime is {RUNTIME.name})",
            file=sys.stderr,
        )
        return False
    return bool(
        compileall.compile_dir(
            str(site), quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
    )


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundler:
    """Local (Docker-free) bundling of the layer with the host's pip."""

    # How the dependencies are installed (tests replace it to check the bundle without pip).
    install: Any = staticmethod(subprocess.run)

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
            self.install(cmd, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"facesvg layer: local pip bundling failed ({exc}); trying Docker", file=sys.stderr)
            shutil.rmtree(site, ignore_errors=True)
            return False
        copy_package(site / "facesvg")
        copy_redoc_bundle(site / "facesvg")
        slim(site)
        compile_bytecode(site)
        size = _dir_size_mb(site)
        budget = LAMBDA_UNZIPPED_LIMIT_MB - CODE_BUDGET_MB
        if size > budget:
            raise RuntimeError(
                f"facesvg layer is {size:.0f} MB unzipped, over the {budget} MB budget "
                f"(Lambda's limit is {LAMBDA_UNZIPPED_LIMIT_MB} MB for function + layers)"
            )
        print(f"facesvg layer: bundled locally, {size:.0f} MB unzipped", file=sys.stderr)
        return True


def check_assets(cdk_out: Path, stack: str = "FaceSvg") -> list[str]:
    """``unshipped_paths`` of every Lambda asset (layer, image context) of a synthesized ``cdk.out``."""
    import json

    template = json.loads((cdk_out / f"{stack}.template.json").read_text())
    found = []
    for resource in template["Resources"].values():
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        if asset and resource["Type"] in ("AWS::Lambda::LayerVersion", "AWS::Lambda::Function"):
            found += [f"{asset}/{p}" for p in unshipped_paths(cdk_out / asset)]
    return found


def docker_command(requirements: list[str]) -> list[str]:
    """The same recipe for the Docker fallback (SAM build image, /asset-input = layers/)."""
    quoted = " ".join(f"'{r}'" for r in requirements)
    removed = " ".join(f"/asset-output/python/{n}*" for n in RUNTIME_PROVIDED)
    parts = " ".join(f"/asset-input/facesvg/{part}" for part in LAMBDA_PACKAGE_PARTS)
    return [
        "bash",
        "-c",
        f"pip install --no-compile --target /asset-output/python {quoted}"
        f" && mkdir -p /asset-output/python/facesvg && cp -r {parts} /asset-output/python/facesvg/"
        f" && rm -rf {removed} /asset-output/python/bin"
        " && find /asset-output/python -name __pycache__ -prune -exec rm -rf {} +"
        " && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /asset-output/python",
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
            exclude=asset_exclude(),
            ignore_mode=cdk.IgnoreMode.DOCKER,
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


if __name__ == "__main__":  # make synth: python -m infra.layer cdk.out
    leaked = check_assets(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out"))
    for line in leaked[:20]:
        print(f"not for Lambda: {line}", file=sys.stderr)
    sys.exit(1 if leaked else 0)
