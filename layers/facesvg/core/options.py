"""Render options (caller-controlled, part of the content hash) and limits (operator-controlled)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Colours and dash patterns end up as SVG attribute values, so they are validated strictly:
# nothing a caller sends reaches the SVG as free text.
HexColour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#AFC0C4"])]
DashArray = Annotated[str, Field(pattern=r"^(none|\d{1,3}(\.\d{1,2})?(,\d{1,3}(\.\d{1,2})?){0,7})$")]


class RegionStyle(BaseModel):
    """Style of every region ``<path>``; the defaults are the QOVES style."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fill: HexColour = "#AFC0C4"
    fill_opacity: float = Field(0.5, ge=0.0, le=1.0)
    stroke: HexColour = "#80929C"
    stroke_width: float = Field(2.0, ge=0.0, le=50.0)
    stroke_dasharray: DashArray = "4,2"


class RenderOptions(BaseModel):
    """What a caller may choose about the output. Changing any field changes the content hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    canvas_size: int = Field(1024, ge=128, le=4096, description="Side of the square output canvas, px.")
    margin: float = Field(
        0.12, ge=0.0, le=1.0, description="Space around the face box, as a fraction of its larger side."
    )
    image_format: Literal["png", "jpeg", "webp"] = Field(
        "png", description="Encoding of the photo embedded in the SVG (JPEG/WebP are smaller)."
    )
    image_quality: int = Field(90, ge=30, le=100, description="JPEG/WebP quality.")
    style: RegionStyle = Field(default_factory=lambda: RegionStyle.model_validate({}))


@dataclass(frozen=True)
class Limits:
    """Operator limits on input size; not part of the hash (they only decide accept/reject)."""

    max_pixels: int = 25_000_000
    max_image_bytes: int = 20 * 1024 * 1024
    max_landmarks_bytes: int = 1024 * 1024
