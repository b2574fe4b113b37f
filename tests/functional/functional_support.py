"""Helpers of the handler tests: events from events/, engine fakes, constants.

A module with a unique name: ``from conftest import`` is ambiguous once several test folders, each
with its own conftest.py, are collected in one run.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from plate_ocr.engines import FallbackAnswer, PlateRegion, RawReading
from plate_ocr.pipeline import Pipeline

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
REGION = "ap-northeast-2"
BUCKET = "plate-ocr-test-bucket"
BOX = ((170.0, 220.0), (470.0, 220.0), (470.0, 286.0), (170.0, 286.0))


class FakeLocator:
    """One region: the whole photo."""

    def locate(self, image: np.ndarray) -> list[PlateRegion]:
        return [PlateRegion(box=BOX, crop=image, score=0.9)]


class FakeRecognizer:
    """Reads the same text from every crop and counts its calls."""

    def __init__(self, text: str = "12가3456", confidence: float = 0.93) -> None:
        self.text, self.confidence, self.calls = text, confidence, 0

    def read(self, crop: np.ndarray) -> RawReading | None:
        self.calls += 1
        if not self.text:
            return None
        return RawReading(self.text, self.confidence, tuple(self.confidence for _ in self.text))


class FakeFallback:
    def __init__(self, answer: FallbackAnswer | None = None) -> None:
        self.answer = answer or FallbackAnswer(status="skipped_no_key")
        self.calls = 0

    def read(self, image: np.ndarray) -> FallbackAnswer:
        self.calls += 1
        return self.answer


class SlowPipeline:
    """Stands in for a pipeline stuck on a huge photo."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def read(self, data: bytes, *, use_fallback: bool = True) -> Any:
        time.sleep(self.seconds)
        raise AssertionError("the deadline should have answered first")


class BrokenPipelineFactory:
    """get_pipeline() of a process whose models cannot be loaded."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Pipeline:
        from plate_ocr.errors import ModelUnavailableError

        self.calls += 1
        raise ModelUnavailableError("The recogniser weights are missing (korplate.pth).")


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>.json (tests may change it)."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


def event_body(event: dict[str, Any]) -> bytes:
    body = event["body"] or ""
    return base64.b64decode(body) if event["isBase64Encoded"] else body.encode()


def with_body(event: dict[str, Any], body: bytes, content_type: str | None) -> dict[str, Any]:
    event = copy.deepcopy(event)
    headers = {k: v for k, v in (event["headers"] or {}).items() if k.lower() != "content-type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    event["body"] = base64.b64encode(body).decode() if body else None
    event["isBase64Encoded"] = bool(body)
    return event


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
