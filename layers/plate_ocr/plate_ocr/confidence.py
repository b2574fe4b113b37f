"""Confidence that means something: the probability that a reading is exactly the plate.

The recogniser's character probabilities and the detector's score are evidence, not
probabilities of being right: a sharp plate can be misread with every character at 0.9, and a
sign read as a plate has confident characters too. A small logistic model turns the evidence into
a calibrated probability: on held-out photos, readings given 0.9 are right about 9 times in 10.

It is fitted by ``python -m training.calibrate`` on the dev split (photos never trained on, and
degraded copies of them) and shipped as ``models/confidence.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: The calibration's file in the model folder.
FILE = "confidence.json"
#: The features, in the order of the weights.
FEATURES = ("logit_min_char", "mean_log_char", "logit_region", "reframed_differs")


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def features(
    char_confidences: Sequence[float], region_score: float, reframed_differs: bool = False
) -> tuple[float, ...]:
    """The evidence of one reading: its weakest character, its mean, the region's score, and
    whether the plate framed wider reads as another plate (or as none).

    The last is the strongest sign of a misread a sure-looking reading can give: on the dev split
    (2026-12-01) a wider frame read the same plate for 182 of 184 right readings and for 6 of 82
    wrong ones. A misread that hangs on where the crop's edge falls (an emblem strip taken for a
    character, a first digit cut by the frame) changes when the edge moves.
    """
    probs = [min(max(float(c), 1e-6), 1.0) for c in char_confidences] or [1e-6]
    return (
        _logit(min(probs)),
        sum(math.log(p) for p in probs) / len(probs),
        _logit(region_score),
        1.0 if reframed_differs else 0.0,
    )


@dataclass(frozen=True)
class Calibration:
    """``sigmoid(weights . features + bias)``: the probability that a reading is right."""

    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES):
            raise ValueError(f"expected {len(FEATURES)} weights, got {len(self.weights)}")

    @classmethod
    def read(cls, path: Path) -> Calibration:
        """Loads ``confidence.json``.

        Raises:
            OSError: the file is missing; ValueError: it is malformed.
        """
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data.get("features", ())) != FEATURES:
            raise ValueError(f"{path}: features {data.get('features')} are not {FEATURES}")
        return cls(
            tuple(float(w) for w in data["weights"]),
            float(data["bias"]),
            str(data.get("fitted_on", "")),
        )

    def write(self, path: Path, **extra: object) -> None:
        """Saves the calibration with anything worth keeping beside it (figures of the fit)."""
        payload = {
            "features": list(FEATURES),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "fitted_on": self.fitted_on,
            **extra,
        }
        # Beside it first, then into place: a failed write leaves the old calibration whole.
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)

    def probability(self, evidence: Sequence[float]) -> float:
        """The probability of being right for one row of :func:`features`."""
        z = self.bias + sum(w * f for w, f in zip(self.weights, evidence, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def __call__(
        self,
        char_confidences: Sequence[float],
        region_score: float,
        reframed_differs: bool = False,
    ) -> float:
        return self.probability(features(char_confidences, region_score, reframed_differs))
