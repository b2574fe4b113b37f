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
        (b"BM" + b"\x00" * 40, InvalidImageError),
        (b"II*\x00" + b"\x00" * 20, InvalidImageError),
        (b"II+\x00\x08\x00\x00\x00" + b"\x00" * 20, UnsupportedMediaTypeError),
        (b"MM\x00+\x00\x08\x00\x00" + b"\x00" * 20, UnsupportedMediaTypeError),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20, InvalidImageError),
        (b"\x00\x00\x00\x18ftypavif" + b"\x00" * 20, InvalidImageError),
    ],
    ids=[
        "empty",
        "one-byte",
        "text",
        "truncated-png",
        "gif",
        "bmp",
        "tiff",
        "bigtiff-intel",
        "bigtiff-motorola",
        "heic",
        "avif",
    ],
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


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBP", "webp"),
        (b"BM\x00\x00", "bmp"),
        (b"II*\x00", "tiff"),
        (b"MM\x00*", "tiff"),
        (ftyp(b"heic", b"mif1", b"heic"), "heif"),
        (ftyp(b"mif1", b"mif1", b"heic"), "heif"),
        (ftyp(b"avif", b"mif1", b"avif"), "avif"),
        (ftyp(b"mif1", b"mif1", b"miaf", b"avif"), "avif"),
        (ftyp(b"avis", b"avis", b"msf1"), "avif"),
        (ftyp(b"isom", b"mp41"), None),
        (b"abcd", None),
    ],
    ids=[
        "jpeg",
        "webp",
        "bmp",
        "tiff-intel",
        "tiff-motorola",
        "heic",
        "mif1-with-heic",
        "avif",
        "mif1-with-avif",
        "avif-sequence",
        "mp4-video",
        "unknown",
    ],
)
def test_sniffing_reads_magic_bytes_and_brands(head, fmt):
    assert sniff_format(head) == fmt


# --- issue 13: every photo a camera or phone makes --------------------------------------------

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def red(fmt: str, **kwargs) -> bytes:
    return encode(Image.new("RGB", (64, 32), RED), fmt, **kwargs)


def animated(fmt: str, **kwargs) -> bytes:
    frames = [Image.new("RGB", (64, 32), colour) for colour in (RED, GREEN, BLUE)]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], **kwargs)
    return buf.getvalue()


def heic(image: Image.Image, **kwargs) -> bytes:
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(image).save(buf, quality=95, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (lambda: encode(Image.new("RGB", (64, 32), RED), "BMP"), "bmp"),
        (lambda: encode(Image.new("P", (64, 32), 3), "BMP"), "bmp"),
        (lambda: encode(Image.new("RGB", (64, 32), RED), "TIFF"), "tiff"),
        (lambda: encode(Image.new("RGB", (64, 32), RED), "TIFF", compression="tiff_lzw"), "tiff"),
        (lambda: encode(Image.new("RGB", (64, 32), RED), "TIFF", compression="packbits"), "tiff"),
        (lambda: encode(Image.new("RGB", (64, 32), RED), "TIFF", compression="jpeg"), "tiff"),
        (
            lambda: encode(
                Image.new("RGB", (64, 32), RED), "TIFF", compression="tiff_adobe_deflate"
            ),
            "tiff",
        ),
        (lambda: encode(Image.new("I;16", (64, 32), 40000), "TIFF"), "tiff"),
        (lambda: encode(Image.new("L", (64, 32), 76), "TIFF"), "tiff"),
        (lambda: heic(Image.new("RGB", (64, 32), RED)), "heif"),
        (lambda: encode(Image.new("RGB", (64, 32), RED), "AVIF"), "avif"),
        (lambda: encode(Image.new("RGBA", (64, 32), (*RED, 255)), "AVIF"), "avif"),
    ],
    ids=[
        "bmp",
        "bmp-palette",
        "tiff",
        "tiff-lzw",
        "tiff-packbits",
        "tiff-jpeg",
        "tiff-deflate",
        "tiff-16-bit-grey",
        "tiff-grey",
        "heic",
        "avif",
        "avif-alpha",
    ],
)
def test_camera_and_phone_formats_decode_to_8bit_bgr(make, fmt):
    data = make()

    info = inspect_image(data, **LIMITS)
    image = decode_image(data, **LIMITS)

    assert (info.format, info.width, info.height) == (fmt, 64, 32)
    assert image.shape == (32, 64, 3) and image.dtype == np.uint8


@pytest.mark.parametrize(
    ("fmt", "kwargs"),
    [
        ("WEBP", {"duration": 100}),
        ("PNG", {"duration": 100}),
        ("AVIF", {"duration": 100}),
        ("TIFF", {}),
    ],
    ids=["animated-webp", "apng", "avif-sequence", "multi-page-tiff"],
)
def test_an_animation_is_read_from_its_first_frame(fmt, kwargs):
    image = decode_image(animated(fmt, **kwargs), **LIMITS)

    blue, green, red = (int(v) for v in image[16, 32])
    assert red > 200 and green < 40 and blue < 40, (red, green, blue)


@pytest.mark.parametrize(
    "make",
    [
        lambda exif: encode(Image.new("RGB", (60, 20), RED), "AVIF", exif=exif),
        lambda exif: heic(Image.new("RGB", (60, 20), RED), exif=exif),
    ],
    ids=["avif", "heic"],
)
def test_a_heif_or_avif_photo_is_turned_upright(make):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored as the file's own rotation (irot)

    assert decode_image(make(exif.tobytes()), **LIMITS).shape[:2] == (60, 20)


def test_a_tiff_photo_is_turned_upright():
    from PIL import TiffImagePlugin

    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[0x0112] = 6
    data = encode(Image.new("RGB", (60, 20), RED), "TIFF", tiffinfo=tags)

    assert decode_image(data, **LIMITS).shape[:2] == (60, 20)


def bmp_header(width: int, height: int, bits: int = 24, compression: int = 0) -> bytes:
    """A BMP header with 16 bytes of pixel data, whatever the size it claims."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, compression, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + info + b"\x00" * 16


def tiff_header(width: int, height: int, compression: int = 1, bits: int = 8) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, bits), (259, 3, 1, compression)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", *entry) for entry in entries
    )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (bmp_header(20_000, 20_000), ImageTooLargeError),
        (bmp_header(640, 480)[:40], InvalidImageError),
        (bmp_header(640, 480)[:54], InvalidImageError),
        (bmp_header(64, 32, compression=4), UnsupportedMediaTypeError),
        (bmp_header(64, 32, bits=7), UnsupportedMediaTypeError),
        (tiff_header(20_000, 20_000), ImageTooLargeError),
        (tiff_header(64, 32, compression=4), UnsupportedMediaTypeError),
        (tiff_header(64, 32, compression=34712), UnsupportedMediaTypeError),
        (tiff_header(64, 32, bits=12), UnsupportedMediaTypeError),
        (tiff_header(0, 32), InvalidImageError),
        (b"II*\x00" + struct.pack("<I", 9999) + b"\x00" * 20, InvalidImageError),
    ],
    ids=[
        "bmp-over-the-pixel-limit",
        "bmp-header-cut-short",
        "bmp-without-pixels",
        "bmp-with-jpeg-inside",
        "bmp-7-bit",
        "tiff-over-the-pixel-limit",
        "tiff-fax-compression",
        "tiff-jpeg-2000",
        "tiff-12-bit",
        "tiff-without-size",
        "tiff-directory-outside-the-file",
    ],
)
def test_bmp_and_tiff_are_checked_from_their_headers_before_decoding(data, error):
    with pytest.raises(error):
        inspect_image(data, **LIMITS)


def test_a_gif_is_refused_with_the_reason():
    with pytest.raises(UnsupportedMediaTypeError, match="256 colours"):
        inspect_image(encode(Image.new("P", (16, 16)), "GIF"), **LIMITS)


def _float_tiff(values: np.ndarray, mode: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(values, mode=mode).save(out, "TIFF")
    return out.getvalue()


def test_a_32_bit_tiff_is_scaled_over_the_whole_image_not_per_band():
    # A 600-row gradient spans several decoding bands; each band used to get its own min-max
    # stretch, which turned the gradient into a sawtooth.
    column = (np.arange(600, dtype=np.float32) / 600.0)[:, None]
    image = decode_image(_float_tiff(np.repeat(column, 40, axis=1), "F"), **LIMITS)
    rows = image[:, 0, 0].astype(int)
    assert np.all(np.diff(rows) >= 0)  # no step down anywhere
    assert abs(rows[300] - 128) <= 1  # 0.5 of 0-1 is mid-grey


def test_a_uniform_float_tiff_keeps_its_grey_and_integers_in_0_255_keep_their_values():
    grey = decode_image(_float_tiff(np.full((300, 40), 0.5, np.float32), "F"), **LIMITS)
    assert set(np.unique(grey)) == {128}
    ints = decode_image(_float_tiff(np.full((300, 40), 77, np.int32), "I"), **LIMITS)
    assert set(np.unique(ints)) == {77}
