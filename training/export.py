"""Exports a training checkpoint as the EasyOCR custom network ``models/korplate.{pth,yaml}``.

EasyOCR strips the first 7 characters of every state-dict key on the CPU (it expects
``DataParallel``'s ``module.`` prefix), so keys are saved with that prefix. Weights are stored in
float16 (half the size); ``korplate.Model.load_state_dict`` casts them back to float32. ``python -m
training.export CKPT``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def _steps_line(ck: dict) -> str:
    before = int(ck.get("steps_before", 0))
    if before:
        return f"# trained steps: {before} + {ck['step']} fine-tuning"
    return f"# trained steps: {ck['step']}"


def export(checkpoint: Path, out_dir: Path, network: str = "korplate") -> None:
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state = {
        f"module.{k}": (v.half() if v.is_floating_point() else v) for k, v in ck["model"].items()
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(state, out_dir / f"{network}.pth")
    charset = ck["charset"]
    params = ck["network_params"]
    # json-style quoting keeps the Hangul readable and is valid YAML.
    import json

    from plate_ocr.recognizer import IMG_H

    lines = [
        "# The plate recogniser, an EasyOCR custom network. Written by training/export.py.",
        f"imgH: {IMG_H}",
        "lang_list: ['ko']",
        f"character_list: {json.dumps(charset, ensure_ascii=False)}",
        "network_params:",
        *(f"  {k}: {v}" for k, v in params.items()),
        _steps_line(ck),
    ]
    (out_dir / f"{network}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"exported step {ck['step']} to {out_dir}/{network}.{{pth,yaml}}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "checkpoint", type=Path, nargs="?", default=REPO / "runs" / "korplate" / "last.pt"
    )
    ap.add_argument("--out", type=Path, default=REPO / "models")
    args = ap.parse_args()
    export(args.checkpoint, args.out)


if __name__ == "__main__":
    main()
