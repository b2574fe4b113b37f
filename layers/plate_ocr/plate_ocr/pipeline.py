"""The reading pipeline: bytes -> decode -> locate -> read -> validate -> fall back -> result."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from plate_ocr import grammar
from plate_ocr.config import Settings, get_settings
from plate_ocr.engines import FallbackReader, Locator, PlateRegion, RawReading, Recognizer
from plate_ocr.imaging import ImageInfo, decode_image, inspect_image
from plate_ocr.results import Candidate, CharConfidence, OcrResult, PlateRead, Quad, Stage

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

logger = logging.getLogger(__name__)

MAX_CANDIDATES = 5


class Pipeline:
    """Stage 1 (locator + recogniser + grammar), then stage 2 (fallback) only when stage 1 fails.

    Engines are passed in: tests use fakes, production :func:`plate_ocr.factory.get_pipeline`.
    """

    def __init__(
        self,
        locator: Locator,
        recognizer: Recognizer,
        fallback: FallbackReader | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.locator = locator
        self.recognizer = recognizer
        self.fallback = fallback
        self.settings = settings or get_settings()

    def inspect(self, data: bytes) -> ImageInfo:
        """Validates an upload without reading it (dry run)."""
        return inspect_image(
            data, max_bytes=self.settings.max_image_bytes, max_pixels=self.settings.max_image_pixels
        )

    def read(self, data: bytes, *, use_fallback: bool = True) -> OcrResult:
        """Reads every plate in a photo.

        Raises:
            InvalidImageError, ImageTooLargeError, UnsupportedMediaTypeError: for bad uploads.
        """
        started = time.perf_counter()
        timings: dict[str, float] = {}

        mark = time.perf_counter()
        image = decode_image(
            data, max_bytes=self.settings.max_image_bytes, max_pixels=self.settings.max_image_pixels
        )
        timings["decode_ms"] = _ms_since(mark)
        return self.read_image(image, use_fallback=use_fallback, started=started, timings=timings)

    def read_image(
        self,
        image: npt.NDArray[np.uint8],
        *,
        use_fallback: bool = True,
        started: float | None = None,
        timings: dict[str, float] | None = None,
    ) -> OcrResult:
        """Reads every plate in an already decoded BGR image."""
        started = time.perf_counter() if started is None else started
        timings = {} if timings is None else timings
        height, width = image.shape[:2]

        plates = self._stage1(image, timings)
        best = _best_plate(plates, self.settings.min_confidence)
        if best is not None:
            return self._result(Stage.STAGE1, best, plates, width, height, started, timings)

        stage2_status = "disabled"
        if use_fallback and self.fallback is not None:
            mark = time.perf_counter()
            answer = self.fallback.read(image)
            timings["stage2_ms"] = _ms_since(mark)
            stage2_status = answer.status
            if answer.status == "ok" and answer.plate_number:
                parsed = grammar.parse(answer.plate_number)
                if parsed.valid:
                    box = answer.box or _whole_image_box(width, height)
                    plate = PlateRead(
                        plate_number=parsed.text,
                        confidence=float(answer.confidence),
                        box=box,
                        candidates=(Candidate(parsed.text, float(answer.confidence)),),
                        valid=True,
                        format=parsed.format,
                        region=parsed.region,
                        usage=parsed.usage,
                        usage_label=parsed.usage_label,
                        stage=Stage.STAGE2,
                    )
                    return self._result(
                        Stage.STAGE2,
                        plate,
                        (plate, *plates),
                        width,
                        height,
                        started,
                        timings,
                        stage2_status,
                    )
                stage2_status = "invalid_plate"
        # A valid but unsure stage-1 reading beats no answer; its confidence tells the caller.
        unsure = _best_plate(plates, 0.0)
        if unsure is not None:
            return self._result(
                Stage.STAGE1, unsure, plates, width, height, started, timings, stage2_status
            )
        return self._result(
            Stage.FAILED, None, plates, width, height, started, timings, stage2_status
        )

    def _stage1(
        self, image: npt.NDArray[np.uint8], timings: dict[str, float]
    ) -> tuple[PlateRead, ...]:
        mark = time.perf_counter()
        regions = self.locator.locate(image)
        timings["locate_ms"] = _ms_since(mark)

        mark = time.perf_counter()
        plates = self._read_regions(regions)
        timings["recognize_ms"] = _ms_since(mark)

        if (
            self.settings.craft_second_opinion
            and _best_plate(plates, self.settings.min_confidence) is None
        ):
            # The cheap search found nothing readable: ask the locator's slower second opinion.
            locate_more = getattr(self.locator, "locate_more", None)
            if locate_more is not None:
                mark = time.perf_counter()
                more = locate_more(image)
                timings["locate_more_ms"] = _ms_since(mark)
                mark = time.perf_counter()
                plates = _dedupe((*plates, *self._read_regions(more)))
                timings["recognize_more_ms"] = _ms_since(mark)
        return plates

    def _read_regions(self, regions: list[PlateRegion]) -> tuple[PlateRead, ...]:
        plates: list[PlateRead] = []
        for region in regions[: self.settings.max_regions]:
            raw = self.recognizer.read(region.crop)
            if raw is not None and raw.text:
                plates.append(plate_from_reading(raw, region.box))
        return _dedupe(plates)

    def _result(
        self,
        stage: Stage,
        best: PlateRead | None,
        plates: tuple[PlateRead, ...],
        width: int,
        height: int,
        started: float,
        timings: dict[str, float],
        stage2_status: str = "not_needed",
    ) -> OcrResult:
        ordered = sorted(plates, key=lambda p: (p is not best, not p.valid, -p.confidence))
        elapsed = time.perf_counter() - started
        timings["total_ms"] = round(elapsed * 1000.0, 2)
        if best is not None:
            logger.debug(
                "plate read: %s (%s, %.3f)", best.plate_number, stage.value, best.confidence
            )
        return OcrResult(
            success=best is not None,
            plate_number=best.plate_number if best else None,
            confidence=round(best.confidence, 4) if best else 0.0,
            stage=stage,
            elapsed_sec=round(elapsed, 4),
            plates=tuple(ordered[: self.settings.max_plates]),
            image_width=width,
            image_height=height,
            timings_ms=timings,
            stage2_status=stage2_status,
        )


def plate_from_reading(raw: RawReading, box: Quad) -> PlateRead:
    """Applies the plate grammar to a raw reading: valid candidates first, best score first."""
    scored: dict[str, float] = {}
    for text, score in ((raw.text, raw.confidence), *raw.candidates):
        parsed = grammar.parse(text)
        if parsed.valid and scored.get(parsed.text, -1.0) < score:
            scored[parsed.text] = float(score)
    candidates = tuple(
        Candidate(text, round(score, 4))
        for text, score in sorted(scored.items(), key=lambda kv: -kv[1])[:MAX_CANDIDATES]
    )
    chars = tuple(
        CharConfidence(c, round(float(p), 4))
        for c, p in zip(raw.text, raw.char_confidences, strict=False)
    )
    if candidates:
        best = grammar.parse(candidates[0].plate_number)
        return PlateRead(
            plate_number=best.text,
            confidence=candidates[0].score,
            box=box,
            char_confidences=chars,
            candidates=candidates,
            valid=True,
            format=best.format,
            region=best.region,
            usage=best.usage,
            usage_label=best.usage_label,
        )
    return PlateRead(
        plate_number=grammar.normalize(raw.text),
        confidence=round(float(raw.confidence), 4),
        box=box,
        char_confidences=chars,
        valid=False,
    )


def _best_plate(plates: tuple[PlateRead, ...], min_confidence: float) -> PlateRead | None:
    valid = [p for p in plates if p.valid and p.confidence >= min_confidence]
    return max(valid, key=lambda p: p.confidence) if valid else None


def _dedupe(plates: list[PlateRead] | tuple[PlateRead, ...]) -> tuple[PlateRead, ...]:
    """One entry per plate string (the most confident): overlapping regions repeat no plate."""
    best: dict[str, PlateRead] = {}
    for plate in plates:
        kept = best.get(plate.plate_number)
        if kept is None or plate.confidence > kept.confidence:
            best[plate.plate_number] = plate
    return tuple(sorted(best.values(), key=lambda p: (not p.valid, -p.confidence)))


def _whole_image_box(width: int, height: int) -> Quad:
    w, h = float(width), float(height)
    return ((0.0, 0.0), (w, 0.0), (w, h), (0.0, h))


def _ms_since(mark: float) -> float:
    return round((time.perf_counter() - mark) * 1000.0, 2)
