"""Which image container a file's first bytes announce (the signature, and an ISO BMFF brand).

Nothing is checked or decoded here: ``image_headers`` reads and bounds the header of each format.
"""

from __future__ import annotations

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
# ISO BMFF brands (the ``ftyp`` box) of still images: AVIF, and HEIF/HEIC (HEVC).
AVIF_BRANDS = frozenset({b"avif", b"avis"})
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
PILLOW_FORMATS = ("heif", "avif")  # decoded by Pillow (lazily imported), not OpenCV
_MAX_FTYP_BYTES = 4096  # brands read from the ``ftyp`` box at most


def is_iso_media(data: bytes) -> bool:
    """An ISO BMFF file (``ftyp`` box first): HEIF and AVIF photos, but also MP4 and other media."""
    return data[4:8] == b"ftyp"


def bmff_brands(data: bytes) -> set[bytes]:
    """The brands of an ISO BMFF file's ``ftyp`` box (major and compatible)."""
    ftyp_size = int.from_bytes(data[:4], "big")
    return {data[i : i + 4] for i in range(8, min(ftyp_size, len(data), _MAX_FTYP_BYTES), 4)} - {b"\0\0\0\0"}


def sniff_format(data: bytes) -> str | None:
    """``"png"``, ``"jpeg"``, ``"webp"``, ``"avif"`` or ``"heif"`` by the signature (and, for ISO
    media, the ``ftyp`` brands); ``None`` for anything else. Only announces: a truncated or
    corrupt file of that format is still named by it."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(JPEG_SIGNATURE):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if is_iso_media(data):
        brands = bmff_brands(data)
        if brands & AVIF_BRANDS:
            return "avif"
        if brands & HEIF_BRANDS:
            return "heif"
    return None
