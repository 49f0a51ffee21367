"""Smoothing: closed, simple, evenly spaced curves that stay on the boundary, for any blob."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from core_helpers import is_simple, mask_contour, mean_deviation
from facesvg.core import smooth
from facesvg.core.svg import fmt, path_d
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

SIGMA, STEP = 6.0, 4.0


def allowed_deviation(contour: np.ndarray) -> float:
    """1.5 px for the staircase, or the Gaussian's shrink on a circle of the blob's area, sigma^2 /
    (2 R) (``core/smooth.py``), when that is more: a blob of ~8 px radius shrinks by ~2 px."""
    r_eq = float(np.sqrt(cv2.contourArea(contour) / np.pi))
    return max(1.5, SIGMA**2 / (2 * r_eq))


@settings(max_examples=examples(40), deadline=None)
@example(circles=[(46, 46, 9)])  # found by hypothesis: R ~ 8.2 px, mean deviation 1.557 (shrink 2.19)
@given(
    st.lists(
        st.tuples(st.integers(20, 180), st.integers(20, 180), st.integers(6, 40)),
        min_size=1,
        max_size=5,
    )
)
def test_smoothed_blob_outline_is_simple_and_close(circles: list[tuple[int, int, int]]) -> None:
    mask = np.zeros((200, 200), np.uint8)
    for x, y, r in circles:
        cv2.circle(mask, (x, y), r, 1, -1)
    # Make the blob pixelated like an upscaled label map.
    mask = cv2.resize(
        cv2.resize(mask, (50, 50), interpolation=cv2.INTER_NEAREST),
        (200, 200),
        interpolation=cv2.INTER_NEAREST,
    )
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)
    contour = mask_contour(mask)
    if contour is None or cv2.contourArea(contour) < 200:
        return
    curve = smooth.smooth_closed(contour, SIGMA, STEP)
    assert is_simple(curve)
    assert mean_deviation(curve, contour) <= allowed_deviation(contour)
    seg = np.hypot(*np.diff(np.vstack([curve, curve[:1]]), axis=0).T)
    assert seg.max() <= 1.5 * seg.min() + 1.0


def test_circle_keeps_its_radius() -> None:
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    circle = np.column_stack([100 + 50 * np.cos(t), 100 + 50 * np.sin(t)])
    out = smooth.smooth_closed(np.rint(circle), 6.0, 4.0)
    r = np.hypot(out[:, 0] - 100, out[:, 1] - 100)
    assert abs(r.mean() - 50) < 0.6 and r.std() < 0.3


def test_is_simple_detects_a_figure_eight() -> None:
    eight = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], np.float64)
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float64)
    assert not is_simple(eight)
    assert is_simple(square)


def test_number_format() -> None:
    assert [fmt(v) for v in (0.0, -0.001, 2.0, 0.5, 12.345, -3.1)] == ["0", "0", "2", "0.5", "12.35", "-3.1"]
    assert path_d([np.array([[0.0, 1.5], [2.25, -0.0], [3.456, 4.0]])]) == "M 0,1.5 L 2.25,0 L 3.46,4 Z"


def test_circular_gaussian_is_scipys_wrap_filter() -> None:
    """The NumPy filter that replaced ``scipy.ndimage.gaussian_filter1d(..., mode="wrap")``: same
    output on random closed sequences of every length the pipeline sees, down to 8 points."""
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(13)
    for n in (8, 9, 13, 40, 400, 2700):
        points = rng.normal(scale=50, size=(n, 2)).cumsum(axis=0)
        for sigma in (n / 8.0, 0.7, 3.0, 6.0):
            sigma = min(sigma, n / 8.0)
            expected = ndimage.gaussian_filter1d(points, sigma, axis=0, mode="wrap")
            assert np.abs(smooth.circular_gaussian(points, sigma) - expected).max() < 1e-9, (n, sigma)
