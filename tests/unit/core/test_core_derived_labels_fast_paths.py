"""The map-less labels' fast paths give what the plain numpy they replace gives, bit for bit (the
derived map must not change when it is made faster)."""

from __future__ import annotations

import cv2
import numpy as np
from facesvg.core import derived_labels as dl
from facesvg.core import skin_model
from facesvg.core.labels import BACKGROUND, HAIR, SKIN


def test_skin_and_hair_are_written_in_place_into_a_strided_view_of_the_labels() -> None:
    rng = np.random.default_rng(0)
    skin, hair = (rng.normal(0.0, 4.0, (23, 31)).astype(np.float32) for _ in range(2))
    out = np.full((90, 130), 99, np.uint8)
    roi = out[5:85, 7:120]  # not contiguous: the write must land in ``out``, not in a copy
    dl._write_skin_and_hair(roi, skin, hair)
    size = (roi.shape[1], roi.shape[0])
    up_skin, up_hair = (cv2.resize(dl._as_u8(m), size, interpolation=cv2.INTER_LINEAR) for m in (skin, hair))
    want = np.where(up_skin > 128, SKIN, np.where(up_hair > 128, HAIR, BACKGROUND))
    assert np.array_equal(out[5:85, 7:120], want)
    assert (out[:5] == 99).all() and (out[:, :7] == 99).all()  # nothing outside the view
    assert {SKIN, HAIR, BACKGROUND} <= set(np.unique(want))


def test_a_feature_is_painted_where_its_coverage_is_at_least_half() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        poly = rng.uniform(2, 60, (7, 2))
        out = np.zeros((64, 64), np.uint8)
        dl._paint(out, poly, 5, 100.0)
        (x0, y0), cov = dl.coverage(poly, out.shape, 100.0)
        want = np.zeros_like(out)
        want[y0 : y0 + cov.shape[0], x0 : x0 + cov.shape[1]][cov >= 0.5] = 5
        assert np.array_equal(out, want)


def test_the_k_means_seeds_and_assignment_are_numpy_s_sort_and_argmin_ties_included() -> None:
    rng = np.random.default_rng(2)
    for n in (31, 200, 2000):
        values = rng.integers(0, 12, n).astype(np.float32)  # many ties: the earliest comes first
        ranks = ((np.arange(3) + 0.5) / 3 * n).astype(int)
        stable = np.argsort(values, kind="stable")
        assert np.array_equal(skin_model._stable_ranks(values, ranks), stable[ranks])
        dist = rng.integers(0, 4, (n, 3)).astype(np.float64)  # ties: the first column wins
        assert np.array_equal(skin_model._nearest(dist), np.argmin(dist, axis=1))
