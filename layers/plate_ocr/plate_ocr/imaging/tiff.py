"""Walks a TIFF file's first directory before any pixel is decoded.

CCTV systems export TIFF; scanners, GIS and medical tools write kinds no camera does. Only the
first page is read (the decoders read only that one), and only the kinds a camera export uses:
up to 4 samples of 1-16 bits (32-bit float too), uncompressed or compressed with LZW, Deflate,
PackBits or JPEG. Others (CCITT fax, JPEG 2000, old-style JPEG, ...) are refused as unsupported,
a directory of more than :data:`MAX_TAGS` entries as too complex. Its size comes from the
directory's tags, so the pixel limit applies before libtiff sees the file. (OpenCV's TIFF decoder
applies the Orientation tag itself.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from plate_ocr.errors import ImageTooComplexError, InvalidImageError, UnsupportedMediaTypeError

#: Entries of the first directory: a camera writes 15-30, with EXIF and GPS in their own IFDs.
MAX_TAGS = 512
#: Compression schemes read: none, LZW, JPEG, Deflate (Adobe and the old code), PackBits.
COMPRESSIONS = {1: "none", 5: "LZW", 7: "JPEG", 8: "Deflate", 32946: "Deflate", 32773: "PackBits"}
BITS = (1, 2, 4, 8, 16, 32)
MAX_SAMPLES = 4

_WIDTH, _HEIGHT, _BITS, _COMPRESSION, _SAMPLES = 256, 257, 258, 259, 277
#: Bytes of one value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, ...).
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


@dataclass(frozen=True)
class TiffInfo:
    """What the first directory says."""

    width: int
    height: int


def check_tiff(data: bytes) -> TiffInfo:
    """The size of a classic TIFF's first page; raises for what is not read.

    Raises:
        InvalidImageError: a directory outside the file, no size.
        ImageTooComplexError: more than :data:`MAX_TAGS` entries.
        UnsupportedMediaTypeError: a compression, sample size or sample count no camera writes.
    """
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        raise InvalidImageError("The TIFF file is truncated.")
    (offset,) = struct.unpack_from(order + "I", data, 4)
    if offset < 8 or offset + 2 > len(data):
        raise InvalidImageError("The TIFF file's first directory lies outside the file.")
    (entries,) = struct.unpack_from(order + "H", data, offset)
    if entries > MAX_TAGS:
        raise ImageTooComplexError(
            f"The TIFF directory has {entries} entries; a camera writes about 20."
        )
    if offset + 2 + 12 * entries > len(data):
        raise InvalidImageError("The TIFF file is truncated inside its first directory.")
    tags: dict[int, int] = {}
    for i in range(entries):
        tag, kind, count = struct.unpack_from(order + "HHI", data, offset + 2 + 12 * i)
        tags[tag] = _first_value(data, order, offset + 10 + 12 * i, kind, count)
    width, height = tags.get(_WIDTH, 0), tags.get(_HEIGHT, 0)
    if width <= 0 or height <= 0:
        raise InvalidImageError("The TIFF file does not say the size of its picture.")
    compression = tags.get(_COMPRESSION, 1)
    if compression not in COMPRESSIONS:
        raise UnsupportedMediaTypeError(
            f"TIFF compression {compression} is not read; export the photo uncompressed or with "
            "LZW, Deflate, PackBits or JPEG."
        )
    if tags.get(_BITS, 1) not in BITS or not 1 <= tags.get(_SAMPLES, 1) <= MAX_SAMPLES:
        raise UnsupportedMediaTypeError(
            "This kind of TIFF (sample size or count) is not read; export an RGB or grey photo."
        )
    return TiffInfo(width, height)


def _first_value(data: bytes, order: str, pos: int, kind: int, count: int) -> int:
    """The first value of an entry (SHORT or LONG; others read as 0), inline or at its offset."""
    size = _TYPE_SIZES.get(kind, 0)
    if kind not in (3, 4) or count == 0:
        return 0
    if size * count > 4:
        (pos,) = struct.unpack_from(order + "I", data, pos)
        if pos + size > len(data):
            raise InvalidImageError("A TIFF tag points outside the file.")
    code = "H" if kind == 3 else "I"
    return int(struct.unpack_from(order + code, data, pos)[0])
