"""The pipeline's stage logic with fake engines: no models, no network."""

from __future__ import annotations

import pytest

from plate_ocr.config import Settings
from plate_ocr.engines import FallbackAnswer, PlateRegion
from plate_ocr.errors import InvalidImageError
from plate_ocr.pipeline import Bar, Pipeline
from plate_ocr.quality import Quality, QualityIssue
from plate_ocr.results import Stage, Stage2Status
from tests.support.calibration import weakest_char
from tests.support.fakes import BOX, FakeFallback, FakeLocator, FakeRecognizer, reading
from tests.support.frames import distinct_copies

#: The fakes' crops are flat grey, which plate_ocr.quality calls blurred: the low-quality bar is
#: set to the plain one here and has tests of its own (``Bar``).
SETTINGS = Settings(min_confidence=0.6, min_confidence_low_quality=0.6)
#: A plate away from every box a FakeLocator gives, smaller than theirs, its characters 10.5 px
#: high (over plate_ocr.quality.TINY_CHAR_HEIGHT_PX).
BOX_FAR = ((112.0, 2.0), (158.0, 2.0), (158.0, 16.0), (112.0, 16.0))


def make(readings, *, fallback=None, regions=1, finders=None):
    finders = finders or [FakeLocator(regions)]
    pipeline = Pipeline(
        finders,
        FakeRecognizer(readings=readings),
        weakest_char,
        fallback=fallback,
        settings=SETTINGS,
    )
    return pipeline, finders[0]


def test_a_confident_valid_reading_is_a_stage1_success(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.97)])

    result = pipeline.read(png_bytes)

    assert result.success and result.stage is Stage.STAGE1
    assert result.plate_number == "12가3456"
    assert result.stage.label == "1단계 로직"
    assert not result.plates[0].needs_review
    assert result.plates[0].usage == "private"
    assert result.plates[0].format == "7char"
    assert [c.char for c in result.plates[0].char_confidences] == list("12가3456")
    assert set(result.timings_ms) >= {"decode_ms", "locate_ms", "recognize_ms", "total_ms"}


def test_a_grammar_valid_candidate_wins_over_an_invalid_best_raw_reading(png_bytes):
    pipeline, _ = make([reading("12가345", 0.9, ("12가3456", 0.8), ("12가3458", 0.6))])

    result = pipeline.read(png_bytes)

    assert result.plate_number == "12가3456"
    assert [c.plate_number for c in result.plates[0].candidates] == ["12가3456", "12가3458"]


def test_falls_back_to_stage2_when_stage1_reads_nothing_valid(png_bytes):
    fallback = FakeFallback(
        FallbackAnswer(status=Stage2Status.OK, plate_number="서울12바3456", confidence=0.8)
    )
    pipeline, _ = make([reading("ABC", 0.9)], fallback=fallback)

    result = pipeline.read(png_bytes)

    assert fallback.calls == 1
    assert result.stage is Stage.STAGE2 and result.stage.label == "2단계 로직"
    assert result.plate_number == "서울12바3456"
    assert result.plates[0].usage == "commercial"


def test_a_stage2_answer_that_agrees_with_an_unsure_reading_is_listed_once_with_its_box(
    png_bytes,
):
    # GIVEN an unsure stage-1 reading and stage 2 answering the same plate, with no box
    fallback = FakeFallback(
        FallbackAnswer(status=Stage2Status.OK, plate_number="12가3456", confidence=0.9)
    )
    pipeline, _ = make([reading("12가3456", 0.3)], fallback=fallback)

    result = pipeline.read(png_bytes)

    # THEN the plate is listed once, as stage 2's answer, drawn where stage 1 found it
    assert result.stage is Stage.STAGE2 and result.plate_number == "12가3456"
    assert [p.plate_number for p in result.plates] == ["12가3456"]
    assert result.plates[0].box is not None


def test_stage2_is_not_asked_when_stage1_succeeds(png_bytes):
    fallback = FakeFallback(
        FallbackAnswer(status=Stage2Status.OK, plate_number="34나5678", confidence=0.9)
    )
    pipeline, _ = make([reading("12가3456", 0.9)], fallback=fallback)

    pipeline.read(png_bytes)

    assert fallback.calls == 0


def test_an_invalid_stage2_answer_is_rejected_and_the_photo_fails(png_bytes):
    fallback = FakeFallback(
        FallbackAnswer(status=Stage2Status.OK, plate_number="HELLO", confidence=0.9)
    )
    pipeline, _ = make([None], fallback=fallback)

    result = pipeline.read(png_bytes)

    assert not result.success and result.stage is Stage.FAILED
    assert result.stage.label == "모두 실패"
    assert result.plate_number is None and result.confidence is None
    assert result.stage2_status == "invalid_plate"


def test_an_unsure_reading_is_a_failure_listed_for_review_when_stage2_has_no_key(png_bytes):
    fallback = FakeFallback(FallbackAnswer(status=Stage2Status.SKIPPED_NO_KEY))
    pipeline, _ = make([reading("12가3456", 0.3)], fallback=fallback)

    result = pipeline.read(png_bytes)

    assert fallback.calls == 1
    assert not result.success and result.stage is Stage.FAILED
    assert result.plate_number is None and result.confidence is None
    assert [(p.plate_number, p.needs_review) for p in result.plates] == [("12가3456", True)]
    assert result.plates[0].confidence == pytest.approx(0.3)
    assert result.stage2_status == "skipped_no_key"


@pytest.mark.parametrize(
    ("confidence", "success"), [(0.6, True), (0.59, False)], ids=["at-threshold", "just-under"]
)
def test_success_starts_exactly_at_the_threshold(png_bytes, confidence, success):
    pipeline, _ = make([reading("12가3456", confidence)])

    result = pipeline.read(png_bytes, use_fallback=False)

    assert result.success is success
    assert result.plates[0].needs_review is not success


def textured_png() -> bytes:
    """A 160x60 photo with sharp edges: a crop of it is no blurred plate (plate_ocr.quality)."""
    import io

    import numpy as np
    from PIL import Image

    stripes = np.zeros((60, 160, 3), np.uint8)
    stripes[:, ::8] = 255
    stripes[::6, :] = 255
    buf = io.BytesIO()
    Image.fromarray(stripes).save(buf, "PNG")
    return buf.getvalue()


GATED = Settings(min_confidence=0.6, min_confidence_low_quality=0.9)


@pytest.mark.parametrize(
    ("sharp", "confidence", "success"),
    [(False, 0.85, False), (False, 0.9, True), (True, 0.85, True)],
    ids=["low-quality-under-its-bar", "low-quality-at-its-bar", "good-quality-over-the-plain-bar"],
)
def test_a_low_quality_plate_needs_the_higher_bar(png_bytes, sharp, confidence, success):
    # The flat grey crop is blurred, so its plate's quality is low; the striped one is sharp.
    pipeline = Pipeline(
        [FakeLocator(1)],
        FakeRecognizer(readings=[reading("12가3456", confidence)]),
        weakest_char,
        settings=GATED,
    )

    result = pipeline.read(textured_png() if sharp else png_bytes, use_fallback=False)

    assert result.plates[0].quality is (Quality.GOOD if sharp else Quality.LOW)
    assert result.success is success
    assert result.stage is (Stage.STAGE1 if success else Stage.FAILED)
    assert result.plates[0].needs_review is not success
    assert result.plates[0].confidence == pytest.approx(confidence)


def test_a_low_quality_reading_under_its_bar_asks_the_next_finder(png_bytes):
    first, second = FakeLocator(1), FakeLocator(1, box=BOX_FAR)
    pipeline = Pipeline(
        [first, second],
        FakeRecognizer(readings=[reading("12가3456", 0.8), reading("12가3456", 0.95)]),
        weakest_char,
        settings=GATED,
    )

    result = pipeline.read(png_bytes, use_fallback=False)

    assert second.calls == 1
    assert result.success and result.confidence == pytest.approx(0.95)


def test_a_voted_plate_is_held_to_its_best_frames_quality(png_bytes):
    # Three frames, each with one character wrong: voted 0.95 x 2/3 = 0.63, over the plain bar
    # (0.6) and under the low-quality one (0.9) that its flat frames call for.
    readings = [reading("12가3458", 0.95), reading("17가3456", 0.95), reading("12나3456", 0.95)]
    pipeline = Pipeline(
        [FakeLocator(1)], FakeRecognizer(readings=readings), weakest_char, settings=GATED
    )

    result = pipeline.read_frames(distinct_copies(png_bytes, 3), use_fallback=False)

    assert result.plates[0].quality is Quality.LOW
    assert not result.success and result.plates[0].needs_review


def test_a_reading_that_fails_the_grammar_is_never_listed(png_bytes):
    pipeline, _ = make([reading("12가34", 0.99), reading("1234567", 0.99)], regions=2)

    result = pipeline.read(png_bytes, use_fallback=False)

    assert not result.success and result.plates == ()


def test_stage1_only_read_never_calls_the_fallback(png_bytes):
    fallback = FakeFallback(
        FallbackAnswer(status=Stage2Status.OK, plate_number="12가3456", confidence=0.9)
    )
    pipeline, _ = make([None], fallback=fallback)

    result = pipeline.read(png_bytes, use_fallback=False)

    assert fallback.calls == 0 and result.stage is Stage.FAILED
    assert result.stage2_status == "disabled"


def test_asks_the_next_finder_only_while_no_reading_is_sure_enough(png_bytes):
    first, second = FakeLocator(1), FakeLocator(1)
    pipeline, _ = make([reading("???", 0.9), reading("123가4567", 0.95)], finders=[first, second])

    result = pipeline.read(png_bytes)

    assert (first.calls, second.calls) == (1, 1)
    assert result.plate_number == "123가4567"
    assert {"locate_ms", "locate_2_ms", "recognize_2_ms"} <= set(result.timings_ms)


def test_a_sure_reading_from_the_first_finder_spares_the_next(png_bytes):
    first, second = FakeLocator(1), FakeLocator(1)
    pipeline, _ = make([reading("123가4567", 0.95)], finders=[first, second])

    pipeline.read(png_bytes)

    assert second.calls == 0


def test_several_plates_on_the_first_look_ask_the_next_finder_for_farther_cars(png_bytes):
    # Two cars read surely by the first finder: the second is asked for the smaller plates it
    # may have missed; once it has looked, a sure reading spares the third.
    first, second, third = FakeLocator(2), FakeLocator(1, box=BOX_FAR), FakeLocator(1)
    pipeline, _ = make(
        [reading("12가3456", 0.95), reading("34나5678", 0.9), reading("56다7890", 0.9)],
        finders=[first, second, third],
    )

    result = pipeline.read(png_bytes)

    assert (first.calls, second.calls, third.calls) == (1, 1, 0)
    assert result.plate_number == "12가3456"
    assert [p.plate_number for p in result.plates] == ["12가3456", "34나5678", "56다7890"]


def test_the_same_plate_seen_in_two_regions_is_listed_once(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.7), reading("12가3456", 0.9)], regions=2)

    result = pipeline.read(png_bytes)

    assert len(result.plates) == 1 and result.confidence == pytest.approx(0.9)


def test_two_different_plates_are_both_returned_best_first(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.7), reading("34나5678", 0.9)], regions=2)

    result = pipeline.read(png_bytes)

    assert [p.plate_number for p in result.plates] == ["34나5678", "12가3456"]


def test_to_dict_leads_with_the_original_fields_and_values(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.9)])

    data = pipeline.read(png_bytes).to_dict()

    assert list(data)[:6] == [
        "success",
        "plate_number",
        "confidence",
        "stage",
        "elapsed_sec",
        "stage_id",
    ]
    assert data["stage"] == "1단계 로직" and data["stage_id"] == "stage1"
    assert "stage_label" not in data
    plate = data["plates"][0]
    assert plate["box"] == [[10.0, 20.0], [110.0, 20.0], [110.0, 45.0], [10.0, 45.0]]
    assert plate["stage_id"] == "stage1" and plate["needs_review"] is False


def test_a_failure_has_null_plate_number_and_confidence_like_the_original(png_bytes):
    pipeline, _ = make([None])

    data = pipeline.read(png_bytes, use_fallback=False).to_dict()

    assert (data["success"], data["plate_number"], data["confidence"]) == (False, None, None)
    assert (data["stage"], data["stage_id"]) == ("모두 실패", "failed")


def test_bad_bytes_raise_a_typed_error_before_any_engine_runs():
    pipeline, _ = make([reading("12가3456")])

    with pytest.raises(InvalidImageError):
        pipeline.read(b"not an image")

    assert pipeline.recognizer.calls == 0


# --- issue 13: boxes inside the photo, quality -------------------------------------------------


class BoxLocator:
    """One region with the given box, the whole image as its crop."""

    def __init__(self, box) -> None:
        self.box = box

    def locate(self, image):
        from plate_ocr.engines import PlateRegion

        return [PlateRegion(box=self.box, crop=image, score=0.9)]


def test_a_box_reaching_past_the_photo_is_clipped_to_it(png_bytes):
    # GIVEN a finder whose box reaches past every edge of the 160x60 photo
    box = ((-40.0, -30.0), (200.0, -5.0), (210.0, 90.0), (-15.0, 70.0))
    pipeline, _ = make([reading("12가3456", 0.9)], finders=[BoxLocator(box)])

    # WHEN the photo is read
    plate = pipeline.read(png_bytes).plates[0]

    # THEN every corner lies on the photo
    assert plate.box == ((0.0, 0.0), (160.0, 0.0), (160.0, 60.0), (0.0, 60.0))


@pytest.mark.parametrize(
    ("box", "too_small", "char_height"),
    [
        (((10.0, 10.0), (150.0, 10.0), (150.0, 40.0), (10.0, 40.0)), False, 22.5),
        (((10.0, 10.0), (50.0, 10.0), (50.0, 18.0), (10.0, 18.0)), True, 6.0),
    ],
    ids=["large-plate", "small-plate"],
)
def test_each_plate_says_its_quality_and_the_answer_when_the_photo_is_too_small(
    png_bytes, box, too_small, char_height
):
    pipeline, _ = make([reading("12가3456", 0.9)], finders=[BoxLocator(box)])

    result = pipeline.read(png_bytes)

    plate = result.plates[0]
    assert plate.char_height_px == char_height
    assert result.photo_too_small is too_small
    assert (QualityIssue.SMALL_CHARACTERS in plate.quality_issues) is too_small
    # The grey test photo has no strokes at all: blurred past reading.
    assert QualityIssue.BLURRED in plate.quality_issues and plate.quality is Quality.LOW
    data = result.to_dict()
    assert data["plates"][0]["quality"] == "low" and data["photo_too_small"] is too_small


# --- issue 13: one read per vehicle -------------------------------------------------------------


def test_several_photos_of_one_vehicle_answer_one_voted_plate(png_bytes):
    # GIVEN three frames, each read with one character wrong somewhere
    pipeline, _ = make(
        [reading("12가3458", 0.95), reading("17가3456", 0.95), reading("12나3456", 0.95)]
    )

    # WHEN they are read together
    result = pipeline.read_frames(distinct_copies(png_bytes, 3), ["a.jpg", "b.jpg", None])

    # THEN the answer is the plate each character's majority read, and each frame is listed
    assert result.success and result.plate_number == "12가3456"
    assert result.confidence == pytest.approx(0.95 * 2 / 3, abs=1e-3)
    assert [f.result.plates[0].plate_number for f in result.frames] == [
        "12가3458",
        "17가3456",
        "12나3456",
    ]
    assert [f.filename for f in result.frames] == ["a.jpg", "b.jpg", None]
    assert (result.vote.frames, result.vote.voters, result.vote.agreeing) == (3, 3, 0)
    assert result.plates[0].char_confidences[1].confidence == pytest.approx(2 / 3, abs=1e-3)


def test_a_photo_sent_several_times_votes_once(png_bytes):
    # GIVEN one photo whose reading is unsure (0.4), sent three times as a burst (or named three
    # times in a batch manifest)
    alone, _ = make([reading("12가3456", 0.4)])
    single = alone.read(png_bytes, use_fallback=False)
    pipeline, _ = make([reading("12가3456", 0.4)] * 3)

    # WHEN the copies are read together
    result = pipeline.read_frames([png_bytes] * 3, use_fallback=False)

    # THEN they are one ballot: as unsure as the photo alone (three agreeing copies made 0.78,
    # a success), read once, and each copy is still listed as a frame
    assert not result.success and result.plates[0].needs_review
    assert result.plates[0].confidence == pytest.approx(single.plates[0].confidence)
    assert (result.vote.frames, result.vote.voters, result.vote.agreeing) == (3, 1, 1)
    assert len(result.frames) == 3 and pipeline.recognizer.calls == 1


def test_a_voted_plate_below_the_threshold_asks_stage_two_once(png_bytes):
    fallback = FakeFallback(
        FallbackAnswer(status=Stage2Status.OK, plate_number="34나5678", confidence=0.9)
    )
    pipeline, _ = make([reading("12가3456", 0.3), reading("12가3458", 0.2)], fallback=fallback)

    result = pipeline.read_frames(distinct_copies(png_bytes, 2))

    assert fallback.calls == 1
    assert result.stage is Stage.STAGE2 and result.plate_number == "34나5678"
    # the unsure vote stays listed for review
    assert [p.plate_number for p in result.plates] == ["34나5678", "12가3456"]
    assert result.plates[1].needs_review


def test_frames_without_any_plate_fail_like_one_photo_does(png_bytes):
    pipeline, _ = make([None, None])

    result = pipeline.read_frames(distinct_copies(png_bytes, 2), use_fallback=False)

    assert not result.success and result.plate_number is None and result.plates == ()
    assert result.vote.best_frame is None and len(result.frames) == 2
    data = result.to_dict()
    assert [f["index"] for f in data["frames"]] == [0, 1]
    assert "frames" not in data["frames"][0]


def test_a_bad_photo_among_several_is_named_in_the_error(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.9)])

    with pytest.raises(InvalidImageError, match=r"^Photo 2 of 3: "):
        pipeline.read_frames([png_bytes, b"not an image", png_bytes])


class WideLocator:
    """One detected plate with two wider crops of it (as the detector's finders cut)."""

    def locate(self, image):
        import numpy as np

        from plate_ocr.engines import PlateRegion
        from tests.support.fakes import BOX

        crop = np.full((24, 96, 3), 200, np.uint8)
        return [PlateRegion(box=BOX, crop=crop, score=0.9, frames=(crop.copy(), crop.copy()))]


@pytest.mark.parametrize(
    ("wide_reads", "wider_reads", "plate", "confidence", "calls"),
    [
        ("12가3456", None, "12가3456", 0.97, 2),
        ("12가3458", "12가3459", "12가3456", 0.485, 3),
        (None, None, "12가3456", 0.485, 2),
        ("12가3458", "12가3458", "12가3458", 0.45, 3),
        ("12가3458", "12가3456", "12가3456", 0.485, 3),
    ],
    ids=["confirmed", "three-plates", "nothing-wider", "outvoted", "wider-sides-with-first"],
)
def test_wider_frames_confirm_or_outvote_a_reading(
    png_bytes, wide_reads, wider_reads, plate, confidence, calls
):
    readings = [reading("12가3456", 0.97)]
    readings.append(reading(wide_reads, 0.9) if wide_reads else None)
    readings.append(reading(wider_reads, 0.9) if wider_reads else None)
    pipeline, _ = make(readings, finders=[WideLocator()])

    result = pipeline.read(png_bytes)

    # The stand-in calibration halves a reading the first wider frame does not repeat; two wider
    # frames that agree outvote the first crop.
    assert result.plates[0].plate_number == plate
    assert result.plates[0].confidence == pytest.approx(confidence)
    assert result.success is (confidence >= SETTINGS.min_confidence)
    assert pipeline.recognizer.calls == calls


def test_whole_photo_regions_are_read_once(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.97)])

    pipeline.read(png_bytes)

    assert pipeline.recognizer.calls == 1


class TwoLooksLocator:
    """The same plate found twice (two finders' looks), its boxes almost the same."""

    def locate(self, image):
        from plate_ocr.engines import PlateRegion

        shifted = tuple((x + 3.0, y + 1.0) for x, y in BOX)
        return [
            PlateRegion(box=BOX, crop=image, score=0.9),
            PlateRegion(box=shifted, crop=image, score=0.8),
        ]


def test_one_plate_found_twice_and_read_two_ways_is_listed_once(png_bytes):
    pipeline, _ = make(
        [reading("18어9528", 0.98), reading("81어9528", 0.7)], finders=[TwoLooksLocator()]
    )

    result = pipeline.read(png_bytes)

    assert [p.plate_number for p in result.plates] == ["18어9528"]


class ThreePlatesLocator:
    """Three detected plates side by side, each with its wider frames."""

    def locate(self, image):
        import numpy as np

        from plate_ocr.engines import PlateRegion

        crop = np.full((24, 96, 3), 200, np.uint8)
        return [
            PlateRegion(
                box=tuple((x + 150.0 * i, y) for x, y in BOX),
                crop=crop,
                score=0.9,
                frames=(crop, crop),
            )
            for i in range(3)
        ]


def test_only_the_two_surest_readings_of_a_look_are_checked_against_wider_frames(png_bytes):
    readings = [reading("12가3456", 0.8), reading("34나5678", 0.97), reading("56다7890", 0.9)]
    # The two surest (34나5678, then 56다7890) are each confirmed by their first wider frame.
    readings += [reading("34나5678", 0.9), reading("56다7890", 0.9)]
    pipeline, _ = make(readings, finders=[ThreePlatesLocator()])

    result = pipeline.read(png_bytes)

    found = {p.plate_number: p.confidence for p in result.plates}
    # The third is not checked: it counts as unconfirmed (the stand-in calibration halves it).
    assert found == {"34나5678": 0.97, "56다7890": 0.9, "12가3456": pytest.approx(0.4)}
    assert pipeline.recognizer.calls == 5


#: A plate whose characters are 7.5 px high: under plate_ocr.quality.TINY_CHAR_HEIGHT_PX.
BOX_TINY = ((10.0, 20.0), (50.0, 20.0), (50.0, 30.0), (10.0, 30.0))


@pytest.mark.parametrize(
    ("box", "confidence", "success"),
    [(BOX_TINY, 0.95, False), (BOX_TINY, 0.98, True), (BOX_FAR, 0.95, True)],
    ids=["tiny-under-its-bar", "tiny-at-its-bar", "small-but-not-tiny"],
)
def test_a_plate_of_tiny_characters_needs_the_highest_bar(png_bytes, box, confidence, success):
    # GIVEN a pipeline with the default bars (0.7; 0.9 for low quality; 0.98 for tiny characters)
    pipeline = Pipeline(
        [FakeLocator(1, box=box)],
        FakeRecognizer(readings=[reading("12가3456", confidence)]),
        weakest_char,
        settings=Settings(),
    )

    result = pipeline.read(png_bytes, use_fallback=False)

    # THEN a reading at 0.95 of characters under 10 px is listed for review, not answered
    assert result.success is success
    assert result.plates[0].needs_review is not success
    assert result.plates[0].confidence == pytest.approx(confidence)


def test_the_tiny_characters_bar_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("PLATE_OCR_MIN_CONFIDENCE_TINY_CHARACTERS", "0.99")

    bar = Bar.of(Settings())

    assert bar.tiny == 0.99
    assert bar.needs_review(0.985, Quality.GOOD, 9.9)
    assert not bar.needs_review(0.985, Quality.GOOD, 10.0)
    assert not bar.needs_review(0.985, None, None)  # a stage-2 plate: nothing measured
    # Off (0): the other bars still hold.
    assert Bar(0.7, 0.9, 0.0).needs_review(0.85, Quality.LOW, 5.0)
    assert not Bar(0.7, 0.9, 0.0).needs_review(0.9, Quality.LOW, 5.0)


def test_the_low_quality_bar_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("PLATE_OCR_MIN_CONFIDENCE", "0.6")
    monkeypatch.setenv("PLATE_OCR_MIN_CONFIDENCE_LOW_QUALITY", "0.95")

    bar = Bar.of(Settings())

    assert (bar.normal, bar.low_quality) == (0.6, 0.95)
    assert bar.needs_review(0.94, Quality.LOW) and not bar.needs_review(0.94, Quality.GOOD)
    # Off (0): a low-quality plate is held to the plain bar; it is never lower than that.
    assert not Bar(0.6, 0.0).needs_review(0.6, Quality.LOW)
    assert Bar(0.6, 0.0).needs_review(0.59, Quality.LOW)
    assert not Bar(0.6, 0.9).needs_review(0.61, None)  # a stage-2 plate: quality unknown


class TwoCars:
    """A near car's plate (large) and a far car's (small), in that order."""

    NEAR = ((10.0, 30.0), (150.0, 30.0), (150.0, 58.0), (10.0, 58.0))
    FAR = ((120.0, 2.0), (158.0, 2.0), (158.0, 12.0), (120.0, 12.0))

    def locate(self, image):
        return [
            PlateRegion(box=self.NEAR, crop=image, score=0.9),
            PlateRegion(box=self.FAR, crop=image, score=0.9),
        ]


@pytest.mark.parametrize(
    ("near", "far", "answer"),
    [(0.9, 0.99, "12가3456"), (0.5, 0.99, "34나5678"), (0.5, 0.55, None)],
    ids=["both-sure", "near-unsure", "neither-sure"],
)
def test_the_answer_is_the_nearest_cars_sure_plate_not_the_surest(png_bytes, near, far, answer):
    # Two plates read surely: the larger one (the car the camera frames) is the answer, though
    # the far one is read surer. An unsure near plate leaves the far car's sure plate the answer.
    pipeline = Pipeline(
        [TwoCars()],
        FakeRecognizer(readings=[reading("12가3456", near), reading("34나5678", far)]),
        weakest_char,
        settings=SETTINGS,
    )

    result = pipeline.read(png_bytes, use_fallback=False)

    assert result.plate_number == answer and result.success is (answer is not None)
    if answer is not None:
        assert result.plates[0].plate_number == answer
    assert {p.plate_number for p in result.plates} == {"12가3456", "34나5678"}


# --- the tilted look: a last resort -------------------------------------------------------------


def _with_last_resort(readings, first_finds: int):
    first, last = FakeLocator(first_finds), FakeLocator(1, box=BOX_FAR)
    pipeline = Pipeline(
        [first],
        FakeRecognizer(readings=readings),
        weakest_char,
        settings=SETTINGS,
        last_resort=[last],
    )
    return pipeline, last


def test_the_last_resort_is_asked_only_when_no_plate_was_listed(png_bytes):
    # GIVEN a first look that lists an unsure plate
    pipeline, last = _with_last_resort([reading("12가3456", 0.3), reading("34나5678", 0.99)], 1)

    result = pipeline.read(png_bytes, use_fallback=False)

    # THEN the last resort is not asked: the plate is there, to review (a turned copy of the photo
    # would only give more chances of a confident misreading)
    assert last.calls == 0
    assert [p.plate_number for p in result.plates] == ["12가3456"]


def test_a_sure_reading_of_the_last_resort_answers(png_bytes):
    # GIVEN a first look that finds nothing, and a last resort that reads a plate at 0.95
    pipeline, last = _with_last_resort([reading("34나5678", 0.95)], 0)

    result = pipeline.read(png_bytes, use_fallback=False)

    assert last.calls == 1
    assert result.success and result.plate_number == "34나5678"
    assert "locate_last_ms" in result.timings_ms


def test_an_unsure_reading_of_the_last_resort_is_not_even_listed(png_bytes):
    # GIVEN a last-resort reading over the plain bar (0.6 here) but under the last resort's own
    pipeline, _ = _with_last_resort([reading("34나5678", 0.8)], 0)

    result = pipeline.read(png_bytes, use_fallback=False)

    # THEN nothing is listed: on turned copies such readings were as often a watermark as a plate
    assert not result.success and result.plates == ()
