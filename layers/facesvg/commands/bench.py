"""`facesvg bench`: median per-stage timings on the QOVES sample, against a decode+encode floor.

The floor is the least any implementation must do: decode the input PNG and encode a canvas-sized
PNG with the same encoder settings; it is measured in the same run so machine load cancels out.
Peak RSS is measured in a fresh subprocess that renders once (so the bench's own runs don't count).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from facesvg.core import svg
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import DEFAULT_OPTIONS, STAGES, render

ALL_LAYERS = RenderOptions(zones="all")

DEFAULT_SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "qoves"

_RSS_SCRIPT = """
import resource, sys
from pathlib import Path
from facesvg.core.pipeline import render
d = Path(sys.argv[1])
render((d / "original_image.png").read_bytes(), (d / "segmentation_map.png").read_bytes(),
       (d / "landmarks.txt").read_bytes())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sample", type=Path, default=DEFAULT_SAMPLE, help="folder with the three QOVES files"
    )
    parser.add_argument("--runs", type=int, default=25, help="timed runs (>= 20 recommended)")


def floor_ms(image: bytes, canvas: int) -> float:
    """Decode the input PNG + encode a canvas-sized PNG (the resize between them is not counted)."""
    t0 = time.perf_counter()
    img = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    decode = time.perf_counter() - t0
    out = cv2.resize(img, (canvas, canvas), interpolation=cv2.INTER_AREA)
    t1 = time.perf_counter()
    svg.encode_photo(out, "png", 90)
    return (decode + time.perf_counter() - t1) * 1e3


def peak_rss_mb(sample: Path) -> float:
    proc = subprocess.run(  # noqa: S603 - fixed interpreter and script, no shell
        [sys.executable, "-c", _RSS_SCRIPT, str(sample)], capture_output=True, text=True, check=True
    )
    kib = int(proc.stdout.strip().splitlines()[-1])
    return kib / 1024.0


def main(args: argparse.Namespace) -> int:
    sample: Path = args.sample
    image = (sample / "original_image.png").read_bytes()
    seg = (sample / "segmentation_map.png").read_bytes()
    lm = (sample / "landmarks.txt").read_bytes()
    canvas = DEFAULT_OPTIONS.canvas_size
    render(image, seg, lm)  # warm-up: imports, OpenCV thread pool, allocator
    floor_ms(image, canvas)
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    floors: list[float] = []
    with_zones: list[float] = []
    mapless: list[float] = []
    render(image, None, lm)  # warm-up of the derived map's own imports
    for _ in range(max(args.runs, 1)):
        res = render(image, seg, lm)
        for s in STAGES:
            stages[s].append(res.timings_ms[s])
        floors.append(floor_ms(image, canvas))
        with_zones.append(render(image, seg, lm, ALL_LAYERS).timings_ms["total"])
        mapless.append(render(image, None, lm).timings_ms["total"])
    print(f"facesvg bench: {sample.name} sample, {args.runs} runs, median ms")
    for s in STAGES:
        print(f"  {s:<8} {statistics.median(stages[s]):8.1f}")
    total = statistics.median(stages["total"])
    floor = statistics.median(floors)
    print(f"  floor    {floor:8.1f}   (decode input PNG + encode {canvas}x{canvas} PNG)")
    print(f"  ratio    {total / floor:8.2f}   (target <= 2.5)")
    print(f"  zones    {statistics.median(with_zones):8.1f}   (total, zones=all; target <= 150)")
    no_map = statistics.median(mapless)
    print(
        f"  no map   {no_map:8.1f}   (total without a map: {no_map - total:+.1f} ms for the derived labels;"
        " target <= +30)"
    )
    print(f"  peak RSS {peak_rss_mb(sample):8.1f} MB (one render in a fresh process; target <= 250)")
    return 0
