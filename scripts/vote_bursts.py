"""Does voting across a vehicle's frames fix reads that single frames get wrong? Measured on val.

Each val crop becomes bursts of frames, as a gate camera's would differ: every frame is the crop
degraded at random, in memory (blur, noise, the plate shifted and cut by the camera's framing, a
JPEG of low quality; the harder level also dims it). Every frame is read alone and the burst is
read as one vehicle (``Pipeline.read_frames``, stage 1 only). Printed: exact match of single
frames, of the first frame of each burst, and of the voted plate; bursts the vote fixed and broke;
and how often a voted plate of each confidence was right. The last line is one JSON object.
Needs the shipped models and ``../shared``; asserts nothing.

    .venv/bin/python scripts/vote_bursts.py --manifest ../shared/datasets/kr-plates/manifest.csv
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from pathlib import Path
from typing import Any

LEVELS = {
    # blur sigma (share of the crop's height), noise sigma, shift (share of the size), JPEG quality
    "moderate": {"blur": 0.03, "noise": 10.0, "shift": 0.08, "jpeg": (30, 80), "dim": 1.0},
    "hard": {"blur": 0.045, "noise": 18.0, "shift": 0.12, "jpeg": (15, 50), "dim": 0.45},
}
BINS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 1.01)


def degrade(crop: Any, level: dict[str, Any], rng: random.Random) -> bytes:
    """One frame: the crop blurred, shifted (the framing cuts or pads it), noisy, dim, as JPEG."""
    import cv2
    import numpy as np

    h, w = crop.shape[:2]
    frame = crop.astype(np.float32)
    sigma = rng.uniform(0.0, level["blur"]) * h
    if sigma > 0.3:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    dx = rng.uniform(-level["shift"], level["shift"]) * w
    dy = rng.uniform(-level["shift"], level["shift"]) * h
    scale = rng.uniform(1.0 - level["shift"], 1.0 + level["shift"])
    matrix = np.float32(
        [[scale, 0, dx + (1 - scale) * w / 2], [0, scale, dy + (1 - scale) * h / 2]]
    )
    frame = cv2.warpAffine(frame, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    frame = frame * rng.uniform(level["dim"], 1.0)
    frame += np.asarray(
        np.random.default_rng(rng.randrange(2**32)).normal(0, level["noise"], frame.shape),
        dtype=np.float32,
    )
    quality = rng.randint(*level["jpeg"])
    ok, data = cv2.imencode(
        ".jpg", np.clip(frame, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--level", choices=sorted(LEVELS), default="moderate")
    parser.add_argument("--frames", type=int, default=5, help="frames per burst (at most 8)")
    parser.add_argument("--bursts", type=int, default=2, help="bursts per crop")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    import cv2

    from plate_ocr import lifecycle
    from plate_ocr.evaluate import load_manifest

    pipeline = lifecycle.get_pipeline()
    samples = [
        s
        for s in load_manifest(Path(args.manifest), split=args.split, limit=args.limit)
        if s.kind == "crop"
    ]
    rng = random.Random(args.seed)
    level = LEVELS[args.level]
    frames_right = frames_total = first_right = voted_right = fixed = broken = 0
    calibration: list[tuple[float, bool]] = []
    for n, sample in enumerate(samples, 1):
        crop = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
        for _ in range(args.bursts):
            photos = [degrade(crop, level, rng) for _ in range(args.frames)]
            result = pipeline.read_frames(photos, use_fallback=False)
            assert result.frames is not None
            singles = [
                bool(f.result.plates) and f.result.plates[0].plate_number == sample.label
                for f in result.frames
            ]
            voted = bool(result.plates) and result.plates[0].plate_number == sample.label
            frames_right += sum(singles)
            frames_total += len(singles)
            first_right += singles[0]
            voted_right += voted
            fixed += voted and not singles[0]
            broken += singles[0] and not voted
            if result.plates:
                calibration.append((result.plates[0].confidence, voted))
        print(f"\r{n}/{len(samples)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    bursts = len(samples) * args.bursts
    summary: dict[str, Any] = {
        "level": args.level,
        "crops": len(samples),
        "bursts": bursts,
        "frames_per_burst": args.frames,
        "single_frame_exact": frames_right / frames_total,
        "first_frame_exact": first_right / bursts,
        "voted_exact": voted_right / bursts,
        "fixed_by_vote": fixed,
        "broken_by_vote": broken,
    }
    print(
        f"{args.level}: {bursts} bursts of {args.frames} frames from {len(samples)} val crops\n"
        f"single frames exact {summary['single_frame_exact']:.1%}, first frame of each burst "
        f"{summary['first_frame_exact']:.1%}, voted {summary['voted_exact']:.1%}\n"
        f"the vote fixed {fixed} bursts whose first frame was wrong and broke {broken}"
    )
    print(f"{'voted confidence':<18}{'n':>6}{'right':>8}")
    table = []
    for lo, hi in itertools.pairwise(BINS):
        group = [right for conf, right in calibration if lo <= conf < hi]
        if group:
            share = sum(group) / len(group)
            print(f"{f'{lo:.2f}-{min(hi, 1.0):.2f}':<18}{len(group):>6}{share:>8.1%}")
            table.append({"from": lo, "to": min(hi, 1.0), "n": len(group), "right": share})
    summary["reliability"] = table
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
