"""The reading pipeline: bytes -> decode -> locate -> read -> validate -> fall back -> result."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from plate_ocr import grammar, quality
from plate_ocr.config import Settings, get_settings
from plate_ocr.engines import (
    FallbackReader,
    Image,
    Locator,
    PlateRegion,
    RawReading,
    Recognizer,
)
from plate_ocr.errors import PlateOcrError
from plate_ocr.imaging import decode_image
from plate_ocr.plate_class import PlateClass, classify
from plate_ocr.quality import Quality
from plate_ocr.results import (
    Candidate,
    CharConfidence,
    FrameReading,
    OcrResult,
    PlateRead,
    Quad,
    Stage,
    Stage2Status,
    VoteSummary,
)
from plate_ocr.vote import Ballot, Vote, vote

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

logger = logging.getLogger(__name__)

MAX_CANDIDATES = 5

#: Maps a reading's character probabilities, its region's score and whether a wider frame read
#: another plate to the probability that the reading is right
#: (:class:`plate_ocr.confidence.Calibration`).
Calibrator = Callable[[Sequence[float], float, bool], float]


@dataclass(frozen=True)
class Bar:
    """The calibrated confidence a stage-1 reading needs to be an answer: ``normal``
    (``PLATE_OCR_MIN_CONFIDENCE``), at least ``low_quality``
    (``PLATE_OCR_MIN_CONFIDENCE_LOW_QUALITY``) for a plate whose quality is low
    (:mod:`plate_ocr.quality`: characters under 12 px, or blurred), and at least ``tiny``
    (``PLATE_OCR_MIN_CONFIDENCE_TINY_CHARACTERS``) for one whose characters are under
    :data:`plate_ocr.quality.TINY_CHAR_HEIGHT_PX`: the calibration rates such readings too high
    (README, "A reading you can trust")."""

    normal: float
    low_quality: float = 0.0
    tiny: float = 0.0

    @classmethod
    def of(cls, settings: Settings) -> Bar:
        return cls(
            settings.min_confidence,
            settings.min_confidence_low_quality,
            settings.min_confidence_tiny_characters,
        )

    def needs_review(
        self, confidence: float, plate_quality: Quality | None, char_height_px: float | None = None
    ) -> bool:
        """Whether a reading given ``confidence`` of a plate of ``plate_quality``, whose
        characters are ``char_height_px`` high in the photo, is unsure."""
        bar = self.normal
        if plate_quality is Quality.LOW:
            bar = max(bar, self.low_quality)
        if char_height_px is not None and char_height_px < quality.TINY_CHAR_HEIGHT_PX:
            bar = max(bar, self.tiny)
        return confidence < bar


#: A reading of a last-resort look (``Pipeline(last_resort=...)``: the tilted look) counts only
#: from this confidence, and is not listed below it. On the dev scenes turned 35 and 40 degrees
#: (148 photos; a prototype of the look) its readings counted from 0.7 gave one wrong answer more
#: than from 0.9 (4 against 3, as many as without the look) for one right answer more; below 0.7
#: they were as often things turned to look like plates (a photo watermark) as plates to review.
LAST_RESORT_MIN_CONFIDENCE = 0.9


class Pipeline:
    """Stage 1 (finders + recogniser + grammar), then stage 2 (fallback) only when stage 1 fails.

    Engines are passed in, all of them: tests use fakes, production
    :func:`plate_ocr.lifecycle.get_pipeline`. ``finders`` are asked in order, each only while no
    reading has reached the success threshold, or when the first listed several plates
    (:data:`SEVERAL_CARS`). ``last_resort`` finders are asked only when ``finders`` listed no
    plate at all, and only their sure readings count (:data:`LAST_RESORT_MIN_CONFIDENCE`).
    """

    def __init__(
        self,
        finders: Sequence[Locator],
        recognizer: Recognizer,
        calibrator: Calibrator,
        fallback: FallbackReader | None = None,
        settings: Settings | None = None,
        last_resort: Sequence[Locator] = (),
    ) -> None:
        if not finders:
            raise ValueError("a pipeline needs at least one finder")
        self.finders = tuple(finders)
        self.last_resort = tuple(last_resort)
        self.recognizer = recognizer
        self.calibrator = calibrator
        self.fallback = fallback
        self.settings = settings or get_settings()

    @property
    def every_finder(self) -> tuple[Locator, ...]:
        """The finders and the last-resort ones: what blurs plates (``/anonymize``), where a
        region too many costs nothing and a plate missed is personal data let out."""
        return (*self.finders, *self.last_resort)

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
        best = answer(plates)
        if best is not None:
            return self._result(Stage.STAGE1, best, plates, width, height, started, timings)

        stage2_status = Stage2Status.DISABLED
        if use_fallback and self.fallback is not None:
            plate, stage2_status = self._stage2(image, timings)
            if plate is not None:
                plate, listed = _beside_stage1(plate, plates)
                return self._result(
                    Stage.STAGE2,
                    plate,
                    (plate, *listed),
                    width,
                    height,
                    started,
                    timings,
                    stage2_status,
                )
        # No plate anyone can stand behind: unsure readings stay listed for a person to review.
        return self._result(
            Stage.FAILED, None, plates, width, height, started, timings, stage2_status
        )

    def read_frames(
        self,
        photos: Sequence[bytes],
        names: Sequence[str | None] = (),
        *,
        use_fallback: bool = True,
    ) -> OcrResult:
        """Reads several photos of the same vehicle and answers one plate, voted per character.

        Each photo is read alone (stage 1) and its best reading is a ballot
        (:func:`plate_ocr.vote.vote`). A voted plate at or above the success threshold is the
        answer; otherwise stage 2 is asked about the photo of the best reading (the first photo
        when none read a plate). ``frames`` lists each photo's own reading.

        Raises:
            InvalidImageError, ImageTooLargeError, ...: as :meth:`read`, naming the photo.
        """
        started = time.perf_counter()
        frames: list[FrameReading] = []
        ballots = []
        # A photo sent twice is one photo: read once, and one ballot (two identical ballots would
        # count as two independent agreeing frames and inflate the vote's confidence).
        seen: dict[bytes, OcrResult] = {}
        for i, photo in enumerate(photos):
            digest = hashlib.sha256(photo).digest()
            repeated = digest in seen
            try:
                result = seen[digest] if repeated else self.read(photo, use_fallback=False)
            except PlateOcrError as exc:
                raise exc.about_photo(i, len(photos)) from exc
            seen[digest] = result
            frame = FrameReading(i, names[i] if i < len(names) else None, result)
            frames.append(frame)
            if result.plates and not repeated:
                ballots.append(_ballot(frame))
        voted = vote(ballots)
        plate = self._voted_plate(voted, frames) if voted is not None else None
        chosen = voted.best_frame if voted is not None else 0
        width, height = frames[chosen].result.image_width, frames[chosen].result.image_height
        timings = {"frames_ms": round(sum(f.result.timings_ms["total_ms"] for f in frames), 2)}
        listed: tuple[PlateRead, ...] = (plate,) if plate is not None else ()
        stage2_status = Stage2Status.DISABLED
        if plate is not None and not plate.needs_review:
            result = self._result(Stage.STAGE1, plate, listed, width, height, started, timings)
        elif use_fallback and self.fallback is not None:
            image = decode_image(
                photos[chosen],
                max_bytes=self.settings.max_image_bytes,
                max_pixels=self.settings.max_image_pixels,
            )
            answer, stage2_status = self._stage2(image, timings)
            stage = Stage.STAGE2 if answer is not None else Stage.FAILED
            if answer is not None:
                answer, listed = _beside_stage1(answer, listed)
            plates = (answer, *listed) if answer is not None else listed
            result = self._result(
                stage, answer, plates, width, height, started, timings, stage2_status
            )
        else:
            result = self._result(
                Stage.FAILED, None, listed, width, height, started, timings, stage2_status
            )
        summary = VoteSummary(
            frames=len(frames),
            voters=voted.voters if voted else 0,
            agreeing=voted.agreeing if voted else 0,
            support=voted.support if voted else (),
            best_frame=voted.best_frame if voted else None,
        )
        return replace(result, frames=tuple(frames), vote=summary)

    def _voted_plate(self, voted: Vote, frames: Sequence[FrameReading]) -> PlateRead:
        """The voted plate, with the box, class and quality of its best frame's reading."""
        source = frames[voted.best_frame].result.plates[0]
        parsed = grammar.parse(voted.plate_number)
        others: dict[str, float] = {}
        for frame in frames:
            for read in frame.result.plates[:1]:
                if read.plate_number != parsed.text:
                    others[read.plate_number] = max(
                        others.get(read.plate_number, 0.0), read.confidence
                    )
        ranked = sorted(others.items(), key=lambda kv: -kv[1])[: MAX_CANDIDATES - 1]
        return replace(
            source,
            plate_number=parsed.text,
            confidence=voted.confidence,
            char_confidences=tuple(
                CharConfidence(c, s) for c, s in zip(parsed.text, voted.support, strict=False)
            ),
            candidates=(
                Candidate(parsed.text, voted.confidence),
                *(Candidate(text, round(score, 4)) for text, score in ranked),
            ),
            **_grammar_fields(parsed),
            needs_review=Bar.of(self.settings).needs_review(
                voted.confidence, source.quality, source.char_height_px
            ),
        )

    def _stage2(
        self, image: npt.NDArray[np.uint8], timings: dict[str, float]
    ) -> tuple[PlateRead | None, Stage2Status]:
        """Stage 2's plate for a photo (None unless a valid one), and its status."""
        if self.fallback is None:
            return None, Stage2Status.DISABLED
        mark = time.perf_counter()
        answer = self.fallback.read(image)
        timings["stage2_ms"] = _ms_since(mark)
        if answer.status != Stage2Status.OK or not answer.plate_number:
            return None, answer.status
        parsed = grammar.parse(answer.plate_number)
        if not parsed.valid:
            return None, Stage2Status.INVALID_PLATE
        cls = classify(None, parsed)
        plate = PlateRead(
            plate_number=parsed.text,
            confidence=float(answer.confidence),
            box=answer.box,
            candidates=(Candidate(parsed.text, float(answer.confidence)),),
            **_grammar_fields(parsed),
            stage=Stage.STAGE2,
            plate_class=cls,
            **_quality(answer.box, None, cls, parsed.format),
        )
        return plate, answer.status

    def _stage1(
        self, image: npt.NDArray[np.uint8], timings: dict[str, float]
    ) -> tuple[PlateRead, ...]:
        plates: tuple[PlateRead, ...] = ()
        for i, finder in enumerate(self.finders):
            plates = _dedupe(
                (*plates, *self._look(finder, image, timings, "" if i == 0 else f"_{i + 1}"))
            )
            sure = answer(plates) is not None
            # Several plates on the first look: a photo of several cars, whose farther ones'
            # plates the first look's canvas makes too small to find. The next finder (the close
            # look) is asked for them too, sure reading or not.
            if sure and (i > 0 or len(plates) < SEVERAL_CARS):
                break
        bar = max(LAST_RESORT_MIN_CONFIDENCE, self.settings.min_confidence)
        for i, finder in enumerate(self.last_resort if not plates else ()):
            found = self._look(finder, image, timings, f"_last{i + 1 if i else ''}")
            plates = _dedupe((*plates, *(plate for plate in found if plate.confidence >= bar)))
            if answer(plates) is not None:
                break
        return plates

    def _look(
        self, finder: Locator, image: npt.NDArray[np.uint8], timings: dict[str, float], suffix: str
    ) -> tuple[PlateRead, ...]:
        """One finder's regions, read; its times go into ``timings`` as ``locate<suffix>_ms``
        and ``recognize<suffix>_ms``."""
        mark = time.perf_counter()
        regions = finder.locate(image)
        timings[f"locate{suffix}_ms"] = _ms_since(mark)
        mark = time.perf_counter()
        read = self._read_regions(regions)
        timings[f"recognize{suffix}_ms"] = _ms_since(mark)
        return read

    def _read_regions(self, regions: list[PlateRegion]) -> tuple[PlateRead, ...]:
        listed = self.settings.min_listed_confidence
        bar = Bar.of(self.settings)
        read: list[tuple[PlateRead, RawReading, PlateRegion]] = []
        for region in regions[: self.settings.max_regions]:
            raw = self.recognizer.read(region.crop)
            if raw is None or not raw.text:
                continue
            plate = plate_from_reading(raw, region, self.calibrator, bar)
            if plate is not None and plate.confidence >= listed:
                read.append((plate, raw, region))
        # The surest readings are checked against wider frames (two or three more passes each);
        # a busy photo has many unsure regions that are never the answer. The rest count as not
        # confirmed by a second frame, as a reading a frame contradicted does.
        read.sort(key=lambda r: -r[0].confidence)
        plates: list[PlateRead] = []
        for rank, (plate, raw, region) in enumerate(read):
            checked: PlateRead | None = plate
            if rank < REFRAMED_PER_LOOK:
                checked = reframe(plate, raw, region, self.recognizer, self.calibrator, bar)
            elif region.frames:
                checked = unconfirmed(plate, raw, region, self.calibrator, bar)
            if checked is not None and checked.confidence >= listed:
                plates.append(checked)
        return tuple(plates)

    def _result(
        self,
        stage: Stage,
        best: PlateRead | None,
        plates: tuple[PlateRead, ...],
        width: int,
        height: int,
        started: float,
        timings: dict[str, float],
        stage2_status: Stage2Status = Stage2Status.NOT_NEEDED,
    ) -> OcrResult:
        ordered = [
            p.clipped(width, height)
            for p in sorted(plates, key=lambda p: (p is not best, -p.confidence))
        ]
        elapsed = time.perf_counter() - started
        timings["total_ms"] = round(elapsed * 1000.0, 2)
        if best is not None:
            logger.debug(
                "plate read: %s (%s, %.3f)", best.plate_number, stage.value, best.confidence
            )
        return OcrResult(
            success=best is not None,
            plate_number=best.plate_number if best else None,
            confidence=round(best.confidence, 4) if best else None,
            stage=stage,
            elapsed_sec=round(elapsed, 4),
            plates=tuple(ordered[: self.settings.max_plates]),
            image_width=width,
            image_height=height,
            timings_ms=timings,
            stage2_status=stage2_status,
            photo_too_small=quality.photo_too_small(width, height)
            or bool(ordered and quality.QualityIssue.SMALL_CHARACTERS in ordered[0].quality_issues),
        )


#: How many of a finder's readings (the surest) are checked against wider frames per photo.
REFRAMED_PER_LOOK = 2

#: When the first finder lists this many plates (sure or not), the photo shows several cars and
#: the next finder is asked too, even after a sure reading (``Pipeline._stage1``). On 20 mosaics
#: of four dev scenes (2026-12-01) the pipeline listed 54 of their 80 plates as sure, and 3 sure
#: misreads of small plates beside them; with this rule 76 and none, in 186 ms instead of 41 (the
#: close look on a 1600x1200 photo). The dev scenes alone read as before, in the same time: their
#: first look seldom lists two plates.
SEVERAL_CARS = 2


def _beside_stage1(
    answer: PlateRead, listed: Sequence[PlateRead]
) -> tuple[PlateRead, tuple[PlateRead, ...]]:
    """Stage 2's answer and stage 1's unsure readings to list after it: a reading of the same
    plate is not listed twice, and lends the answer its box when stage 2 gave none."""
    same = [p for p in listed if p.plate_number == answer.plate_number]
    if same and answer.box is None and same[0].box is not None:
        answer = replace(answer, box=same[0].box)
    return answer, tuple(p for p in listed if p.plate_number != answer.plate_number)


def answer(plates: Sequence[PlateRead]) -> PlateRead | None:
    """The plate a photo answers: of its sure readings (not ``needs_review``), the largest plate in
    the photo, the nearest car's; None when no reading is sure.

    The surest reading is not always the nearest car's: two plates read at 0.99 and more are
    equally sure, and an operator's camera frames the car it is for. With a second dev scene
    shrunk into a corner of each dev scene (37 photos, 2026-12-01), the surest reading answered the
    corner car 11 times; the largest sure plate 4 times (in two of them the corner photo, a
    close-up, has the larger plate; in two the near plate is not read surely). Equal sizes go to
    the surer reading.
    """
    sure = [p for p in plates if not p.needs_review]
    return max(sure, key=lambda p: (_plate_area(p), p.confidence), default=None)


def _plate_area(plate: PlateRead) -> float:
    if plate.box is None:
        return 0.0
    width, height = quality.plate_size(plate.box)
    return width * height


def reframe(
    plate: PlateRead,
    raw: RawReading,
    region: PlateRegion,
    recognizer: Recognizer,
    calibrator: Calibrator,
    bar: Bar,
) -> PlateRead | None:
    """Checks a reading against the region's wider frames (:attr:`PlateRegion.frames`).

    The first wider frame reading the same plate confirms it. Otherwise the reading is less sure
    (the calibration's ``reframed_differs``), and when the next frame reads what the first wider
    one read, those two outvote the first crop: a crop whose edge cut a character, or took in the
    edge of an emblem strip, is the odd one out. Regions without frames (a photo read whole) are
    returned as they are.
    """
    if not region.frames:
        return plate
    again = recognizer.read(region.frames[0])
    wide = best_valid(again)
    if wide == plate.plate_number:
        return plate
    if (
        again is not None
        and wide is not None
        and len(region.frames) > 1
        and best_valid(recognizer.read(region.frames[1])) == wide
    ):
        return plate_from_reading(again, region, calibrator, bar, reframed_differs=True)
    return unconfirmed(plate, raw, region, calibrator, bar)


def best_valid(raw: RawReading | None) -> str | None:
    """The plate a raw reading stands for: its best grammar-valid candidate, or None."""
    if raw is None:
        return None
    for text, _ in ((raw.text, raw.confidence), *raw.candidates):
        parsed = grammar.parse(text)
        if parsed.valid:
            return parsed.text
    return None


def plate_from_reading(
    raw: RawReading,
    region: PlateRegion,
    calibrator: Calibrator,
    bar: Bar,
    reframed_differs: bool = False,
) -> PlateRead | None:
    """Applies the plate grammar to a raw reading; None when no reading of it is a valid plate.

    Valid candidates come best score first; the plate's confidence is the calibrated probability
    that the best of them is right (``reframed_differs``: a wider frame of the region read
    another plate, or none).
    """
    judged = _judge(raw)
    if judged is None:
        return None
    ranked, best, evidence = judged
    confidence = round(calibrator(evidence, region.score, reframed_differs), 4)
    cls = classify(region.crop, best)
    measured = _quality(region.box, region.crop, cls, best.format)
    return PlateRead(
        plate_number=best.text,
        confidence=confidence,
        box=region.box,
        char_confidences=tuple(
            CharConfidence(c, round(float(p), 4))
            for c, p in zip(raw.text, raw.char_confidences, strict=False)
        ),
        candidates=tuple(Candidate(text, round(score, 4)) for text, score in ranked),
        **_grammar_fields(best),
        needs_review=bar.needs_review(confidence, measured["quality"], measured["char_height_px"]),
        detection_score=round(region.score, 4),
        plate_class=cls,
        **measured,
    )


def unconfirmed(
    plate: PlateRead,
    raw: RawReading,
    region: PlateRegion,
    calibrator: Calibrator,
    bar: Bar,
) -> PlateRead:
    """``plate`` (:func:`plate_from_reading` of ``raw`` and ``region``) counted as not confirmed
    by a wider frame: only its confidence changes, so its class and quality are not measured
    again."""
    judged = _judge(raw)
    if judged is None:  # not for a plate read from raw; kept as it is
        return plate
    confidence = round(calibrator(judged[2], region.score, True), 4)
    return replace(
        plate,
        confidence=confidence,
        needs_review=bar.needs_review(confidence, plate.quality, plate.char_height_px),
    )


def _judge(
    raw: RawReading,
) -> tuple[list[tuple[str, float]], grammar.PlateParse, Sequence[float]] | None:
    """A raw reading's grammar-valid candidates (best score first), the best one parsed, and the
    evidence for the calibration; None when no candidate is a valid plate."""
    scored: dict[str, float] = {}
    for text, score in ((raw.text, raw.confidence), *raw.candidates):
        parsed = grammar.parse(text)
        if parsed.valid and scored.get(parsed.text, -1.0) < score:
            scored[parsed.text] = float(score)
    if not scored:
        return None
    ranked = sorted(scored.items(), key=lambda kv: -kv[1])[:MAX_CANDIDATES]
    best = grammar.parse(ranked[0][0])
    if best.text == grammar.parse(raw.text).text:
        evidence: Sequence[float] = raw.char_confidences
    else:
        # A candidate other than the recogniser's own reading: only its score is known.
        evidence = [ranked[0][1]] * len(best.text)
    return ranked, best, evidence


def _grammar_fields(parsed: grammar.PlateParse) -> dict[str, Any]:
    """What the plate grammar says about a :class:`PlateRead`'s plate: format, region, usage."""
    return {
        "format": parsed.format,
        "region": parsed.region,
        "usage": parsed.usage,
        "usage_label": parsed.usage_label,
    }


def _quality(
    box: Quad | None, crop: Image | None, cls: PlateClass, plate_format: str | None
) -> dict[str, Any]:
    """The quality fields of a :class:`PlateRead` (plate_ocr.quality)."""
    measured = quality.assess(box, crop, cls.value, plate_format)
    return {
        "quality": measured.quality,
        "quality_issues": measured.issues,
        "char_height_px": measured.char_height_px,
        "sharpness": measured.sharpness,
    }


#: A plate whose box lies this much inside a surer plate's is another reading of that plate.
SAME_PLACE = 0.5


def _dedupe(plates: tuple[PlateRead, ...]) -> tuple[PlateRead, ...]:
    """One entry per plate, best first: the most confident reading of each plate string and of
    each place. Two finders (or two overlapping detections) can find one plate and read it two
    ways; plates of cars do not overlap, so the less sure reading of a place is dropped."""
    from plate_ocr.locate.geometry import quad_overlap

    kept: list[PlateRead] = []
    for plate in sorted(plates, key=lambda p: -p.confidence):
        if any(k.plate_number == plate.plate_number for k in kept):
            continue
        box = plate.box
        if box is not None and any(
            k.box is not None and quad_overlap(box, k.box) >= SAME_PLACE for k in kept
        ):
            continue
        kept.append(plate)
    return tuple(kept)


def _ms_since(mark: float) -> float:
    return round((time.perf_counter() - mark) * 1000.0, 2)


def _ballot(frame: FrameReading) -> Ballot:
    """A frame's best reading as a vote; its character probabilities where they are its own."""
    read = frame.result.plates[0]
    chars = "".join(c.char for c in read.char_confidences)
    return Ballot(
        frame=frame.index,
        plate_number=read.plate_number,
        confidence=read.confidence,
        format=read.format,
        char_confidences=(
            tuple(c.confidence for c in read.char_confidences) if chars == read.plate_number else ()
        ),
    )
