"""Measures the thresholds of ``plate_ocr.quality``: how blurred, and how small, a plate may be.

On the val crops (``kind == crop``, the photos the recogniser reads whole), for blurred copies
(Gaussian blur, sigma a share of the plate's height) and for shrunken copies (the plate brought down
to a given character height, then scaled back up as rectification does), it prints how often the
recogniser still reads the plate exactly, beside the sharpness of the copies
(``plate_ocr.quality.sharpness``). The blur threshold is where reading fails; the last line is one
JSON object with every figure. Needs the shipped recogniser and ``../shared``; asserts nothing.

    .venv/bin/python scripts/quality_threshold.py \
        --manifest ../shared/datasets/kr-plates/manifest.csv
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Blur: Gaussian sigma as a share of the plate crop's height.
BLUR_SHARES = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1)
#: Resolution: the height (pixels) the one-row plate's characters are brought down to.
CHAR_HEIGHTS = (6, 8, 10, 12, 14, 16, 20, 24)
#: Sharpness bins of the table.
BINS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 100.0)


@dataclass(frozen=True)
class Copy:
    """One degraded copy of a crop: how (blur or size), how much, its sharpness, read exactly?"""

    kind: str
    level: float
    sharpness: float
    exact: bool


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    import cv2

    from plate_ocr import grammar
    from plate_ocr.config import get_settings
    from plate_ocr.evaluate import load_manifest
    from plate_ocr.quality import CHAR_HEIGHT_SHARE, Layout, sharpness
    from plate_ocr.recognizer import PlateRecognizer

    settings = get_settings()
    recognizer = PlateRecognizer(
        settings.model_dir,
        network=settings.recog_network,
        gpu=False,
        second_look_below=settings.second_look_below,
    )
    samples = [
        s
        for s in load_manifest(Path(args.manifest), split=args.split, limit=args.limit)
        if s.kind == "crop"
    ]

    def exact(crop: Any, label: str) -> bool:
        raw = recognizer.read(crop)
        return raw is not None and grammar.parse(raw.text).text == label

    rows: list[Copy] = []
    for n, sample in enumerate(samples, 1):
        photo = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
        h, w = photo.shape[:2]
        for share in BLUR_SHARES:
            copy = photo if share == 0 else cv2.GaussianBlur(photo, (0, 0), share * h)
            rows.append(Copy("blur", share, sharpness(copy), exact(copy, sample.label)))
        one_row = w / h >= 3.0
        for chars in CHAR_HEIGHTS:
            share = CHAR_HEIGHT_SHARE[Layout.LONG_ONE_ROW if one_row else Layout.TWO_ROWS]
            plate_h = chars / share
            if plate_h >= h:
                continue
            scale = plate_h / h
            small = cv2.resize(
                photo, (max(2, round(w * scale)), max(2, round(h * scale))), cv2.INTER_AREA
            )
            copy = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
            rows.append(Copy("size", chars, sharpness(copy), exact(copy, sample.label)))
        print(f"\r{n}/{len(samples)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    summary: dict[str, object] = {"crops": len(samples)}
    for kind, title in (("blur", "blur sigma / plate height"), ("size", "character height px")):
        table = []
        print(f"{title:<28}{'n':>6}{'exact':>8}{'sharpness p10':>15}{'p50':>8}")
        for level in sorted({r.level for r in rows if r.kind == kind}):
            group = [r for r in rows if r.kind == kind and r.level == level]
            sharp = sorted(r.sharpness for r in group)
            acc = sum(r.exact for r in group) / len(group)
            p10 = sharp[len(sharp) // 10]
            p50 = statistics.median(sharp)
            print(f"{level!s:<28}{len(group):>6}{acc:>8.1%}{p10:>15.2f}{p50:>8.2f}")
            table.append({"level": level, "n": len(group), "exact": acc, "p10": p10, "p50": p50})
        summary[kind] = table
    print(f"{'sharpness':<28}{'n':>6}{'exact':>8}  (every copy)")
    by_bin = []
    for lo, hi in itertools.pairwise(BINS):
        group = [r for r in rows if lo <= r.sharpness < hi]
        if not group:
            continue
        acc = sum(r.exact for r in group) / len(group)
        print(f"{f'{lo:.1f}-{hi:.1f}':<28}{len(group):>6}{acc:>8.1%}")
        by_bin.append({"from": lo, "to": hi, "n": len(group), "exact": acc})
    summary["by_sharpness"] = by_bin
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
