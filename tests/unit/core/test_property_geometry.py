"""Property tests on the geometry (hypothesis), extending ``test_core_framing.py`` and
``test_core_smooth.py`` from a few fixed cases to random ones:

* any rotation / scale / translation of the sample gives the same regions once mapped back through
  the two ``transform`` matrices (the framing test checks four fixed re-framings);
* every polygon of every render is simple (smoothing never makes it cross itself) and lies inside
  the output canvas;
* smoothing random label-like blobs, including thin necks and upscaled staircases (the smoothing
  test uses unions of circles), never self-intersects.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from core_helpers import is_simple, mapped_back, mask_contour
from facesvg.commands.fidelity_reframe import reframe
from facesvg.core import smooth
from facesvg.core.inputs import FaceInputs
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import SIGMA_PX, STEP_PX, RenderResult, render
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

# Every render costs ~0.3 s: a handful of examples per property keeps the file under ~15 s.
# Derandomized by the ``ci`` profile (tests/hypothesis_profiles.py), random under ``explore``.
_RENDER_SETTINGS = settings(
    max_examples=examples(6),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def assert_polygons_simple_and_in_canvas(res: RenderResult) -> None:
    w, h = res.size
    for name, poly in res.regions.items():
        p = np.asarray(poly, np.float64)
        assert len(p) >= 3, name
        assert is_simple(p), name
        assert (p[:, 0] >= -0.01).all() and (p[:, 0] <= w + 0.01).all(), (name, p[:, 0].min(), p[:, 0].max())
        assert (p[:, 1] >= -0.01).all() and (p[:, 1] <= h + 0.01).all(), (name, p[:, 1].min(), p[:, 1].max())


@_RENDER_SETTINGS
@given(
    angle=st.floats(-40, 40),
    scale=st.floats(0.6, 1.3),
    pad=st.tuples(st.integers(0, 250), st.integers(0, 250)),
)
def test_any_reframing_gives_the_same_regions_mapped_back(
    sample_inputs: FaceInputs, sample_result: RenderResult, angle: float, scale: float, pad: tuple[int, int]
) -> None:
    image, seg, lm, to_variant = reframe(sample_inputs, angle, scale, pad)
    res = render(image, seg, lm)

    assert res.missing == sample_result.missing
    assert_polygons_simple_and_in_canvas(res)
    back, scores = mapped_back(sample_result, res, to_variant)
    assert np.allclose(back[:, :2], np.eye(2), atol=0.04), back
    for name, score in scores.items():
        # Random resampling costs thin regions a little more than the fixed framings (0.92 / 0.95).
        need = 0.88 if name.endswith(("eye", "eyebrow", "lip", "ear")) else 0.93
        assert score >= need, (name, score, angle, scale, pad)


@_RENDER_SETTINGS
@given(canvas=st.integers(128, 1536), margin=st.floats(0.0, 1.0))
@example(canvas=132, margin=0.712)  # a one-pixel upper lip drawn as a dot (before MIN_PIXELS)
@example(canvas=136, margin=0.5)  # found by the explore profile
def test_polygons_are_simple_and_inside_the_canvas_for_any_canvas_and_margin(
    sample_bytes: dict[str, bytes], canvas: int, margin: float
) -> None:
    options = RenderOptions.model_validate({"canvas_size": canvas, "margin": margin})
    res = render(
        sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"], options=options
    )
    assert tuple(res.size) == (canvas, canvas)
    assert_polygons_simple_and_in_canvas(res)


def _blob(
    ellipses: list[tuple[int, int, int, int, int]], necks: list[tuple[int, int, int]], up: int
) -> np.ndarray:
    """A label-like blob: rotated ellipses joined by thin necks, drawn small and upscaled with NEAREST
    (the staircase of an upscaled label map)."""
    small = np.zeros((64, 64), np.uint8)
    centres = []
    for cx, cy, ax, ay, rot in ellipses:
        cv2.ellipse(small, (cx, cy), (ax, ay), rot, 0, 360, 1, -1)
        centres.append((cx, cy))
    for i, j, thickness in necks:
        a, b = centres[i % len(centres)], centres[j % len(centres)]
        cv2.line(small, a, b, 1, thickness)
    return cv2.resize(small, (64 * up, 64 * up), interpolation=cv2.INTER_NEAREST)


@settings(max_examples=examples(60), deadline=None)
@given(
    ellipses=st.lists(
        st.tuples(
            st.integers(12, 52),
            st.integers(12, 52),
            st.integers(2, 14),
            st.integers(2, 14),
            st.integers(0, 179),
        ),
        min_size=1,
        max_size=4,
    ),
    necks=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 6)), max_size=3),
    up=st.integers(1, 6),
    canvas_scale=st.sampled_from([0.5, 1.0, 1.5]),
)
def test_smoothing_label_like_blobs_never_self_intersects(
    ellipses: list[tuple[int, int, int, int, int]],
    necks: list[tuple[int, int, int]],
    up: int,
    canvas_scale: float,
) -> None:
    # Necks of at least 3 canvas px: a 1-2 px neck folds the pixel contour back onto itself and no
    # smoothing of it is simple (the known case below).
    assume(all(thickness * up >= 3 for _, _, thickness in necks))
    contour = mask_contour(_blob(ellipses, necks, up))
    if contour is None or len(contour) < 3:
        return
    curve = smooth.smooth_closed(contour, SIGMA_PX * canvas_scale, STEP_PX * canvas_scale)
    assert np.isfinite(curve).all()
    assert is_simple(curve)


@pytest.mark.parametrize("angle", [90.0, -90.0, 180.0])
def test_quarter_and_half_turns_are_handled_like_any_angle(
    sample_inputs: FaceInputs, sample_result: RenderResult, angle: float
) -> None:
    """Sideways and upside-down photos (beyond the random range above) still come out upright."""
    image, seg, lm, _ = reframe(sample_inputs, angle, 0.7, (0, 0))
    res = render(image, seg, lm)
    assert res.missing == sample_result.missing
    assert_polygons_simple_and_in_canvas(res)


@pytest.mark.xfail(strict=True, reason="known: a 1 px neck folds the pixel contour; smoothing crosses it")
def test_a_one_pixel_neck_is_smoothed_without_crossing() -> None:
    """Found by the property above (docs/hardening.md): two tiny blobs joined by a 1 px line. Real
    regions pass ``keep_largest`` (optionally opened) first; this pins the core's current limit."""
    mask = _blob([(12, 12, 2, 2, 0), (17, 34, 2, 2, 0)], [(0, 1, 1)], 1)
    contour = mask_contour(mask)
    assert contour is not None
    assert is_simple(smooth.smooth_closed(contour, SIGMA_PX * 0.5, STEP_PX * 0.5))
