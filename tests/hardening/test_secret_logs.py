"""No secret in any log at any level (issue 12): with the root logger at DEBUG, a stage-2 read whose
key comes from Secrets Manager (moto) leaves no trace of the key in any record or output.

botocore logs the whole GetSecretValue answer at DEBUG; plate_ocr.logsafe holds it (and urllib3,
httpx, google-genai) at INFO wherever their clients are built.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import boto3
import pytest
from hardening_support import BOX, http
from moto import mock_aws

from plate_ocr import gemini as gemini_module
from plate_ocr import lifecycle, logsafe
from plate_ocr.gemini import build_fallback
from plate_ocr.pipeline import Pipeline
from tests.support.calibration import weakest_char
from tests.support.fakes import FakeLocator, FakeRecognizer
from tests.support.gemini_stand_in import GeminiStandIn, gemini_answer

CANARY = "AIzaSy-canary-5d1e0c1f9b2a4e7c-must-never-be-logged"
PLATE = "12가3456"
REGION = "ap-northeast-2"


class _Everything(logging.Handler):
    """Keeps every record that reaches the root, with all its attributes rendered."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(repr(record.__dict__) + record.getMessage())


@pytest.fixture
def root_at_debug(api, canary_secret) -> Iterator[_Everything]:
    """The root at DEBUG from after the test stored the secret (its own CreateSecret call)."""
    root = logging.getLogger()
    handler, previous = _Everything(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    api.logger.setLevel("DEBUG")
    # As in a fresh process: nothing has quieted the libraries yet; the read path must.
    for name in logsafe.SECRET_BEARING_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)
    api.logger.setLevel("INFO")


@pytest.fixture
def canary_secret() -> Iterator[str]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        arn = client.create_secret(
            Name="plate-ocr/test/gemini", SecretString=json.dumps({"api_key": CANARY})
        )["ARN"]
        yield arn


def test_a_stage_two_read_at_debug_leaves_no_trace_of_the_key(
    server, photo, settings, monkeypatch, capfd, root_at_debug, canary_secret
):
    monkeypatch.setattr(gemini_module, "RETRY_INITIAL_DELAY", 0.01)
    answer = gemini_answer({"plate_number": PLATE, "confidence": 0.9})
    with GeminiStandIn(lambda n: (200, answer, 0.0)) as gemini:
        # GIVEN the production stage 2: the key from Secrets Manager, the real google-genai client
        config = settings.model_copy(
            update={"gemini_secret_id": canary_secret, "gemini_base_url": gemini.url}
        )
        pipeline = Pipeline(
            [FakeLocator(box=BOX)], FakeRecognizer(text=""), weakest_char, build_fallback(config)
        )
        monkeypatch.setattr(lifecycle, "get_pipeline", lambda: pipeline)

        # WHEN a photo that stage 1 cannot read is sent
        reply = http(
            f"{server.url}/ocr/license-plate", data=photo, headers={"Content-Type": "image/jpeg"}
        )

    # THEN Gemini got the key and read the plate
    assert reply.status == 200
    assert reply.json()["plate_number"] == PLATE
    assert gemini.calls[0].headers["x-goog-api-key"] == CANARY
    # AND no record at any level, and no output, holds the key
    out, err = capfd.readouterr()
    assert root_at_debug.texts  # the root did receive records
    for text in [*root_at_debug.texts, out, err]:
        assert CANARY not in text
        assert CANARY[:20] not in text
    # AND the plate number appears only in DEBUG records
    assert PLATE not in "".join(line for line in out.splitlines() if '"level":"DEBUG"' not in line)
