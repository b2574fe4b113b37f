"""The pipeline's stage logic with fake engines: no models, no network."""

from __future__ import annotations

import pytest
from fakes import FakeFallback, FakeLocator, FakeRecognizer, reading

from plate_ocr.config import Settings
from plate_ocr.engines import FallbackAnswer
from plate_ocr.errors import InvalidImageError
from plate_ocr.pipeline import Pipeline
from plate_ocr.results import Stage

SETTINGS = Settings(min_confidence=0.5)


def make(readings, *, fallback=None, regions=1, more=0):
    locator = FakeLocator(regions, more)
    return Pipeline(
        locator, FakeRecognizer(readings), fallback=fallback, settings=SETTINGS
    ), locator


def test_a_confident_valid_reading_is_a_stage1_success(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.97)])

    result = pipeline.read(png_bytes)

    assert result.success and result.stage is Stage.STAGE1
    assert result.plate_number == "12가3456"
    assert result.stage_label == "1단계 로직"
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
        FallbackAnswer(status="ok", plate_number="서울12바3456", confidence=0.8)
    )
    pipeline, _ = make([reading("ABC", 0.9)], fallback=fallback)

    result = pipeline.read(png_bytes)

    assert fallback.calls == 1
    assert result.stage is Stage.STAGE2 and result.stage_label == "2단계 로직"
    assert result.plate_number == "서울12바3456"
    assert result.plates[0].usage == "commercial"


def test_stage2_is_not_asked_when_stage1_succeeds(png_bytes):
    fallback = FakeFallback(FallbackAnswer(status="ok", plate_number="34나5678", confidence=0.9))
    pipeline, _ = make([reading("12가3456", 0.9)], fallback=fallback)

    pipeline.read(png_bytes)

    assert fallback.calls == 0


def test_an_invalid_stage2_answer_is_rejected_and_the_photo_fails(png_bytes):
    fallback = FakeFallback(FallbackAnswer(status="ok", plate_number="HELLO", confidence=0.9))
    pipeline, _ = make([None], fallback=fallback)

    result = pipeline.read(png_bytes)

    assert not result.success and result.stage is Stage.FAILED
    assert result.stage_label == "모두 실패"
    assert result.plate_number is None
    assert result.stage2_status == "invalid_plate"


def test_an_unsure_valid_reading_is_kept_when_stage2_has_no_key(png_bytes):
    fallback = FakeFallback(FallbackAnswer(status="skipped_no_key"))
    pipeline, _ = make([reading("12가3456", 0.3)], fallback=fallback)

    result = pipeline.read(png_bytes)

    assert fallback.calls == 1
    assert result.success and result.stage is Stage.STAGE1
    assert result.confidence == pytest.approx(0.3)
    assert result.stage2_status == "skipped_no_key"


def test_stage1_only_read_never_calls_the_fallback(png_bytes):
    fallback = FakeFallback(FallbackAnswer(status="ok", plate_number="12가3456", confidence=0.9))
    pipeline, _ = make([None], fallback=fallback)

    result = pipeline.read(png_bytes, use_fallback=False)

    assert fallback.calls == 0 and result.stage is Stage.FAILED
    assert result.stage2_status == "disabled"


def test_asks_the_locators_second_opinion_only_when_the_cheap_path_reads_nothing(png_bytes):
    pipeline, locator = make([reading("???", 0.9), reading("123가4567", 0.95)], more=1)

    result = pipeline.read(png_bytes)

    assert locator.more_calls == 1
    assert result.plate_number == "123가4567"
    assert "locate_more_ms" in result.timings_ms


def test_the_same_plate_seen_in_two_regions_is_listed_once(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.7), reading("12가3456", 0.9)], regions=2)

    result = pipeline.read(png_bytes)

    assert len(result.plates) == 1 and result.confidence == pytest.approx(0.9)


def test_two_different_plates_are_both_returned_best_first(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.7), reading("34나5678", 0.9)], regions=2)

    result = pipeline.read(png_bytes)

    assert [p.plate_number for p in result.plates] == ["34나5678", "12가3456"]


def test_to_dict_has_the_original_api_fields_and_the_richer_ones(png_bytes):
    pipeline, _ = make([reading("12가3456", 0.9)])

    data = pipeline.read(png_bytes).to_dict()

    assert {"success", "plate_number", "confidence", "stage", "elapsed_sec"} <= set(data)
    assert data["stage"] == "stage1" and data["stage_label"] == "1단계 로직"
    assert data["plates"][0]["box"] == [[10.0, 20.0], [110.0, 20.0], [110.0, 45.0], [10.0, 45.0]]


def test_bad_bytes_raise_a_typed_error_before_any_engine_runs():
    pipeline, _ = make([reading("12가3456")])

    with pytest.raises(InvalidImageError):
        pipeline.read(b"not an image")

    assert pipeline.recognizer.calls == 0


def test_the_second_opinion_can_be_switched_off(png_bytes):
    locator = FakeLocator(1, more=1)
    settings = Settings(craft_second_opinion=False)
    pipeline = Pipeline(locator, FakeRecognizer([None, reading("12가3456")]), settings=settings)

    result = pipeline.read(png_bytes)

    assert locator.more_calls == 0 and result.stage is Stage.FAILED
