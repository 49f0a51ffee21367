"""Functions: runtime, layer, image, tracing, logs, and every env var the code reads."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from facesvg import names

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "layers" / "facesvg"
# Code that runs inside the functions (the local runtime and the CLI never run in Lambda).
FUNCTION_CODE = [
    *sorted((PACKAGE / "service").rglob("*.py")),
    *sorted((PACKAGE / "core").rglob("*.py")),
    *sorted((REPO_ROOT / "functions").glob("*/handler.py")),
]
# Set by the Lambda runtime itself, or deliberately left unset on AWS (boto3's endpoint override).
NOT_OURS = {
    "LAMBDA_TASK_ROOT",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "_X_AMZN_TRACE_ID",
    names.ENV_ENDPOINT_URL,
    names.ENV_EMF_ENDPOINT,  # local runtime only: EMF to its exporter; unset in Lambda (stdout)
    # Powertools' tracing switches (observability.tracing_enabled): unset on AWS, tracing is on.
    "POWERTOOLS_TRACE_DISABLED",
    "AWS_SAM_LOCAL",
    "AWS_CHALICE_CLI_MODE",
}


def env_vars_read_by_code() -> set[str]:
    """Every ``names.ENV_*`` the function code mentions and every literal passed to os.environ/getenv."""
    found: set[str] = set()
    for path in FUNCTION_CODE:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "names"
                and node.attr.startswith("ENV_")
            ):
                found.add(getattr(names, node.attr))
            if isinstance(node, ast.Call):
                func = ast.unparse(node.func)
                if func in ("os.environ.get", "os.getenv", "environ.get", "getenv") and node.args:
                    arg = node.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
            if (
                isinstance(node, ast.Subscript)
                and ast.unparse(node.value) in ("os.environ", "environ")
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)
            ):
                found.add(node.slice.value)
    return found - NOT_OURS


def _functions(synth: Any) -> dict[str, dict[str, Any]]:
    stack = synth.stack
    fns = {
        "submit": stack.api.submit,
        "status": stack.api.status,
        "ingest": stack.processing.ingest,
        "process": stack.processing.process,
        "notify": stack.notifications.notify,
    }
    return {name: synth.resources[synth.logical_id(fn)] for name, fn in fns.items()}


def test_every_env_var_the_code_reads_is_set_on_every_function(synth: Any) -> None:
    # Given the variables the function code reads (settings.py is the reader; every function loads it)
    read = env_vars_read_by_code()
    assert {names.ENV_BUCKET, names.ENV_TABLE, names.ENV_QUEUE_URL} <= read
    from infra.functions import settings_env_names

    assert set(settings_env_names().values()) - NOT_OURS <= read  # the helper sees what the code sees
    # Then each function gets each of them, and not the endpoint override
    for name, fn in _functions(synth).items():
        env = fn["Properties"]["Environment"]["Variables"]
        missing = read - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert names.ENV_ENDPOINT_URL not in env, name


def test_env_vars_name_the_stack_resources_and_the_service(synth: Any) -> None:
    storage = synth.stack.storage
    for name, fn in _functions(synth).items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env[names.ENV_BUCKET] == {"Ref": synth.logical_id(storage.bucket)}, name
        assert env[names.ENV_TABLE] == {"Ref": synth.logical_id(storage.table)}, name
        assert env[names.ENV_QUEUE_URL] == {"Ref": synth.logical_id(storage.queue)}, name
        assert env["POWERTOOLS_SERVICE_NAME"] == names.SERVICE_NAME
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == names.METRICS_NAMESPACE
        assert env["PYDANTIC_DISABLE_PLUGINS"] == "__all__"  # no entry-point scan at cold start
        assert env[names.ENV_MAX_RECEIVE_COUNT] == str(synth.stack.config.max_receive_count)
        # the settings model must accept what the stack passes
    from facesvg.service.settings import Settings

    plain = {
        k: v
        for k, v in _functions(synth)["process"]["Properties"]["Environment"]["Variables"].items()
        if isinstance(v, str)
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in plain.items():
            mp.setenv(key, value)
        Settings()


def test_lease_is_shorter_than_the_visibility_timeout(synth: Any) -> None:
    queue = synth.resources[synth.logical_id(synth.stack.storage.queue)]["Properties"]
    env = _functions(synth)["process"]["Properties"]["Environment"]["Variables"]
    assert int(env[names.ENV_LEASE_SECONDS]) <= queue["VisibilityTimeout"]


def test_zip_functions_use_the_layer_and_the_handler_the_code_defines(synth: Any) -> None:
    from infra.functions import HANDLER_FUNCTION, HANDLER_MODULE, ZIP_FUNCTIONS

    layer = synth.logical_id(synth.stack.layer)
    assert set(ZIP_FUNCTIONS) == {"status", "notify"}
    for name in ZIP_FUNCTIONS:
        props = _functions(synth)[name]["Properties"]
        assert props["Runtime"] == "python3.11"
        assert props["Architectures"] == ["x86_64"]
        assert props["Handler"] == f"{HANDLER_MODULE}.{HANDLER_FUNCTION}"
        assert props["Layers"] == [{"Ref": layer}]
    for name in ("submit", "status", "ingest", "process", "notify"):
        source = REPO_ROOT / "functions" / name / f"{HANDLER_MODULE}.py"
        defined = {n.name for n in ast.parse(source.read_text()).body if isinstance(n, ast.FunctionDef)}
        assert HANDLER_FUNCTION in defined, f"{source} defines no {HANDLER_FUNCTION}()"
    (layer_version,) = synth.of_type("AWS::Lambda::LayerVersion").values()
    assert layer_version["Properties"]["CompatibleRuntimes"] == ["python3.11"]
    assert layer_version["Properties"]["CompatibleArchitectures"] == ["x86_64"]


def test_image_functions_share_one_image_each_with_its_own_handler(synth: Any) -> None:
    from infra.functions import IMAGE_DOCKERFILE, IMAGE_FUNCTIONS, image_command

    assets = set()
    for name in IMAGE_FUNCTIONS:
        fn = _functions(synth)[name]
        props = fn["Properties"]
        assert props["PackageType"] == "Image", name
        assert props["Architectures"] == ["x86_64"], name
        assert fn["Metadata"]["aws:asset:dockerfile-path"] == IMAGE_DOCKERFILE
        assert fn["Metadata"]["aws:asset:property"] == "Code.ImageUri"
        assert props["ImageConfig"]["Command"] == [image_command(name)], name
        assets.add(fn["Metadata"]["aws:asset:path"])
    assert len(assets) == 1  # one image to build and push
    process = _functions(synth)["process"]["Properties"]
    assert process["MemorySize"] == 1024
    assert process["Timeout"] == 60


def test_image_context_holds_exactly_what_the_dockerfile_copies(synth: Any) -> None:
    from infra.functions import IMAGE_DOCKERFILE, IMAGE_FUNCTIONS, image_command

    dockerfile = (REPO_ROOT / IMAGE_DOCKERFILE).read_text()
    process = _functions(synth)["process"]
    staged = Path(synth.stack.node.root.outdir) / process["Metadata"]["aws:asset:path"]
    copies = [
        line.split()[1:]
        for line in dockerfile.splitlines()
        if line.strip().upper().startswith(("COPY ", "ADD ")) and "--from" not in line
    ]
    assert copies
    for *sources, _ in copies:
        for src in sources:
            assert (staged / src.rstrip("/")).exists(), f"COPY {src}: not in the image's build context"
    # each image function's handler lands where its command points
    destinations = {src: dest for *sources, dest in copies for src in sources}
    for name in IMAGE_FUNCTIONS:
        module = image_command(name).rsplit(".", 1)[0].replace(".", "/")
        assert destinations[f"functions/{name}/handler.py"] == f"${{LAMBDA_TASK_ROOT}}/{module}.py"
    assert f'CMD ["{image_command("process")}"]' in dockerfile
    assert not (staged / "functions" / "status").exists() and not (staged / "pyproject.toml").exists()
    assert not (staged / "tests").exists() and not (staged / ".venv").exists()


def test_tracing_and_log_retention_on_every_function(synth: Any) -> None:
    groups = synth.of_type("AWS::Logs::LogGroup")
    for name, fn in _functions(synth).items():
        props = fn["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == 30, name


def test_reserved_concurrency_is_configurable(synth: Any, synth_with: Any) -> None:
    assert "ReservedConcurrentExecutions" not in _functions(synth)["process"]["Properties"]
    variant = synth_with(processReservedConcurrency=4, processMemoryMb=2048)
    props = _functions(variant)["process"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == 4
    assert props["MemorySize"] == 2048


def test_zip_functions_import_no_numpy_or_opencv() -> None:
    """The layer leaves NumPy and OpenCV out: the zip functions' handlers (and what they import at
    init and on their requests' paths) must not need them. Checked in a fresh interpreter where
    importing them fails; the artefact test (tests/integration/test_artefacts_e2e.py) runs them from
    the built layer itself."""
    from infra.functions import ZIP_FUNCTIONS
    from infra.layer import IMAGING_MODULES

    code = "\n".join(
        [
            "import os, sys",
            f"for m in {list(IMAGING_MODULES)!r}: sys.modules[m] = None",
            "os.environ.setdefault('AWS_DEFAULT_REGION', 'us-east-1')",
            "import importlib.util",
            f"for name in {list(ZIP_FUNCTIONS)!r}:",
            "    spec = importlib.util.spec_from_file_location(name, f'functions/{name}/handler.py')",
            "    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_layer_slimming_drops_caches_and_scripts(tmp_path: Path) -> None:
    from infra.layer import LAYER_REQUIREMENTS, PIP_INSTALL_ARGS, docker_command, slim

    site = tmp_path / "python"
    for entry in ("pydantic/__pycache__", "bin", "pydantic_core"):
        (site / entry).mkdir(parents=True)
    slim(site)
    assert sorted(p.name for p in site.iterdir()) == ["pydantic", "pydantic_core"]
    # the Docker fallback installs the same locked file with the same arguments
    command = docker_command()[-1]
    assert " ".join(PIP_INSTALL_ARGS) in command
    assert str(LAYER_REQUIREMENTS.relative_to(REPO_ROOT)) in command


def test_layer_ships_bytecode_that_needs_no_source_timestamps(tmp_path: Path) -> None:
    """/opt is read-only: without .pyc every cold start compiles what it imports; CDK zips with a
    fixed 1980 timestamp, so the bytecode must not be checked against the sources' times."""
    import importlib.util

    from infra.layer import RUNTIME_PYTHON, compile_bytecode, docker_command

    site = tmp_path / "python"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    if sys.version_info[:2] != RUNTIME_PYTHON:
        assert compile_bytecode(site) is False
        pytest.skip("bytecode is only built with the runtime's Python")
    assert compile_bytecode(site) is True
    pyc = site / "pkg" / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc"
    header = pyc.read_bytes()[:8]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source never checked
    assert "compileall" in docker_command()[-1]
    dockerfile = (Path(__file__).resolve().parents[2] / "functions" / "process" / "Dockerfile").read_text()
    assert "compileall -q --invalidation-mode unchecked-hash ${LAMBDA_TASK_ROOT}" in dockerfile


def _staged(synth: Any, resource: dict[str, Any]) -> Path:
    return Path(synth.stack.node.root.outdir) / resource["Metadata"]["aws:asset:path"]


def test_lambda_assets_hold_no_local_runtime_cli_or_their_dependencies(
    synth: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The layer asset (bundled: the dependencies' install is stubbed, they are checked by name) and
    the process image's build context, as staged in cdk.out, carry only what Lambda runs (core,
    service, names): no local/ (the emulator and its moto patches), no commands/ or cli.py, no
    moto/rich/httpx. ``make synth`` runs the same check (``python -m infra.layer``) on its cdk.out."""
    import aws_cdk as cdk

    from infra.app import build_app
    from infra.layer import (
        IMAGE_REQUIREMENTS,
        LAMBDA_PACKAGE_PARTS,
        LAYER_REQUIREMENTS,
        RUNTIME_PYTHON,
        PipLayerBundler,
        check_assets,
        locked_requirements,
    )
    from tests.infra.conftest import cdk_json_context

    def install(cmd: list[str], check: bool) -> None:
        assert cmd[cmd.index("--requirement") + 1] == str(LAYER_REQUIREMENTS)
        (Path(cmd[cmd.index("--target") + 1]) / "numpy").mkdir(parents=True)

    monkeypatch.setattr(PipLayerBundler, "install", staticmethod(install))
    context = {**cdk_json_context(), "aws:cdk:enable-asset-metadata": True}
    app, _ = build_app(cdk.App(context=context, outdir=str(tmp_path / "cdk.out")), nag=False)
    app.synth()

    out = tmp_path / "cdk.out"
    assert check_assets(out) == []
    template = json.loads((out / "FaceSvg.template.json").read_text())
    paths = {
        r["Type"]: r["Metadata"]["aws:asset:path"]
        for r in template["Resources"].values()
        if "aws:asset:path" in r.get("Metadata", {}) and r["Type"] != "AWS::Lambda::Function"
    }
    layer = out / paths["AWS::Lambda::LayerVersion"] / "python"
    shipped = sorted(p.name for p in (layer / "facesvg").iterdir() if p.name != "__pycache__")
    assert shipped == sorted(LAMBDA_PACKAGE_PARTS)
    # ...with their bytecode (infra.layer.compile_bytecode), and no other module's
    if sys.version_info[:2] == RUNTIME_PYTHON:
        compiled = {p.name.split(".")[0] for p in (layer / "facesvg" / "__pycache__").iterdir()}
        assert compiled == {"__init__", "names"}
    (image,) = {
        out / r["Metadata"]["aws:asset:path"]
        for r in template["Resources"].values()
        if r.get("Metadata", {}).get("aws:asset:dockerfile-path")
    }
    assert sorted(p.name for p in (image / "layers" / "facesvg").iterdir()) == sorted(LAMBDA_PACKAGE_PARTS)
    for requirements in (LAYER_REQUIREMENTS, IMAGE_REQUIREMENTS):
        assert not set(locked_requirements(requirements)) & {"moto", "rich", "httpx", "prometheus-client"}


def test_the_asset_check_finds_a_leak(tmp_path: Path) -> None:
    from infra.layer import unshipped_paths

    for leak in (
        "python/facesvg/local/aws.py",
        "python/moto/__init__.py",
        "python/rich-13.0.dist-info/RECORD",
    ):
        (tmp_path / leak).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / leak).write_text("")
    (tmp_path / "python" / "facesvg" / "service").mkdir(parents=True)
    (tmp_path / "python" / "aws_xray_sdk" / "ext" / "httpx").mkdir(parents=True)  # X-Ray's patcher: fine
    found = unshipped_paths(tmp_path)
    assert "python/facesvg/local" in found and "python/moto" in found
    assert "python/rich-13.0.dist-info" in found
    assert not any(p.startswith(("python/facesvg/service", "python/aws_xray_sdk")) for p in found)
