"""Ears and glasses as labels of their own (the 19-class schemes): what the regions do with them."""

from __future__ import annotations

import numpy as np
import pytest
from core_helpers import iou, raster
from facesvg.core import align, regions
from facesvg.core.blobs import crop
from facesvg.core.inputs import FaceInputs
from facesvg.core.label_schemes import SCHEMES, likely_schemes
from facesvg.core.labels import EAR, EYES, GLASSES, LOWER_LIP, NOSE, SKIN, UPPER_LIP
from facesvg.core.pipeline import RenderResult


@pytest.fixture(scope="module")
def canvas(sample_inputs: FaceInputs) -> tuple[np.ndarray, np.ndarray]:
    al = align.plan(sample_inputs.labels, sample_inputs.landmarks, 1024, 0.12)
    return align.warp_labels(sample_inputs.labels, al), align.apply(al.matrix, sample_inputs.landmarks)


def test_every_scheme_maps_its_classes_onto_the_core_labels() -> None:
    lapa = SCHEMES["lapa"]
    assert lapa.lut[: lapa.size].tolist() == list(range(11)) and not lapa.labels_ears
    for name in ("celebamask-hq", "faceparsing19", "facer-celebm"):
        scheme = SCHEMES[name]
        assert scheme.size == 19 and scheme.labels_ears
        core = scheme.lut[: scheme.size]
        # each scheme has exactly: two ears, two brows, two eyes, one glasses class, both lips, the nose
        assert sorted(core[core >= 2].tolist()) == [2, 3, 4, 5, 6, 7, 8, 9, 10, EAR, EAR, GLASSES]
    # facer puts the lower lip before the upper one; face-parsing.PyTorch the other way round
    assert SCHEMES["facer-celebm"].lut[12] == LOWER_LIP and SCHEMES["facer-celebm"].lut[13] == UPPER_LIP
    assert SCHEMES["faceparsing19"].lut[12] == UPPER_LIP and SCHEMES["faceparsing19"].lut[10] == NOSE
    assert SCHEMES["celebamask-hq"].lut[2] == NOSE and SCHEMES["celebamask-hq"].lut[3] == GLASSES
    assert likely_schemes(15) == ["celebamask-hq", "faceparsing19", "facer-celebm"]
    assert likely_schemes(10) == list(SCHEMES)


def test_labelled_ears_are_followed_not_carved(
    canvas: tuple[np.ndarray, np.ndarray], sample_result: RenderResult
) -> None:
    labels, pts = canvas
    # Given the sample with its (carved) ears relabelled as an ear class
    ears = {
        n: raster(sample_result.regions[n], sample_result.size).astype(bool)
        for n in ("left_ear", "right_ear")
    }
    relabelled = labels.copy()
    for mask in ears.values():
        relabelled[mask & (labels == SKIN)] = EAR
    sc = regions.scene(relabelled, pts, ears_labelled=True)
    carving = regions.carve_regions(sc)
    # Then each ear is its label on its side of the face
    for name, mask in ears.items():
        blob = carving.blobs[name]
        assert blob is not None
        got = np.zeros_like(mask)
        crop(got.view(np.uint8), blob)[:] = blob.mask
        assert iou(got, mask & (labels == SKIN)) > 0.95, name
        assert carving.visibility[name].visible_fraction > 0.3, name  # its own label is what shows
    # and with an ear class but no ear pixels (hidden ears), no ear is carved out of the skin.
    hidden = regions.carve_regions(regions.scene(labels, pts, ears_labelled=True))
    assert hidden.blobs["left_ear"] is None and hidden.blobs["right_ear"] is None


def test_glasses_are_skin_for_carving_and_reported_as_hiding_it(
    canvas: tuple[np.ndarray, np.ndarray],
) -> None:
    labels, pts = canvas
    base = regions.carve_regions(regions.scene(labels, pts))
    # Given frames drawn across the under-eyes (a band of glasses label below each eye)
    framed = labels.copy()
    ys, xs = np.nonzero(np.isin(labels, EYES))
    band = (slice(int(ys.max()) + 4, int(ys.max()) + 14), slice(int(xs.min()) - 20, int(xs.max()) + 20))
    framed[band][framed[band] == SKIN] = GLASSES
    carving = regions.carve_regions(regions.scene(framed, pts))
    for name in ("left_undereye", "right_undereye"):
        before, after = base.blobs[name], carving.blobs[name]
        assert before is not None and after is not None
        # Then the region keeps its shape (the skin behind the frames is carved too)
        assert abs(after.area - before.area) <= 0.02 * before.area, name
        # and says what covers part of it.
        assert "glasses" in carving.visibility[name].occluded_by, name
        assert carving.visibility[name].visible_fraction < base.visibility[name].visible_fraction
