"""`facesvg fidelity` rows on the QOVES sample re-framed: the regions must not depend on the framing,
on the output's pixel grid, nor on the label map's resolution.

* reframed: rotated, scaled, padded, the photo JPEG'd (what a client's camera sends), the labels
  warped with nearest neighbour (what a parsing model run on that photo would roughly give); each
  region is mapped back, through both renders' ``transform`` and the reframing, onto the sample's
  own render (IoU);
* canvas: the sample rendered on smaller and larger canvases, mapped back the same way (a thin
  frontal ear is a few pixels wide on a small canvas);
* label resolution: the photo and its label map at different sizes (a map larger than the photo,
  or smaller); each label region against its own label map seen on the canvas at the map's own
  resolution (IoU).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facesvg.commands.fidelity_bars import Bar, _at_least_bar
from facesvg.commands.fidelity_measure import LABEL_REGIONS
from facesvg.commands.fidelity_metrics import in_labels, iou, midline, rasterize, viewer_side
from facesvg.core import align
from facesvg.core.inputs import FaceInputs, load_inputs
from facesvg.core.label_maps import label_map_to_image
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import RenderResult, render, render_inputs

BAR_REFRAME_IOU = 0.85  # every region, ears included, mapped back onto the sample's own
BAR_OWN_LABEL_IOU = 0.85  # each label region against its own map, whatever that map's size
JPEG_QUALITY = 85
# (angle deg, scale, padding px): the range (7-35 deg either way, 0.5-1.3), each padded.
REFRAMINGS: tuple[tuple[float, float, tuple[int, int]], ...] = (
    (7.0, 1.0, (40, 0)),
    (-12.0, 0.5, (0, 60)),
    (18.0, 0.8, (120, 30)),
    (-25.0, 1.3, (10, 10)),
    (31.0, 0.55, (200, 90)),
    (-35.0, 0.7, (60, 250)),
    (35.0, 1.15, (0, 0)),
    (-7.5, 0.9, (300, 120)),
)


def reframe(
    inputs: FaceInputs, angle: float, scale: float, pad: tuple[int, int], jpeg_quality: int | None = None
) -> tuple[bytes, bytes, str, np.ndarray]:
    """The inputs rotated by ``angle``°, scaled, and placed at ``pad`` on a canvas that holds them
    whole; returns (photo bytes: PNG, or JPEG at ``jpeg_quality``; label PNG; landmark JSON;
    2x3 original px -> reframed px)."""
    img, lab, pts = inputs.image, inputs.labels, inputs.landmarks
    h, w = lab.shape
    m = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale), np.float64)
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64) @ m[:, :2].T + m[:, 2]
    m[:, 2] += np.array(pad, np.float64) - corners.min(0)
    size = tuple(int(v) for v in np.ceil(corners.max(0) - corners.min(0) + 2 * np.array(pad)))
    vimg = cv2.warpAffine(img, m, size, flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    vlab = cv2.warpAffine(lab, m, size, flags=cv2.INTER_NEAREST)
    vpts = pts @ m[:, :2].T + m[:, 2]
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if jpeg_quality else []
    photo = _encode(".jpg" if jpeg_quality else ".png", vimg, params)
    return photo, _encode(".png", vlab, []), _points_json(vpts), m


def _encode(ext: str, array: np.ndarray, params: list[int]) -> bytes:
    ok, buf = cv2.imencode(ext, array, params)
    if not ok:
        raise ValueError(f"could not encode {ext}")
    return buf.tobytes()


def back_to_reference(reference: RenderResult, variant: RenderResult, to_variant: np.ndarray) -> np.ndarray:
    """2x3: variant canvas px -> variant photo px -> original photo px -> reference canvas px."""

    def h(m: np.ndarray | list[list[float]]) -> np.ndarray:
        return np.vstack([np.asarray(m, np.float64), [0.0, 0.0, 1.0]])

    out: np.ndarray = (
        h(reference.transform) @ np.linalg.inv(h(to_variant)) @ np.linalg.inv(h(variant.transform))
    )[:2]
    return out


@dataclass
class Row:
    kind: str  # REFRAMED | CANVAS | LABELS
    label: str
    error: str | None = None
    iou: dict[str, float | None] = field(default_factory=dict)


REFRAMED, CANVAS, LABELS = "reframed", "canvas", "labels"


def measure_reframings(
    inputs: FaceInputs,
    framings: tuple[tuple[float, float, tuple[int, int]], ...] = REFRAMINGS,
    jpeg_quality: int = JPEG_QUALITY,
) -> list[Row]:
    """Render the inputs and each reframing; each region's IoU once mapped back onto the original."""

    reference = render_inputs(inputs)
    ref_masks = {n: rasterize(p, reference.size) for n, p in reference.regions.items()}
    rows = []
    for angle, scale, pad in framings:
        row = Row(REFRAMED, f"rot {angle:+.1f} scale {scale:.2f} pad {pad[0]},{pad[1]}")
        rows.append(row)
        try:
            photo, labels, landmarks, to_variant = reframe(inputs, angle, scale, pad, jpeg_quality)
            variant = render(photo, labels, landmarks)
        except Exception as exc:  # every failure is a row of the table
            row.error = f"{type(exc).__name__}: {exc}"
            continue
        back = back_to_reference(reference, variant, to_variant)
        for name, ref_mask in ref_masks.items():
            poly = variant.regions.get(name)
            if poly is None:
                row.iou[name] = 0.0
                continue
            mapped = np.asarray(poly, np.float64) @ back[:, :2].T + back[:, 2]
            row.iou[name] = iou(rasterize(mapped, reference.size), ref_mask)
    return rows


CANVASES = (256, 384, 512, 768, 2048)  # the default is 1024
# (photo scale, label map scale) of the sample's 1101 px photo and 1024 px map: maps larger and
# smaller than the photo.
LABEL_SCALES = ((0.125, 1.0), (0.25, 1.0), (0.5, 1.0), (0.25, 0.5), (1.0, 0.5))


def measure_canvases(inputs: FaceInputs, canvases: tuple[int, ...] = CANVASES) -> list[Row]:
    """Each region on each canvas size, mapped back onto the default canvas's render."""

    reference = render_inputs(inputs)
    ref_masks = {n: rasterize(p, reference.size) for n, p in reference.regions.items()}
    rows = []
    for canvas in canvases:
        row = Row(CANVAS, f"canvas {canvas} px")
        rows.append(row)
        variant = render_inputs(inputs, RenderOptions(canvas_size=canvas))
        back = back_to_reference(reference, variant, np.eye(2, 3))
        for name, ref_mask in ref_masks.items():
            poly = variant.regions.get(name)
            mapped = np.asarray(poly, np.float64) @ back[:, :2].T + back[:, 2] if poly else None
            row.iou[name] = iou(rasterize(mapped, reference.size), ref_mask) if mapped is not None else 0.0
    return rows


def measure_label_scales(
    photo: np.ndarray,
    labels: np.ndarray,
    landmarks: np.ndarray,
    scales: tuple[tuple[float, float], ...] = LABEL_SCALES,
) -> list[Row]:
    """The photo and its label map resized independently; each label region against its own map.

    ``photo``/``labels``/``landmarks``: the sample at its sizes (labels as decoded, not fitted)."""

    h, w = photo.shape[:2]
    lh, lw = labels.shape
    rows = []
    for photo_scale, label_scale in scales:
        pw, ph = round(w * photo_scale), round(h * photo_scale)
        mw, mh = round(lw * label_scale), round(lh * label_scale)
        row = Row(LABELS, f"photo {pw}x{ph} labels {mw}x{mh}")
        rows.append(row)
        small = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
        own = cv2.resize(labels, (mw, mh), interpolation=cv2.INTER_NEAREST_EXACT)
        pts = landmarks * (pw / w, ph / h)
        try:
            result = render(_encode(".png", small, []), _encode(".png", own, []), _points_json(pts))
        except Exception as exc:  # every failure is a row of the table
            row.error = f"{type(exc).__name__}: {exc}"
            continue
        # The map's own pixels on the canvas: map px -> photo px (pixel centres aligned) -> canvas.
        to_canvas = np.asarray(result.transform, np.float64)
        at = align.Alignment(matrix=to_canvas, rotation_deg=0.0, size=result.size)
        seen = align.warp_labels(own, at, label_map_to_image(own, small))
        line = midline(align.apply(to_canvas, pts))
        for name, (values, side) in LABEL_REGIONS.items():
            truth = in_labels(seen, values)
            if side is not None:
                truth &= viewer_side(truth.shape, line, side)
            poly = result.regions.get(name)
            drawn = rasterize(poly, result.size) if poly else np.zeros_like(truth)
            row.iou[name] = iou(drawn, truth)
    return rows


def _points_json(pts: np.ndarray) -> str:
    return "[" + ",".join(f'{{"x":{x!r},"y":{y!r}}}' for x, y in pts.tolist()) + "]"


# ---------------------------------------------------------------------------------- bars, printing


def run(sample: Path) -> tuple[list[Row], list[Row], list[Bar]]:
    """Every row on the sample folder (``original_image.png``, ``segmentation_map.png``,
    ``landmarks.txt``) and the bars over them."""
    image, seg, lms = (
        (sample / n).read_bytes() for n in ("original_image.png", "segmentation_map.png", "landmarks.txt")
    )
    inputs = load_inputs(image, seg, lms)
    reframed = measure_reframings(inputs)
    own = inputs.label_map if inputs.label_map is not None else inputs.labels
    grid = measure_canvases(inputs) + measure_label_scales(inputs.image, own, inputs.landmarks)
    return reframed, grid, bars(reframed, grid)


def bars(reframed: list[Row], grid: list[Row]) -> list[Bar]:
    def values(rows: list[Row]) -> list[tuple[str, str, float | None]]:
        return [(r.label, n, v) for r in rows for n, v in r.iou.items()]

    def failed(rows: list[Row]) -> list[Bar]:
        return [Bar(f"{r.label} renders", False, r.error) for r in rows if r.error]

    canvases = [r for r in grid if r.kind == CANVAS]
    scales = [r for r in grid if r.kind == LABELS]
    ears = [(r.label, n, v) for r in reframed + canvases for n, v in r.iou.items() if n.endswith("_ear")]
    return [
        *failed(reframed),
        *failed(scales),
        _at_least_bar(
            f"sample reframed (rotated 7-35 deg, scaled 0.5-1.3, padded, JPEG): every region IoU >= "
            f"{BAR_REFRAME_IOU} mapped back",
            bool(reframed),
            values(reframed),
            BAR_REFRAME_IOU,
        ),
        _at_least_bar(
            f"sample on canvases {min(CANVASES)}-{max(CANVASES)} px: every region IoU >= {BAR_REFRAME_IOU} "
            "mapped back",
            bool(canvases),
            values(canvases),
            BAR_REFRAME_IOU,
        ),
        _at_least_bar(
            f"sample reframed and on every canvas: ears IoU >= {BAR_REFRAME_IOU}",
            bool(ears),
            ears,
            BAR_REFRAME_IOU,
        ),
        _at_least_bar(
            f"sample with a label map larger or smaller than the photo: label regions IoU >= "
            f"{BAR_OWN_LABEL_IOU} with their own map",
            bool(scales),
            values(scales),
            BAR_OWN_LABEL_IOU,
        ),
    ]


def format_rows(reframed: list[Row], grid: list[Row]) -> str:
    """One line per row: the lowest region, both ears, and the regions below the bar."""
    lines = [f"{'sample re-framed':<40} {'min':>5} {'ear L':>6} {'ear R':>6} | below {BAR_REFRAME_IOU}"]
    for r in [*reframed, *grid]:
        if r.error:
            lines.append(f"{r.label:<40} FAILED: {r.error}")
            continue
        measured = {n: v for n, v in r.iou.items() if v is not None}
        bar = BAR_OWN_LABEL_IOU if r.kind == LABELS else BAR_REFRAME_IOU
        low = [f"{n} {v:.3f}" for n, v in sorted(measured.items(), key=lambda p: p[1]) if v < bar]
        ears = [measured.get(n) for n in ("left_ear", "right_ear")]
        lines.append(
            f"{r.label:<40} {min(measured.values(), default=1.0):5.3f} "
            + " ".join(f"{v:6.3f}" if v is not None else f"{'-':>6}" for v in ears)
            + f" | {', '.join(low) or '-'}"
        )
    return "\n".join(lines)
