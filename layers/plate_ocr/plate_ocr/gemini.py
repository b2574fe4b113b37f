"""Stage 2: Gemini reads the whole photo when stage 1 found no valid plate.

The API key comes from Secrets Manager through Powertools parameters (cached for
``secret_max_age_seconds``), fetched on the first fallback only, so a cold start that stage 1
answers never touches Secrets Manager.
The key is never logged and never put into an exception message.

Every failure becomes a :class:`FallbackAnswer` status (an ``error:<kind>`` of
:class:`plate_ocr.results.Stage2Status`): stage 2 is a second opinion, and its trouble must not turn
a request into a 500.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from plate_ocr import deadline, grammar, logsafe
from plate_ocr.config import Settings
from plate_ocr.engines import FallbackAnswer, Image
from plate_ocr.results import Quad, Stage2Status

if TYPE_CHECKING:
    from google.genai import Client

logger = logging.getLogger(__name__)

KeyProvider = Callable[[], "str | None"]

#: After Gemini refuses the key (``error:auth``), the next fallback reads the secret afresh instead
#: of from the cache (a rotated key is picked up at once, not after ``secret_max_age_seconds``),
#: at most once per this many seconds, so a revoked key does not send every request to Secrets
#: Manager.
AUTH_REFETCH_INTERVAL = 30.0

#: Backoff between attempts (seconds): short, because a reader waits on stage 2 synchronously.
RETRY_INITIAL_DELAY = 0.5
RETRY_MAX_DELAY = 2.0
RETRY_JITTER = 0.25

#: Stage 2 is not started with less of the request's deadline left than this (seconds), and its
#: call ends this long before the deadline.
MIN_SECONDS = 1.0
MARGIN_SECONDS = 0.5
#: Threads that run Gemini calls, so that a call can be given up on at its budget's end: the
#: client's timeout applies to each phase of a request (connect, write, each read), and a server
#: that trickles its answer never trips it. A call given up on ends in its thread by itself.
_CALLS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gemini")


#: Secrets Manager answers in tens of milliseconds. botocore's defaults (60 s to connect, 60 s to
#: read, several attempts) would hold a request far past its deadline when it does not answer, so
#: the key's fetch gives up after ``SECRET_ATTEMPTS x (connect + read)`` seconds and botocore's
#: jittered pause of up to 1 s between the attempts (at most about 7 s; the API's requests have
#: 25) and the photo goes without stage 2 (``error:secret``).
SECRET_CONNECT_TIMEOUT = 1.0
SECRET_READ_TIMEOUT = 2.0
SECRET_ATTEMPTS = 2

#: Secret values that mean "no key yet" (the stack stores a placeholder; compared in upper case).
_PLACEHOLDERS = frozenset({"", "CHANGE_ME", "REPLACE_ME", "PLACEHOLDER", "NONE", "NULL"})

PROMPT = (
    "This photo shows a vehicle registered in South Korea. Read its licence plate exactly as "
    "printed, in one of these formats: "
    + grammar.describe_formats()
    + ". Leave out spaces, dashes and anything that is not on the plate. If no plate is "
    "readable, answer plate_number null. box_2d is the plate's bounding box as [ymin, xmin, ymax, "
    "xmax] scaled to 0-1000. confidence is how sure you are, 0 to 1."
)


class GeminiPlate(BaseModel):
    """The structured answer requested from Gemini (also sent as its response schema)."""

    plate_number: str | None = Field(default=None, description="The plate without spaces, or null.")
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    box_2d: list[int] | None = Field(
        default=None, description="[ymin, xmin, ymax, xmax] scaled to 0-1000."
    )


class GeminiReader:
    """A :class:`plate_ocr.engines.FallbackReader` backed by the google-genai client."""

    def __init__(
        self,
        settings: Settings,
        key_provider: KeyProvider,
        refetch_key: KeyProvider | None = None,
    ) -> None:
        """``refetch_key``: the key read past any cache, asked after Gemini refused the key
        (:data:`AUTH_REFETCH_INTERVAL`); None: ``key_provider`` is always current."""
        self._settings = settings
        self._key_provider = key_provider
        self._refetch_key = refetch_key
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._client_key: str | None = None
        self._key_refused = False
        self._last_refetch = -AUTH_REFETCH_INTERVAL

    def read(self, image: Image) -> FallbackAnswer:
        # The deadline is checked before the key is fetched (with no time left, no call to
        # Secrets Manager) and again after it (the fetch may have taken some of it).
        if self._budget() is None:
            return _too_late()
        try:
            key = self._key()
        except Exception as exc:
            # Any secret trouble means no stage 2 now, not a failed request.
            # The exception text of Secrets Manager names the secret, never its value.
            logger.warning("gemini key unavailable: %s", type(exc).__name__)
            return FallbackAnswer(status=Stage2Status.ERROR_SECRET)
        if not key:
            logger.info("gemini stage skipped: no API key configured")
            return FallbackAnswer(status=Stage2Status.SKIPPED_NO_KEY)

        budget = self._budget()
        if budget is None:
            return _too_late()
        started = time.perf_counter()
        width, height = 0, 0
        try:
            jpeg, width, height = encode_for_gemini(image, self._settings.gemini_max_side)
            text = self._generate_within(key, jpeg, budget)
        except Exception as exc:
            status = _classify(exc)
            if status == Stage2Status.ERROR_AUTH:
                self._key_refused = True
            logger.warning(
                "gemini call failed: %s (%s) after %.2f s",
                status,
                type(exc).__name__,
                time.perf_counter() - started,
            )
            return FallbackAnswer(status=status)
        logger.info("gemini answered in %.2f s", time.perf_counter() - started)
        return answer_from_text(text, width, height)

    def _key(self) -> str | None:
        """The cached key, or a fresh read of it after Gemini refused the key."""
        with self._lock:
            now = time.monotonic()
            fresh = (
                self._refetch_key is not None
                and self._key_refused
                and now - self._last_refetch >= AUTH_REFETCH_INTERVAL
            )
            if fresh:
                self._key_refused = False
                self._last_refetch = now
        if fresh and self._refetch_key is not None:
            logger.info("gemini key refused before: reading the secret afresh")
            return self._refetch_key()
        return self._key_provider()

    def _budget(self) -> tuple[float, int] | None:
        """Seconds per attempt and attempts that fit in the request's deadline (None: nothing
        fits); the settings' own when no deadline is set or it leaves room for all attempts."""
        seconds, attempts = (
            self._settings.gemini_timeout_seconds,
            self._settings.gemini_max_attempts,
        )
        limit = deadline.current()
        if limit is None:
            return seconds, attempts
        left = limit.remaining() - MARGIN_SECONDS
        if left < MIN_SECONDS:
            return None
        if left >= attempts * seconds + (attempts - 1) * RETRY_MAX_DELAY:
            return seconds, attempts
        return min(seconds, left), 1

    def _generate_within(self, key: str, jpeg: bytes, budget: tuple[float, int]) -> str:
        """:meth:`_generate`, given up on when its whole budget has passed (and never later than
        the request's deadline allows)."""
        seconds, attempts = budget
        total = seconds * attempts + RETRY_MAX_DELAY * (attempts - 1)
        limit = deadline.current()
        if limit is not None:
            total = min(total, max(0.0, limit.remaining() - MARGIN_SECONDS))
        call = _CALLS.submit(self._generate, key, jpeg, budget)
        try:
            return call.result(timeout=total)
        except FutureTimeout:
            call.cancel()
            # Classified as error:timeout (plate_ocr.gemini._classify).
            raise TimeoutError(f"no Gemini answer within {total:.1f} s") from None

    def _generate(self, key: str, jpeg: bytes, budget: tuple[float, int]) -> str:
        from google.genai import types

        seconds, attempts = budget
        http_options = None
        if (seconds, attempts) != (
            self._settings.gemini_timeout_seconds,
            self._settings.gemini_max_attempts,
        ):
            # Less time than the configured attempts need: one shorter attempt, per request.
            http_options = types.HttpOptions(
                timeout=int(seconds * 1000), retry_options=types.HttpRetryOptions(attempts=1)
            )

        contents = types.Content(
            role="user",
            parts=[
                types.Part.from_bytes(data=jpeg, mime_type="image/jpeg"),
                types.Part.from_text(text=PROMPT),
            ],
        )
        response = self._client_for(key).models.generate_content(
            model=self._settings.gemini_model,
            contents=contents,
            config=types.GenerateContentConfig(
                temperature=0.0,
                response_mime_type="application/json",
                response_schema=GeminiPlate,
                http_options=http_options,
            ),
        )
        return response.text or ""

    def _client_for(self, key: str) -> Client:
        with self._lock:
            # A rotated secret (new value after the cache expires) gets a new client.
            if self._client is None or self._client_key != key:
                self._client = make_client(key, self._settings)
                self._client_key = key
            return self._client


def make_client(key: str, settings: Settings) -> Client:
    """A google-genai client with an explicit per-attempt timeout and bounded retries."""
    from google import genai
    from google.genai import types

    logsafe.quiet_secret_bearing_loggers()
    retry = types.HttpRetryOptions(
        attempts=settings.gemini_max_attempts,
        initial_delay=RETRY_INITIAL_DELAY,
        max_delay=RETRY_MAX_DELAY,
        jitter=RETRY_JITTER,
        http_status_codes=[408, 429, 500, 502, 503, 504],
    )
    options = types.HttpOptions(
        base_url=settings.gemini_base_url or None,
        timeout=int(settings.gemini_timeout_seconds * 1000),
        retry_options=retry,
    )
    return genai.Client(api_key=key, http_options=options)


def answer_from_text(text: str, width: int, height: int) -> FallbackAnswer:
    """Checks Gemini's JSON against the schema and the plate grammar."""
    try:
        answer = GeminiPlate.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError, TypeError):
        logger.warning("gemini answer malformed (%d chars)", len(text))
        return FallbackAnswer(status=Stage2Status.ERROR_MALFORMED)
    if not answer.plate_number:
        return FallbackAnswer(status=Stage2Status.NO_PLATE)
    parsed = grammar.parse(answer.plate_number)
    if not parsed.valid:
        logger.info("gemini answer fails the plate grammar")
        logger.debug("gemini answer: %s", answer.plate_number)
        return FallbackAnswer(status=Stage2Status.INVALID_PLATE)
    logger.debug("gemini read %s", parsed.text)
    return FallbackAnswer(
        status=Stage2Status.OK,
        plate_number=parsed.text,
        confidence=float(answer.confidence),
        box=_box_from_2d(answer.box_2d, width, height),
    )


def encode_for_gemini(image: Image, max_side: int) -> tuple[bytes, int, int]:
    """JPEG bytes of the photo scaled to at most ``max_side`` px, and the original size."""
    import cv2

    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(width, height))
    scaled: Any = image
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes(), int(width), int(height)


def _box_from_2d(box: list[int] | None, width: int, height: int) -> Quad | None:
    if box is None or len(box) != 4:
        return None
    ymin, xmin, ymax, xmax = (min(max(v, 0), 1000) / 1000.0 for v in box)
    if xmax <= xmin or ymax <= ymin:
        return None
    x0, x1, y0, y1 = xmin * width, xmax * width, ymin * height, ymax * height
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _classify(exc: Exception) -> Stage2Status:
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        if exc.code == 429:
            return Stage2Status.ERROR_RATE_LIMITED
        # Gemini answers a wrong or revoked key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
        if exc.code in (401, 403) or "API_KEY_INVALID" in f"{exc.message} {exc.details}":
            return Stage2Status.ERROR_AUTH
        return Stage2Status.http_error(exc.code)
    if "timeout" in type(exc).__name__.lower():
        return Stage2Status.ERROR_TIMEOUT
    return Stage2Status.ERROR_TRANSPORT


def _too_late() -> FallbackAnswer:
    logger.info("gemini stage skipped: the request's deadline is too near")
    return FallbackAnswer(status=Stage2Status.ERROR_TIMEOUT)


def extract_key(value: Any) -> str | None:
    """The API key in a secret value (a raw string or JSON with ``api_key``); placeholders: none."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value.startswith(("{", '"')):
        # JSON: {"api_key": "..."} (the template's form), or a key stored as a JSON string.
        try:
            data = json.loads(value)
        except json.JSONDecodeError:
            return None
        if isinstance(data, dict):
            data = next((data[k] for k in ("api_key", "GEMINI_API_KEY", "key") if k in data), None)
        if not isinstance(data, str):  # null, a number: no key
            return None
        value = data.strip()
    return None if value.upper() in _PLACEHOLDERS else value


def secrets_manager_key(secret_id: str, max_age: int) -> tuple[KeyProvider, KeyProvider]:
    """Reads the key through Powertools parameters, built and called on the first fallback only,
    with bounded waits (:data:`SECRET_CONNECT_TIMEOUT`, :data:`SECRET_READ_TIMEOUT`,
    :data:`SECRET_ATTEMPTS`): the cached key (``max_age``), and a read past the cache (which
    refreshes it)."""
    provider: Any = None
    lock = threading.Lock()

    def fetch(force: bool = False) -> str | None:
        nonlocal provider
        with lock:
            if provider is None:
                from aws_lambda_powertools.utilities.parameters import SecretsProvider
                from botocore.config import Config

                # botocore logs the whole GetSecretValue answer at DEBUG.
                logsafe.quiet_secret_bearing_loggers()
                provider = SecretsProvider(
                    boto_config=Config(
                        connect_timeout=SECRET_CONNECT_TIMEOUT,
                        read_timeout=SECRET_READ_TIMEOUT,
                        retries={"total_max_attempts": SECRET_ATTEMPTS, "mode": "standard"},
                    )
                )
        return extract_key(provider.get(secret_id, max_age=max_age, force_fetch=force))

    return fetch, lambda: fetch(force=True)


def build_fallback(settings: Settings) -> GeminiReader:
    """The production stage 2: a key from Secrets Manager, else from the environment, else none."""
    if settings.gemini_secret_id:
        cached, fresh = secrets_manager_key(
            settings.gemini_secret_id, settings.secret_max_age_seconds
        )
        return GeminiReader(settings, cached, refetch_key=fresh)
    if settings.gemini_api_key is not None:
        env_key = extract_key(settings.gemini_api_key.get_secret_value())

        def provider() -> str | None:
            return env_key

    else:

        def provider() -> str | None:
            return None

    return GeminiReader(settings, provider)
