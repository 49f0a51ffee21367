"""`make bench-cold`: what a cold start costs before and at the first job, in fresh processes.

For each measurement a new interpreter is started (``--runs`` times, the median is reported), so
nothing is cached in the process — only the OS page cache is warm, as on a warm Lambda host:

* ``import boto3``: the yardstick, measured in the same run (machine load cancels out in the ratio);
* each handler module imported the way Lambda's bootstrap does (``functions/<name>/handler.py``
  under ``LAMBDA_TASK_ROOT``, the stack's environment, dummy credentials, no network), with tracing
  off (``POWERTOOLS_TRACE_DISABLED=true``; the "tracing on" row, for information, is what active
  X-Ray tracing adds: Powertools' Tracer imports and patches with aws_xray_sdk);
* the submit and status functions' first request extra (information): a request that needs no AWS
  call (a refused body, a malformed id), first minus second — what the init leaves for first use;
  and the submit function's first input checks (information): a valid submit's checks and hash of
  the sample, first minus second — the render core's input checks (NumPy, OpenCV) load there;
* each function's import from its own built artefacts (information), in an interpreter whose
  ``sys.path`` holds only them and the standard library (``-I -S``): the zip functions (status,
  notify) from the code asset and layer the last ``make synth`` staged in ``cdk.out``, when there is
  one; the image functions (submit, ingest, process) from a task root installed as the Dockerfile
  installs it (``infra.artefacts.image_root``, cached in the temp directory);
* the process function's first job extra: after the handler import, the first render of the QOVES
  sample (importing the render core, OpenCV's first calls) minus the second one;
* ``facesvg render`` of the sample, the whole process, wall clock.

Targets: handler import <= 2x ``import boto3``; first-job extra <= 0.3 s; ``facesvg
render`` <= 0.6 s.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from facesvg import names

REPO_ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS_DIR = REPO_ROOT / "functions"
SAMPLE = REPO_ROOT / "samples" / "qoves"
HANDLERS = ("submit", "status", "ingest", "process", "notify")
TARGET_IMPORT_RATIO = 2.0
TARGET_FIRST_JOB_S = 0.3
TARGET_RENDER_S = 0.6

# Runs in a fresh interpreter: prints one JSON line of timings (seconds).
_CHILD = r"""
import importlib.util, json, sys, time
t0 = time.perf_counter()
what, directory, sample, layer = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
out = {}
if what == "boto3":
    import boto3
    out["import"] = time.perf_counter() - t0
else:
    sys.path.insert(0, directory)
    if layer:  # the artefact's site (a layer's python/, the image's task root), as in Lambda
        sys.path.insert(1, layer)
    spec = importlib.util.spec_from_file_location("handler", directory + "/handler.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module
    spec.loader.exec_module(module)
    out["import"] = time.perf_counter() - t0
    if layer:
        import facesvg, pydantic
        assert facesvg.__file__.startswith(layer) and pydantic.__file__.startswith(layer)
    elif what in ("submit", "status"):
        # A request that needs no AWS call (a refused body; a malformed id), twice: the first one
        # also builds what the init left for first use (the route's validation, the models).
        class Context:
            function_name, memory_limit_in_mb, aws_request_id = "bench", 1024, "bench"
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        post = what == "submit"
        event = {
            "httpMethod": "POST" if post else "GET",
            "path": "/api/v1/submit" if post else "/api/v1/status/not-a-job-id",
            "resource": "/api/v1/submit" if post else "/api/v1/status/{id}",
            "headers": {"content-type": "application/json"},
            "body": "{}" if post else None,
            "requestContext": {"stage": "prod", "requestId": "bench"},
            "isBase64Encoded": False,
        }
        laps = []
        for _ in range(2):
            t1 = time.perf_counter()
            answer = module.lambda_handler(event, Context())
            laps.append(time.perf_counter() - t1)
            assert answer["statusCode"] in (400, 404), answer
        out["first_request_extra"] = laps[0] - laps[1]
    if what == "submit" and not layer:
        # A valid submit also checks and hashes the inputs: the first one imports the render
        # core's input checks (NumPy, OpenCV), which the init leaves to it. No AWS call here.
        from pathlib import Path
        from facesvg.core.options import RenderOptions
        d = Path(sample)
        image, labels = (d / "original_image.png").read_bytes(), (d / "segmentation_map.png").read_bytes()
        marks = (d / "landmarks.txt").read_text()
        from facesvg.service.composition import default_service
        service, laps = default_service(), []
        for _ in range(2):
            t1 = time.perf_counter()
            service.prepare(image, labels, marks, RenderOptions())
            laps.append(time.perf_counter() - t1)
        out["first_checks_extra"] = laps[0] - laps[1]
    if what == "process":
        from pathlib import Path
        d = Path(sample)
        names = ("original_image.png", "segmentation_map.png", "landmarks.txt")
        files = [(d / n).read_bytes() for n in names]
        t1 = time.perf_counter()
        from facesvg.core.pipeline import render
        render(*files)
        first = time.perf_counter() - t1
        t2 = time.perf_counter()
        render(*files)
        out["first_job_extra"] = first - (time.perf_counter() - t2)
print(json.dumps(out))
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per measurement (median)")


def lambda_environment(function: str, tracing: bool) -> dict[str, str]:
    """What a function sees in Lambda (resource names are placeholders; nothing is called)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FACESVG_", "POWERTOOLS_"))}
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(FUNCTIONS_DIR / function),
            "AWS_LAMBDA_FUNCTION_NAME": f"facesvg-{function}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            names.ENV_BUCKET: names.BUCKET_NAME,
            names.ENV_TABLE: names.TABLE_NAME,
            names.ENV_QUEUE_URL: f"https://sqs.us-east-1.amazonaws.com/123456789012/{names.QUEUE_NAME}",
            "POWERTOOLS_SERVICE_NAME": names.SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": names.METRICS_NAMESPACE,
            "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
            "PYTHONDONTWRITEBYTECODE": "1",
            **names.RUNTIME_ENVIRONMENT,
        }
    )
    return env


def built_artefacts(cdk_out: Path = REPO_ROOT / "cdk.out") -> dict[str, tuple[Path, Path]]:
    """``{function: (handler directory, site)}`` of the built artefacts: the zip functions' from the
    last ``make synth`` (skipped when there is none, or it predates the code), the image functions'
    from ``infra.artefacts.image_root``."""
    from infra.artefacts import image_root, zip_artefacts
    from infra.functions import IMAGE_FUNCTIONS

    image = image_root()
    found = {name: (image / name, image) for name in IMAGE_FUNCTIONS}
    if not (cdk_out / "FaceSvg.template.json").is_file():
        print("zip functions' artefact rows skipped: no cdk.out (make synth)")
        return found
    for name, (code, *layers) in zip_artefacts(cdk_out).items():
        if len(layers) != 1 or not _same_package(layers[0] / "facesvg"):
            print(f"{name}'s artefact rows skipped: cdk.out predates the code (make synth)")
            continue
        found[name] = (code, layers[0])
    return found


def _same_package(staged: Path) -> bool:
    """Whether the layer holds the package as it is now (the files ``infra.layer`` ships)."""
    from infra.layer import PACKAGE_DIR, _package_files

    return all(
        (staged / f.relative_to(PACKAGE_DIR)).is_file()
        and (staged / f.relative_to(PACKAGE_DIR)).read_bytes() == f.read_bytes()
        for f in _package_files()
    )


def child(what: str, env: dict[str, str], artefact: tuple[Path, Path] | None = None) -> dict[str, float]:
    """One fresh interpreter; with ``artefact`` (handler directory, site) isolated: only those two
    and the standard library on ``sys.path``."""
    directory = str(FUNCTIONS_DIR / what) if what in HANDLERS else ""
    isolation: list[str] = []
    layer = ""
    if artefact is not None:
        directory, layer, isolation = str(artefact[0]), str(artefact[1]), ["-I", "-S"]
    proc = subprocess.run(  # noqa: S603 - our own interpreter and script, no shell
        [sys.executable, *isolation, "-c", _CHILD, what, directory, str(SAMPLE), layer],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{what}: {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def render_wall(out_dir: Path) -> float:
    cmd = [
        sys.executable,
        "-m",
        "facesvg.cli",
        "render",
        "--image",
        str(SAMPLE / "original_image.png"),
        "--segmentation",
        str(SAMPLE / "segmentation_map.png"),
        "--landmarks",
        str(SAMPLE / "landmarks.txt"),
        "--out",
        str(out_dir),
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)  # noqa: S603 - fixed argv
    return time.perf_counter() - t0


def main(args: argparse.Namespace) -> int:
    runs = max(1, args.runs)
    # The Lambda layer and the process image ship compiled bytecode (infra/layer.py); a fresh
    # clone's editable install has none for the package, and these children write none.
    compileall.compile_dir(str(REPO_ROOT / "layers" / "facesvg"), quiet=1)
    rows: dict[str, list[float]] = {}
    extra: list[float] = []
    artefacts = built_artefacts()
    # Interleaved, so a burst of load on the machine hits every measurement alike.
    for _ in range(runs):
        rows.setdefault("import boto3", []).append(
            child("boto3", lambda_environment("submit", False))["import"]
        )
        for name in HANDLERS:
            result = child(name, lambda_environment(name, False))
            rows.setdefault(f"{name} handler", []).append(result["import"])
            if "first_job_extra" in result:
                extra.append(result["first_job_extra"])
            if "first_request_extra" in result:
                rows.setdefault(f"{name}: first request extra", []).append(result["first_request_extra"])
            if "first_checks_extra" in result:
                rows.setdefault(f"{name}: first input checks extra", []).append(result["first_checks_extra"])
        traced = child("process", lambda_environment("process", True))
        rows.setdefault("process handler, tracing on", []).append(traced["import"])
        for name, artefact in artefacts.items():
            result = child(name, lambda_environment(name, False), artefact)
            rows.setdefault(f"{name}, built artefact", []).append(result["import"])
    with tempfile.TemporaryDirectory() as tmp:
        wall = [render_wall(Path(tmp)) for _ in range(runs)]

    boto3_s = statistics.median(rows["import boto3"])
    ok = True
    print(f"cold start, median of {runs} fresh processes (python {sys.version.split()[0]})")
    if artefacts:
        print(
            "built artefact rows: zip functions from cdk.out (make synth), image functions from a task root"
        )
    print(f"{'import':<30} {'median':>9} {'x boto3':>8}  target")
    for label, values in rows.items():
        median = statistics.median(values)
        ratio = median / boto3_s
        if label == "import boto3" or any(w in label for w in ("tracing on", "first ", "built artefact")):
            target = "(yardstick)" if label == "import boto3" else "(information)"
        else:
            passed = ratio <= TARGET_IMPORT_RATIO
            ok &= passed
            target = f"<= {TARGET_IMPORT_RATIO:g}x {'ok' if passed else 'MISSED'}"
        shown = "" if "first " in label else f"{ratio:.2f}x"
        print(f"{label:<30} {median * 1e3:>7.0f}ms {shown:>8}  {target}")
    first = statistics.median(extra)
    passed = first <= TARGET_FIRST_JOB_S
    ok &= passed
    print(
        f"{'process: first job extra':<30} {first * 1e3:>7.0f}ms {'':>8}  "
        f"<= {TARGET_FIRST_JOB_S * 1e3:.0f} ms {'ok' if passed else 'MISSED'}"
    )
    render_s = statistics.median(wall)
    passed = render_s <= TARGET_RENDER_S
    ok &= passed
    print(
        f"{'facesvg render (whole process)':<30} {render_s * 1e3:>7.0f}ms {'':>8}  "
        f"<= {TARGET_RENDER_S * 1e3:.0f} ms {'ok' if passed else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m facesvg.commands.bench_cold", description=__doc__)
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
