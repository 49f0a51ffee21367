"""Issue 16: maps in other label schemes, and palette PNGs read by index.

The proof on real 19-class maps reads ``../shared/faces/*/segmentation_map_faceparsing19.png`` in
place (skipped without ``../shared``; nothing made from those files is ever written or committed).
"""

from __future__ import annotations

import struct
import typing
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from core_helpers import landmarks_json, png, png_chunk, raster
from facesvg.commands import fidelity_cases as fid_cases
from facesvg.commands import fidelity_measure as fid_measure
from facesvg.commands import fidelity_metrics as fid_metrics
from facesvg.core import align
from facesvg.core import landmarks_topology as topo
from facesvg.core.errors import InputError
from facesvg.core.inputs import check_inputs, load_inputs
from facesvg.core.label_maps import decode_labels, fit_labels
from facesvg.core.label_schemes import SCHEME_NAMES, SCHEMES
from facesvg.core.labels import EAR, GLASSES
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import render

FACES = fid_cases.DEFAULT_SHARED / "faces"
FP19_CASES = sorted(FACES.glob("*/segmentation_map_faceparsing19.png")) if FACES.is_dir() else []
needs_shared = pytest.mark.skipif(not FP19_CASES, reason="../shared/faces is absent")

# The sample's LaPa map re-indexed into face-parsing.PyTorch's order by class name.
LAPA_TO_FACEPARSING19 = np.array([0, 1, 2, 3, 4, 5, 10, 12, 11, 13, 17], np.uint8)
LABEL_REGIONS = ("nose", "upper_lip", "lower_lip", "left_eye", "right_eye", "left_eyebrow", "right_eyebrow")


def _reindex(from_scheme: str, to_scheme: str) -> np.ndarray:
    """A LUT re-indexing a map from one scheme to another by class name.

    facer's ``celebm`` names differ: ``face`` for skin, ``imouth``/``ulip``/``llip``/``eyeg``/``earr``,
    and its ``l``/``r`` prefixes are the image's sides where the others name the person's (its ``rr``
    is CelebAMask-HQ's ``l_ear``), so ``l_X`` becomes ``rX`` and ``r_X`` becomes ``lX``.
    """
    facer = {"skin": "face", "mouth": "imouth", "u_lip": "ulip", "l_lip": "llip", "eye_g": "eyeg",
             "ear_r": "earr", "l_brow": "rb", "r_brow": "lb", "l_eye": "re", "r_eye": "le",
             "l_ear": "rr", "r_ear": "lr"}  # fmt: skip
    source, target = SCHEMES[from_scheme].classes, SCHEMES[to_scheme].classes
    rename = facer if to_scheme == "facer-celebm" else {}
    lut = np.zeros(256, np.uint8)
    for i, name in enumerate(source):
        lut[i] = target.index(rename.get(name, name))
    return lut


# Paired features (brows, eyes) are split by the facial midline, never by their value: which value of
# a pair a scheme's "left" becomes does not matter, so comparisons merge each pair.
_MERGE_PAIRS = np.arange(256, dtype=np.uint8)
_MERGE_PAIRS[[3, 5]] = [2, 4]


def _merged(labels: np.ndarray) -> np.ndarray:
    out: np.ndarray = _MERGE_PAIRS[labels]
    return out


def test_the_option_lists_every_scheme() -> None:
    field = RenderOptions.model_fields["label_scheme"]
    assert set(typing.get_args(field.annotation)) == set(SCHEME_NAMES)
    assert RenderOptions().label_scheme == "lapa"


@pytest.mark.parametrize("scheme", ["faceparsing19", "celebamask-hq", "facer-celebm"])
def test_a_reindexed_sample_map_decodes_to_the_same_core_labels(
    sample_bytes: dict[str, bytes], scheme: str
) -> None:
    lapa = decode_labels(sample_bytes["segmentation"])
    other = _reindex("lapa", scheme)[lapa]
    np.testing.assert_array_equal(_merged(decode_labels(png(other), scheme=scheme)), _merged(lapa))


def test_values_that_do_not_fit_the_scheme_name_the_likely_one(sample_bytes: dict[str, bytes]) -> None:
    fp19 = png(LAPA_TO_FACEPARSING19[decode_labels(sample_bytes["segmentation"])])
    with pytest.raises(InputError) as exc:
        check_inputs(sample_bytes["image"], fp19, sample_bytes["landmarks"])
    err = exc.value
    assert (err.field, err.code) == ("segmentation_map", "UnknownLabels")
    assert err.details["likely_schemes"][0] == "faceparsing19"
    assert err.to_dict()["likely_schemes"] == err.details["likely_schemes"]
    assert "label_scheme 'lapa' uses 0..10" in err.message
    # declared, it is accepted (and 19 values do not fit any scheme)
    check_inputs(sample_bytes["image"], fp19, sample_bytes["landmarks"], label_scheme="faceparsing19")
    bad = LAPA_TO_FACEPARSING19[decode_labels(sample_bytes["segmentation"])].copy()
    bad[:4, :4] = 19
    with pytest.raises(InputError) as exc:
        decode_labels(png(bad), scheme="faceparsing19")
    assert exc.value.details["likely_schemes"] == []


@pytest.mark.parametrize("declared", [s for s in SCHEME_NAMES if s != "lapa"])
@pytest.mark.parametrize("check", [check_inputs, load_inputs], ids=["check_inputs", "load_inputs"])
def test_a_lapa_map_declared_as_another_scheme_is_blamed_on_the_scheme(
    sample_bytes: dict[str, bytes], declared: str, check: typing.Any
) -> None:
    # Given the sample's LaPa map declared as a 19-class scheme (its 0..10 values fit every scheme):
    # read so, the nose lands on the glasses or the ears, or the skin on the neck
    with pytest.raises(InputError) as exc:
        check(
            sample_bytes["image"],
            sample_bytes["segmentation"],
            sample_bytes["landmarks"],
            label_scheme=declared,
        )
    # Then the answer names the scheme, not the landmarks ("nose points not on the nose") or NoFace
    err = exc.value
    assert (err.field, err.code) == ("options.label_scheme", "LabelSchemeMismatch"), err.to_dict()
    assert err.details["likely_schemes"][0] == "lapa"
    assert f"label_scheme {declared!r}" in err.message and "'lapa' better" in err.message


def test_a_19_class_map_declared_as_another_19_class_scheme_is_blamed_on_the_scheme(
    sample_bytes: dict[str, bytes],
) -> None:
    fp19 = png(LAPA_TO_FACEPARSING19[decode_labels(sample_bytes["segmentation"])])
    for declared in ("celebamask-hq", "facer-celebm"):
        with pytest.raises(InputError) as exc:
            check_inputs(sample_bytes["image"], fp19, sample_bytes["landmarks"], label_scheme=declared)
        assert (exc.value.field, exc.value.details["likely_schemes"][0]) == (
            "options.label_scheme",
            "faceparsing19",
        )


def test_landmarks_off_a_rightly_declared_map_are_still_blamed_on_the_landmarks(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    # The scheme is consulted only when another one fits the map better: here lapa fits best
    shifted = landmarks_json(sample_points + np.array([0.0, 90.0]))
    with pytest.raises(InputError) as exc:
        check_inputs(sample_bytes["image"], sample_bytes["segmentation"], shifted)
    assert (exc.value.field, exc.value.code) == ("landmarks", "InvalidLandmarks")
    # and a map with no face at all is NoFace whatever the scheme (every scheme scores the same)
    empty = png(np.zeros((1023, 1024), np.uint8))
    for declared in SCHEME_NAMES:
        with pytest.raises(InputError) as exc:
            check_inputs(sample_bytes["image"], empty, sample_bytes["landmarks"], label_scheme=declared)
        assert (exc.value.field, exc.value.code) == ("segmentation_map", "NoFace")


@needs_shared
@pytest.mark.parametrize("path", FP19_CASES, ids=lambda p: p.parent.name)
def test_real_maps_declared_wrongly_are_blamed_on_the_scheme(path: Path) -> None:
    image = next(iter(sorted(path.parent.glob("image.*")))).read_bytes()
    landmarks = (path.parent / "landmarks.json").read_bytes()
    maps = {"faceparsing19": path.read_bytes(), "lapa": (path.parent / "segmentation_map.png").read_bytes()}
    for truth, data in maps.items():
        check_inputs(image, data, landmarks, label_scheme=truth)
        for declared in SCHEME_NAMES:
            if declared == truth:
                continue
            with pytest.raises(InputError) as exc:
                check_inputs(image, data, landmarks, label_scheme=declared)
            if exc.value.code != "UnknownLabels":  # 19 values declared as lapa: the values do not fit
                assert exc.value.field == "options.label_scheme", exc.value.to_dict()
            assert exc.value.details["likely_schemes"][0] == truth


def test_a_19_class_render_labels_no_ears_where_the_map_has_none(sample_bytes: dict[str, bytes]) -> None:
    # The sample's map has no ear class: with a scheme that has one, no ear is carved out of skin.
    fp19 = png(LAPA_TO_FACEPARSING19[decode_labels(sample_bytes["segmentation"])])
    lapa = render(sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"])
    result = render(
        sample_bytes["image"], fp19, sample_bytes["landmarks"], RenderOptions(label_scheme="faceparsing19")
    )
    assert {"left_ear", "right_ear"} <= set(result.missing)
    for name in LABEL_REGIONS:
        got = fid_metrics.iou(
            raster(result.regions[name], result.size), raster(lapa.regions[name], lapa.size)
        )
        assert got is not None and got > 0.99, (name, got)


def test_glasses_hide_skin_and_are_reported(sample_bytes: dict[str, bytes]) -> None:
    labels = LAPA_TO_FACEPARSING19[decode_labels(sample_bytes["segmentation"])].copy()
    inputs = load_inputs(sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"])
    h, w = labels.shape
    pts = inputs.landmarks * (w / inputs.image.shape[1], h / inputs.image.shape[0])
    # a frame across the eye line: skin under it becomes eye_g (6 in faceparsing19)
    eyes_y = int(pts[[33, 263], 1].mean())
    x0, x1 = int(pts[:, 0].min()), int(pts[:, 0].max())
    band = labels[eyes_y + 8 : eyes_y + 14, x0:x1]
    band[band == 1] = 6
    decoded = decode_labels(png(labels), scheme="faceparsing19")
    assert (decoded == GLASSES).any() and not (decoded == EAR).any()
    result = render(
        sample_bytes["image"],
        png(labels),
        sample_bytes["landmarks"],
        RenderOptions(label_scheme="faceparsing19"),
    )
    hidden = [n for n, v in result.visibility.items() if "glasses" in v["occluded_by"]]
    assert hidden, result.visibility


# ----------------------------------------------------------------------------------- palette PNGs


def palette_png(indices: np.ndarray, palette: bytes, depth: int = 8, extra: bytes = b"") -> bytes:
    h, w = indices.shape
    if depth < 8:
        per = 8 // depth
        padded = np.zeros((h, -(-w // per) * per), np.uint8)
        padded[:, :w] = indices
        packed = np.zeros((h, padded.shape[1] // per), np.uint8)
        for k in range(per):
            packed |= padded[:, k::per] << (8 - depth * (k + 1))
        rows = packed
    else:
        rows = indices.astype(np.uint8)
    raw = b"".join(b"\0" + rows[y].tobytes() for y in range(h))
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 3, 0, 0, 0))
        + png_chunk(b"PLTE", palette)
        + extra
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


COLOURS = bytes(v for i in range(19) for v in ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256))


def test_a_colour_palette_png_is_read_by_index(sample_bytes: dict[str, bytes]) -> None:
    lapa = decode_labels(sample_bytes["segmentation"])
    # with a tRNS chunk too: transparency must not turn into values
    trns = png_chunk(b"tRNS", bytes([0] + [255] * 10))
    for extra in (b"", trns):
        data = palette_png(lapa, COLOURS[: 11 * 3], extra=extra)
        np.testing.assert_array_equal(decode_labels(data), lapa)
    fp19 = LAPA_TO_FACEPARSING19[lapa]
    np.testing.assert_array_equal(decode_labels(palette_png(fp19, COLOURS), scheme="faceparsing19"), lapa)
    # and a render from it equals the grey map's
    got = load_inputs(sample_bytes["image"], palette_png(lapa, COLOURS[:33]), sample_bytes["landmarks"])
    want = load_inputs(sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"])
    np.testing.assert_array_equal(got.labels, want.labels)


@pytest.mark.parametrize("depth", [4, 2, 1])
def test_low_bit_depth_palettes_are_read_by_index(depth: int) -> None:
    rng = np.random.default_rng(depth)
    labels = rng.integers(0, min(1 << depth, 11), (37, 29), dtype=np.uint8)
    data = palette_png(labels, COLOURS[: 3 * (1 << depth)], depth)
    np.testing.assert_array_equal(decode_labels(data), labels)


def test_a_grey_palette_keeps_its_greys_as_values() -> None:
    labels = np.arange(11, dtype=np.uint8).repeat(4).reshape(4, 11)
    # index i shows grey 10 - i: the greys are the values (what every viewer shows; read so before)
    grey = bytes(v for i in range(11) for v in (10 - i,) * 3)
    np.testing.assert_array_equal(decode_labels(palette_png(labels, grey)), 10 - labels)


def test_palette_indices_past_the_scheme_are_refused() -> None:
    labels = np.full((8, 8), 15, np.uint8)
    with pytest.raises(InputError) as exc:
        decode_labels(palette_png(labels, COLOURS))
    assert exc.value.code == "UnknownLabels"


def test_a_palette_bomb_is_refused_before_inflating() -> None:
    # A header promising 20000 x 1000 pixels over a few bytes of data: refused by the IDAT bound.
    tiny = palette_png(np.zeros((1, 1), np.uint8), COLOURS)
    bomb = bytearray(tiny)
    bomb[16:24] = struct.pack(">II", 20_000, 1_000)
    bomb[29:33] = struct.pack(">I", zlib.crc32(bytes(bomb[12:29])))
    with pytest.raises(InputError) as exc:
        decode_labels(bytes(bomb))
    assert exc.value.code == "Corrupt"


# ------------------------------------------------------------- the proof on real 19-class maps


def _case_files(fp19: Path) -> tuple[bytes, bytes, bytes, bytes]:
    case = fp19.parent
    image = next(p for p in (case / "image.jpg", case / "image.png") if p.is_file())
    return (
        image.read_bytes(),
        (case / "segmentation_map.png").read_bytes(),
        fp19.read_bytes(),
        (case / "landmarks.json").read_bytes(),
    )


@needs_shared
@pytest.mark.parametrize("fp19", FP19_CASES, ids=[p.parent.name for p in FP19_CASES])
def test_a_real_faceparsing19_map_renders_like_its_lapa_map_with_true_ears(fp19: Path) -> None:
    image, lapa_map, fp19_map, landmarks = _case_files(fp19)
    lapa = render(image, lapa_map, landmarks, RenderOptions())
    result = render(image, fp19_map, landmarks, RenderOptions(label_scheme="faceparsing19"))
    # the label regions agree with the LaPa render of the same case
    for name in LABEL_REGIONS:
        if name in lapa.regions:
            got = fid_metrics.iou(
                raster(result.regions[name], result.size), raster(lapa.regions[name], lapa.size)
            )
            assert got is not None and got >= 0.95, (name, got)
    # the ears follow the ear labels: they agree with truth_ears.png where an ear is visible
    truth_file = fp19.parent / "truth_ears.png"
    if not truth_file.is_file():
        return
    matrix = np.array(result.transform, np.float64)
    w, h = result.source_size
    truth = (
        fid_measure._warp(fit_labels(decode_labels(truth_file.read_bytes()), w, h), matrix, result.size) > 0
    )
    points = align.apply(
        matrix, load_inputs(image, fp19_map, landmarks, label_scheme="faceparsing19").landmarks
    )
    oval = float(cv2.contourArea(points[list(topo.FACE_OVAL)].astype(np.float32)))
    masks = {n: raster(p, result.size) for n, p in result.regions.items()}
    for name, score in fid_measure.ear_scores(masks, truth, fid_metrics.midline(points), oval).items():
        if score.visible:
            assert score.iou is not None and score.iou >= 0.85, (name, score)


@needs_shared
@pytest.mark.parametrize("scheme", ["celebamask-hq", "facer-celebm"])
def test_real_maps_reindexed_into_the_other_19_class_schemes_render_alike(scheme: str) -> None:
    # The celebamask-hq and facer-celebm maps are made here, in memory, by re-indexing each
    # faceparsing19 map by class name (``_reindex``); they decode to the same core labels.
    lut = _reindex("faceparsing19", scheme)
    for fp19 in FP19_CASES:
        raw = decode_labels(fp19.read_bytes(), scheme="faceparsing19")
        other = png(lut[decode_raw(fp19.read_bytes())])
        np.testing.assert_array_equal(_merged(decode_labels(other, scheme=scheme)), _merged(raw))
    image, _, fp19_map, landmarks = _case_files(FP19_CASES[0])
    values = lut[decode_raw(fp19_map)]
    want = render(image, fp19_map, landmarks, RenderOptions(label_scheme="faceparsing19"))
    got = render(image, png(values), landmarks, RenderOptions(label_scheme=scheme))
    assert got.regions == want.regions


def decode_raw(data: bytes) -> np.ndarray:
    out = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert out is not None
    return np.asarray(out)


def test_the_default_scheme_keeps_existing_hashes_and_another_changes_them() -> None:
    from facesvg.service.hashing import canonical_options

    assert canonical_options(RenderOptions(label_scheme="lapa", face_index=0)) == canonical_options(
        RenderOptions()
    )
    assert canonical_options(RenderOptions()) == b"{}"
    assert (
        canonical_options(RenderOptions(label_scheme="faceparsing19")) == b'{"label_scheme":"faceparsing19"}'
    )
