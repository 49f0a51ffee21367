"""Damaged JPEGs as storage and transfer make them, and what OpenCV's own libjpeg says about them.

Shared by the core's unit tests and the API's bad-input matrix (``tests/`` is on the import path).
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_CHILD = """
import sys, cv2, numpy as np
for path in sys.argv[1:]:
    print("@@", path, file=sys.stderr, flush=True)
    cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    sys.stderr.flush()
"""


def scan_start(data: bytes) -> int:
    """Offset of the first scan's entropy-coded data."""
    sos = data.index(b"\xff\xda")
    (length,) = struct.unpack(">H", data[sos + 2 : sos + 4])
    return sos + 2 + length


def single_bit_flips(data: bytes, count: int, seed: int = 22) -> list[bytes]:
    """``count`` copies of ``data``, each with one bit of its scan data flipped, at seeded places."""
    rng = np.random.default_rng(seed)
    start, end = scan_start(data), data.rindex(b"\xff\xd9")
    out = []
    for _ in range(count):
        damaged = bytearray(data)
        damaged[int(rng.integers(start, end))] ^= 1 << int(rng.integers(0, 8))
        out.append(bytes(damaged))
    return out


def opencv_warnings(files: list[bytes]) -> list[str]:
    """What OpenCV's libjpeg prints on stderr while decoding each file (it returns the picture all
    the same): read in a child process, since C writes to the file descriptor itself."""
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / f"{i}.jpg" for i in range(len(files))]
        for path, data in zip(paths, files, strict=True):
            path.write_bytes(data)
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, *map(str, paths)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    said = {str(p): "" for p in paths}
    for block in done.stderr.split("@@ ")[1:]:
        name, _, text = block.partition("\n")
        said[name] = text.strip()
    return [said[str(p)] for p in paths]


def flip_decoded_with_extraneous_bytes(data: bytes) -> bytes:
    """The first seeded one-bit flip after which libjpeg finishes the image before the scan data ends
    ("Corrupt JPEG data: N extraneous bytes before marker"): no grey fill, the picture is just wrong."""
    flips = single_bit_flips(data, 60)
    said = opencv_warnings(flips)
    return next(f for f, w in zip(flips, said, strict=True) if "extraneous bytes" in w)
