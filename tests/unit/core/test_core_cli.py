"""`facesvg render` and `facesvg bench` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_helpers import SAMPLE
from facesvg.cli import main


def test_render_writes_face_regions_and_result(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "render",
            "--image", str(SAMPLE / "original_image.png"),
            "--segmentation", str(SAMPLE / "segmentation_map.png"),
            "--landmarks", str(SAMPLE / "landmarks.txt"),
            "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    assert (out / "face.svg").read_bytes().startswith(b"<?xml")
    result = json.loads((out / "result.json").read_text())
    assert sorted(p.stem for p in (out / "regions").glob("*.svg")) == sorted(result["regions"])
    assert result["missing"] == []


def test_bad_input_names_the_field_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    rc = main(
        [
            "render",
            "--image", str(bad),
            "--segmentation", str(SAMPLE / "segmentation_map.png"),
            "--landmarks", str(SAMPLE / "landmarks.txt"),
            "--out", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert "image" in err and "UnsupportedFormat" in err
    assert not (tmp_path / "out").exists()


def test_missing_file_is_a_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "render",
            "--image", str(SAMPLE / "original_image.png"),
            "--segmentation", str(SAMPLE / "segmentation_map.png"),
            "--landmarks", str(tmp_path / "nope.txt"),
            "--out", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    assert rc == 2
    assert "landmarks" in capsys.readouterr().err


def test_bench_prints_stages_floor_ratio_and_rss(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    for word in (
        "decode",
        "align",
        "regions",
        "smooth",
        "encode",
        "total",
        "floor",
        "ratio",
        "no map",
        "peak RSS",
    ):
        assert word in out


def test_render_without_a_segmentation_map_derives_the_labels(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "render",
            "--image", str(SAMPLE / "original_image.png"),
            "--landmarks", str(SAMPLE / "landmarks.txt"),
            "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    doc = json.loads((out / "result.json").read_text())
    assert doc["segmentation"] == {"source": "landmarks"}
    assert (out / "regions" / "forehead.svg").is_file()


def test_payload_sends_a_map_only_when_there_is_one(tmp_path: Path) -> None:
    from facesvg.client.payload import SAMPLE_MAP

    body = tmp_path / "body.json"
    photo = tmp_path / "photo.png"
    photo.write_bytes((SAMPLE / "original_image.png").read_bytes())
    landmarks = str(SAMPLE / "landmarks.txt")
    # the sample photo gets the sample's map; another photo none; --no-segmentation none
    assert main(["payload", "-o", str(body)]) == 0
    assert "segmentation_map" in json.loads(body.read_text())
    assert main(["payload", "--image", str(photo), "--landmarks", landmarks, "-o", str(body)]) == 0
    assert "segmentation_map" not in json.loads(body.read_text())
    assert main(["payload", "--no-segmentation", "-o", str(body)]) == 0
    assert "segmentation_map" not in json.loads(body.read_text())
    args = ["payload", "--image", str(photo), "--segmentation", str(SAMPLE_MAP), "--landmarks", landmarks]
    assert main([*args, "-o", str(body)]) == 0
    assert "segmentation_map" in json.loads(body.read_text())
