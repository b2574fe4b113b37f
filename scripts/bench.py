"""Speed benchmark: plate-ocr stage 1 against stock EasyOCR ``readtext`` on the same photos.

Prints figures, asserts nothing (machines are noisy). Run with ``make bench``.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path


def p(values: list[float], q: float) -> float:
    from plate_ocr.evaluate import percentile

    return percentile(values, q)


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument(
        "--scenes", type=int, default=12, help="whole scenes to time (both engines)"
    )
    parser.add_argument("--crops", type=int, default=60, help="plate crops to time")
    parser.add_argument("--skip-stock", action="store_true", help="do not time stock EasyOCR")
    args = parser.parse_args()

    t0 = time.perf_counter()
    import cv2
    import easyocr
    import torch

    from plate_ocr import lifecycle
    from plate_ocr.evaluate import load_manifest

    import_s = time.perf_counter() - t0
    default_threads = torch.get_num_threads()
    warm_s = lifecycle.warm_up()
    print(f"imports: {import_s:.2f} s; models loaded and warm: {warm_s:.2f} s")

    samples = load_manifest(Path(args.manifest), split=args.split)
    scenes = [s for s in samples if s.kind == "scene"][: args.scenes]
    crops = [s for s in samples if s.kind == "crop"][: args.crops]
    pipeline = lifecycle.get_pipeline()

    def time_stage1(items: list) -> list[float]:
        out = []
        for s in items:
            data = s.path.read_bytes()
            started = time.perf_counter()
            pipeline.read(data, use_fallback=False)
            out.append((time.perf_counter() - started) * 1000.0)
        return out

    scene_ms = time_stage1(scenes)
    crop_ms = time_stage1(crops)

    recog_ms = []
    for s in crops:
        image = cv2.imread(str(s.path))
        started = time.perf_counter()
        pipeline.recognizer.read(image)
        recog_ms.append((time.perf_counter() - started) * 1000.0)

    figures: dict[str, float | int | None] = {
        "import_s": round(import_s, 2),
        "warm_s": round(warm_s, 2),
        "scenes": len(scene_ms),
        "stage1_scene_p50_ms": round(p(scene_ms, 50), 1),
        "stage1_scene_p95_ms": round(p(scene_ms, 95), 1),
        "crops": len(crop_ms),
        "stage1_crop_photo_p50_ms": round(p(crop_ms, 50), 1),
        "stage1_crop_photo_p95_ms": round(p(crop_ms, 95), 1),
        "recognizer_crop_p50_ms": round(p(recog_ms, 50), 1),
        "recognizer_crop_p95_ms": round(p(recog_ms, 95), 1),
    }
    print(
        f"stage 1, whole scene: p50 {figures['stage1_scene_p50_ms']} ms, "
        f"p95 {figures['stage1_scene_p95_ms']} ms ({len(scene_ms)} photos)"
    )
    print(
        f"stage 1, crop photo: p50 {figures['stage1_crop_photo_p50_ms']} ms, "
        f"p95 {figures['stage1_crop_photo_p95_ms']} ms; recogniser alone p50 "
        f"{figures['recognizer_crop_p50_ms']} ms ({len(crop_ms)} crops)"
    )

    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(f"peak RSS of plate-ocr stage 1: {figures['peak_rss_mb']} MB")

    if not args.skip_stock:
        # Stock EasyOCR with its default settings, the machine's default torch threads included
        # (the pipeline's build set plate-ocr's own count process-wide).
        torch.set_num_threads(default_threads)
        from easyocr_en_models import model_dir

        stock = easyocr.Reader(
            ["en"],
            gpu=False,
            model_storage_directory=str(model_dir()),
            download_enabled=False,
            verbose=False,
        )
        stock_ms = []
        for s in scenes:
            image = cv2.imread(str(s.path))
            started = time.perf_counter()
            stock.readtext(image)
            stock_ms.append((time.perf_counter() - started) * 1000.0)
        stock_crop_ms = []
        for s in crops[:20]:
            image = cv2.imread(str(s.path))
            started = time.perf_counter()
            stock.readtext(image)
            stock_crop_ms.append((time.perf_counter() - started) * 1000.0)
        figures["stock_scene_p50_ms"] = round(p(stock_ms, 50), 1)
        figures["stock_scene_p95_ms"] = round(p(stock_ms, 95), 1)
        figures["stock_crop_p50_ms"] = round(p(stock_crop_ms, 50), 1)
        ratio = statistics.median(stock_ms) / max(statistics.median(scene_ms), 1e-9)
        figures["speedup_scene_p50"] = round(ratio, 1)
        print(
            f"stock EasyOCR readtext, whole scene: p50 {figures['stock_scene_p50_ms']} ms, "
            f"p95 {figures['stock_scene_p95_ms']} ms; crop p50 {figures['stock_crop_p50_ms']} ms"
        )
        print(f"stage 1 is {ratio:.1f}x faster than stock EasyOCR per whole scene (p50)")

    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
