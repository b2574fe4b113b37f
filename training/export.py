"""Exports a training checkpoint as the EasyOCR custom network ``models/korplate.{pth,yaml}``.

EasyOCR strips the first 7 characters of every state-dict key on the CPU (it expects
``DataParallel``'s ``module.`` prefix), so keys are saved with that prefix. Weights are stored in
float16 (half the size); ``korplate.Model.load_state_dict`` casts them back to float32. ``python -m
training.export CKPT``.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import torch

from plate_ocr.recognizer_config import RecognizerConfig
from training.loop import write_files

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = REPO / "models" / "korplate.yaml"


def steps_history(ck: dict) -> str:
    """How a checkpoint's weights were trained: ``28006``, ``28006 + 1200 fine-tuning``, ..."""
    history = str(ck.get("history", ""))
    before = int(ck.get("steps_before", 0))
    if history:
        return f"{history} + {ck['step']} fine-tuning"
    if before:
        return f"{before} + {ck['step']} fine-tuning"
    return str(ck["step"])


def export(
    checkpoint: Path,
    out_dir: Path,
    network: str = "korplate",
    second_look_below: float | None = None,
) -> None:
    """Writes ``<network>.pth`` and its config ``<network>.yaml`` (the network's shape from the
    checkpoint; ``second_look_below`` by default the shipped model's)."""
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state = {
        f"module.{k}": (v.half() if v.is_floating_point() else v) for k, v in ck["model"].items()
    }
    if second_look_below is None:
        second_look_below = RecognizerConfig.read(SHIPPED_CONFIG).second_look_below
    config = RecognizerConfig(dict(ck["network_params"]), second_look_below)
    yaml = config.to_yaml(ck["charset"], f"# trained steps: {steps_history(ck)}")
    weights = io.BytesIO()
    torch.save(state, weights)
    # Both files or neither: a half-written export would pair new weights with an old shape.
    write_files(
        {
            out_dir / f"{network}.pth": weights.getvalue(),
            out_dir / f"{network}.yaml": yaml.encode("utf-8"),
        }
    )
    print(f"exported step {ck['step']} to {out_dir}/{network}.{{pth,yaml}}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "checkpoint", type=Path, nargs="?", default=REPO / "runs" / "korplate" / "last.pt"
    )
    ap.add_argument("--out", type=Path, default=REPO / "models")
    ap.add_argument(
        "--second-look-below",
        type=float,
        default=None,
        help="the model's second-look threshold (default: the shipped model's)",
    )
    args = ap.parse_args()
    export(args.checkpoint, args.out, second_look_below=args.second_look_below)


if __name__ == "__main__":
    main()
