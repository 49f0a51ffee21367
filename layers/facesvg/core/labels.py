"""The label values the core works in (LaPa's 11 classes); other schemes are mapped to these on input."""

from __future__ import annotations

BACKGROUND = 0
SKIN = 1
BROWS = (2, 3)  # image-left, image-right
EYES = (4, 5)
NOSE = 6
UPPER_LIP = 7
MOUTH = 8
LOWER_LIP = 9
HAIR = 10
