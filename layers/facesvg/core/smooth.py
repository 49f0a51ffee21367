"""Pixel contour -> smooth closed curve, evenly resampled.

A periodic Gaussian on an arc-length parametrisation removes the label staircase without a seam;
the shrink it causes is about sigma^2 / (2 R), well under a pixel for facial curvature.
"""

from __future__ import annotations

import numpy as np

PIXEL_EDGE = 0.3  # traced contours run through boundary pixel centres; < 0.5 keeps touching regions apart
TRUNCATE = 4.0  # kernel radius in sigmas (SciPy's ``gaussian_filter1d`` default, which this replaces)


def median_filter(x: np.ndarray, k: int, closed: bool = False) -> np.ndarray:
    """``x`` median-filtered over ``2 k + 1`` samples, round a closed sequence or with its ends
    repeated: each window's middle value (``np.median``'s answer for an odd count, without its
    overhead on the short profiles the map-less labels filter)."""
    window = np.arange(len(x))[:, None] + np.arange(-k, k + 1)
    window = window % len(x) if closed else np.clip(window, 0, len(x) - 1)
    out: np.ndarray = np.sort(x[window], axis=1)[:, k]
    return out


def gaussian_kernel(sigma: float, truncate: float = TRUNCATE) -> np.ndarray:
    """Normalised 1-D Gaussian weights for offsets ``-r..r``, ``r = int(truncate * sigma + 0.5)``."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    return np.asarray(phi / phi.sum(), dtype=np.float64)


def circular_gaussian(points: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a closed sequence of points ``(N, 2)`` along axis 0, wrapping around.

    The same as ``scipy.ndimage.gaussian_filter1d(points, sigma, axis=0, mode="wrap")`` (same
    kernel, same truncation; they agree to ~1e-12 px), without importing SciPy: pad each
    coordinate periodically by the kernel radius and take the valid part of the convolution.
    """
    weights = gaussian_kernel(sigma)
    radius = len(weights) // 2
    padded = np.pad(np.asarray(points, dtype=np.float64), ((radius, radius), (0, 0)), mode="wrap")
    return np.column_stack([np.convolve(padded[:, i], weights, mode="valid") for i in range(padded.shape[1])])


def resample_closed(points: np.ndarray, step: float, min_points: int = 3) -> np.ndarray:
    """Points evenly spaced (``step`` px apart, at least ``min_points``) along a closed polyline."""
    closed = np.vstack([points, points[:1]])
    seg = np.hypot(*np.diff(closed, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    total = arc[-1]
    if total <= 0:
        return points[:1].copy()
    n = max(min_points, round(total / step))
    t = np.arange(n) * (total / n)
    return np.column_stack([np.interp(t, arc, closed[:, 0]), np.interp(t, arc, closed[:, 1])])


def smooth_closed(contour: np.ndarray, sigma: float = 3.0, step: float = 4.0) -> np.ndarray:
    """Smooth a closed pixel contour ``(N, 2)``; returns ``(M, 2)`` float64 points ``step`` apart."""
    pts = contour.reshape(-1, 2).astype(np.float64)
    dense = resample_closed(pts, 1.0, min_points=8)
    s = min(sigma, len(dense) / 8.0)  # tiny blobs: keep their shape instead of collapsing them
    smooth = circular_gaussian(dense, s) if s > 0 else dense
    return resample_closed(smooth, step, min_points=12)


def outset(poly: np.ndarray, d: float) -> np.ndarray:
    """The closed polygon moved ``d`` px outwards along its vertex normals (inwards when ``d < 0``)."""
    tangent = np.roll(poly, -1, axis=0) - np.roll(poly, 1, axis=0)
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
    normal /= np.maximum(np.hypot(*normal.T), 1e-9)[:, None]
    x, y = poly.T
    signed_area = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    out: np.ndarray = poly + (d if signed_area > 0 else -d) * normal
    return out
