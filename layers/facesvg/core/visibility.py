"""How much of a region's landmark-defined area is visible, and what hides the rest.

Every region has a *template*: the area its landmarks say it covers. Inside the template, pixels of
the region's own kind (skin, or its own label) are visible; hair, background and pixels outside
the photo are what hides it; pixels of other facial features (a brow inside the forehead template,
skin inside the eye loop) are neither, so a template that overlaps a neighbour costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facesvg.core.blobs import Blob, crop

REPORT_SHARE = 0.05  # an occluder is named once it hides this share of the template


@dataclass(frozen=True)
class Visibility:
    visible_fraction: float
    occluded_by: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"visible_fraction": self.visible_fraction, "occluded_by": list(self.occluded_by)}


NOT_IN_VIEW = Visibility(0.0, ("background",))
TURNED_AWAY = Visibility(0.0, ("turned_away",))  # the head itself hides it (a far-side ear)


@dataclass(frozen=True)
class Occluders:
    """Full-canvas 0/1 masks of what can hide a region."""

    hair: np.ndarray
    background: np.ndarray  # label 0 inside the photo
    outside_frame: np.ndarray
    glasses: np.ndarray  # eyeglass frames (only schemes that label them)

    def named(self, with_background: bool) -> list[tuple[str, np.ndarray]]:
        named = [("hair", self.hair), ("glasses", self.glasses), ("outside_frame", self.outside_frame)]
        return [*named, ("background", self.background)] if with_background else named


def measure(template: Blob, own: np.ndarray, occ: Occluders, with_background: bool = True) -> Visibility:
    """Visibility of the ``template`` area; ``own`` is the full-canvas 0/1 mask of what it shows.

    ``with_background=False`` for ears: a frontal ear is a narrow rim, so background round it in the
    template says nothing about occlusion.
    """
    t = template.mask
    if not t.size or not t.any():
        return NOT_IN_VIEW
    visible = int(np.count_nonzero(crop(own, template) & t))
    hidden = [(name, int(np.count_nonzero(crop(m, template) & t))) for name, m in occ.named(with_background)]
    total = visible + sum(n for _, n in hidden)
    if total == 0:
        return NOT_IN_VIEW
    named = tuple(name for name, n in sorted(hidden, key=lambda p: -p[1]) if n >= REPORT_SHARE * total)
    return Visibility(round(visible / total, 3), named)
