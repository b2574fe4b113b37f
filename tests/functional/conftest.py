"""Fixtures of the handler tests: engine fakes, moto, the handlers with test settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from functional_support import BOX, BUCKET, EVENTS, FUNCTIONS_DIR, REGION
from moto import mock_aws

from plate_ocr import lifecycle, storage
from plate_ocr.config import Settings
from plate_ocr.localserver import LambdaContext, make_server
from plate_ocr.pipeline import Pipeline
from plate_ocr.storage import S3Store
from tests.support.calibration import weakest_char
from tests.support.fakes import FakeFallback, FakeLocator, FakeRecognizer


@pytest.fixture
def photo() -> bytes:
    return (EVENTS / "plate.jpg").read_bytes()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(bucket_name=BUCKET, model_dir=tmp_path / "no-models", timeout_seconds=10)


@pytest.fixture
def recognizer() -> FakeRecognizer:
    return FakeRecognizer()


@pytest.fixture
def fallback() -> FakeFallback:
    return FakeFallback()


@pytest.fixture
def pipeline(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    recognizer: FakeRecognizer,
    fallback: FakeFallback,
) -> Pipeline:
    """The real pipeline on fake engines, installed as the process-wide one."""
    fake = Pipeline(
        [FakeLocator(box=BOX)], recognizer, weakest_char, fallback=fallback, settings=settings
    )
    monkeypatch.setattr(lifecycle, "get_pipeline", lambda: fake)
    return fake


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Any:
    import api.app as module
    import api.docs

    monkeypatch.setattr(module, "settings", settings)
    api.docs.openapi_document.cache_clear()
    api.docs.swagger_page.cache_clear()
    return module


@pytest.fixture
def batch_app(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Any:
    import batch.app as module

    monkeypatch.setattr(module, "settings", settings)
    return module


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Any]:
    """moto S3 with the stack's bucket; the handlers' store points at it."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        monkeypatch.setattr(storage, "get_store", lambda: S3Store(s3, settings))
        yield s3


@pytest.fixture
def invoke() -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    """Calls a handler module's lambda_handler as Lambda would."""

    def _invoke(module: Any, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = module.lambda_handler(event, LambdaContext())
        return response

    return _invoke


@pytest.fixture
def server(api: Any, pipeline: Any) -> Iterator[str]:
    """``plate-ocr serve`` on a free loopback port, over the fake pipeline; its base URL."""
    httpd = make_server("127.0.0.1", 0, "api.app.lambda_handler", FUNCTIONS_DIR)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    host, port = httpd.server_address[:2]
    yield f"http://{host!s}:{port}"
    httpd.shutdown()
    httpd.server_close()
