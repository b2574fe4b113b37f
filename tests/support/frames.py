"""Distinct photos for bursts: the vote counts a photo sent twice once, so frames that are meant to
vote apart must differ in their bytes."""

from __future__ import annotations

import io


def distinct_copies(photo: bytes, count: int) -> list[bytes]:
    """``count`` copies of ``photo`` with the same pixels and different bytes (a text chunk or
    comment naming the copy; PNG stays PNG, anything else becomes JPEG)."""
    from PIL import Image, PngImagePlugin

    with Image.open(io.BytesIO(photo)) as image:
        fmt = "PNG" if image.format == "PNG" else "JPEG"
        base = image.convert("RGB")
    copies = []
    for i in range(count):
        out = io.BytesIO()
        if fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_text("Comment", f"copy {i}")
            base.save(out, "PNG", pnginfo=info)
        else:
            base.save(out, "JPEG", quality=95, comment=f"copy {i}".encode())
        copies.append(out.getvalue())
    assert len(set(copies)) == count
    return copies
