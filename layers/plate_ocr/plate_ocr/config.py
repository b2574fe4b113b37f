"""Settings of plate-ocr, read once from the environment (prefix ``PLATE_OCR_``).

The original service's variables (``LOG_LEVEL``, ``CORS_ORIGINS``, ``USE_GPU``,
``TIMEOUT_SECONDS``) are honoured without the prefix. Stage differences live in samconfig.toml ->
template parameters -> env vars.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

_PREFIX = "PLATE_OCR_"
_REPO_MODELS = Path(__file__).resolve().parents[3] / "models"


def _default_model_dir() -> Path:
    # The repo (editable install) has models/ beside layers/; the image sets PLATE_OCR_MODEL_DIR.
    return _REPO_MODELS if _REPO_MODELS.is_dir() else Path("/opt/plate-ocr/models")


class Settings(BaseSettings):
    """Typed, constrained configuration; see the README's configuration table."""

    # extra="forbid" refuses a misspelt keyword (Settings(min_confidance=...)); the environment
    # source reads only known names, so a misspelt variable is reported by unknown_variables().
    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="forbid", frozen=True)

    log_level: str = Field(
        "INFO", validation_alias=AliasChoices("LOG_LEVEL", "PLATE_OCR_LOG_LEVEL")
    )
    use_gpu: bool = Field(False, validation_alias=AliasChoices("USE_GPU", "PLATE_OCR_USE_GPU"))
    timeout_seconds: float = Field(
        25.0,
        gt=0,
        le=900,
        validation_alias=AliasChoices("TIMEOUT_SECONDS", "PLATE_OCR_TIMEOUT_SECONDS"),
    )
    cors_origins: str = Field(
        "*", validation_alias=AliasChoices("CORS_ORIGINS", "PLATE_OCR_CORS_ORIGINS")
    )

    #: Folder with the recogniser (korplate.*), the detector (platedet.*) and confidence.json.
    model_dir: Path = Field(default_factory=_default_model_dir)
    recog_network: str = "korplate"

    max_image_bytes: int = Field(10 * 1024 * 1024, gt=0)
    #: The largest photo the web page sends straight to POST /ocr/license-plate; larger ones go
    #: through a presigned upload where a bucket is set. Unset: ``max_image_bytes`` (the local
    #: server). Behind API Gateway (template.yaml) 4 MB: Lambda takes 6 MB, base64 adds a third.
    direct_upload_bytes: int | None = Field(None, gt=0)
    max_image_pixels: int = Field(40_000_000, gt=0)
    #: Decoder processes (each decodes one photo at a time and is killed at the deadline). Lambda
    #: runs one request per sandbox and starts one; the local server shares them among its threads.
    decode_workers: int = Field(2, ge=1, le=16)
    #: Memory a decoder process may add over its imports (RLIMIT_AS); a 39.9 MP photo needs at
    #: most about 360 MB there (a progressive 4:4:4 JPEG), an image that needs more is refused.
    decode_memory_mb: int = Field(400, ge=128, le=4096)

    #: A stage-1 reading succeeds at this calibrated confidence or above; below it the photo goes
    #: to stage 2, and without a stage-2 plate the answer is a failure with the reading listed as
    #: needing review. 0.7, not the original service's 0.6: on the dev split 0.6 let through 2
    #: wrong answers in 66 (precision 97.0%), 0.7 none in 64 (README, "A reading you can trust").
    min_confidence: float = Field(0.7, ge=0.0, le=1.0)
    #: A plate whose quality is low (characters under 12 px high, or blurred: plate_ocr.quality)
    #: needs this much too. On the dev scenes shrunk into larger photos (sharp, blurred, night,
    #: half resolution; 2026-12-01) such readings given 0.7-0.9 were right 25 times in 36; with
    #: 0.9 (the pipeline going on to its next look for them) the answers went from 415 right / 24
    #: wrong to 397 / 13 (precision 94.5% -> 96.8%); the dev copies answer the same. Without a
    #: stage-2 key the withheld readings stay listed for review.
    min_confidence_low_quality: float = Field(0.9, ge=0.0, le=1.0)
    #: A plate whose characters are under 10 px high (plate_ocr.quality.TINY_CHAR_HEIGHT_PX)
    #: needs this much too. On the dev photos shrunk to 1/1.8-1/4.6 of their size (621 photos;
    #: 2026-12-01) the answers on such plates were right 136 times and wrong 13 (91%), readings
    #: given 0.9-0.99 among them; from 0.98, 107 and 4.
    min_confidence_tiny_characters: float = Field(0.98, ge=0.0, le=1.0)
    #: A reading given less than this is not listed in ``plates`` at all: at a few percent it is
    #: noise (a badge, a sign, a smear), not a plate to review. Chosen on the dev split, above its
    #: phantom plates: 0.05 with the calibration of 2026-11-30 (phantoms all under 0.03), 0.1 with
    #: the refitted one of 2026-12-01 (one phantom at 0.055 and one misread at 0.093, on degraded
    #: copies; no answer changes, extra plates per dev scene 0-0.03 -> 0).
    min_listed_confidence: float = Field(0.1, ge=0.0, le=1.0)
    max_plates: int = Field(5, ge=1, le=20)
    #: How many plates the finder returns and stage 1 reads per photo (one recogniser pass each).
    max_regions: int = Field(8, ge=1, le=64)
    #: torch intra-op threads. One is fastest for our batch-of-one inputs and immune to
    #: oversubscription on a busy CPU (measured: 8 ms a crop on 1 thread, 300 ms on 2 under load).
    torch_threads: int = Field(1, ge=1, le=64)
    #: A recogniser reading whose weakest character is below this probability is read again in two
    #: more framings and the three averaged (about +2-3 ms on those crops); 0 turns it off. Unset:
    #: the model's own (``second_look_below`` in its yaml, plate_ocr.recognizer_config).
    second_look_below: float | None = Field(None, ge=0.0, le=1.0)
    #: Load the models while the function initialises (set in template.yaml), not on the first read.
    preload_models: bool = False

    # --- Stage 2 (Gemini); the key lives in Secrets Manager, never in an env var on AWS.
    gemini_model: str = Field(
        "gemini-2.5-flash", validation_alias=AliasChoices("GEMINI_MODEL", "PLATE_OCR_GEMINI_MODEL")
    )
    #: Secret name or ARN holding the Gemini API key (raw string or JSON ``{"api_key": ...}``).
    gemini_secret_id: str | None = None
    #: Local development only: a key straight from the environment when no secret id is set.
    gemini_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("GEMINI_API_KEY", "PLATE_OCR_GEMINI_API_KEY")
    )
    #: Another endpoint for the Gemini API (tests, proxies); empty means Google's.
    gemini_base_url: str | None = None
    gemini_timeout_seconds: float = Field(10.0, gt=0, le=120)
    #: Attempts per fallback call, the first included (429 / 5xx / timeouts are retried).
    gemini_max_attempts: int = Field(2, ge=1, le=5)
    gemini_max_side: int = Field(2000, ge=256, le=4096)
    #: How long the fetched key stays cached in the process.
    secret_max_age_seconds: int = Field(300, ge=0, le=86_400)

    # --- Storage of the batch path and presigned uploads.
    bucket_name: str | None = None
    incoming_prefix: str = Field("incoming/", pattern=r"^[^/].*/$")
    results_prefix: str = Field("results/", pattern=r"^[^/].*/$")
    #: The EventBridge bus the batch publishes each result on (name or ARN); unset: no events.
    event_bus_name: str | None = None
    #: The batch also writes each photo with its plates blurred under ``anonymized_prefix``.
    write_anonymized: bool = False
    anonymized_prefix: str = Field("anonymized/", pattern=r"^[^/].*/$")
    upload_expires_seconds: int = Field(300, ge=30, le=3600)

    # --- API.
    #: Serve Swagger UI at /docs and the spec at /openapi.json.
    enable_docs: bool = True


def variable_names() -> frozenset[str]:
    """Every environment variable a setting is read from (prefixed names and their aliases)."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [_PREFIX + name]
        names.update(str(choice).upper() for choice in choices)
    return frozenset(names)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``PLATE_OCR_*`` variables that name no setting (a typo is otherwise silently ignored)."""
    known = variable_names()
    return sorted(k for k in environ if k.upper().startswith(_PREFIX) and k.upper() not in known)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached: env vars are read once per cold start)."""
    unknown = unknown_variables(os.environ)
    if unknown:
        logger.warning("Ignored environment variables that name no setting: %s", ", ".join(unknown))
    return Settings()
