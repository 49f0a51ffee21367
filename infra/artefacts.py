"""The Lambda artefacts, on this machine, as Lambda runs them (the artefact test, ``make bench-cold``).

* The zip functions: their code asset and their layer, from a ``cdk.out`` synthesized with the
  layer bundled (``synthesized``: the same ``build_app`` and bundling as ``make synth``).
* The image functions: ``image_root`` installs the locked image requirements exactly as the
  Dockerfile does (``infra.layer.pip_install_command``: same file, same ``pip`` arguments, same
  Python) into a task root, with the package parts and handlers where the Dockerfile copies them.

``isolated_argv`` starts a handler in a fresh interpreter whose ``sys.path`` is only those
directories and the standard library (``-I -S``: no virtualenv site-packages, no PYTHONPATH), so a
module missing from an artefact fails there as it would in Lambda. Both builds are cached in the
temp directory by the hash of what they are made of.
"""

from __future__ import annotations

import base64
import compileall
import hashlib
import json
import os
import py_compile
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from infra.layer import (
    IMAGE_REQUIREMENTS,
    PIP_INSTALL_ARGS,
    REPO_ROOT,
    _package_files,
    copy_package,
    layer_asset_hash,
    pip_install_command,
)

CACHE = Path(tempfile.gettempdir()) / "facesvg-artefacts"
FUNCTIONS_DIR = REPO_ROOT / "functions"
STACK = "FaceSvg"

# A minimal Lambda runtime for one handler: JSON events in on stdin, one JSON answer line per event
# on stdout (``{"ok": ...}`` / ``{"error": [type, message]}``, facesvg.local.worker's protocol),
# after a ``{"ready": true, "modules": [...]}`` line naming where every imported module came from.
BOOTSTRAP = r"""
import importlib, json, os, sys, time, uuid
handler, function_name, timeout, *paths = sys.argv[1:]
sys.path[:0] = paths
protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr
module_name, function = handler.rsplit(".", 1)  # as Lambda's bootstrap reads the handler setting
module = importlib.import_module(module_name)
lambda_handler = getattr(module, function)
origins = sorted({
    p for m in list(sys.modules.values())
    for f in [getattr(m, "__file__", None) or ""]
    for p in paths if f.startswith(p + os.sep)
})
outside = sorted({
    f for m in list(sys.modules.values())
    for f in [getattr(m, "__file__", None) or ""]
    if f and not any(f.startswith(p + os.sep) for p in paths) and not f.startswith(sys.base_prefix)
})
protocol.write(json.dumps({"ready": True, "origins": origins, "outside": outside}) + "\n")

class Context:
    def __init__(self):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
        self.log_group_name, self.log_stream_name = "", "artefact"
        self._deadline = time.monotonic() + float(timeout)
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

for line in sys.stdin:
    try:
        answer = {"ok": lambda_handler(json.loads(line), Context())}
    except Exception as exc:
        answer = {"error": [type(exc).__name__, str(exc)]}
    protocol.write(json.dumps(answer, default=str) + "\n")
"""


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:20]


KEEP_BUILDS = 2  # of each kind (a build is ~50-330 MB): the current one and the one before


def _publish(partial: Path, final: Path) -> Path:
    """Move a finished build into place (another process may have won the race: keep theirs), and
    drop the older builds of its kind beyond ``KEEP_BUILDS``."""
    (partial / ".complete").write_text("")
    try:
        partial.rename(final)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
    kind = final.name.rsplit("-", 1)[0]
    builds = sorted(
        (p for p in final.parent.glob(f"{kind}-*") if (p / ".complete").is_file() and p != final),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in builds[KEEP_BUILDS - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def image_root(cache: Path = CACHE) -> Path:
    """The image's task root (``/var/task``), installed as ``functions/process/Dockerfile`` does."""
    from infra.functions import IMAGE_FUNCTIONS

    handlers = [FUNCTIONS_DIR / name / "handler.py" for name in IMAGE_FUNCTIONS]
    key = _digest(
        IMAGE_REQUIREMENTS.read_bytes(),
        " ".join(PIP_INSTALL_ARGS).encode(),
        sys.version.encode(),
        *(f.read_bytes() for f in [*_package_files(), *handlers]),
    )
    final = cache / f"image-{key}"
    if (final / ".complete").is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="image-partial-", dir=cache))
    subprocess.run(pip_install_command(IMAGE_REQUIREMENTS, partial), check=True)  # noqa: S603
    copy_package(partial / "facesvg")
    for name, handler in zip(IMAGE_FUNCTIONS, handlers, strict=True):
        (partial / name).mkdir()
        shutil.copy2(handler, partial / name / "handler.py")
    compileall.compile_dir(
        str(partial), quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    return _publish(partial, final)


def synthesized(cache: Path = CACHE) -> Path:
    """A ``cdk.out`` of the stack with the layer bundled, as ``make synth`` makes it (no cdk-nag)."""
    import aws_cdk as cdk

    from infra.app import build_app

    infra_sources = sorted((REPO_ROOT / "infra").glob("*.py"))
    zip_sources = sorted(p for p in FUNCTIONS_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    key = _digest(
        layer_asset_hash().encode(),
        (REPO_ROOT / "cdk.json").read_bytes(),
        *(p.read_bytes() for p in [*infra_sources, *zip_sources]),
    )
    final = cache / f"cdk.out-{key}"
    if (final / ".complete").is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="cdk.out-partial-", dir=cache))
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    context["aws:cdk:enable-asset-metadata"] = True
    app, _ = build_app(cdk.App(context=context, outdir=str(partial)), nag=False)
    app.synth()
    return _publish(partial, final)


def function_name(logical_id: str, props: dict[str, Any]) -> str:
    """A function's name from its description (``facesvg <name>: ...``); CDK's helpers keep their id."""
    description = str(props.get("Description", ""))
    if description.startswith("facesvg ") and ":" in description:
        return description.split(":", 1)[0].removeprefix("facesvg ")
    return logical_id


def zip_artefacts(cdk_out: Path) -> dict[str, list[Path]]:
    """``{function: [code asset, layer python/ ...]}`` of the zip functions in ``cdk_out``."""
    resources = json.loads((cdk_out / f"{STACK}.template.json").read_text())["Resources"]
    found = {}
    for logical_id, resource in resources.items():
        props = resource["Properties"]
        if resource["Type"] != "AWS::Lambda::Function" or props.get("PackageType") == "Image":
            continue
        name = function_name(logical_id, props)
        if name == logical_id:  # a CDK helper function
            continue
        code = cdk_out / resource["Metadata"]["aws:asset:path"]
        layers = [
            cdk_out / resources[ref["Ref"]]["Metadata"]["aws:asset:path"] / "python"
            for ref in props.get("Layers", [])
        ]
        found[name] = [code, *layers]
    return found


def artefact_paths(name: str, cdk_out: Path, image: Path) -> tuple[str, list[Path]]:
    """``(handler setting, sys.path entries)`` of a function's artefacts, as Lambda has them: the
    image's command and task root; the zip function's handler, code (/var/task) and layer."""
    from infra.functions import HANDLER_FUNCTION, HANDLER_MODULE, IMAGE_FUNCTIONS, image_command

    if name in IMAGE_FUNCTIONS:
        return image_command(name), [image]
    code, *layers = zip_artefacts(cdk_out)[name]
    return f"{HANDLER_MODULE}.{HANDLER_FUNCTION}", [code, *layers]


def isolated_argv(handler: str, paths: list[Path], function_name: str, timeout_s: float) -> list[str]:
    """A fresh interpreter running ``handler`` with only ``paths`` and the standard library."""
    return [
        sys.executable,
        "-I",
        "-S",
        "-c",
        BOOTSTRAP,
        handler,
        function_name,
        str(timeout_s),
        *(str(p) for p in paths),
    ]


class IsolatedFunction:
    """One execution environment of a function run from its artefacts (``isolated_argv``), with the
    interface the local runtime calls (``invoke``, ``warm``, ``stop``)."""

    def __init__(self, name: str, handler: str, paths: list[Path], timeout_s: float = 120.0) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(  # noqa: S603 (our interpreter, our bootstrap)
            isolated_argv(handler, paths, f"facesvg-{name}", timeout_s),
            env=dict(os.environ),  # the local stack's (no LAMBDA_TASK_ROOT: X-Ray would wait for a daemon)
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        ready = json.loads(self._read() or "{}")
        if not ready.get("ready"):
            raise RuntimeError(f"{name}: the handler did not load from {[str(p) for p in paths]}")
        self.origins: list[str] = ready["origins"]
        self.outside: list[str] = ready["outside"]

    def _read(self) -> str:
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], self.timeout_s)
        return self._proc.stdout.readline() if ready else ""

    def warm(self) -> None:
        """Loaded at construction (the cold start)."""

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(event) + "\n")
            self._proc.stdin.flush()
            line = self._read()
        if not line:
            raise RuntimeError(f"{self.name}: no answer (exit {self._proc.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.name}: {answer['error'][0]}: {answer['error'][1]}")
        return answer["ok"]

    def stop(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def run_sample(cdk_out: Path, image: Path, timeout_s: float = 90.0) -> list[str]:
    """The QOVES sample through the local stack with every function run from its artefacts: an API
    job (submit, process, status) and a drop-folder job (ingest). Returns one line per function
    saying where its modules came from; raises on any failure."""
    import httpx
    from facesvg import names
    from facesvg.client.payload import SAMPLE_DIR, sample_payload
    from facesvg.local.lambdas import FUNCTION_NAMES
    from facesvg.local.runtime import LocalRuntime, RuntimeConfig

    config = RuntimeConfig(
        api_port=0,
        log_level="WARNING",
        load_test_mode=True,
        warm=False,
        start_pollers=False,
        isolate_process_workers=False,
        process_workers=1,
        metrics_port=None,
    )
    runtime = LocalRuntime(config).start()
    functions: dict[str, IsolatedFunction] = {}
    try:
        for name in FUNCTION_NAMES:
            functions[name] = IsolatedFunction(name, *artefact_paths(name, cdk_out, image))
            outside = functions[name].outside
            if outside:
                raise RuntimeError(f"{name} imported from outside its artefacts: {outside[:5]}")
        runtime.functions.update(functions)  # type: ignore[arg-type]
        runtime.start_pollers()
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=runtime.api_url, timeout=30) as api:
            answer = api.post(names.ROUTE_PREFIXES[0] + names.SUBMIT_PATH, json=sample_payload())
            if answer.status_code not in (200, 202):
                raise RuntimeError(f"submit answered {answer.status_code}: {answer.text[:500]}")
            job_id = answer.json()["id"]
            status_path = names.ROUTE_PREFIXES[0] + names.STATUS_PATH.replace("{id}", job_id)
            while (body := api.get(status_path).json())["status"] not in ("completed", "failed"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"job {job_id} still {body['status']} after {timeout_s:.0f} s")
                time.sleep(0.2)
            svg = base64.b64decode(body.get("svg") or "")[:400]
            if body["status"] != "completed" or b"<svg" not in svg:
                raise RuntimeError(f"job {job_id} did not complete with an SVG: {str(body)[:500]}")
        s3 = runtime.clients["s3"]
        for file_name, source in (
            ("image.png", "original_image.png"),
            ("segmentation_map.png", "segmentation_map.png"),
            ("landmarks.txt", "landmarks.txt"),
        ):
            s3.put_object(
                Bucket=names.BUCKET_NAME,
                Key=f"{names.PREFIX_INCOMING}artefacts/{file_name}",
                Body=(SAMPLE_DIR / source).read_bytes(),
            )
        result = f"{names.PREFIX_RESULTS}artefacts/face.svg"
        while s3.list_objects_v2(Bucket=names.BUCKET_NAME, Prefix=result).get("KeyCount", 0) == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the drop folder's {result} did not appear within {timeout_s:.0f} s")
            time.sleep(0.2)
        return [f"{name}: {', '.join(fn.origins)}" for name, fn in functions.items()]
    finally:
        runtime.stop()
        for fn in functions.values():
            fn.stop()


if __name__ == "__main__":  # python -m infra.artefacts: build (cached) and run the sample from them
    out, root = synthesized(), image_root()
    for row in run_sample(out, root):
        print(row)
