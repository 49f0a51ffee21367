"""JPEG structure without decoding: frame size, EXIF orientation, where the image ends, restart markers.

A JPEG is marker segments up to the first start-of-scan, then entropy-coded data in which every
0xFF byte is followed by 0x00 (stuffing) or a restart marker, then (for a progressive file) further
segments and scans, then the end-of-image marker (EOI). Phones append data after the EOI (Samsung
trailers, the MP4 of a Motion Photo): decoders stop at the EOI and so does everything here.

A file cut short and given a new EOI, or with bit errors that desynchronise the Huffman decoder,
still decodes: libjpeg warns and fills the rest of the restart interval with mid-grey. OpenCV prints
those warnings to stderr and returns the picture. Three checks catch it: with restart markers (most
camera files), fewer markers than the frame's MCU count needs; libjpeg-turbo's own warnings, by
entropy-decoding the scans once more through simplejpeg, which raises them (``check_scan_data``);
and the decoded image's last MCU being exactly mid-grey (``ends_in_grey_fill``).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from facesvg.core.errors import Field, InputError

EOI = b"\xff\xd9"
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_BASELINE = {0xC0, 0xC1}  # sequential Huffman: one scan per component set, MCUs in order
_SOS, _DRI, _APP1 = 0xDA, 0xDD, 0xE1
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_EXIF = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class JpegInfo:
    width: int
    height: int
    orientation: int  # EXIF orientation 1..8; 1 when absent or unreadable
    sof: int  # the start-of-frame marker (0xC0 baseline, 0xC2 progressive...)
    mcu_size: tuple[int, int]  # (width, height) of one MCU in pixels
    restart_interval: int  # MCUs per restart interval; 0 = no restart markers
    scan_start: int  # offset of the first scan's entropy-coded data
    end: int  # offset just past the EOI; anything after it is ignored


def exif_orientation(tiff: bytes) -> int:
    """The orientation tag of a TIFF/EXIF block (the body of APP1 after ``Exif\\0\\0``, or a PNG
    eXIf chunk); 1 when missing or malformed: a broken EXIF block never refuses a photo."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
        for i in range(min(count, 512)):
            entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
            tag, kind = struct.unpack(order + "HH", entry[:4])
            if tag == _ORIENTATION_TAG and kind == 3:  # SHORT
                (value,) = struct.unpack(order + "H", entry[8:10])
                return value if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1


def jpeg_info(data: bytes, field: Field) -> JpegInfo:
    """Walk the segments (no pixel decoded): raises ``Truncated`` / ``Corrupt`` naming ``field``."""
    pos = 2
    frame: tuple[int, int, int, tuple[int, int]] | None = None
    orientation, restart = 1, 0
    n = len(data)
    while True:
        if pos + 4 > n:
            raise InputError(field, "truncated JPEG (no image data)", "Truncated")
        if data[pos] != 0xFF:
            raise InputError(field, "corrupt JPEG marker stream", "Corrupt")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        body = data[pos + 4 : pos + 2 + length]
        if marker in _SOF:
            if len(body) < 6:
                raise InputError(field, "truncated JPEG header (no frame size)", "Truncated")
            height, width, ncomp = struct.unpack(">HHB", body[1:6])
            comps = body[6 : 6 + 3 * ncomp]
            hmax = max((c >> 4 for c in comps[1::3]), default=1) or 1
            vmax = max((c & 15 for c in comps[1::3]), default=1) or 1
            frame = (width, height, marker, (8 * hmax, 8 * vmax))
        elif marker == _DRI and len(body) >= 2:
            (restart,) = struct.unpack(">H", body[:2])
        elif marker == _APP1 and body.startswith(_EXIF) and orientation == 1:
            orientation = exif_orientation(body[len(_EXIF) :])
        elif marker == _SOS:
            break
        pos += 2 + length
    if frame is None:
        raise InputError(field, "truncated JPEG header (no frame size)", "Truncated")
    scan_start = pos + 2 + length
    # Inside entropy-coded data every 0xFF is followed by 0x00 or a restart marker, so the first
    # FF D9 after the first scan is the EOI (memmem: ~1 ms for 5 MB).
    eoi = data.find(EOI, scan_start)
    if eoi < 0:
        raise InputError(field, "truncated JPEG (no end-of-image marker)", "Truncated")
    width, height, sof, mcu = frame
    return JpegInfo(width, height, orientation, sof, mcu, restart, scan_start, eoi + 2)


def check_restart_markers(data: bytes, info: JpegInfo, field: Field) -> None:
    """A baseline JPEG with restart markers needs one marker between each two intervals: fewer
    means its scan data was cut (and an EOI added), which decoders silently fill with grey."""
    if info.restart_interval == 0 or info.sof not in _BASELINE:
        return
    end = info.end - 2
    mcus = math.ceil(info.width / info.mcu_size[0]) * math.ceil(info.height / info.mcu_size[1])
    expected = math.ceil(mcus / info.restart_interval) - 1
    # Every FF in the scan is stuffing (FF 00), a restart marker or a fill byte (FF FF, rare and
    # only ever adding to the count): two C-speed counts instead of eight.
    found = data.count(b"\xff", info.scan_start, end) - data.count(b"\xff\x00", info.scan_start, end)
    if found < expected:
        message = f"corrupt JPEG (scan data cut short: {found} of {expected} restart markers)"
        raise InputError(field, message, "Corrupt")


# libjpeg messages (jerror.h) that mean the scan data is damaged: a bit error that desynchronises the
# Huffman decoder ends in "premature end of data segment" or "N extraneous bytes before marker"; one
# that makes an FF byte, in "Unsupported marker type". Any other warning (an unknown JFIF revision, a
# bad ICC marker, SOS parameters some encoders get wrong) is no damage to the pixels.
_DAMAGE = ("Corrupt JPEG data", "Premature end of JPEG file", "Unsupported marker type", "Bogus ")
_HARMLESS = ("bad ICC marker",)
_COLOURSPACE = {"CMYK": "CMYK", "YCCK": "CMYK"}  # libjpeg converts these to CMYK only; the rest to grey


def check_scan_data(data: bytes, info: JpegInfo, field: Field) -> None:
    """Entropy-decode every scan with libjpeg-turbo (simplejpeg, strict: its first warning raises) at
    1/8 scale, so no full-size inverse DCT: ~50 ms for a 12 MP photo, a quarter of OpenCV's decode.
    A warning that means damaged scan data refuses the photo; OpenCV would decode it regardless."""
    import simplejpeg  # here: only a JPEG photo pays for the import

    body = data[: info.end]
    try:
        colourspace = _COLOURSPACE.get(simplejpeg.decode_jpeg_header(body)[2], "GRAY")
        simplejpeg.decode_jpeg(body, colourspace, min_height=1, min_width=1, strict=True)
    except ValueError as exc:
        message = str(exc)
        if message.startswith(_DAMAGE) and not any(h in message for h in _HARMLESS):
            raise InputError(field, f"corrupt JPEG (damaged scan data: {message})", "Corrupt") from None


_GREY = 128  # what libjpeg returns for blocks it has no data for


def ends_in_grey_fill(image: np.ndarray, mcu: tuple[int, int]) -> bool:
    """The decoder ran out of (valid) scan data and filled the rest of the image with mid-grey.

    Its signature: in raster order of MCUs, from one MCU *in the middle of a row* to the end, every
    MCU is exactly 128 in every channel (inset by 2 px: chroma upsampling blends the edges), and
    none before it in that row. A photo padded with a 128-grey fill (a rotated photo's corners, a
    letterbox bar) does not match: its grey starts at a row's first MCU, or at both ends of a row, or
    does not cover whole rows. Missed: a cut exactly at a row start, or within the last MCU row.
    Cost: one corner comparison unless the corner is grey.
    """
    mw, mh = mcu
    h, w = image.shape[:2]
    if not (image[-mh:, -2 * mw :] == _GREY).all():
        return False
    rows, cols = -(-h // mh), -(-w // mw)  # the last row or column may be partial
    if mw <= 4 or mh <= 4:
        return False
    for r in range(rows - 1, -1, -1):
        top, bottom = r * mh, min((r + 1) * mh, h)
        band = image[top + 2 : bottom - 2] if bottom - top > 4 else image[top:bottom]
        columns = (band == _GREY).all(axis=(0, 2))
        columns = np.pad(columns, (0, cols * mw - w), constant_values=True)
        grey: np.ndarray = np.asarray(columns.reshape(cols, mw)[:, 2 : mw - 2].all(axis=1))
        if grey.all():
            continue
        # The row where the data ran out: real MCUs, then grey ones to its end; below it whole rows
        # of grey (so a cut within the last row is missed, and a padded corner is not taken for one).
        first = cols - int(np.argmin(grey[::-1]))  # where this row's trailing grey run starts
        return r < rows - 1 and first < cols and not grey[:first].any()
    return True  # every MCU grey: nothing of the picture was decoded
