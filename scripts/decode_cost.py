"""What decoding in a child process costs: in-process cv2.imdecode against plate_ocr's decoder
process, on photos of three sizes, plus the decoder's start time and idle memory. Prints figures.

    .venv/bin/python scripts/decode_cost.py
"""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from plate_ocr.imaging import decode_image
from plate_ocr.imaging.pool import DecoderPool, get_pool

ROOT = Path(__file__).resolve().parents[1]
LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def _jpeg(size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize(size, Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    pool = get_pool()
    started = time.perf_counter()
    pool.prestart()
    print(f"decoder process start: {(time.perf_counter() - started) * 1000:.0f} ms")
    with open(f"/proc/{pool._idle[0].process.pid}/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    print(f"idle decoder process: {rss / 1024:.0f} MB resident")
    photos = {
        "events/plate.jpg (640x400)": (ROOT / "events" / "plate.jpg").read_bytes(),
        "scene 1600x1200": _jpeg((1600, 1200)),
        "phone photo 4032x3024": _jpeg((4032, 3024)),
    }
    for name, data in photos.items():
        runs = 30 if len(data) < 2_000_000 else 10
        inline = _median_ms(
            lambda d=data: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR), runs
        )
        isolated = _median_ms(lambda d=data: decode_image(d, **LIMITS), runs)
        print(
            f"{name}: in process {inline:.1f} ms, in the decoder process {isolated:.1f} ms "
            f"(+{isolated - inline:.1f} ms, checks and transfer included)"
        )
    restart = DecoderPool(size=1, memory_mb=400, cpu_seconds=10)
    started = time.perf_counter()
    restart.prestart()
    print(f"a fresh decoder process after a kill: {(time.perf_counter() - started) * 1000:.0f} ms")
    restart.close()


if __name__ == "__main__":
    main()
