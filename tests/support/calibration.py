"""A stand-in for the shipped confidence calibration, for pipelines built on fake engines."""

from __future__ import annotations

from collections.abc import Sequence


def weakest_char(
    char_confidences: Sequence[float], region_score: float, reframed_differs: bool = False
) -> float:
    """A reading is as sure as its weakest character, halved when a wider frame reads another
    plate (the region's score is ignored)."""
    return min(char_confidences, default=0.0) * (0.5 if reframed_differs else 1.0)
