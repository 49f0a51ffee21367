"""The Lambda layer of the zip functions: the ``facesvg`` package plus the locked dependencies they
import (no NumPy, no OpenCV: the functions that decode images run from the container image).

Built at synth time without Docker: :class:`PipLayerBundler` runs ``pip install`` of
``requirements/lambda-layer.txt`` (exported from ``uv.lock`` by ``make lock``: exact versions with
their hashes, no resolution) for the Lambda platform (manylinux2014 x86_64, CPython 3.11, wheels
only) into ``<asset>/python`` and copies the package next to it. If that is impossible on the host,
CDK falls back to the declared Docker bundling image (the SAM build image for the runtime) running
the same install. The process image's Dockerfile installs ``requirements/lambda-image.txt`` with the
same ``pip`` arguments (``PIP_INSTALL_ARGS``; tests/infra checks both).

Only what Lambda runs is shipped: ``LAMBDA_PACKAGE_PARTS`` of the package (core, service, names),
never ``local/`` (the emulator and its moto patches), ``commands/``, ``client/`` or ``cli.py``.
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
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "layers" / "facesvg"
REDOC_SOURCE = REPO_ROOT / "node_modules" / "redoc" / "bundles" / "redoc.standalone.js"

RUNTIME = lambda_.Runtime.PYTHON_3_11
RUNTIME_PYTHON = (3, 11)  # the version of RUNTIME: the wheels' tag and the bytecode's
ARCHITECTURE = lambda_.Architecture.X86_64
# python3.11 (zip and container base image) is Amazon Linux 2, glibc 2.26: manylinux2014 wheels.
RUNTIME_PLATFORM = "manylinux2014_x86_64"
PIP_PLATFORM_ARGS = (
    "--platform",
    RUNTIME_PLATFORM,
    "--implementation",
    "cp",
    "--python-version",
    "{}.{}".format(*RUNTIME_PYTHON),
    "--only-binary=:all:",
)
# How every Lambda artefact installs its requirements file: the locked versions and hashes only
# (``--no-deps``: the export lists every dependency; nothing is resolved), compiled afterwards.
PIP_INSTALL_ARGS = ("--no-deps", "--require-hashes", "--no-compile", *PIP_PLATFORM_ARGS)

REQUIREMENTS_DIR = REPO_ROOT / "requirements"
LAYER_REQUIREMENTS = REQUIREMENTS_DIR / "lambda-layer.txt"  # zip functions' layer
IMAGE_REQUIREMENTS = REQUIREMENTS_DIR / "lambda-image.txt"  # the container image (+ photos extra)
# What the layer leaves out (make lock: --no-emit-package): the functions that import them run from
# the image; tests/infra checks the zip functions' handlers never import them.
IMAGING_DISTRIBUTIONS = ("numpy", "opencv-python-headless", "simplejpeg")
IMAGING_MODULES = ("numpy", "cv2", "simplejpeg", "PIL", "pillow_heif")

# The parts of the facesvg package that run in Lambda (paths under layers/facesvg/).
LAMBDA_PACKAGE_PARTS = ("__init__.py", "names.py", "py.typed", "core", "service")
# What must never be in a Lambda artefact (tests/infra checks the staged assets).
NOT_SHIPPED_PARTS = ("local", "commands", "client", "cli.py")
NOT_SHIPPED_DISTRIBUTIONS = ("moto", "rich", "httpx", "prometheus_client", "werkzeug", "flask")
BUNDLER_VERSION = "3"  # bump to force a rebuild when the bundling steps change


def locked_requirements(path: Path) -> dict[str, str]:
    """``{distribution: version}`` of an exported requirements file (``name==version \\``)."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", path.read_text(), re.MULTILINE)
    return {name.lower().replace("_", "-"): version for name, version in pins}


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
    """Docker-ignore patterns (relative to the repository) that keep only what the bundling reads:
    ``LAMBDA_PACKAGE_PARTS`` and the layer's requirements file."""
    return [
        "*",
        f"!{LAYER_REQUIREMENTS.relative_to(REPO_ROOT)}",
        *(f"!layers/facesvg/{part}" for part in LAMBDA_PACKAGE_PARTS),
        "**/__pycache__",
        "**/*.pyc",
    ]


def layer_asset_hash(requirements: Path = LAYER_REQUIREMENTS) -> str:
    """Source hash: the package files, the locked requirements and the bundling recipe."""
    digest = hashlib.sha256()
    for part in (BUNDLER_VERSION, *PIP_INSTALL_ARGS):
        digest.update(part.encode() + b"\0")
    digest.update(requirements.read_bytes())
    for path in _package_files():
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0")
        digest.update(path.read_bytes())
    if REDOC_SOURCE.is_file():  # served by the status function (copy_redoc_bundle)
        digest.update(REDOC_SOURCE.read_bytes())
    return digest.hexdigest()


def dir_size_mib(path: Path) -> float:
    """Unzipped size of a directory (what Lambda counts against its limit), in MiB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / (1024 * 1024)


def slim(site: Path) -> None:
    """Drop what is never imported at run time (console scripts, stale caches)."""
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    if (site / "bin").is_dir():
        shutil.rmtree(site / "bin")


def pip_install_command(requirements: Path, target: Path, python: str = sys.executable) -> list[str]:
    """The locked install every Lambda artefact gets (the Dockerfile runs the same arguments)."""
    return [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *PIP_INSTALL_ARGS,
        "--target",
        str(target),
        "--requirement",
        str(requirements),
    ]


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

    def __init__(self, requirements: Path = LAYER_REQUIREMENTS) -> None:
        self.requirements = requirements

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        if os.environ.get("FACESVG_FORCE_DOCKER_BUNDLING") == "1":
            return False
        site = Path(output_dir) / "python"
        try:
            self.install(pip_install_command(self.requirements, site), check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"facesvg layer: local pip bundling failed ({exc}); trying Docker", file=sys.stderr)
            shutil.rmtree(site, ignore_errors=True)
            return False
        copy_package(site / "facesvg")
        copy_redoc_bundle(site / "facesvg")
        slim(site)
        compile_bytecode(site)
        print(f"facesvg layer: bundled locally, {dir_size_mib(site):.0f} MiB unzipped", file=sys.stderr)
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


def docker_command() -> list[str]:
    """The same recipe for the Docker fallback (SAM build image, /asset-input = the repository
    reduced by ``asset_exclude``)."""
    args = " ".join(PIP_INSTALL_ARGS)
    requirements = f"/asset-input/{LAYER_REQUIREMENTS.relative_to(REPO_ROOT)}"
    parts = " ".join(f"/asset-input/layers/facesvg/{part}" for part in LAMBDA_PACKAGE_PARTS)
    return [
        "bash",
        "-c",
        f"pip install {args} --target /asset-output/python --requirement {requirements}"
        f" && mkdir -p /asset-output/python/facesvg && cp -r {parts} /asset-output/python/facesvg/"
        " && rm -rf /asset-output/python/bin"
        " && find /asset-output/python -name __pycache__ -prune -exec rm -rf {} +"
        " && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /asset-output/python",
    ]


class FaceSvgLayer(Construct):
    """``LayerVersion`` with ``python/facesvg`` and the locked dependencies the zip functions import."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        code = lambda_.Code.from_asset(
            str(REPO_ROOT),
            asset_hash=layer_asset_hash(),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            exclude=asset_exclude(),
            ignore_mode=cdk.IgnoreMode.DOCKER,
            bundling=cdk.BundlingOptions(
                image=RUNTIME.bundling_image,
                command=docker_command(),
                local=PipLayerBundler(),
                platform="linux/amd64",
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="facesvg package + locked dependencies of the zip functions (no NumPy/OpenCV)",
        )


if __name__ == "__main__":  # make synth: python -m infra.layer cdk.out
    leaked = check_assets(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out"))
    for line in leaked[:20]:
        print(f"not for Lambda: {line}", file=sys.stderr)
    sys.exit(1 if leaked else 0)
