"""One lock for everything that installs: uv.lock (hashes) is current with pyproject.toml, the
Lambda artefacts' requirements files are exactly its exports, every shipped wheel runs on Lambda's
platform, the framework pins hold, and the CDK CLI agrees with the locked aws-cdk-lib."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import Tag, cpython_tags, parse_tag
from packaging.utils import parse_wheel_filename

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")  # installed by the Makefile (UV_VERSION)


def _lock() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "uv.lock").read_text())


def _locked(name: str) -> list[dict[str, Any]]:
    return [p for p in _lock()["package"] if p["name"] == name]


def _uv(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    assert UV.is_file(), f"{UV} is missing: `make install` installs uv (Makefile UV_VERSION)"
    return subprocess.run([str(UV), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_uv_is_the_version_the_project_pins() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    pinned = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert pinned, "Makefile: UV_VERSION"
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["uv"]
    assert config["required-version"] == f"=={pinned.group(1)}"
    assert _uv("--version").stdout.split()[1] == pinned.group(1)


def test_the_lock_is_current_with_pyproject() -> None:
    """Offline: fails when a dependency, extra or constraint in pyproject.toml is not in uv.lock
    (run `make lock`)."""
    result = _uv("lock", "--check", "--offline")
    assert result.returncode == 0, (
        "uv.lock is stale against pyproject.toml: run `make lock`\n" + result.stderr
    )


def test_the_lock_check_fails_on_a_changed_range(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        (tmp_path / name).write_bytes((REPO_ROOT / name).read_bytes())
    (tmp_path / "layers" / "facesvg").mkdir(parents=True)
    pyproject = (tmp_path / "pyproject.toml").read_text()
    assert '"svgwrite>=1.4.3,<2"' in pyproject
    (tmp_path / "pyproject.toml").write_text(pyproject.replace('"svgwrite>=1.4.3,<2"', '"svgwrite>=1.4,<2"'))
    assert _uv("lock", "--check", "--offline", cwd=tmp_path).returncode != 0


@pytest.mark.parametrize("export", ["lambda-image.txt", "lambda-layer.txt"])
def test_the_artefacts_requirements_are_exactly_the_locks_export(export: str, tmp_path: Path) -> None:
    """Each file names the command that made it (its header, `make lock`); run again, it gives the
    same bytes."""
    path = REPO_ROOT / "requirements" / export
    header = path.read_text().splitlines()[1]
    argv = shlex.split(header.lstrip("# "))
    assert argv[:2] == ["uv", "export"] and "--frozen" in argv and "--no-emit-project" in argv
    out = tmp_path / export
    argv[argv.index("-o") + 1] = str(out)
    result = _uv(*argv[1:], "--quiet")
    assert result.returncode == 0, result.stderr
    fresh = out.read_text().splitlines()[2:]  # the header names the output path
    assert fresh == path.read_text().splitlines()[2:], f"requirements/{export} is stale: run `make lock`"
    assert "--hash=sha256:" in path.read_text()


def test_the_layer_leaves_out_only_numpy_and_opencv() -> None:
    from infra.layer import (
        IMAGE_REQUIREMENTS,
        IMAGING_DISTRIBUTIONS,
        LAYER_REQUIREMENTS,
        locked_requirements,
    )

    image, layer = locked_requirements(IMAGE_REQUIREMENTS), locked_requirements(LAYER_REQUIREMENTS)
    assert set(image) - set(layer) == {*IMAGING_DISTRIBUTIONS, "pillow", "pillow-heif"}
    assert {"pydantic", "aws-lambda-powertools", "boto3", "svgwrite"} <= set(layer)
    for name, version in layer.items():
        assert image[name] == version  # one lock: the same versions everywhere


def _runtime_tags() -> set[Tag]:
    """Tags a wheel may have to install on Lambda's python3.11 (Amazon Linux 2, glibc 2.26)."""
    from infra.layer import RUNTIME_PYTHON

    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(26, 4, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    tags = set(cpython_tags(RUNTIME_PYTHON, platforms=platforms))
    tags |= {Tag("py3", "none", "any"), Tag("py2.py3", "none", "any")}
    tags |= {t for p in platforms for t in parse_tag(f"py3-none-{p}")}
    return tags


def test_every_shipped_package_has_a_wheel_for_the_lambda_runtime() -> None:
    """A release with manylinux_2_28 wheels only would not install in Lambda's python3.11: the
    lock must keep one that does (pyproject.toml [tool.uv] constraint-dependencies)."""
    from infra.layer import IMAGE_REQUIREMENTS, locked_requirements

    supported = _runtime_tags()
    for name, version in locked_requirements(IMAGE_REQUIREMENTS).items():
        (package,) = (p for p in _locked(name) if p["version"] == version)
        wheels = [w["url"].rsplit("/", 1)[1] for w in package.get("wheels", [])]
        runnable = [w for w in wheels if parse_wheel_filename(w)[3] & supported]
        assert runnable, f"{name} {version}: no wheel for Lambda's python3.11 (glibc 2.26) among {wheels}"


def test_powertools_and_moto_are_pinned_to_the_tested_minor() -> None:
    """The code hooks into their internals (tests/unit/test_framework_hooks.py): one locked
    version each, and pyproject's lower bound is that minor (a compatible range for the library)."""
    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = "\n".join(
        [*deps["dependencies"], *(d for ds in deps["optional-dependencies"].values() for d in ds)]
    )
    for name, spec in (("aws-lambda-powertools", "aws-lambda-powertools[tracer]"), ("moto", "moto[server]")):
        (package,) = _locked(name)
        major, minor = package["version"].split(".")[:2]
        assert f"{spec}>={major}.{minor},<{int(major) + 1}" in declared.splitlines(), name


def test_the_cdk_cli_agrees_with_the_locked_aws_cdk_lib(synth: Any) -> None:
    """The npm CLI (package-lock.json) must read what the locked aws-cdk-lib writes: the cloud
    assembly's manifest names the oldest CLI that can."""
    (lib,) = _locked("aws-cdk-lib")
    assert importlib.metadata.version("aws-cdk-lib") == lib["version"]  # installed from the lock
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    cli = lock["packages"]["node_modules/aws-cdk"]["version"]
    manifest = json.loads((Path(synth.stack.node.root.outdir) / "manifest.json").read_text())
    minimum = manifest.get("minimumCliVersion")
    assert minimum, "the cloud assembly names no minimumCliVersion"

    def key(version: str) -> tuple[int, ...]:
        return tuple(int(p) for p in version.split("."))

    assert key(cli) >= key(minimum), (
        f"aws-cdk-lib {lib['version']} needs the CDK CLI >= {minimum}; package-lock.json has {cli}"
    )


def test_the_size_table_fails_a_function_below_a_quarter_of_headroom() -> None:
    from infra.sizes import FunctionSize, report

    sizes = [
        FunctionSize("light", "zip", 0.1, 45.0),
        FunctionSize("edge", "zip", 0.5, 187.0),  # 187.5 MiB: exactly 25 % left
        FunctionSize("heavy", "zip", 0.1, 242.0),  # the old all-in-one layer
        FunctionSize("image", "image", 330.0, 0.0),
    ]
    lines, failing = report(sizes)
    assert [s.name for s in failing] == ["heavy"]
    assert len(lines) == 5 and "97%" in lines[4] and "3%" in lines[3]


def test_the_dockerfile_installs_the_locked_export_as_the_artefact_test_does() -> None:
    """No resolution in the image build: the exported file, with ``PIP_INSTALL_ARGS`` (the ones
    ``infra.artefacts.image_root`` uses) into the task root."""
    from infra.functions import IMAGE_DOCKERFILE
    from infra.layer import IMAGE_REQUIREMENTS, PIP_INSTALL_ARGS, pip_install_command

    dockerfile = (REPO_ROOT / IMAGE_DOCKERFILE).read_text()
    assert f"COPY {IMAGE_REQUIREMENTS.relative_to(REPO_ROOT)} /tmp/requirements.txt" in dockerfile
    (install,) = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert " ".join(PIP_INSTALL_ARGS) in install
    assert "--target ${LAMBDA_TASK_ROOT} --requirement /tmp/requirements.txt" in install
    assert "pyproject" not in dockerfile and "tomllib" not in dockerfile
    local = pip_install_command(IMAGE_REQUIREMENTS, Path("/task"))
    assert local[local.index("--no-deps") : local.index("--target")] == list(PIP_INSTALL_ARGS)
    from_image = re.search(r"FROM public\.ecr\.aws/lambda/python:(\d+\.\d+)", dockerfile)
    assert from_image and from_image.group(1) == "3.11" == f"{sys.version_info[0]}.{sys.version_info[1]}"
