"""Accuracy of the recogniser on real crops: the dev split (for choices) or ``val`` (measurement).

``python -m training.evaluate [--split val]`` loads the shipped model the way production does
(EasyOCR custom network, int8 dynamic quantisation) and prints exact match overall and per plate
type, character accuracy and the per-crop latency; ``--failures DIR`` writes the misread crops with
their model input for a look.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from plate_ocr.evaluate import edit_distance
from plate_ocr.recognizer import PlateRecognizer, to_model_input
from training.dataset import load_real

REPO = Path(__file__).resolve().parents[1]


_CACHE: dict[str, list[Any]] = {}


def evaluate(
    recognizer: PlateRecognizer, split: str = "dev", failures: Path | None = None
) -> dict[str, Any]:
    """Reads every crop of ``split`` and scores the readings against the labels."""
    if split not in _CACHE:
        _CACHE[split] = load_real(split)
    items = _CACHE[split]
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    chars_ok = chars_total = 0
    times = []
    rows = []
    for it in items:
        t = time.perf_counter()
        r = recognizer.read(it.image)
        times.append(time.perf_counter() - t)
        text = r.text if r else ""
        ok = text == it.label
        for key in ("all", it.plate_type):
            per_type[key][0] += ok
            per_type[key][1] += 1
        chars_total += len(it.label)
        chars_ok += max(0, len(it.label) - edit_distance(text, it.label))
        rows.append((it, text, r.confidence if r else 0.0, ok))
    if failures:
        failures.mkdir(parents=True, exist_ok=True)
        for it, text, _conf, ok in rows:
            if ok:
                continue
            a = cv2.resize(
                it.image, (320, max(16, int(320 * it.image.shape[0] / it.image.shape[1])))
            )
            ins = [
                cv2.cvtColor(
                    cv2.resize(to_model_input(it.image, tr), (320, 64)), cv2.COLOR_GRAY2BGR
                )
                for tr in (False, True)
            ]
            cv2.imwrite(
                str(failures / f"{it.path.stem}_{it.label}_as_{text or 'NONE'}.png"),
                np.vstack([a, *ins]),
            )
    summary = {k: f"{v[0]}/{v[1]}" for k, v in sorted(per_type.items())}
    summary["exact"] = round(per_type["all"][0] / max(1, per_type["all"][1]), 4)
    summary["char_acc"] = round(chars_ok / max(1, chars_total), 4)
    summary["ms_p50"] = round(float(np.median(times)) * 1000, 2)
    return {
        "summary": summary,
        "rows": [(str(it.path.name), it.label, t, c) for it, t, c, _ in rows],
    }


def evaluate_module(module: Any, charset: str) -> dict[str, Any]:
    """Evaluates an in-memory training model (float, not quantised) on the dev split."""
    return evaluate(PlateRecognizer.from_module(module, ["[blank]", *charset]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=REPO / "models")
    ap.add_argument("--network", default="korplate")
    ap.add_argument("--split", default="dev", choices=("dev", "val", "train"))
    ap.add_argument("--no-quantize", action="store_true")
    ap.add_argument("--failures", type=Path)
    ap.add_argument("--show", action="store_true", help="print every reading")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    rec = PlateRecognizer(args.model_dir, args.network, quantize=not args.no_quantize)
    print(f"model loaded in {rec.load_seconds:.2f}s")
    res = evaluate(rec, args.split, args.failures)
    if args.show:
        for name, label, text, conf in res["rows"]:
            print(f"{'OK ' if label == text else 'BAD'} {name} {label} {text} {conf:.2f}")
    print(res["summary"])


if __name__ == "__main__":
    main()
