"""Render options (caller-controlled, part of the content hash) and limits (operator-controlled)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from facesvg.core.lazy_model import LazyModel
from facesvg.core.region_names import REGION_NAMES, ZONE_NAMES

# Colours and dash patterns end up as SVG attribute values, so they are validated strictly:
# nothing a caller sends reaches the SVG as free text.
HexColour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#AFC0C4"])]
# [0-9], never \d: pydantic's (Rust) regex matches every Unicode digit with \d ("٤,٢").
DashArray = Annotated[
    str, Field(pattern=r"^(none|[0-9]{1,3}(\.[0-9]{1,2})?(,[0-9]{1,3}(\.[0-9]{1,2})?){0,7})$")
]


# Every number is strict: ``true`` is not the integer 1, "512" is not a number, 512.0 is not an integer
# (pydantic's lax mode accepts all three). A float option takes an integer (JSON has one number type).


class RegionStyle(LazyModel):
    """Style of every region ``<path>``; the defaults are the QOVES style."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fill: HexColour = "#AFC0C4"
    fill_opacity: float = Field(0.5, ge=0.0, le=1.0, strict=True)
    stroke: HexColour = "#80929C"
    stroke_width: float = Field(2.0, ge=0.0, le=50.0, strict=True)
    stroke_dasharray: DashArray = "4,2"


class RenderOptions(LazyModel):
    """What a caller may choose about the output. Changing any field changes the content hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    canvas_size: int = Field(
        1024, ge=128, le=4096, strict=True, description="Side of the square output canvas, px."
    )
    margin: float = Field(
        0.12,
        ge=0.0,
        le=1.0,
        strict=True,
        description="Space around the face box, as a fraction of its larger side.",
    )
    image_format: Literal["png", "jpeg", "webp"] = Field(
        "png", description="Encoding of the photo embedded in the SVG (JPEG/WebP are smaller)."
    )
    image_quality: int = Field(90, ge=30, le=100, strict=True, description="JPEG/WebP quality.")
    style: RegionStyle = Field(default_factory=lambda: RegionStyle.model_validate({}))
    zones: Literal["standard", "aesthetic", "all"] | list[str] = Field(
        "standard",
        description=(
            "Which layers to draw: `standard` (the anatomical regions), `aesthetic` (the aesthetic "
            "zones: glabella, crow's feet, tear troughs, nasolabial folds, marionette lines, perioral, "
            "temples, jawlines, upper eyelids), `all` (both), or a list of region and zone names."
        ),
        examples=["standard", "all", ["left_nasolabial", "right_nasolabial", "perioral"]],
    )

    label_scheme: Literal["lapa", "celebamask-hq", "faceparsing19", "facer-celebm"] = Field(
        "lapa",
        description=(
            "What the segmentation map's values mean: `lapa` (11 classes, 0 background .. 10 hair), "
            "`celebamask-hq` (CelebAMask-HQ's official 19-class order), `faceparsing19` (the order the "
            "face-parsing.PyTorch BiSeNet model outputs) or `facer-celebm` (FaRL/facer's `celebm` order). "
            "With a scheme that labels ears, the ear regions follow the ear labels; glasses are reported "
            "in `occluded_by`; neck, cloth and hat are never face. Region names stay the viewer's."
        ),
    )
    face_index: int = Field(
        0,
        ge=0,
        le=63,
        strict=True,
        description="Which face of a landmarks document with several (MediaPipe's `face_landmarks`), from 0.",
    )

    @field_validator("zones")
    @classmethod
    def _known_names(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list):
            unknown = [n for n in v if n not in REGION_NAMES and n not in ZONE_NAMES]
            if unknown:
                raise ValueError(
                    f"unknown names {unknown[:8]}; regions: {', '.join(REGION_NAMES)}; "
                    f"zones: {', '.join(ZONE_NAMES)}"
                )
            if not v or len(set(v)) != len(v):
                raise ValueError("must name at least one region or zone, each once")
        return v

    def layers(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The region names and the zone names to draw, each in its layer's order."""
        if isinstance(self.zones, list):
            chosen = set(self.zones)
            return tuple(n for n in REGION_NAMES if n in chosen), tuple(n for n in ZONE_NAMES if n in chosen)
        regions = REGION_NAMES if self.zones in ("standard", "all") else ()
        zones = ZONE_NAMES if self.zones in ("aesthetic", "all") else ()
        return regions, zones


ZONE_PRESETS = ("standard", "aesthetic", "all")


def zones_from_text(text: str) -> str | list[str]:
    """The ``zones`` option from a command line: a preset, or comma-separated names."""
    return text if text in ZONE_PRESETS else [n.strip() for n in text.split(",") if n.strip()]


@dataclass(frozen=True)
class Limits:
    """Operator limits on input size; not part of the hash (they only decide accept/reject)."""

    max_pixels: int = 25_000_000
    max_image_bytes: int = 20 * 1024 * 1024
    max_landmarks_bytes: int = 1024 * 1024


DEFAULT_LIMITS = Limits()
