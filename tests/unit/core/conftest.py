"""Fixtures for the render-core tests: the QOVES sample (read-only) and one shared render of it."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from core_helpers import SAMPLE
from facesvg.core.inputs import FaceInputs, load_inputs
from facesvg.core.pipeline import RenderResult, render


@pytest.fixture(scope="session")
def sample_bytes() -> dict[str, bytes]:
    return {
        "image": (SAMPLE / "original_image.png").read_bytes(),
        "segmentation": (SAMPLE / "segmentation_map.png").read_bytes(),
        "landmarks": (SAMPLE / "landmarks.txt").read_bytes(),
    }


@pytest.fixture(scope="session")
def sample_points(sample_bytes: dict[str, bytes]) -> np.ndarray:
    doc = ast.literal_eval(sample_bytes["landmarks"].decode())
    return np.array([[p["x"], p["y"]] for p in doc["landmarks"][0]], dtype=np.float64)


@pytest.fixture(scope="session")
def sample_inputs(sample_bytes: dict[str, bytes]) -> FaceInputs:
    return load_inputs(sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"])


@pytest.fixture(scope="session")
def sample_result(sample_bytes: dict[str, bytes]) -> RenderResult:
    return render(sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"])


@pytest.fixture(scope="session")
def sample_labels_full(sample_inputs: FaceInputs) -> np.ndarray:
    """The label map at the image's size (NEAREST upscale of the 1024x1023 map)."""
    return sample_inputs.labels
