"""The names of the two layers (no NumPy/OpenCV here: the submit function validates options with them).

"left"/"right" are the viewer's. Definitions: docs/regions.md.
"""

from __future__ import annotations

REGION_NAMES = (
    "face",
    "forehead",
    "left_eyebrow",
    "right_eyebrow",
    "left_eye",
    "right_eye",
    "left_undereye",
    "right_undereye",
    "left_cheek",
    "right_cheek",
    "nose",
    "upper_lip",
    "lower_lip",
    "chin",
    "left_ear",
    "right_ear",
)

# The aesthetic zones, in carving order (the order is their priority where two meet).
ZONE_NAMES = (
    "perioral",
    "left_nasolabial",
    "right_nasolabial",
    "left_marionette",
    "right_marionette",
    "left_jawline",
    "right_jawline",
    "left_tear_trough",
    "right_tear_trough",
    "left_upper_eyelid",
    "right_upper_eyelid",
    "left_crows_feet",
    "right_crows_feet",
    "left_temple",
    "right_temple",
    "glabella",
)


def layer_of(name: str) -> str:
    return "zones" if name in ZONE_NAMES else "regions"


def viewer_side(name: str) -> str | None:
    """``"left"``/``"right"`` (the viewer's, i.e. the image's) or None for a central region."""
    side = name.split("_", 1)[0]
    return side if side in ("left", "right") else None
