"""Face-parsing label schemes, mapped onto the labels the core works in (``core.labels``).

The 19-class schemes disagree on their indices, and on whose left is "left": CelebAMask-HQ and
face-parsing.PyTorch name the person's sides, facer's ``celebm`` the image's (it renames
CelebAMask-HQ's ``l_ear`` as ``rr``). The core never relies on those names: paired features are
split by the facial midline, so every scheme's left/right pair maps onto one value pair here.

Primary sources (checked 2026-11-30):
- ``lapa``: LaPa (JDAI-CV/lapa-dataset README): 0 background, 1 skin, 2 left eyebrow, 3 right
  eyebrow, 4 left eye, 5 right eye, 6 nose, 7 upper lip, 8 inner mouth, 9 lower lip, 10 hair.
- ``celebamask-hq``: CelebAMask-HQ's ``face_parsing/Data_preprocessing/g_mask.py`` ``label_list``
  (index + 1): skin, nose, eye_g, l_eye, r_eye, l_brow, r_brow, l_ear, r_ear, mouth, u_lip, l_lip,
  hair, hat, ear_r, neck_l, neck, cloth.
- ``faceparsing19``: zllrunning/face-parsing.PyTorch (the BiSeNet model's output order, as in its
  README's atts list): skin, l_brow, r_brow, l_eye, r_eye, eye_g, l_ear, r_ear, ear_r, nose, mouth,
  u_lip, l_lip, neck, neck_l, cloth, hair, hat.
- ``facer-celebm``: FacePerceiver/facer ``facer/face_parsing/farl.py`` ``pretrain_settings
  ['celebm/448']['label_names']``: background, neck, face, cloth, rr, lr, rb, lb, re, le, nose,
  imouth, llip, ulip, hair, eyeg, hat, earr, neck_l (note: lower lip before upper lip).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from facesvg.core.labels import (
    BACKGROUND,
    BROWS,
    EAR,
    EYES,
    GLASSES,
    HAIR,
    LOWER_LIP,
    MOUTH,
    NOSE,
    SKIN,
    UPPER_LIP,
)

# What each class name becomes. Neck, cloth, hat, earrings and necklaces are never face.
_CLASS = {
    "background": BACKGROUND, "skin": SKIN, "face": SKIN,
    "l_brow": BROWS[0], "r_brow": BROWS[1], "lb": BROWS[0], "rb": BROWS[1],
    "l_eye": EYES[0], "r_eye": EYES[1], "le": EYES[0], "re": EYES[1],
    "nose": NOSE, "u_lip": UPPER_LIP, "ulip": UPPER_LIP, "mouth": MOUTH, "imouth": MOUTH,
    "l_lip": LOWER_LIP, "llip": LOWER_LIP, "hair": HAIR,
    "l_ear": EAR, "r_ear": EAR, "lr": EAR, "rr": EAR,
    "eye_g": GLASSES, "eyeg": GLASSES,
    "neck": BACKGROUND, "neck_l": BACKGROUND, "cloth": BACKGROUND, "hat": BACKGROUND,
    "ear_r": BACKGROUND, "earr": BACKGROUND,
}  # fmt: skip

_ORDERS = {
    "lapa": ("background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "nose", "u_lip", "mouth",
             "l_lip", "hair"),
    "celebamask-hq": ("background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow",
                      "l_ear", "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l",
                      "neck", "cloth"),
    "faceparsing19": ("background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear",
                      "r_ear", "ear_r", "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth",
                      "hair", "hat"),
    "facer-celebm": ("background", "neck", "face", "cloth", "rr", "lr", "rb", "lb", "re", "le", "nose",
                     "imouth", "llip", "ulip", "hair", "eyeg", "hat", "earr", "neck_l"),
}  # fmt: skip

SCHEME_NAMES = tuple(_ORDERS)
DEFAULT_SCHEME = "lapa"


@dataclass(frozen=True)
class Scheme:
    name: str
    classes: tuple[str, ...]  # index -> class name
    lut: np.ndarray  # (256,) uint8: raw value -> core label (values past the scheme: 255)

    @property
    def size(self) -> int:
        return len(self.classes)

    @property
    def labels_ears(self) -> bool:
        """Ears have a class of their own (so skin beside the face is never an ear)."""
        return EAR in self.lut[: self.size]

    def to_core(self, raw: np.ndarray) -> np.ndarray:
        """Raw labels (values < ``size``, checked by the caller) as core labels (LaPa's are)."""
        if self.name == DEFAULT_SCHEME:
            return raw
        out: np.ndarray = self.lut[raw]
        return out


def _scheme(name: str) -> Scheme:
    classes = _ORDERS[name]
    lut = np.full(256, 255, np.uint8)
    lut[: len(classes)] = [_CLASS[c] for c in classes]
    return Scheme(name, classes, lut)


SCHEMES = {name: _scheme(name) for name in SCHEME_NAMES}


MAX_SCORED_PIXELS = 1_000_000  # a larger map is scored on a regular subsample (its statistics hold)


def likely_schemes(max_value: int, labels: np.ndarray | None = None) -> list[str]:
    """Schemes a map whose largest value is ``max_value`` can be in (for a helpful 400), likeliest
    first when the map (raw values) is given: read in the right scheme, skin is the largest facial
    class, the nose is larger than each eye and each brow, and from top to bottom come brows, eyes,
    nose, upper lip, lower lip. A wrong order breaks some of that (only on error paths)."""
    score = _scores(max_value, labels)
    return sorted(score, key=lambda name: -score[name])  # stable: ties keep SCHEMES' order


MIN_FACE_SCORE = 4  # of 7: read in a scheme scoring less, a map does not look like a face at all


def better_schemes(labels: np.ndarray, declared: str) -> list[str]:
    """``likely_schemes`` of a map (raw values, all within ``declared``) when another scheme reads
    it as a face (``MIN_FACE_SCORE``) and fits it strictly better than the declared one, else ``[]``.
    Real faces score 7 in their own scheme, at most 4 in another; a map of one class scores <= 2."""
    score = _scores(int(labels.max()), labels)
    best = max(score.values())
    if best < MIN_FACE_SCORE or best <= score[declared]:
        return []
    return sorted(score, key=lambda name: -score[name])


def _scores(max_value: int, labels: np.ndarray | None) -> dict[str, int]:
    """Each scheme the values fit, with its plausibility score (0 for all without the map)."""
    fitting = [s for s in SCHEMES.values() if max_value < s.size]
    if labels is None or max_value > 255:
        return {s.name: 0 for s in fitting}
    stride = max(1, int(np.ceil(np.sqrt(labels.size / MAX_SCORED_PIXELS))))
    sample = labels[::stride, ::stride]
    flat = sample.ravel()
    raw = np.bincount(flat, minlength=256).astype(np.float64)
    rows = np.repeat(np.arange(sample.shape[0], dtype=np.float64), sample.shape[1])
    row_sum = np.bincount(flat, weights=rows, minlength=256)
    return {s.name: _plausibility(s, raw, row_sum) for s in fitting}


def _plausibility(scheme: Scheme, raw: np.ndarray, row_sum: np.ndarray) -> int:
    lut = scheme.lut[: scheme.size]
    core = np.bincount(lut, weights=raw[: scheme.size], minlength=256)
    core_rows = np.bincount(lut, weights=row_sum[: scheme.size], minlength=256)
    face = [SKIN, *BROWS, *EYES, NOSE, UPPER_LIP, MOUTH, LOWER_LIP, EAR, GLASSES]
    score = 2 * int(core[SKIN] > 0 and core[SKIN] == max(core[v] for v in face))
    pairs = [raw[i] for i, c in enumerate(scheme.classes) if _CLASS[c] in (*BROWS, *EYES)]
    score += int(core[NOSE] > 0 and all(core[NOSE] >= p for p in pairs))
    order = [BROWS, EYES, (NOSE,), (UPPER_LIP,), (LOWER_LIP,)]
    mean_row = []
    for values in order:
        n = sum(core[v] for v in values)
        mean_row.append(sum(core_rows[v] for v in values) / n if n else None)
    for above, below in itertools.pairwise(mean_row):
        score += int(above is not None and below is not None and above < below)
    return score
