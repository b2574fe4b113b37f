"""Decoding untrusted uploads: formats, limits, orientation, bit depth."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from plate_ocr.errors import ImageTooLargeError, InvalidImageError, UnsupportedMediaTypeError
from plate_ocr.imaging import decode_image, inspect_image, sniff_format

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size, with a tiny (wrong) body: a decompression-bomb shape."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("RGB", "JPEG"),
        ("RGB", "PNG"),
        ("RGB", "WEBP"),
        ("L", "PNG"),
        ("RGBA", "PNG"),
        ("P", "PNG"),
        ("I;16", "PNG"),
        ("CMYK", "JPEG"),
    ],
    ids=["jpeg", "png", "webp", "grey", "alpha", "palette", "16-bit", "cmyk-jpeg"],
)
def test_every_supported_kind_decodes_to_8bit_bgr(mode, fmt):
    data = encode(Image.new(mode, (64, 32)), fmt)

    image = decode_image(data, **LIMITS)

    assert image.shape == (32, 64, 3) and image.dtype == np.uint8


def test_transparent_pixels_become_white_not_black():
    data = encode(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), "PNG")

    assert decode_image(data, **LIMITS).min() == 255


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (60, 20))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encode(image, "JPEG", exif=exif)

    assert decode_image(data, **LIMITS).shape[:2] == (60, 20)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", InvalidImageError),
        (b"\xff", InvalidImageError),
        (b"hello world, not an image", InvalidImageError),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, InvalidImageError),
        (b"GIF89a" + b"\x00" * 20, UnsupportedMediaTypeError),
        (b"BM" + b"\x00" * 40, UnsupportedMediaTypeError),
        (b"II*\x00" + b"\x00" * 20, UnsupportedMediaTypeError),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20, UnsupportedMediaTypeError),
    ],
    ids=["empty", "one-byte", "text", "truncated-png", "gif", "bmp", "tiff", "heic"],
)
def test_bad_uploads_raise_typed_errors(data, error):
    with pytest.raises(error):
        decode_image(data, **LIMITS)


def test_a_truncated_jpeg_is_rejected_or_decoded_never_crashes():
    data = encode(Image.new("RGB", (200, 100), (90, 90, 90)), "JPEG")[:300]

    try:
        image = decode_image(data, **LIMITS)
    except InvalidImageError:
        return
    assert image.ndim == 3


def test_a_file_over_the_byte_limit_is_too_large():
    with pytest.raises(ImageTooLargeError, match="bytes"):
        inspect_image(b"\xff\xd8\xff" + b"\x00" * 100, max_bytes=50, max_pixels=10**6)


def test_a_decompression_bomb_is_refused_from_its_header():
    with pytest.raises(ImageTooLargeError, match="MP"):
        inspect_image(png_header_only(20000, 20000), **LIMITS)


def test_inspect_reports_format_and_size_without_decoding():
    info = inspect_image(encode(Image.new("RGB", (30, 10)), "WEBP"), **LIMITS)

    assert (info.format, info.width, info.height, info.media_type) == (
        "webp",
        30,
        10,
        "image/webp",
    )


@pytest.mark.parametrize(
    ("head", "fmt"),
    [(b"\xff\xd8\xff\xe0", "jpeg"), (b"RIFF\x00\x00\x00\x00WEBP", "webp"), (b"abcd", None)],
    ids=["jpeg", "webp", "unknown"],
)
def test_sniffing_reads_magic_bytes(head, fmt):
    assert sniff_format(head) == fmt
