"""What deploys is what runs: the sample job through the local stack with every function imported
only from its built artefacts (infra.artefacts): the zip functions from the code asset and layer of
a bundled synth, the image functions from a task root installed as the Dockerfile installs it. Each
function runs in its own interpreter with only those directories and the standard library on
``sys.path``, so a module missing from an artefact fails here. Both builds are cached in the temp
directory (keyed by what they are made of); the first run of a session builds them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
IMAGING = ("numpy", "cv2", "simplejpeg", "PIL", "pillow_heif", "opencv_python_headless.libs", "numpy.libs")


def test_the_sample_job_runs_from_the_built_artefacts_only() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "infra.artefacts"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": /" in line)
    assert set(rows) == {"submit", "status", "process", "ingest", "notify"}, proc.stdout
    for name in ("submit", "process", "ingest"):
        assert "/image-" in rows[name], rows[name]  # the image's task root, nothing else
    for name in ("status", "notify"):
        assert "/image-" not in rows[name] and "/python" in rows[name], rows[name]  # code + layer


def test_the_zip_functions_artefacts_carry_no_numpy_or_opencv() -> None:
    from infra.artefacts import synthesized, zip_artefacts

    artefacts = zip_artefacts(synthesized())
    assert set(artefacts) == {"status", "notify"}
    for name, paths in artefacts.items():
        for path in paths:
            shipped = {p.name for p in path.iterdir()}
            assert not shipped & set(IMAGING), (name, path, sorted(shipped & set(IMAGING)))
    template = json.loads((synthesized() / "FaceSvg.template.json").read_text())
    layers = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert len(layers) == 1
