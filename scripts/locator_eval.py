"""Measures the plate locator on the val scenes (and crops) of ../shared/datasets/kr-plates.

For each labelled scene: whether the labelled plate is among the top-k regions (IoU >= 0.5 of the
quads' bounding rectangles, or the region's centre inside the labelled quad), its rank and the time.
Prints recall@1/@3/@8 and p50/p95 ms. For crops: whether the whole-image region came back.

    .venv/bin/python scripts/locator_eval.py [--craft] [--canvas 960] [--crops] [--debug /tmp/loc]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from plate_ocr.locator import PlateLocator

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "kr-plates"


def _bounds(quad: np.ndarray) -> tuple[float, float, float, float]:
    return (
        float(quad[:, 0].min()),
        float(quad[:, 1].min()),
        float(quad[:, 0].max()),
        float(quad[:, 1].max()),
    )


def matches(region_box: np.ndarray, label: np.ndarray) -> bool:
    """IoU >= 0.5 of bounding rectangles, or the region's centre inside the labelled quad."""
    ax0, ay0, ax1, ay1 = _bounds(region_box)
    bx0, by0, bx1, by1 = _bounds(label)
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    if union > 0 and inter / union >= 0.5:
        return True
    cx, cy = region_box.mean(axis=0)
    # Centre inside, but not a huge region that merely contains the plate.
    inside = cv2.pointPolygonTest(label.astype(np.float32), (float(cx), float(cy)), False) >= 0
    return bool(inside and (ax1 - ax0) <= 2.0 * (bx1 - bx0))


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    """Runs the evaluation and prints a table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--craft", action="store_true", help="use locate_with_craft")
    ap.add_argument("--canvas", type=int, default=960, help="CRAFT canvas long side")
    ap.add_argument("--crops", action="store_true", help="also check the val crops")
    ap.add_argument("--debug", type=Path, help="write annotated images here")
    ap.add_argument("--limit", type=int, default=0, help="only the first N scenes (timing runs)")
    args = ap.parse_args()

    rows = list(csv.DictReader((args.data / "manifest.csv").open(encoding="utf-8")))
    loc = PlateLocator(craft_canvas=args.canvas)
    locate = loc.locate_with_craft if args.craft else loc.locate
    if args.craft:  # load the model outside the timings
        locate(np.zeros((64, 64, 3), np.uint8))
    if args.debug:
        args.debug.mkdir(parents=True, exist_ok=True)

    ranks: list[int | None] = []
    times: list[float] = []
    cpus: list[float] = []  # CPU time of all threads: steadier than wall time on a busy machine
    scenes = [r for r in rows if r["split"] == "val" and r["kind"] == "scene"]
    for r in scenes[: args.limit or None]:
        img = cv2.imread(str(args.data / r["path"]), cv2.IMREAD_COLOR)
        t0, c0 = time.perf_counter(), time.process_time()
        regions = locate(img)
        ms = (time.perf_counter() - t0) * 1000
        cpu = (time.process_time() - c0) * 1000
        times.append(ms)
        cpus.append(cpu)
        rank = None
        label = None
        if r["box"]:
            label = np.array([[float(v) for v in p.split(",")] for p in r["box"].split()])
            for i, reg in enumerate(regions):
                if matches(np.array(reg.box), label):
                    rank = i + 1
                    break
            ranks.append(rank)
        print(
            f"{r['path']:14} {r['plate_type']:9} {img.shape[1]}x{img.shape[0]} "
            f"n={len(regions)} rank={rank if label is not None else '-'} "
            f"top={regions[0].score if regions else 0:.2f} {ms:.0f} ms (cpu {cpu:.0f} ms)"
        )
        if args.debug:
            vis = img.copy()
            if label is not None:
                cv2.polylines(vis, [label.astype(np.int32)], True, (0, 0, 255), 3)
            for i, reg in enumerate(regions):
                cv2.polylines(vis, [np.array(reg.box, np.int32)], True, (0, 255, 0), 2)
                x, y = reg.box[0]
                cv2.putText(
                    vis, f"{i + 1}:{reg.score:.2f}", (int(x), int(y) - 4), 0, 1.0, (0, 255, 0), 2
                )
            name = Path(r["path"]).stem
            cv2.imwrite(str(args.debug / f"{name}.png"), cv2.resize(vis, None, fx=0.5, fy=0.5))
            strip = [
                cv2.resize(
                    reg.crop, (256, 64 if reg.crop.shape[1] > 2 * reg.crop.shape[0] else 128)
                )
                for reg in regions
            ]
            if strip:
                cv2.imwrite(str(args.debug / f"{name}_crops.png"), np.vstack(strip))
    n = len(ranks)
    for k in (1, 3, 8):
        hit = sum(1 for x in ranks if x is not None and x <= k)
        print(f"recall@{k}: {hit}/{n} = {hit / max(n, 1):.2f}")
    print(f"scenes: wall p50 {statistics.median(times):.0f} ms, p95 {_pct(times, 95):.0f} ms")
    print(f"scenes: cpu  p50 {statistics.median(cpus):.0f} ms, p95 {_pct(cpus, 95):.0f} ms")

    if args.crops:
        ok = 0
        ctimes: list[float] = []
        crops = [r for r in rows if r["split"] == "val" and r["kind"] == "crop"]
        for r in crops:
            img = cv2.imread(str(args.data / r["path"]), cv2.IMREAD_COLOR)
            t0 = time.perf_counter()
            regions = locate(img)
            ctimes.append((time.perf_counter() - t0) * 1000)
            h, w = img.shape[:2]
            whole = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
            if any(matches(np.array(reg.box), whole) for reg in regions):
                ok += 1
            else:
                print(f"crop miss: {r['path']} {w}x{h}")
        p50 = statistics.median(ctimes)
        print(f"crops: whole image returned {ok}/{len(crops)}; p50 {p50:.1f} ms")


if __name__ == "__main__":
    main()
