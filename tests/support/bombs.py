"""Hand-built files that pass every size check but are built to cost a decoder dearly.

The generators of the security test of issue 12, rebuilt: a progressive JPEG whose scans carry only
end-of-band runs, a PNG whose IDAT inflates far past its header's size, a PNG of tiny chunks. Issue
13's formats have theirs: a TIFF strip that inflates to gigabytes, a TIFF of thousands of pages or
tags, a HEIC that claims a huge picture or thousands of items, a WebP of thousands of frames.
"""

from __future__ import annotations

import struct
import zlib


class _Bits:
    """An entropy-coded segment: bits MSB first, 0xFF stuffed, padded with ones."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, length: int) -> None:
        for shift in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> shift) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc = self.n = 0

    def done(self) -> bytes:
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def progressive_jpeg(side: int = 6320, ac_scans: int = 2000) -> bytes:
    """A greyscale ``side`` x ``side`` progressive JPEG: one DC scan of zeros, then ``ac_scans``
    scans of coefficient 1 that hold nothing but end-of-band runs (about 40 bytes each).

    libjpeg warns about the repeated band and goes on; each scan costs it a pass over every block.
    """
    blocks = (side // 8) * (side // 8)
    dqt = _segment(0xDB, b"\x00" + b"\x01" * 64)
    sof = _segment(0xC2, struct.pack(">BHHB", 8, side, side, 1) + b"\x01\x11\x00")
    # DC table 0: one symbol (category 0) with the 1-bit code 0.
    dc = _segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
    # AC table 0: EOB0..EOB14 (symbols 0x00, 0x10 .. 0xE0), 4-bit codes 0000 .. 1110.
    ac_symbols = bytes(r << 4 for r in range(15))
    ac = _segment(0xC4, b"\x10" + bytes([0, 0, 0, 15] + [0] * 12) + ac_symbols)

    dc_bits = _Bits()
    for _ in range(blocks):
        dc_bits.put(0, 1)
    dc_scan = _segment(0xDA, b"\x01\x01\x00\x00\x00\x00") + dc_bits.done()

    ac_bits = _Bits()
    left = blocks
    while left:
        run = min(left, 32767)
        r = run.bit_length() - 1
        ac_bits.put(r, 4)  # the code of symbol EOBr is r (table above)
        if r:
            ac_bits.put(run - (1 << r), r)
        left -= run
    ac_scan = _segment(0xDA, b"\x01\x01\x00\x01\x01\x00") + ac_bits.done()
    return b"\xff\xd8" + dqt + sof + dc + ac + dc_scan + ac_scan * ac_scans + b"\xff\xd9"


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png(width: int, height: int, idat: bytes, colour: int = 0, extra: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + extra
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def png_inflating_to(gib: float = 8.0, side: int = 6320) -> bytes:
    """A ``side`` x ``side`` greyscale PNG whose one IDAT inflates to ``gib`` GiB of zeros.

    Fully flushed deflate blocks of 1 MiB of zeros are byte-aligned and independent, so one block
    repeated makes the stream (about 1 KB per MiB) without compressing gigabytes here.
    """
    zeros = b"\x00" * (1 << 20)
    packer = zlib.compressobj(9)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    count = int(gib * 1024)
    stream = first + block * (count - 1) + packer.flush()
    return _png(side, side, stream)


def png_of_chunks(chunks: int = 700_000, side: int = 64) -> bytes:
    """A small valid PNG with ``chunks`` empty ancillary chunks before its pixel data."""
    raw = b"".join(b"\x00" + b"\x80" * side for _ in range(side))
    filler = _png_chunk(b"tEXt", b"") * chunks
    return _png(side, side, zlib.compress(raw), extra=filler)


def progressive_jpeg_within_limits(side: int = 6320, ac_scans: int = 60) -> bytes:
    """A file of the same build with a scan count the structure check lets through: what is left
    for the deadline and the decoder's limits to stop."""
    return progressive_jpeg(side, ac_scans)


# --- issue 13: the new formats --------------------------------------------------------------


def _tiff(entries: list[tuple[int, int, int, int]], body: bytes = b"", next_ifd: int = 0) -> bytes:
    """A little-endian TIFF: header, one directory of ``(tag, type, count, value)``, ``body``."""
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", next_ifd) + body


def tiff_deflate_inflating_to(gib: float = 8.0, side: int = 6320) -> bytes:
    """A ``side`` x ``side`` grey TIFF whose one Deflate strip inflates to ``gib`` GiB of zeros.

    The strip holds ``side * side`` bytes; libtiff inflates a strip into a buffer of that size
    and stops there, so the rest of the stream costs nothing.
    """
    stream = png_inflating_to(gib, side)
    start = stream.index(b"IDAT") + 4
    idat = stream[start : start + struct.unpack(">I", stream[start - 8 : start - 4])[0]]
    head = 8 + 2 + 12 * 9 + 4
    entries = [
        (256, 4, 1, side),  # width
        (257, 4, 1, side),  # height
        (258, 3, 1, 8),  # bits per sample
        (259, 3, 1, 8),  # Deflate
        (262, 3, 1, 1),  # black is zero
        (273, 4, 1, head),  # the strip's offset
        (277, 3, 1, 1),  # samples per pixel
        (278, 4, 1, side),  # rows per strip: one strip
        (279, 4, 1, len(idat)),  # the strip's byte count
    ]
    return _tiff(entries, idat)


def tiff_with_tags(tags: int = 60_000) -> bytes:
    """A TIFF whose first directory claims ``tags`` entries (padding tags after the real ones)."""
    entries = [(256, 4, 1, 64), (257, 4, 1, 32), (258, 3, 1, 8), (259, 3, 1, 1)]
    entries += [(65000, 3, 1, 0)] * (tags - len(entries))
    return _tiff(entries, b"\x80" * 64 * 32)


def tiff_of_pages(pages: int = 20_000, side: int = 16) -> bytes:
    """A grey TIFF of ``pages`` pages of ``side`` x ``side`` pixels: only the first is read."""
    pixels = b"\x80" * side * side
    entry_count = 8
    ifd_size = 2 + 12 * entry_count + 4
    block = ifd_size + len(pixels)
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for page in range(pages):
        start = 8 + page * block
        next_ifd = start + block if page + 1 < pages else 0
        entries = [
            (256, 4, 1, side),
            (257, 4, 1, side),
            (258, 3, 1, 8),
            (259, 3, 1, 1),
            (262, 3, 1, 1),
            (273, 4, 1, start + ifd_size),
            (278, 4, 1, side),
            (279, 4, 1, len(pixels)),
        ]
        out += struct.pack("<H", entry_count)
        out += b"".join(struct.pack("<HHII", *e) for e in entries)
        out += struct.pack("<I", next_ifd) + pixels
    return bytes(out)


def _heic(side: int = 64) -> bytes:
    import io

    import pillow_heif
    from PIL import Image

    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (side, side), (90, 90, 90))).save(buf, quality=50)
    return buf.getvalue()


def heic_claiming(width: int = 20_000, height: int = 20_000) -> bytes:
    """A real HEIC whose primary picture's ``ispe`` (and clean aperture) claim another size."""
    data = bytearray(_heic())
    ispe = data.index(b"ispe")
    struct.pack_into(">II", data, ispe + 8, width, height)
    clap = data.find(b"clap")
    if clap >= 0:
        struct.pack_into(">IIII", data, clap + 4, width, 1, height, 1)
    return bytes(data)


def heic_of_items(items: int = 5000) -> bytes:
    """A real HEIC whose item list claims ``items`` items (version-0 ``iinf``: 16-bit count)."""
    data = bytearray(_heic())
    iinf = data.index(b"iinf")
    struct.pack_into(">H", data, iinf + 8, items)
    return bytes(data)


def webp_of_frames(frames: int = 2000) -> bytes:
    """An animated WebP whose last frame is repeated until it has ``frames`` frames."""
    import io

    from PIL import Image

    pictures = [Image.new("RGB", (16, 16), (i * 80, 0, 0)) for i in range(2)]
    buf = io.BytesIO()
    pictures[0].save(buf, "WEBP", save_all=True, append_images=pictures[1:], duration=50)
    data = buf.getvalue()
    last = data.rindex(b"ANMF")
    frame = data[last:]
    body = data[12:] + frame * (frames - 2)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
