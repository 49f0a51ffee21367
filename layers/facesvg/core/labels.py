"""The label values the core works in: LaPa's 11 classes, plus ears and glasses, which the 19-class
schemes label (``core.label_schemes`` maps every scheme onto these)."""

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
EAR = 11  # either ear; split by the facial midline like the brows and eyes
GLASSES = 12  # eyeglass frames: skin behind them for carving, reported as hiding it
FACE_PARTS = (SKIN, LOWER_LIP)  # the run of values that make up the face (skin, brows, eyes, nose, lips)
HEAD = (SKIN, GLASSES)  # the run of values that make up the head (face, hair, ears, glasses)
