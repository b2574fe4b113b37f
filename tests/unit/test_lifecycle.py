"""The pipeline's lifecycle: load state, preload and cold-start figures, without real models."""

from __future__ import annotations

import pytest

from plate_ocr import lifecycle
from plate_ocr.config import get_settings
from plate_ocr.errors import ModelUnavailableError


@pytest.fixture
def empty_model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PLATE_OCR_MODEL_DIR", str(tmp_path))
    get_settings.cache_clear()
    lifecycle.reset()
    yield tmp_path
    get_settings.cache_clear()
    lifecycle.reset()


def test_status_says_error_before_any_load_when_the_weights_are_missing(empty_model_dir):
    status, detail = lifecycle.model_status()

    assert status == "error" and "korplate.pth" in detail


def test_a_failed_load_is_a_503_error_and_is_not_retried_at_once(empty_model_dir):
    with pytest.raises(ModelUnavailableError):
        lifecycle.get_pipeline()
    with pytest.raises(ModelUnavailableError):
        lifecycle.get_pipeline()

    assert lifecycle.model_status()[0] == "error"


def test_preload_never_raises_and_reports_cold_start_figures(empty_model_dir, monkeypatch):
    monkeypatch.setenv("PLATE_OCR_PRELOAD_MODELS", "true")
    get_settings.cache_clear()

    figures = lifecycle.preload()

    assert figures["status"] == "error"
    assert 0.0 < float(figures["init_s"]) < 3600.0
    assert float(figures["peak_rss_mb"]) > 1.0


def test_preload_leaves_the_models_alone_unless_asked(empty_model_dir):
    figures = lifecycle.preload()

    assert figures["status"] == "error"  # known missing, yet no load was attempted
    assert lifecycle._failed_at is None


class _StubFinder:
    def __init__(self):
        self.shapes = []

    def locate(self, image):
        self.shapes.append(image.shape)
        return []


class _StubRecognizer:
    def read(self, crop):
        return None


class _Pool:
    def __init__(self):
        self.prestarted = 0

    def prestart(self):
        self.prestarted += 1


def test_warm_up_runs_every_finder_and_starts_a_decoder(monkeypatch):
    from plate_ocr.imaging import pool as pool_module
    from plate_ocr.pipeline import Pipeline

    finder, pool = _StubFinder(), _Pool()
    pipeline = Pipeline([finder], _StubRecognizer(), lambda chars, score, differs: 0.0)
    monkeypatch.setattr(lifecycle, "get_pipeline", lambda: pipeline)
    monkeypatch.setattr(pool_module, "get_pool", lambda: pool)

    assert lifecycle.warm_up() >= 0.0

    assert finder.shapes == [(900, 1200, 3), (1200, 900, 3)]
    assert pool.prestarted == 1
