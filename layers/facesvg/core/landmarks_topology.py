"""MediaPipe FaceMesh index chains that bound the regions.

"R" is the subject's right (the image-left side of a non-mirrored photo), "L" the subject's left.
The pipeline decides which of them is the *viewer's* left from geometry, never from these names.
Chains of the subject's left are written once and mirrored through ``MIRROR`` (pairs of the canonical
face model, which is left/right symmetric), so both sides follow the same anatomy by construction.
"""

from __future__ import annotations

N_MESH = 468
N_WITH_IRIS = 478

# Closed loop around the face, clockwise in the image starting at the top of the forehead.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip

# Subject-right / subject-left pairs of every index a chain below uses (MediaPipe's
# rightEye*/leftEye* and silhouette lists pair up index by index; the rest were checked by reflecting
# frontal faces across the midline: tests/unit/core/test_core_topology.py).
MIRROR = dict(
    [
        # eye rings: lower lid (0), the rings below it (1-3)
        (33, 263), (7, 249), (163, 390), (144, 373), (145, 374), (153, 380), (154, 381), (155, 382),
        (133, 362), (130, 359), (25, 255), (110, 339), (24, 254), (23, 253), (22, 252), (26, 256),
        (112, 341), (243, 463), (226, 446), (244, 464), (143, 372), (111, 340), (117, 346),
        (118, 347), (119, 348), (120, 349), (121, 350), (128, 357), (245, 465),
        # side of the nose, ala, nasolabial fold
        (188, 412), (236, 456), (198, 420), (209, 429), (49, 279), (48, 278), (64, 294), (98, 327),
        (165, 391), (92, 322), (186, 410),
        # below the mouth corner, marionette line, cheek's lower and outer edge
        (57, 287), (212, 432), (210, 430), (169, 394), (138, 367), (215, 435), (177, 401),
        (137, 366), (227, 447), (34, 264),
        # face oval
        (109, 338), (67, 297), (103, 332), (54, 284), (21, 251), (162, 389), (127, 356), (234, 454),
        (93, 323), (132, 361), (58, 288), (172, 397), (136, 365), (150, 379), (149, 378),
        (176, 400), (148, 377),
        # mouth
        (61, 291), (146, 375), (91, 321), (181, 405), (84, 314),
        # temple, upper lid, sulcus
        (46, 276), (71, 301), (162, 389), (139, 368), (156, 383), (124, 353), (113, 342),
        (246, 466), (161, 388), (160, 387), (159, 386), (158, 385), (157, 384), (173, 398),
        (189, 413), (221, 441), (222, 442), (223, 443), (224, 444), (225, 445),
        # brows (upper edge)
        (70, 300), (63, 293), (105, 334), (66, 296), (107, 336), (55, 285),
        # brows (lower edge, leftEyebrowLower: 265 sits below the brow tail, beside the outer canthus)
        (35, 265), (46, 276), (53, 283), (52, 282), (65, 295),
    ]
)  # fmt: skip
MIRROR.update({v: k for k, v in list(MIRROR.items())})


def mirrored(chain: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(MIRROR[i] for i in chain)


# Eye contours (closed loops), outer corner -> inner corner along the lower lid first.
EYE_L = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
EYE_R = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_CORNERS_R = (33, 133)
EYE_CORNERS_L = (263, 362)
IRIS_CENTRE_R = 468
IRIS_CENTRE_L = 473

# Under-eye: the band between the ring just below the lid margin (leftEyeLower1) and the ring on the
# infraorbital rim (leftEyeLower3), closed at the outer canthus (446, then 265 beside it) and at the
# inner end (464). This is how the customer draws it (skin_right_undereye).
UNDEREYE_L = (
    463, 341, 256, 252, 253, 254, 339, 255, 359,  # below the lid margin, inner -> outer
    446, 265,  # outer canthus
    372, 340, 346, 347, 348, 349, 350, 357, 465,  # infraorbital ring, outer -> inner
    464,  # inner end
)  # fmt: skip
UNDEREYE_R = mirrored(UNDEREYE_L)

# Cheek: from the infraorbital ring (shared with the under-eye) down the side of the nose and the
# ala, along the nasolabial fold to just below the mouth corner, out to the jaw and up the side of
# the face. The customer's drawn cheek (skin_right_cheek) follows exactly these points.
CHEEK_L = (
    372, 340, 346, 347, 348, 349, 350, 357,  # infraorbital ring, outer -> inner
    412, 456, 420, 429, 279, 278, 294,  # side of the nose down to the ala
    327, 391, 322, 410, 432,  # nasolabial fold to below the mouth corner
    367, 435, 361, 401, 323, 366, 454, 447, 356, 264,  # jaw and side of the face, up to the temple
)  # fmt: skip
CHEEK_R = mirrored(CHEEK_L)

# Chin (the mental region): below the lower lip, between the marionette lines (mouth corner down to
# the jaw), down to the face oval at the jaw.
LOWER_LIP_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)  # right corner -> left corner
_MARIONETTE_L = (287, 432, 430, 394, 379)  # beside the mouth corner -> jaw
_JAW_BOTTOM = (378, 400, 377, 152, 148, 176, 149)  # subject's left -> right along the oval
CHIN = LOWER_LIP_OUTER + _MARIONETTE_L + _JAW_BOTTOM + mirrored(_MARIONETTE_L)[::-1]

# Forehead: above the upper edge of the brows, under the top of the face oval (which MediaPipe puts
# near, usually below, the hairline: the carving stretches it up, see regions.forehead).
BROW_UPPER_L = (300, 293, 334, 296, 336)  # lateral -> medial
BROW_UPPER_R = mirrored(BROW_UPPER_L)
FOREHEAD_ARC = (251, 284, 332, 297, 338, 10, 109, 67, 103, 54, 21)  # left temple -> right temple

# Face side where each ear attaches (tragus level), top -> bottom; the ear lies lateral to them.
EAR_ANCHOR_L = (356, 454, 323)
EAR_ANCHOR_R = mirrored(EAR_ANCHOR_L)
NOSE_BASE = 2  # subnasale: the ear lobe ends about level with it
NOSE_TIP = 1

# Landmark-defined areas of the label regions (for visibility: how much of each is hidden).
NOSE_HULL = (168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 64, 294, 48, 278, 129, 358, 49, 279, 188, 412)
UPPER_LIP_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
UPPER_LIP_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_LIP_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
BROW_L = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)  # upper edge lateral -> medial, back
BROW_R = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)

# ---- aesthetic zones (a second layer; see core/zones.py and docs/regions.md)
GLABELLA = (55, 107, 151, 336, 285, 417, 168, 193)  # between the brows' medial ends, above the nasion
# Lateral canthal area: beside the outer canthus, from under the brow tail to the cheekbone.
CROWS_FEET_L = (446, 342, 353, 383, 368, 264, 372, 265)
CROWS_FEET_R = mirrored(CROWS_FEET_L)
# Temple: above the crow's feet, lateral to the brow tail, out to the face oval.
TEMPLE_L = (276, 300, 301, 251, 389, 368, 383, 353)
TEMPLE_R = mirrored(TEMPLE_L)
# Upper eyelid: the lid margin (leftEyeUpper0, corner to corner) up to the sulcus (leftEyeUpper2).
UPPER_EYELID_L = (263, 466, 388, 387, 386, 385, 384, 398, 362, 413, 441, 442, 443, 444, 445, 342)
UPPER_EYELID_R = mirrored(UPPER_EYELID_L)
# Tear trough: the medial half of the under-eye band, inner canthus to below the pupil.
TEAR_TROUGH_L = (463, 341, 256, 252, 349, 350, 357, 465, 464)
TEAR_TROUGH_R = mirrored(TEAR_TROUGH_L)
# Bands along lines: the nasolabial fold (ala -> past the mouth corner), the marionette line
# (beside the mouth corner -> jaw), the mandible (jaw angle -> chin point).
NASOLABIAL_L = (294, 327, 391, 322, 410, 432)
NASOLABIAL_R = mirrored(NASOLABIAL_L)
MARIONETTE_L = (287, 430, 394)
MARIONETTE_R = mirrored(MARIONETTE_L)
JAWLINE_L = (361, 288, 397, 365, 379, 378, 400, 377, 152)
JAWLINE_R = (*mirrored(JAWLINE_L[:-1]), 152)
LIPS_OUTER = UPPER_LIP_OUTER + LOWER_LIP_OUTER[-2:0:-1]  # closed loop round both lips

MOUTH_CENTRE = (13, 14)  # the inner lips' midpoints
MOUTH_CORNER_R = 61
MOUTH_CORNER_L = 291

# Points on the facial midline, top -> bottom (forehead, glabella, nose bridge, tip, lips, chin).
MIDLINE = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 2, 0, 13, 14, 17, 18, 200, 199, 175, 152)
FOREHEAD_TOP = 10
CHIN_BOTTOM = 152
