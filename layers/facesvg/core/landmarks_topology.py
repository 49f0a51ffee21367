"""MediaPipe FaceMesh index loops and polylines used to carve regions.

"R" is the subject's right (the image-left side of a non-mirrored photo), "L" the subject's left.
The pipeline decides which of them is the *viewer's* left from geometry, never from these names.
Every list runs in a fixed order (outer -> inner for eye rings, lateral -> medial for brows).
"""

from __future__ import annotations

N_MESH = 468
N_WITH_IRIS = 478

# Closed loop around the face, clockwise in the image starting at the top of the forehead.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip

# Eye contours (closed loops) and the rings of points below each eye, outer corner -> inner corner.
EYE_R = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_L = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
EYE_LOWER0_R = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_LOWER0_L = (263, 249, 390, 373, 374, 380, 381, 382, 362)
EYE_LOWER3_R = (143, 111, 117, 118, 119, 120, 121, 128, 245)
EYE_LOWER3_L = (372, 340, 346, 347, 348, 349, 350, 357, 465)
EYE_CORNERS_R = (33, 133)
EYE_CORNERS_L = (263, 362)
IRIS_CENTRE_R = 468
IRIS_CENTRE_L = 473

# Upper edge of each eyebrow, lateral -> medial.
BROW_UPPER_R = (70, 63, 105, 66, 107)
BROW_UPPER_L = (300, 293, 334, 296, 336)

# Side of the nose then the nasolabial fold, from under the inner eye corner down past the mouth.
NOSE_SIDE_R = (245, 188, 174, 198, 209, 129, 203, 206, 216)
NOSE_SIDE_L = (465, 412, 399, 420, 429, 358, 423, 426, 436)

# Face-oval arcs bounding the carved regions (the pipeline grows the oval slightly first).
CHEEK_ARC_R = (136, 172, 58, 132, 93, 234, 127)  # jaw -> temple
CHEEK_ARC_L = (365, 397, 288, 361, 323, 454, 356)
CHIN_ARC = (378, 400, 377, 152, 148, 176, 149)  # subject's left -> right along the jaw
FOREHEAD_ARC = (251, 284, 332, 297, 338, 10, 109, 67, 103, 54, 21)  # left temple -> right temple

# Mouth corners and lip outlines (outer), right corner -> left corner.
MOUTH_CORNER_R = 61
MOUTH_CORNER_L = 291
LOWER_LIP_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
UPPER_LIP_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)

# Points on the facial midline, top -> bottom (forehead, glabella, nose bridge, tip, lips, chin).
MIDLINE = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 2, 0, 13, 14, 17, 18, 200, 199, 175, 152)
FOREHEAD_TOP = 10
CHIN_BOTTOM = 152
