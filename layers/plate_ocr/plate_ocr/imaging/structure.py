"""Walks an image file's structure, cheaply and before any pixel is decoded.

Decoding time and memory are bounded by the pixel limit only for well-made files. These checks
refuse the files that are built to cost more:

- JPEG: the number of scans. libjpeg's cost grows with the scans of a progressive file, not with its
  size: 2,000 tiny AC scans at 6320x6320 take 15-22 s in ``cv2.imdecode`` (210 KB). Cameras write
  1 (baseline) to about 12 scans, libjpeg's progressive default is 10, and scan-optimising encoders
  (mozjpeg, ``jpegtran -optimize``) stay near 10-20. :data:`MAX_JPEG_SCANS` (64) leaves three times
  that headroom and caps the extra work at about 0.6 s for a 40 MP photo (about 9 ms a scan here).
- PNG: the chunk count, and the inflated size of the IDAT data, which may not pass what the header's
  width, height, bit depth, colour type and interlacing imply (an 8 MB IDAT can inflate to 8 GiB).
- WebP: a RIFF size that matches the file, a bounded chunk count; of an animation, the first frame
  is read.
- BMP: a header decoders know, pixel data that starts inside the file.
- TIFF (:mod:`plate_ocr.imaging.tiff`) and HEIF / AVIF (:mod:`plate_ocr.imaging.heif`): the size
  from the file's own tags or boxes, the kinds a camera writes, bounded tag, box and item counts.

The walk also picks out the EXIF block, so orientation is read without decoding (Pillow's
``getexif`` loads the whole PNG to find one).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from plate_ocr import deadline
from plate_ocr.errors import ImageTooComplexError, InvalidImageError, UnsupportedMediaTypeError
from plate_ocr.formats import ImageFormat
from plate_ocr.imaging.heif import check_heif
from plate_ocr.imaging.tiff import check_tiff

MAX_JPEG_SCANS = 64
#: Markers before the end of the first image. A camera's file holds a few dozen (APPn, DQT, SOF, a
#: DHT or two per scan, SOS); 64 scans with 4 tables each stay far below.
MAX_JPEG_SEGMENTS = 1024
#: Chunks of a PNG. Encoders split IDAT at 8-64 KB (libpng: 8 KB), so a 10 MB file has about 1,300;
#: a 700k-chunk PNG took 12 s to decode.
MAX_PNG_CHUNKS = 10_000
#: Chunks of a WebP: a still photo has 1-5, an animation one per frame.
MAX_WEBP_CHUNKS = 1024
#: BMP header sizes (BITMAPCOREHEADER, INFOHEADER, V2-V5) and what they may hold.
_BMP_HEADERS = (12, 40, 52, 56, 64, 108, 124)
_BMP_BITS = (1, 4, 8, 16, 24, 32)
#: BMP compressions decoded: none, RLE8, RLE4, bit fields (JPEG or PNG inside a BMP: no).
_BMP_COMPRESSIONS = (0, 1, 2, 3, 6)
#: Bytes inflated at a time while checking PNG data (bounds the memory of the check).
_INFLATE_STEP = 1 << 20

_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7: (x start, y start, x step, y step) of the seven passes.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


@dataclass(frozen=True)
class Structure:
    """What the walk found: EXIF orientation (1 = upright), and facts the decoder uses."""

    orientation: int = 1
    #: Bits per sample (PNG: 1-16; JPEG and WebP: 8).
    bit_depth: int = 8
    scans: int = 1
    #: The picture's size where the walk reads it (TIFF, HEIF, AVIF, BMP); else from the header.
    width: int | None = None
    height: int | None = None


def check_structure(data: bytes, fmt: str) -> Structure:
    """Walks ``data`` (already sniffed as ``fmt``) and refuses what would cost too much to decode.

    Raises:
        ImageTooComplexError: too many JPEG scans or segments, PNG or WebP chunks.
        InvalidImageError: PNG data that inflates past its header's size; a malformed WebP, BMP,
            TIFF, HEIF or AVIF.
        UnsupportedMediaTypeError: a kind of BMP, TIFF or HEIF no camera writes.
    """
    if fmt == ImageFormat.JPEG:
        return _walk_jpeg(data)
    if fmt == ImageFormat.PNG:
        return _walk_png(data)
    if fmt == ImageFormat.WEBP:
        return _walk_webp(data)
    if fmt == ImageFormat.BMP:
        return _walk_bmp(data)
    if fmt == ImageFormat.TIFF:
        tiff = check_tiff(data)
        return Structure(width=tiff.width, height=tiff.height)
    if fmt in (ImageFormat.HEIF, ImageFormat.AVIF):
        # The decoders apply the file's own rotation and mirroring (irot, imir).
        size = check_heif(data)
        return Structure(width=size.width, height=size.height)
    return Structure()


def _walk_jpeg(data: bytes) -> Structure:
    pos, size = 2, len(data)
    scans = segments = 0
    exif: bytes | None = None
    while pos + 4 <= size:
        if data[pos] != 0xFF or data[pos + 1] in (0x00, 0xFF):
            # Fill bytes or junk between segments (libjpeg skips them too): find the next marker.
            found = _JPEG_MARKER.search(data, pos)
            if found is None:
                break
            pos = found.start()
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI: the first image ends (MPO files hold more after it)
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            raise ImageTooComplexError(
                f"The JPEG has more than {MAX_JPEG_SEGMENTS} segments; a camera writes a few dozen."
            )
        (length,) = struct.unpack_from(">H", data, pos + 2)
        body_end = pos + 2 + length
        if marker == 0xE1 and exif is None and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
            exif = data[pos + 4 : body_end]
        if marker != 0xDA:
            pos = body_end
            continue
        scans += 1
        if scans > MAX_JPEG_SCANS:
            raise ImageTooComplexError(
                f"The JPEG has more than {MAX_JPEG_SCANS} scans; cameras write at most about 12."
            )
        # Entropy-coded data runs to the next marker that is not a stuffed byte or a restart.
        found = _JPEG_MARKER.search(data, body_end)
        if found is None:
            break
        pos = found.start()
    return Structure(orientation=_orientation(exif), scans=max(scans, 1))


def _walk_png(data: bytes) -> Structure:
    pos, size = 8, len(data)
    chunks = 0
    bit_depth = 0
    expected = 0
    produced = 0
    inflater = zlib.decompressobj()
    exif: bytes | None = None
    while pos + 8 <= size:
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = pos + 8
        pos = body + length + 4  # data, then the CRC
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise ImageTooComplexError(
                f"The PNG has more than {MAX_PNG_CHUNKS} chunks; encoders write about one per 8 KB."
            )
        if kind == b"IHDR" and length >= 13:
            width, height, bit_depth, colour, _, _, interlace = struct.unpack_from(
                ">IIBBBBB", data, body
            )
            if colour not in _PNG_CHANNELS or bit_depth not in (1, 2, 4, 8, 16):
                raise InvalidImageError("The PNG header is corrupt (colour type or bit depth).")
            expected = _png_raw_size(width, height, bit_depth, colour, interlace)
        elif kind == b"IDAT":
            produced += _inflate_bounded(inflater, data[body : body + length], expected - produced)
        elif kind == b"eXIf" and exif is None:
            exif = data[body : body + length]
        elif kind == b"IEND":
            break
    if not expected:
        raise InvalidImageError("The PNG header is corrupt or truncated.")
    if produced < expected:
        raise InvalidImageError("The PNG is truncated: its pixel data ends early.")
    return Structure(orientation=_orientation(exif), bit_depth=bit_depth)


def _png_raw_size(width: int, height: int, bit_depth: int, colour: int, interlace: int) -> int:
    """Bytes the IDAT stream inflates to: each row's filter byte plus its packed samples."""
    bits = _PNG_CHANNELS[colour] * bit_depth
    if not interlace:
        return height * (1 + (width * bits + 7) // 8)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        pass_w = (width - x0 + dx - 1) // dx if width > x0 else 0
        pass_h = (height - y0 + dy - 1) // dy if height > y0 else 0
        if pass_w and pass_h:
            total += pass_h * (1 + (pass_w * bits + 7) // 8)
    return total


def _inflate_bounded(inflater: zlib._Decompress, chunk: bytes, room: int) -> int:
    """Inflates ``chunk`` in steps, keeping nothing; raises once more than ``room`` bytes come."""
    produced = 0
    pending = chunk
    while pending and not inflater.eof:
        try:
            out = inflater.decompress(pending, _INFLATE_STEP)
        except zlib.error as exc:
            raise InvalidImageError("The PNG's compressed data is corrupt.") from exc
        produced += len(out)
        if produced > room:
            raise InvalidImageError(
                "The PNG's compressed data inflates past the size its header declares."
            )
        pending = inflater.unconsumed_tail
        if not out:
            break
        deadline.check()
    return produced


def _walk_webp(data: bytes) -> Structure:
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size + 8 > len(data) + 1 or riff_size < 12:
        # One byte of slack: some encoders count an odd chunk's padding byte and omit it.
        raise InvalidImageError("The WebP file is truncated (its RIFF size says more).")
    pos, end = 12, min(len(data), riff_size + 8)
    chunks = images = 0
    exif: bytes | None = None
    while pos + 8 <= end:
        kind, length = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        pos = body + length + (length & 1)
        chunks += 1
        if chunks > MAX_WEBP_CHUNKS:
            raise ImageTooComplexError(f"The WebP has more than {MAX_WEBP_CHUNKS} chunks.")
        if kind in (b"VP8 ", b"VP8L", b"ANMF"):
            # An animation's frames (ANMF) each hold one image; the decoder reads the first.
            images += 1
        elif kind == b"EXIF" and exif is None:
            exif = data[body : body + length]
    if images == 0:
        raise InvalidImageError("The WebP file holds no image.")
    return Structure(orientation=_orientation(exif))


def _walk_bmp(data: bytes) -> Structure:
    if len(data) < 26:
        raise InvalidImageError("The BMP file is truncated.")
    offset, header = struct.unpack_from("<II", data, 10)
    if header not in _BMP_HEADERS or len(data) < 14 + header:
        raise InvalidImageError("The BMP header is corrupt or of an unknown kind.")
    if header == 12:
        width, height, _planes, bits = struct.unpack_from("<HHHH", data, 18)
        compression = 0
    else:
        width, height, _planes, bits, compression = struct.unpack_from("<iiHHI", data, 18)
    if width <= 0 or height == 0:
        raise InvalidImageError("The BMP has no pixels.")
    if bits not in _BMP_BITS or compression not in _BMP_COMPRESSIONS:
        raise UnsupportedMediaTypeError(
            "This kind of BMP (bit depth or compression) is not read; send a JPEG or PNG."
        )
    if offset >= len(data):
        raise InvalidImageError("The BMP's pixel data lies outside the file.")
    # A negative height: rows stored top-down. A short file costs no more than a whole one.
    return Structure(width=width, height=abs(height))


def _orientation(exif: bytes | None) -> int:
    if not exif:
        return 1
    from PIL import Image

    tags = Image.Exif()
    try:
        tags.load(exif)
        orientation = int(tags.get(0x0112, 1))
    except Exception:  # a malformed EXIF block is ignored, as cameras' quirks are
        return 1
    return orientation if 1 <= orientation <= 8 else 1
