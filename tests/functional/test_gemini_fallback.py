"""Stage 2: the real google-genai client against a small HTTP server standing in for Gemini."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from plate_ocr import deadline
from plate_ocr import gemini as gemini_module
from plate_ocr.config import Settings
from plate_ocr.gemini import GeminiReader, build_fallback, encode_for_gemini, extract_key
from tests.support.gemini_stand_in import GeminiStandIn
from tests.support.gemini_stand_in import gemini_answer as _answer

KEY = "AIzaSy-test-key-which-must-never-be-logged-0123"
REGION = "ap-northeast-2"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry policy under test, with the waits between attempts shrunk."""
    monkeypatch.setattr(gemini_module, "RETRY_INITIAL_DELAY", 0.01)
    monkeypatch.setattr(gemini_module, "RETRY_JITTER", 0.0)


@pytest.fixture
def gemini() -> Iterator[GeminiStandIn]:
    with GeminiStandIn(reply=lambda n: (200, _answer({"plate_number": None}), 0.0)) as fake:
        yield fake


@pytest.fixture
def image() -> np.ndarray:
    return np.full((300, 600, 3), 180, dtype=np.uint8)


def _reader(gemini: GeminiStandIn, key: str | None = KEY, **overrides: Any) -> GeminiReader:
    settings = Settings(
        gemini_base_url=gemini.url,
        gemini_timeout_seconds=overrides.pop("timeout", 2.0),
        gemini_max_attempts=overrides.pop("attempts", 2),
        **overrides,
    )
    return GeminiReader(settings, lambda: key)


def test_reads_a_valid_plate_and_maps_its_box(gemini, image):
    # GIVEN Gemini answers a valid plate with a box
    gemini.reply = lambda n: (
        200,
        _answer({"plate_number": "12가 3456", "confidence": 0.87, "box_2d": [500, 250, 600, 750]}),
        0.0,
    )

    # WHEN stage 2 reads the photo
    answer = _reader(gemini).read(image)

    # THEN the plate is normalised and the box is in pixels of the photo
    assert answer.status == "ok"
    assert answer.plate_number == "12가3456"
    assert answer.confidence == pytest.approx(0.87)
    assert answer.box == ((150.0, 150.0), (450.0, 150.0), (450.0, 180.0), (150.0, 180.0))
    # AND the request asked for structured JSON from the configured model with the key
    call = gemini.calls[0]
    assert call.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert call.headers["x-goog-api-key"] == KEY
    config = call.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "plate_number" in json.dumps(config.get("responseSchema") or config)
    parts = call.body["contents"][0]["parts"]
    inline = parts[0]["inlineData"]
    assert inline.get("mimeType", inline.get("mime_type")) == "image/jpeg", inline.keys()


def test_the_model_comes_from_the_settings(gemini, image):
    _reader(gemini, gemini_model="gemini-2.5-pro").read(image)

    assert gemini.calls[0].path.endswith("/models/gemini-2.5-pro:generateContent")


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ("{not json", "error:malformed"),
        ('{"plate_number": "12가3456", "confidence": 7}', "error:malformed"),
        ('["12가3456"]', "error:malformed"),
        ({"plate_number": "HELLO"}, "invalid_plate"),
        ({"plate_number": "12X3456", "confidence": 0.9}, "invalid_plate"),
        ({"plate_number": None, "confidence": 0.1}, "no_plate"),
        ({"plate_number": ""}, "no_plate"),
    ],
    ids=[
        "not-json",
        "confidence-out-of-range",
        "wrong-shape",
        "not-a-plate",
        "latin-letter",
        "null",
        "empty",
    ],
)
def test_answers_that_are_not_a_valid_plate_are_not_used(gemini, image, payload, status):
    gemini.reply = lambda n: (200, _answer(payload), 0.0)

    answer = _reader(gemini).read(image)

    assert answer.status == status
    assert answer.plate_number is None
    assert len(gemini.calls) == 1


@pytest.mark.parametrize(
    ("code", "status"),
    [(429, "error:rate_limited"), (500, "error:http_500"), (503, "error:http_503")],
    ids=["429", "500", "503"],
)
def test_retries_transient_errors_a_bounded_number_of_times(gemini, image, code, status):
    gemini.reply = lambda n: (code, {"error": {"code": code, "message": "busy"}}, 0.0)

    answer = _reader(gemini, attempts=3).read(image)

    assert answer.status == status
    assert len(gemini.calls) == 3


def test_a_retry_that_succeeds_gives_the_plate(gemini, image):
    gemini.reply = lambda n: (
        (429, {"error": {"code": 429, "message": "slow down"}}, 0.0)
        if n == 1
        else (200, _answer({"plate_number": "123가4567", "confidence": 0.9}), 0.0)
    )

    answer = _reader(gemini).read(image)

    assert answer.status == "ok"
    assert answer.plate_number == "123가4567"
    assert len(gemini.calls) == 2


def test_client_errors_are_not_retried(gemini, image):
    gemini.reply = lambda n: (403, {"error": {"code": 403, "message": "bad key"}}, 0.0)

    answer = _reader(gemini, attempts=3).read(image)

    assert answer.status == "error:auth"
    assert len(gemini.calls) == 1


def test_a_key_gemini_calls_invalid_is_an_auth_error(gemini, image):
    # Gemini answers a wrong or revoked key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    error = {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
        ],
    }
    gemini.reply = lambda n: (400, {"error": error}, 0.0)

    answer = _reader(gemini, attempts=3).read(image)

    assert answer.status == "error:auth"
    assert len(gemini.calls) == 1


def test_a_server_that_trickles_its_answer_is_given_up_on_within_the_budget(gemini, image):
    # GIVEN Gemini sending 8 bytes every 0.3 s (never silent for the 1 s read timeout; the whole
    # answer takes about 20 s) and a request with 3 s left
    gemini.reply = lambda n: (200, _answer({"plate_number": "12가3456"}), -0.3)
    started = time.perf_counter()

    # WHEN stage 2 is asked
    with deadline.limit(3.0) as limit:
        answer = _reader(gemini, timeout=1.0, attempts=2).read(image)

    # THEN it gives up within the request's deadline (the client's own timeout never trips: it
    # applies to each read, not to the call)
    assert answer.status == "error:timeout"
    assert time.perf_counter() - started < 3.0 and not limit.expired()


def test_gives_up_after_the_timeout(gemini, image):
    # GIVEN Gemini takes 3 s and the timeout is 0.3 s with one attempt
    gemini.reply = lambda n: (200, _answer({"plate_number": "12가3456"}), 3.0)
    started = time.perf_counter()

    answer = _reader(gemini, timeout=0.3, attempts=1).read(image)

    # THEN stage 2 reports a timeout well before Gemini would have answered
    assert answer.status == "error:timeout"
    assert time.perf_counter() - started < 2.0


def test_skips_without_calling_when_no_key_is_configured(gemini, image):
    answer = _reader(gemini, key=None).read(image)

    assert answer.status == "skipped_no_key"
    assert gemini.calls == []


def test_an_unreachable_endpoint_is_a_transport_error(image):
    settings = Settings(gemini_base_url="http://127.0.0.1:9", gemini_max_attempts=1)

    answer = GeminiReader(settings, lambda: KEY).read(image)

    assert answer.status in ("error:transport", "error:timeout")


def test_large_photos_are_scaled_to_the_limit_before_sending():
    big = np.zeros((3000, 4500, 3), dtype=np.uint8)

    jpeg, width, height = encode_for_gemini(big, 2000)

    import cv2

    sent = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert (width, height) == (4500, 3000)
    assert max(sent.shape[:2]) == 2000
    assert jpeg[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("abc", "abc"),
        ('{"api_key": "abc"}', "abc"),
        ('{"GEMINI_API_KEY": " abc "}', "abc"),
        ('{"api_key": ""}', None),
        ("CHANGE_ME", None),
        ("", None),
        ("{broken", None),
        (b"abc", "abc"),
        ('{"api_key": null}', None),
        ('{"api_key": 12}', None),
        ('"abc"', "abc"),
        ("None", None),
        ("change_me", None),
    ],
    ids=[
        "raw",
        "json",
        "json-alt-name",
        "placeholder-json",
        "placeholder",
        "empty",
        "bad",
        "bytes",
        "json-null",
        "json-number",
        "json-string",
        "none-as-text",
        "placeholder-lower-case",
    ],
)
def test_reads_the_key_from_the_secret_value(value, key):
    assert extract_key(value) == key


# --- Secrets Manager through Powertools parameters ------------------------------------------


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def test_fetches_the_key_from_secrets_manager_on_the_first_fallback_only(
    gemini, image, secrets, monkeypatch, caplog
):
    # GIVEN a secret holding the key, and a count of the reads of it
    arn = secrets.create_secret(
        Name="plate-ocr/test/gemini", SecretString=json.dumps({"api_key": KEY})
    )["ARN"]
    reads: list[str] = []
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    original = SecretsProvider._get

    def counting(self: Any, name: str, **options: Any) -> Any:
        reads.append(name)
        return original(self, name, **options)

    monkeypatch.setattr(SecretsProvider, "_get", counting)
    gemini.reply = lambda n: (200, _answer({"plate_number": "12가3456", "confidence": 0.9}), 0.0)
    settings = Settings(gemini_secret_id=arn, gemini_base_url=gemini.url)
    caplog.set_level(logging.DEBUG)
    # botocore's wire log (DEBUG, off unless someone calls boto3.set_stream_logger) prints
    # responses verbatim; our handlers never turn it on, so it is left out here.
    caplog.set_level(logging.INFO, logger="botocore")

    # WHEN the fallback is built, then asked three times
    reader = build_fallback(settings)
    assert reads == []
    answers = [reader.read(image) for _ in range(3)]

    # THEN the secret was read once (cached), the key reached Gemini, and never the logs
    assert [a.status for a in answers] == ["ok", "ok", "ok"]
    assert reads == [arn]
    assert all(c.headers["x-goog-api-key"] == KEY for c in gemini.calls)
    assert KEY not in caplog.text


def test_a_rotated_key_is_read_afresh_after_gemini_refuses_the_cached_one(
    gemini, image, secrets, monkeypatch
):
    # GIVEN a warm reader that cached the key, then the secret rotated to a new key and Gemini
    # now refuses the old one
    arn = secrets.create_secret(
        Name="plate-ocr/test/rotated", SecretString=json.dumps({"api_key": KEY})
    )["ARN"]
    new_key = KEY.replace("test", "next")
    gemini.reply = lambda n: (200, _answer({"plate_number": "12가3456", "confidence": 0.9}), 0.0)
    reader = build_fallback(Settings(gemini_secret_id=arn, gemini_base_url=gemini.url))
    assert reader.read(image).status == "ok"
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"api_key": new_key}))

    def by_key(n: int) -> tuple[int, dict[str, Any], float]:
        if gemini.calls[-1].headers["x-goog-api-key"] != new_key:
            return 403, {"error": {"code": 403, "message": "bad key"}}, 0.0
        return 200, _answer({"plate_number": "12가3456", "confidence": 0.9}), 0.0

    gemini.reply = by_key

    # WHEN the next requests need stage 2
    refused = reader.read(image)
    after = [reader.read(image) for _ in range(2)]

    # THEN the one refused request is reported, and the next reads the new key at once, not after
    # the cache's five minutes; the fresh key is cached again
    assert refused.status == "error:auth"
    assert [a.status for a in after] == ["ok", "ok"]
    assert [c.headers["x-goog-api-key"] for c in gemini.calls] == [KEY, KEY, new_key, new_key]


def test_a_refused_key_sends_at_most_one_request_in_an_interval_to_secrets_manager(gemini, image):
    # GIVEN a revoked key that Secrets Manager still holds
    gemini.reply = lambda n: (403, {"error": {"code": 403, "message": "bad key"}}, 0.0)
    cached: list[int] = []
    fresh: list[int] = []

    def cached_key() -> str:
        cached.append(1)
        return KEY

    def fresh_key() -> str:
        fresh.append(1)
        return KEY

    reader = GeminiReader(Settings(gemini_base_url=gemini.url), cached_key, refetch_key=fresh_key)

    # WHEN four requests in a row need stage 2
    answers = [reader.read(image) for _ in range(4)]

    # THEN each is refused, and only the second read the secret past its cache
    assert {a.status for a in answers} == {"error:auth"}
    assert (len(cached), len(fresh)) == (3, 1)


def test_a_secrets_manager_that_does_not_answer_is_given_up_in_bounded_time(
    gemini, image, monkeypatch
):
    # GIVEN a Secrets Manager endpoint that accepts connections and never answers, and short
    # waits (the shipped ones are 1 s to connect and 2 s to read, two attempts)
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    port = listener.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(gemini_module, "SECRET_READ_TIMEOUT", 0.3)
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:plate-ocr/slow-AbCdEf"
    reader = build_fallback(Settings(gemini_secret_id=arn, gemini_base_url=gemini.url))
    started = time.perf_counter()
    try:
        # WHEN stage 2 needs the key
        answer = reader.read(image)
    finally:
        stop.set()
        for conn in held:
            conn.close()
        listener.close()

    # THEN it gives up on the secret (both attempts were made) without calling Gemini, in
    # seconds rather than botocore's default minutes
    assert answer.status == "error:secret"
    assert gemini.calls == []
    assert len(held) == gemini_module.SECRET_ATTEMPTS
    assert time.perf_counter() - started < 5.0


def test_no_key_is_fetched_when_the_deadline_leaves_no_time_for_stage_two(gemini, image):
    # GIVEN a request with less time left than stage 2 needs, and a key provider that counts
    from plate_ocr import deadline

    fetched: list[int] = []

    def provider() -> str:
        fetched.append(1)
        return KEY

    reader = GeminiReader(Settings(gemini_base_url=gemini.url), provider)
    with deadline.limit(gemini_module.MIN_SECONDS / 2):
        # WHEN stage 2 is asked
        answer = reader.read(image)

    # THEN it reports the deadline without touching Secrets Manager or Gemini
    assert answer.status == "error:timeout"
    assert fetched == []
    assert gemini.calls == []


def test_a_placeholder_secret_skips_stage_two(gemini, image, secrets):
    arn = secrets.create_secret(Name="plate-ocr/test/empty", SecretString='{"api_key": ""}')["ARN"]

    answer = build_fallback(Settings(gemini_secret_id=arn, gemini_base_url=gemini.url)).read(image)

    assert answer.status == "skipped_no_key"
    assert gemini.calls == []


def test_a_secret_that_cannot_be_read_is_reported_not_raised(gemini, image, secrets, caplog):
    missing = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:plate-ocr/none-AbCdEf"

    answer = build_fallback(Settings(gemini_secret_id=missing, gemini_base_url=gemini.url)).read(
        image
    )

    assert answer.status == "error:secret"
    assert gemini.calls == []


def test_without_any_key_setting_stage_two_is_skipped(gemini, image, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("PLATE_OCR_GEMINI_API_KEY", raising=False)

    answer = build_fallback(Settings(gemini_base_url=gemini.url)).read(image)

    assert answer.status == "skipped_no_key"


def test_a_key_from_the_environment_is_used_for_local_runs(gemini, image, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)

    build_fallback(Settings(gemini_base_url=gemini.url)).read(image)

    assert gemini.calls[0].headers["x-goog-api-key"] == KEY
