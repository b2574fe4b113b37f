"""Peak memory of decoding the largest accepted photos (issue 12): at most 400 MB over the baseline.

Each case is decoded in a fresh Python process (the API's decoding path: structure checks in the
process, pixels in a decoder process). A Lambda sandbox holds both processes, so what counts is
their sum: it is sampled every millisecond while decoding, and its peak over the sum before is
held to 400 MB. The increase of each process's own peak (VmHWM), whose sum over-counts because the
two peaks come at different moments, is printed beside it (run with -s). 39.9 MP is 7300 x 5466,
just under the 40 MP limit.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hardening_support import FUNCTIONS_DIR, ROOT
from PIL import Image

WIDTH, HEIGHT = 7300, 5466
LIMIT_MB = 400.0


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png(bit_depth: int, colour: int, pixel: bytes, extra: bytes = b"") -> bytes:
    """A WIDTH x HEIGHT PNG of one repeated pixel, built row by row (no full image in memory)."""
    row = b"\x00" + pixel * WIDTH
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(HEIGHT)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", WIDTH, HEIGHT, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + extra
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def _jpeg(mode: str, **save: object) -> bytes:
    buf = io.BytesIO()
    colour = (10, 200, 30, 0) if mode == "CMYK" else (40, 90, 200)
    Image.new(mode, (WIDTH, HEIGHT), colour).save(buf, format="JPEG", **save)
    return buf.getvalue()


def _float_tiff() -> bytes:
    """A 32-bit float grey TIFF (deflate: a few hundred KB), scaled to 8 bits when decoded."""
    import numpy as np

    buf = io.BytesIO()
    Image.fromarray(np.full((HEIGHT, WIDTH), 0.5, np.float32), mode="F").save(
        buf, format="TIFF", compression="tiff_adobe_deflate"
    )
    return buf.getvalue()


CASES = {
    "rgba-8-bit-png": lambda: _png(8, 6, bytes([40, 90, 200, 128])),
    "rgba-16-bit-png": lambda: _png(16, 6, bytes([40, 0, 90, 0, 200, 0, 128, 0])),
    "palette-png-with-transparency": lambda: _png(
        8,
        3,
        b"\x01",
        _chunk(b"PLTE", bytes([0, 0, 0, 40, 90, 200])) + _chunk(b"tRNS", b"\xff\x80"),
    ),
    "cmyk-jpeg": lambda: _jpeg("CMYK"),
    "progressive-4-4-4-jpeg": lambda: _jpeg("RGB", progressive=True, subsampling=0),
    "float-32-bit-grey-tiff": _float_tiff,
}

SCRIPT = r"""
import json, os, sys, threading, time
from plate_ocr.imaging import decode_image
from plate_ocr.imaging.pool import get_pool

def status_mb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith(key)) / 1024.0
    except (OSError, StopIteration):
        return 0.0

data = open(sys.argv[1], "rb").read()
pool = get_pool()
pool.prestart()
with open(f"/proc/self/task/{os.getpid()}/children") as fh:
    worker = int(fh.read().split()[0])
parent_before, worker_before = status_mb("self", "VmHWM:"), status_mb(worker, "VmHWM:")
base = status_mb("self", "VmRSS:") + status_mb(worker, "VmRSS:")
peak, done = [base], threading.Event()

def sample():
    while not done.is_set():
        peak[0] = max(peak[0], status_mb("self", "VmRSS:") + status_mb(worker, "VmRSS:"))
        time.sleep(0.001)

sampler = threading.Thread(target=sample)
sampler.start()
image = decode_image(data, max_bytes=10 * 1024 * 1024, max_pixels=40_000_000)
done.set()
sampler.join()
print(json.dumps({
    "shape": list(image.shape),
    "sum_mb": peak[0] - base,
    "parent_mb": status_mb("self", "VmHWM:") - parent_before,
    "worker_mb": pool.peak_rss_mb() - worker_before,
}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_a_39_9_mp_photo_decodes_within_400_mb(tmp_path: Path, name: str) -> None:
    path = tmp_path / "photo"
    path.write_bytes(CASES[name]())

    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'layers/plate_ocr'}:{FUNCTIONS_DIR}"},
    )

    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout.splitlines()[-1])
    print(
        f"\nMEMORY {name} {path.stat().st_size} bytes: +{figures['sum_mb']:.0f} MB at peak "
        f"(own peaks: +{figures['parent_mb']:.0f} MB process, "
        f"+{figures['worker_mb']:.0f} MB decoder)"
    )
    assert figures["shape"] == [HEIGHT, WIDTH, 3]
    assert figures["sum_mb"] <= LIMIT_MB
