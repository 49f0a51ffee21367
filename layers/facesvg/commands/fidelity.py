"""`facesvg fidelity`: how well the regions match the labels, the skin, the true ears and the customer.

Renders every case once (the bundled QOVES sample, the QOVES example face and each folder of
``../shared/faces`` when present), measures each result on the output canvas and checks the bars
below; the exit status is 1 when a bar fails. ``../shared`` is only read in place.

Modules: ``fidelity_cases`` (what is measured), ``fidelity_metrics`` (metrics on masks, pure),
``fidelity_measure`` (one case), ``fidelity_bars``, ``fidelity_mapless`` (the landmarks-only rows),
``fidelity_report`` (the printing), ``fidelity_reframe`` (the sample re-framed), ``fidelity_stability``
(the map-less labels on a doubled or JPEG'd photo); this one is the CLI.
Every mask is a full-canvas ``bool`` array: a region polygon covers the pixels whose centres lie
inside it (see ``rasterize``), and the labels are warped with the render's own ``transform``
(nearest neighbour), so the numbers measure the ``result.json`` contract, not the core's internals.
The render time is one run per case (decode + render), not a benchmark: ``make bench`` is that.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from facesvg.commands.fidelity_bars import Bar, check_bars, exit_code
from facesvg.commands.fidelity_cases import DEFAULT_SAMPLE, DEFAULT_SHARED, SAMPLE, Case, discover
from facesvg.commands.fidelity_mapless import (
    check_mapless_bars,
    check_mapless_example_bars,
    format_mapless_example,
    format_mapless_table,
    mapless_cases,
    mapless_example_cases,
    measure_mapless,
    measure_mapless_example,
)
from facesvg.commands.fidelity_measure import Report, measure
from facesvg.commands.fidelity_metrics import CENTRE, FILLPOLY
from facesvg.commands.fidelity_report import LEGEND, format_bars, format_details, format_table
from facesvg.commands.fidelity_stability import check_stability_bars, format_stability, measure_stability


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE, help="the QOVES sample folder")
    parser.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help="folder with samples/qoves-example/ and faces/ (default ../shared; read in place)",
    )
    parser.add_argument("--case", action="append", default=[], help="only cases whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the rows and bars as JSON to this file")
    parser.add_argument(
        "--raster",
        choices=(CENTRE, FILLPOLY),
        default=CENTRE,
        help="how polygons become pixels: pixel centres inside (default, unbiased) or cv2.fillPoly "
        "(adds the outline's pixels: larger regions, one-pixel seams between neighbours)",
    )


def run(cases: Sequence[Case], rule: str = CENTRE) -> tuple[list[Report], list[Bar]]:
    reports = [measure(c, rule) for c in cases]
    return reports, check_bars(reports)


def _reframe_rows(sample: Path | None, cases: Sequence[Case], bars: list[Bar]) -> list[dict[str, Any]]:
    """The sample re-framed, on other canvases and with other map sizes (``fidelity_reframe``):
    prints its rows and adds its bars; run when the sample is among the cases."""
    from facesvg.commands import fidelity_reframe

    if sample is None or not any(c.kind == SAMPLE for c in cases):
        return []
    reframed, grid, reframe_bars = fidelity_reframe.run(sample)
    print(fidelity_reframe.format_rows(reframed, grid))
    bars.extend(reframe_bars)
    return [asdict(r) for r in [*reframed, *grid]]


def main(args: argparse.Namespace) -> int:
    shared: Path | None = args.shared if args.shared and args.shared.is_dir() else None
    cases = discover(args.sample, shared)
    if args.case:
        cases = [c for c in cases if any(s in c.name for s in args.case)]
    if not cases:
        print("facesvg fidelity: no cases found", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    reports, bars = run(cases, args.raster)
    mapless = [measure_mapless(c, args.raster) for c in mapless_cases(cases)]
    bars += check_mapless_bars(mapless) if mapless else []
    example = [measure_mapless_example(c, args.raster) for c in mapless_example_cases(cases)]
    bars += check_mapless_example_bars(example) if example else []
    stability = [measure_stability(c) for c in mapless_cases(cases)]
    bars += check_stability_bars(stability) if stability else []
    where = f"{shared}" if shared else "no ../shared (sample only)"
    print(f"facesvg fidelity: {len(reports)} cases ({where}), {time.perf_counter() - t0:.1f} s")
    print(format_table(reports))
    print(LEGEND)
    print("inputs:")
    print(format_details(reports))
    if mapless:
        print(format_mapless_table(mapless))
    if example:
        print(format_mapless_example(example))
    if stability:
        print(format_stability(stability))
    reframe_rows = _reframe_rows(args.sample, cases, bars)
    print("bars:")
    print(format_bars(bars))
    code = exit_code(bars)
    failed = [b.name for b in bars if b.passed is False]
    print(f"fidelity: {len(failed)} bar(s) failed" if failed else "fidelity: every measured bar passes")
    if args.json:
        doc = {
            "cases": [r.to_json() for r in reports],
            "landmarks_only": [asdict(r) | {"mean_non_ear": r.mean_non_ear} for r in mapless],
            "landmarks_only_example": [asdict(r) for r in example],
            "landmarks_only_stability": [asdict(r) for r in stability],
            "reframed": reframe_rows,
            "bars": [asdict(b) for b in bars],
            "exit": code,
        }
        args.json.write_text(json.dumps(doc, indent=1))
    return code
