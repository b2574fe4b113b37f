"""Walks a HEIF or AVIF file's boxes (ISO BMFF) before any pixel is decoded.

Both formats keep their pictures as items of a ``meta`` box: the primary item (``pitm``) is the
photo, usually a grid of tiles, and its ``ispe`` property says its size. The walk finds that size
without the decoder libraries, so the pixel limit applies before libheif or libavif see the file,
and refuses files built to cost more than a camera's: too many boxes or items (an iPhone's 12 MP
photo holds about 50 items, 48 tiles of a grid, a thumbnail and metadata; libheif's own limit is
in the thousands), boxes that run past the end of the file, or no primary picture at all (a HEIF
image sequence without a still image).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from plate_ocr.errors import ImageTooComplexError, InvalidImageError, UnsupportedMediaTypeError

#: Boxes in one container box (the file's top level, ``meta``, ``iprp``, ``ipco``).
MAX_BOXES = 256
#: Items of a ``meta`` box: tiles, thumbnails, metadata. A 12 MP iPhone photo holds about 50.
MAX_ITEMS = 1024


@dataclass(frozen=True)
class HeifSize:
    """The primary picture's size (before any rotation): its ``ispe`` property, cut to its clean
    aperture (``clap``) where it has one (HEVC codes whole 8-64 px blocks)."""

    width: int
    height: int


def check_heif(data: bytes) -> HeifSize:
    """The primary picture's size of a HEIF or AVIF file; raises for a file that cannot be read.

    Raises:
        InvalidImageError: boxes past the end of the file, no ``meta`` box, no size.
        ImageTooComplexError: more boxes or items than :data:`MAX_BOXES` / :data:`MAX_ITEMS`.
        UnsupportedMediaTypeError: a sequence with no still picture.
    """
    top = dict(_children(data, 0, len(data)))
    if b"meta" not in top and b"moov" in top:
        raise UnsupportedMediaTypeError(
            "The HEIF/AVIF file holds an image sequence without a still picture; send a photo."
        )
    if b"meta" not in top:
        raise InvalidImageError("The HEIF/AVIF file holds no picture.")
    start, end = top[b"meta"]
    meta = dict(_children(data, start + 4, end))  # meta is a full box: version and flags first
    if b"pitm" not in meta or b"iprp" not in meta:
        raise InvalidImageError("The HEIF/AVIF file names no primary picture.")
    _count_items(data, meta.get(b"iinf"))
    primary = _primary_item(data, *meta[b"pitm"])
    iprp = dict(_children(data, *meta[b"iprp"]))
    if b"ipco" not in iprp or b"ipma" not in iprp:
        raise InvalidImageError("The HEIF/AVIF file has no picture properties.")
    properties = list(_children(data, *iprp[b"ipco"]))
    found = {
        properties[i - 1][0]: properties[i - 1][1]
        for i in _associations(data, *iprp[b"ipma"], item=primary)
        if 1 <= i <= len(properties)
    }
    if b"ispe" not in found or found[b"ispe"][1] - found[b"ispe"][0] < 12:
        raise InvalidImageError("The HEIF/AVIF file does not say the size of its picture.")
    width, height = struct.unpack_from(">II", data, found[b"ispe"][0] + 4)
    clap = found.get(b"clap")
    if clap is not None and clap[1] - clap[0] >= 16:
        wn, wd, hn, hd = struct.unpack_from(">IIII", data, clap[0])
        if wd and hd and 0 < wn // wd <= width and 0 < hn // hd <= height:
            width, height = round(wn / wd), round(hn / hd)
    return HeifSize(width, height)


def _children(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, tuple[int, int]]]:
    """(type, (body start, body end)) of each box between ``start`` and ``end``."""
    pos = start
    count = 0
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                break
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:  # the box runs to the end of its container
            size = end - pos
        if size < header or pos + size > end:
            raise InvalidImageError("The HEIF/AVIF file is truncated or its boxes are corrupt.")
        count += 1
        if count > MAX_BOXES:
            raise ImageTooComplexError(f"The HEIF/AVIF file has more than {MAX_BOXES} boxes here.")
        yield kind, (pos + header, pos + size)
        pos += size


def _full_box(data: bytes, start: int, end: int, needed: int) -> int:
    """The version of a full box whose body holds at least ``needed`` bytes after its header."""
    if end - start < 4 + needed:
        raise InvalidImageError("The HEIF/AVIF file has a truncated box.")
    return data[start]


def _count_items(data: bytes, span: tuple[int, int] | None) -> None:
    if span is None:
        return
    start, end = span
    version = _full_box(data, start, end, 2)
    if version == 0:
        (count,) = struct.unpack_from(">H", data, start + 4)
    else:
        _full_box(data, start, end, 4)
        (count,) = struct.unpack_from(">I", data, start + 4)
    if count > MAX_ITEMS:
        raise ImageTooComplexError(
            f"The HEIF/AVIF file has more than {MAX_ITEMS} items; a phone's photo has about 50."
        )


def _primary_item(data: bytes, start: int, end: int) -> int:
    version = _full_box(data, start, end, 2)
    if version == 0:
        return int(struct.unpack_from(">H", data, start + 4)[0])
    _full_box(data, start, end, 4)
    return int(struct.unpack_from(">I", data, start + 4)[0])


def _associations(data: bytes, start: int, end: int, *, item: int) -> list[int]:
    """The property indices (1-based) associated with ``item`` in an ``ipma`` box."""
    version = _full_box(data, start, end, 4)
    wide_index = data[start + 3] & 1
    (entries,) = struct.unpack_from(">I", data, start + 4)
    if entries > MAX_ITEMS:
        raise ImageTooComplexError(f"The HEIF/AVIF file has more than {MAX_ITEMS} items.")
    pos = start + 8
    id_size = 2 if version < 1 else 4
    index_size = 2 if wide_index else 1
    for _ in range(entries):
        if pos + id_size + 1 > end:
            break
        item_id = int.from_bytes(data[pos : pos + id_size], "big")
        count = data[pos + id_size]
        pos += id_size + 1
        if pos + count * index_size > end:
            break
        raw = [
            int.from_bytes(data[p : p + index_size], "big")
            for p in range(pos, pos + count * index_size, index_size)
        ]
        pos += count * index_size
        if item_id == item:
            mask = 0x7FFF if wide_index else 0x7F  # the top bit marks an essential property
            return [value & mask for value in raw]
    return []
