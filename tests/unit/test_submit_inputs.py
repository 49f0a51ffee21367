"""`facesvg submit`'s inputs: a photo and its landmarks together, the map optional, the sample's
files only when asked for (never paired with a photo of yours)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from facesvg.commands.submit import SAMPLE_FILES, SubmitError, add_arguments, input_files


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_the_sample_only_when_asked_for() -> None:
    assert input_files(_args("--sample")) == SAMPLE_FILES
    with pytest.raises(SubmitError, match="--sample"):
        input_files(_args())


def test_a_photo_and_its_landmarks_go_together(tmp_path: Path) -> None:
    mine, marks = tmp_path / "mine.jpg", tmp_path / "mine.json"
    with pytest.raises(SubmitError, match="--image without --landmarks"):
        input_files(_args("--image", str(mine)))
    with pytest.raises(SubmitError, match="--landmarks without --image"):
        input_files(_args("--landmarks", str(marks)))
    # the map is optional, and the sample's map never goes with a photo of yours
    assert input_files(_args("--image", str(mine), "--landmarks", str(marks))) == {
        "image": mine,
        "segmentation": None,
        "landmarks": marks,
    }
    assert (
        input_files(_args("--sample", "--image", str(mine), "--landmarks", str(marks)))["segmentation"]
        is None
    )
    assert input_files(_args("--sample", "--no-segmentation"))["segmentation"] is None
