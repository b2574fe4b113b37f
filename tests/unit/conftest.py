import io

import pytest


@pytest.fixture
def png_bytes() -> bytes:
    """A small grey PNG: a valid upload with no plate on it."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (160, 60), (200, 200, 200)).save(buf, "PNG")
    return buf.getvalue()
