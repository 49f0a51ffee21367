"""`facesvg fidelity`'s map-less stability rows: the labels derived without a map must not depend on
the photo's size or its compression. Each face is also derived from its photo doubled (cubic) and
saved as JPEG at quality 60; each feature label is scored against the real map (brought to the same
size) and compared with the original photo's score.

MediaPipe's landmarks are its normalised coordinates times the photo's size, so a photo resized by
``s`` has its landmarks times ``s`` (not its pixel centres scaled)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from facesvg.commands.fidelity_bars import Bar, _bar
from facesvg.commands.fidelity_cases import Case
from facesvg.commands.fidelity_metrics import iou
from facesvg.core.derived_labels import derive_labels
from facesvg.core.inputs import load_inputs
from facesvg.core.labels import BROWS, EYES, LOWER_LIP, NOSE, UPPER_LIP

FEATURES = {
    "brows": BROWS,
    "eyes": EYES,
    "nose": (NOSE,),
    "upper_lip": (UPPER_LIP,),
    "lower_lip": (LOWER_LIP,),
}
VARIANTS = ("doubled", "jpeg60")
BAR_STABLE = 0.10  # no feature's score drops more than this in a variant


@dataclass
class StabilityReport:
    case: str
    error: str | None = None
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # variant -> feature -> IoU

    def worst_drop(self) -> tuple[str, str, float]:
        """(variant, feature, drop from the original photo's score); the largest."""
        base = self.scores.get("original", {})
        drops = [(v, f, base[f] - s) for v in VARIANTS for f, s in self.scores.get(v, {}).items()]
        return max(drops, key=lambda d: d[2], default=("", "", 0.0))


def _scores(image: np.ndarray, landmarks: np.ndarray, real: np.ndarray) -> dict[str, float]:
    derived = derive_labels(image, landmarks)
    if real.shape != derived.shape:
        real = cv2.resize(real, derived.shape[::-1], interpolation=cv2.INTER_NEAREST)
    out: dict[str, float] = {}
    for name, values in FEATURES.items():
        score = iou(np.isin(real, values), np.isin(derived, values))
        out[name] = 1.0 if score is None else score  # in neither: they agree
    return out


def measure_stability(case: Case) -> StabilityReport:
    report = StabilityReport(case.name)
    try:
        inputs = load_inputs(
            case.image.read_bytes(), case.segmentation.read_bytes(), case.landmarks.read_bytes()
        )
        image, points, real = inputs.image, inputs.landmarks, inputs.labels
        h, w = image.shape[:2]
        doubled = cv2.resize(image, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 60])
        recompressed = cv2.imdecode(jpeg, cv2.IMREAD_COLOR) if ok else None
        if recompressed is None:
            raise ValueError("JPEG round trip failed")
        report.scores = {
            "original": _scores(image, points, real),
            "doubled": _scores(doubled, points * 2.0, real),
            "jpeg60": _scores(recompressed, points, real),
        }
    except Exception as exc:  # every failure is a row of the table
        report.error = f"{type(exc).__name__}: {exc}"
    return report


def check_stability_bars(reports: Sequence[StabilityReport]) -> list[Bar]:
    failures = [f"{r.case} ({r.error})" for r in reports if r.error]
    worst = 0.0
    for r in reports:
        if r.error:
            continue
        variant, feature, drop = r.worst_drop()
        worst = max(worst, drop)
        if drop > BAR_STABLE:
            failures.append(f"{r.case}/{variant}/{feature} -{drop:.3f}")
    name = f"landmarks only: doubled or JPEG'd photos lose at most {BAR_STABLE} of any feature's IoU"
    return [_bar(name, bool(reports), failures, f"largest drop {worst:.3f}")]


def format_stability(reports: Sequence[StabilityReport]) -> str:
    head = f"{'landmarks only, photo doubled / JPEG 60':<40} " + " ".join(f"{name:>17}" for name in FEATURES)
    lines = [head + "   (label IoU: original doubled jpeg60)"]
    for r in reports:
        if r.error:
            lines.append(f"{r.case:<40} FAILED: {r.error}")
            continue
        cells = ["/".join(f"{r.scores[v][name]:.2f}" for v in ("original", *VARIANTS)) for name in FEATURES]
        lines.append(f"{r.case:<40} " + " ".join(f"{c:>17}" for c in cells))
    return "\n".join(lines)
