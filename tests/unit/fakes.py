"""Fakes of the engines for pipeline tests: deterministic, no models."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from plate_ocr.engines import FallbackAnswer, PlateRegion, RawReading

BOX = ((10.0, 20.0), (110.0, 20.0), (110.0, 45.0), (10.0, 45.0))


class FakeLocator:
    """Returns ``n`` regions (the whole image as crop) and, if asked, more on the second opinion."""

    def __init__(self, n: int = 1, more: int = 0) -> None:
        self.n, self.more = n, more
        self.more_calls = 0

    def locate(self, image: np.ndarray) -> list[PlateRegion]:
        return [PlateRegion(box=BOX, crop=image, score=1.0 - i / 10) for i in range(self.n)]

    def locate_more(self, image: np.ndarray) -> list[PlateRegion]:
        self.more_calls += 1
        return [PlateRegion(box=BOX, crop=image, score=0.5) for _ in range(self.more)]


class FakeRecognizer:
    """Answers the given readings in order, then None."""

    def __init__(self, readings: Iterable[RawReading | None]) -> None:
        self.readings = list(readings)
        self.calls = 0

    def read(self, crop: np.ndarray) -> RawReading | None:
        self.calls += 1
        return self.readings.pop(0) if self.readings else None


class FakeFallback:
    """Stage 2 stand-in that records whether it was asked."""

    def __init__(self, answer: FallbackAnswer) -> None:
        self.answer = answer
        self.calls = 0

    def read(self, image: np.ndarray) -> FallbackAnswer:
        self.calls += 1
        return self.answer


def reading(text: str, confidence: float = 0.9, *alternatives: tuple[str, float]) -> RawReading:
    return RawReading(
        text=text,
        confidence=confidence,
        char_confidences=tuple(confidence for _ in text),
        candidates=tuple(alternatives),
    )
