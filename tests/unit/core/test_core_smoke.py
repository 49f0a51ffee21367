"""Given the QOVES sample, when rendered, then every region is produced and the SVG is non-empty."""

from __future__ import annotations

from facesvg.core.pipeline import RenderResult


def test_sample_renders_all_regions(sample_result: RenderResult) -> None:
    assert sample_result.size == (1024, 1024)
    assert sample_result.svg.startswith(b"<?xml")
    assert "nose" in sample_result.regions
    assert 20 < sample_result.rotation_deg < 25
