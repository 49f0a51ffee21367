"""The output does not depend on how the input was framed: rotated, scaled, padded or JPEG'd copies
of the sample give the same regions once mapped back through their ``transform``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from core_helpers import landmarks_json, mapped_back, png
from facesvg.core.inputs import FaceInputs
from facesvg.core.pipeline import RenderResult, render


def _variant(inputs: FaceInputs, kind: str) -> tuple[bytes, bytes, str, np.ndarray]:
    """(image, segmentation, landmarks, 2x3 original->variant) for one re-framing of the sample."""
    img, lab, pts = inputs.image, inputs.labels, inputs.landmarks
    h, w = lab.shape
    if kind == "rotate":
        m = cv2.getRotationMatrix2D((w / 2, h / 2), -31.0, 1.0)
        # Grow the canvas so the rotated photo is not cut.
        corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64) @ m[:, :2].T + m[:, 2]
        m[:, 2] -= corners.min(0)
        size = tuple(int(v) for v in np.ceil(corners.max(0) - corners.min(0)))
    elif kind == "scale":
        m = np.array([[0.55, 0.0, 0.0], [0.0, 0.55, 0.0]])
        size = (round(w * 0.55), round(h * 0.55))
    elif kind in ("pad", "jpeg"):
        m = np.array([[1.0, 0.0, 300.0], [0.0, 1.0, 120.0]]) if kind == "pad" else np.eye(2, 3)
        size = (w + 500, h + 200) if kind == "pad" else (w, h)
    else:
        raise AssertionError(kind)
    vimg = cv2.warpAffine(img, m, size, flags=cv2.INTER_AREA if kind == "scale" else cv2.INTER_LINEAR)
    vlab = cv2.warpAffine(lab, m, size, flags=cv2.INTER_NEAREST)
    vpts = pts @ m[:, :2].T + m[:, 2]
    data = (
        cv2.imencode(".jpg", vimg, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
        if kind == "jpeg"
        else png(vimg)
    )
    return data, png(vlab), landmarks_json(vpts), m


@pytest.mark.parametrize("kind", ["rotate", "scale", "pad", "jpeg"])
def test_regions_do_not_depend_on_framing(
    kind: str, sample_inputs: FaceInputs, sample_result: RenderResult
) -> None:
    image, seg, lm, to_variant = _variant(sample_inputs, kind)
    res = render(image, seg, lm)
    assert res.missing == sample_result.missing
    back, scores = mapped_back(sample_result, res, to_variant)
    # The two canonical frames coincide up to the head box's rounding.
    assert np.allclose(back[:, :2], np.eye(2), atol=0.03), back
    for name, score in scores.items():
        # Thin regions lose a little more when resampled (0.96-0.98 measured on the sample).
        need = 0.92 if name.endswith(("eye", "eyebrow", "lip", "ear")) else 0.95
        assert score >= need, (name, score)
