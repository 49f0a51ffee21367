"""`facesvg fidelity`'s cases: the bundled QOVES sample, the QOVES example face and each folder of
``../shared/faces`` (read in place), with the real 19-class maps beside them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEFAULT_SAMPLE = REPO / "samples" / "qoves"
DEFAULT_SHARED = REPO.parent / "shared"

# A face's real 19-class map (face-parsing.PyTorch order) against its LaPa render and true ears.
SCHEME_FILE, SCHEME = "segmentation_map_faceparsing19.png", "faceparsing19"

SAMPLE, EXAMPLE, FACES, SCHEMES = "sample", "example", "faces", "schemes"


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # SAMPLE | EXAMPLE | FACES
    image: Path
    segmentation: Path
    landmarks: Path
    truth_ears: Path | None = None
    customer: Path | None = None  # regions.json of the example face
    label_scheme: str = "lapa"
    lapa_segmentation: Path | None = None  # SCHEMES rows: the LaPa map whose render they must agree with


def discover(sample: Path | None, shared: Path | None) -> list[Case]:
    """The QOVES sample, the example face and every case folder of ``shared/faces`` that exist."""
    cases: list[Case] = []
    if sample is not None and (sample / "original_image.png").is_file():
        cases.append(
            Case(
                "qoves-sample",
                SAMPLE,
                sample / "original_image.png",
                sample / "segmentation_map.png",
                sample / "landmarks.txt",
            )
        )
    if shared is None:
        return cases
    example = shared / "samples" / "qoves-example"
    if (example / "photo.png").is_file():
        customer = example / "regions.json"
        cases.append(
            Case(
                "qoves-example",
                EXAMPLE,
                example / "photo.png",
                example / "segmentation_map.png",
                example / "landmarks.json",
                customer=customer if customer.is_file() else None,
            )
        )
    faces = shared / "faces"
    for folder in sorted(p for p in faces.glob("*") if p.is_dir()) if faces.is_dir() else []:
        image = next((folder / n for n in ("image.jpg", "image.png") if (folder / n).is_file()), None)
        if image is None or not (folder / "segmentation_map.png").is_file():
            continue
        truth = folder / "truth_ears.png"
        cases.append(
            Case(
                folder.name,
                FACES,
                image,
                folder / "segmentation_map.png",
                folder / "landmarks.json",
                truth_ears=truth if truth.is_file() else None,
            )
        )
        if (folder / SCHEME_FILE).is_file():
            cases.append(
                Case(
                    f"{folder.name}@{SCHEME}",
                    SCHEMES,
                    image,
                    folder / SCHEME_FILE,
                    folder / "landmarks.json",
                    truth_ears=truth if truth.is_file() else None,
                    label_scheme=SCHEME,
                    lapa_segmentation=folder / "segmentation_map.png",
                )
            )
    return cases
