"""Fixtures of the hardening tests: the real API handler behind the real local server, fake engines.

The reading part is faked (the model may be absent, and the suite must be fast); everything between
the socket and the engines -- http.server, the event built from the request, Powertools' resolver,
upload parsing, image decoding and its limits -- is the production code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hardening_support import BOX, EVENTS, Served, serving

from plate_ocr import lifecycle
from plate_ocr.config import Settings
from plate_ocr.pipeline import Pipeline
from tests.support.calibration import weakest_char
from tests.support.fakes import FakeFallback, FakeLocator, FakeRecognizer


@pytest.fixture
def photo() -> bytes:
    return (EVENTS / "plate.jpg").read_bytes()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(bucket_name=None, model_dir=tmp_path / "no-models", timeout_seconds=10)


@pytest.fixture
def recognizer() -> FakeRecognizer:
    return FakeRecognizer()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Any:
    import api.app as module
    import api.docs

    monkeypatch.setattr(module, "settings", settings)
    api.docs.openapi_document.cache_clear()
    api.docs.swagger_page.cache_clear()
    return module


@pytest.fixture
def pipeline(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, recognizer: FakeRecognizer
) -> Pipeline:
    """The real pipeline (decoding, limits, grammar) on fake engines, as the process-wide one."""
    fake = Pipeline(
        [FakeLocator(box=BOX)], recognizer, weakest_char, fallback=FakeFallback(), settings=settings
    )
    monkeypatch.setattr(lifecycle, "get_pipeline", lambda: fake)
    return fake


@pytest.fixture
def server(api: Any, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """The local server in front of the API handler, reading with fake engines."""
    with serving(monkeypatch) as served:
        yield served


@pytest.fixture
def bare_server(api: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """The local server with the production lifecycle (tests choose what it builds)."""
    lifecycle.reset()
    with serving(monkeypatch) as served:
        yield served
    lifecycle.reset()
