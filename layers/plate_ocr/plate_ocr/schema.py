"""The wire contract: pydantic models shared by API responses, batch result objects and OpenAPI.

The fields mirror :meth:`plate_ocr.results.OcrResult.to_dict` (a test keeps the two in step) and
keep the original service's fields (``success``, ``plate_number``, ``confidence``, ``stage``,
``elapsed_sec``) first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plate_ocr.results import STAGE_LABELS, OcrResult, Stage

StageId = Literal["stage1", "stage2", "failed"]
ImageType = Literal["image/jpeg", "image/png", "image/webp"]

#: The image types the API and the presigned uploads accept.
IMAGE_TYPES: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CharConfidenceModel(_Model):
    char: str
    confidence: float = Field(ge=0.0, le=1.0)


class CandidateModel(_Model):
    plate_number: str
    score: float = Field(ge=0.0, le=1.0)


class PlateModel(_Model):
    """One plate found in the photo."""

    plate_number: str
    confidence: float = Field(ge=0.0, le=1.0)
    box: list[list[float]] = Field(
        min_length=4,
        max_length=4,
        description="4 corners [x, y] in pixels of the original photo, clockwise from top-left.",
    )
    char_confidences: list[CharConfidenceModel] = []
    candidates: list[CandidateModel] = []
    valid: bool = True
    format: str | None = Field(default=None, description="7char, 8char, regional or diplomatic.")
    region: str | None = None
    usage: str | None = Field(
        default=None, description="private, commercial, delivery, rental, ..."
    )
    usage_label: str | None = Field(
        default=None, description="Korean label of the usage (비사업용, ...)."
    )
    stage: StageId = "stage1"


class OcrResponse(_Model):
    """What ``POST /ocr/license-plate`` answers (and what a batch result holds)."""

    success: bool
    plate_number: str | None
    confidence: float = Field(ge=0.0, le=1.0)
    stage: StageId
    elapsed_sec: float = Field(ge=0.0)
    stage_label: str = Field(
        description="Korean label of the stage (1단계 로직, 2단계 로직, 모두 실패)."
    )
    plates: list[PlateModel] = []
    image_width: int = Field(default=0, ge=0)
    image_height: int = Field(default=0, ge=0)
    timings_ms: dict[str, float] = {}
    stage2_status: str = Field(
        default="not_needed",
        description=(
            "not_needed, disabled, ok, skipped_no_key, no_plate, invalid_plate or error:<kind>."
        ),
    )
    request_id: str

    @classmethod
    def from_result(cls, result: OcrResult, request_id: str) -> OcrResponse:
        return cls.model_validate({**result.to_dict(), "request_id": request_id})


class ImageInfoModel(_Model):
    format: Literal["jpeg", "png", "webp"]
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    size_bytes: int = Field(gt=0)


class DryRunResponse(_Model):
    """``dryRun``: the upload is a readable image within the limits; no OCR ran."""

    success: bool = True
    dry_run: Literal[True] = True
    image: ImageInfoModel
    request_id: str


class ErrorBody(_Model):
    """Every 4xx / 5xx answer of the API."""

    error: str = Field(description="Stable machine code, e.g. invalid_image, image_too_large.")
    message: str
    request_id: str | None = None


class StatusResponse(_Model):
    status: Literal["ready", "loading", "error"]
    detail: str


class WarmupResponse(_Model):
    status: Literal["ready"] = "ready"
    warmup_sec: float = Field(ge=0.0, description="Seconds this call spent loading and warming.")
    detail: str


class UploadRequest(_Model):
    content_type: ImageType = "image/jpeg"


class UploadResponse(_Model):
    """A presigned S3 POST into ``incoming/``: send ``fields`` plus ``file`` (last) to ``url``."""

    result_id: str
    key: str
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_in: int
    result_path: str = Field(description="Poll this path (GET) for the result.")


class SourceObject(_Model):
    bucket: str
    key: str
    etag: str | None = None
    size_bytes: int | None = None


class BatchResult(OcrResponse):
    """``results/<key>.json``: the API's answer plus where it came from and when.

    A photo that cannot be read (not an image, too large, gone) still gets a result, with ``error``
    set and ``success`` false, so a client polling for it always gets an answer.
    """

    source: SourceObject
    processed_at: datetime
    error: ErrorBody | None = None

    @classmethod
    def failed(
        cls,
        source: SourceObject,
        error: ErrorBody,
        *,
        request_id: str,
        processed_at: datetime,
        elapsed_sec: float = 0.0,
    ) -> BatchResult:
        return cls(
            success=False,
            plate_number=None,
            confidence=0.0,
            stage="failed",
            stage_label=STAGE_LABELS[Stage.FAILED],
            elapsed_sec=round(elapsed_sec, 4),
            stage2_status="not_needed",
            request_id=request_id,
            source=source,
            processed_at=processed_at,
            error=error,
        )

    @classmethod
    def read(
        cls,
        result: OcrResult,
        source: SourceObject,
        *,
        request_id: str,
        processed_at: datetime,
    ) -> BatchResult:
        data: dict[str, Any] = {**result.to_dict(), "request_id": request_id}
        return cls.model_validate({**data, "source": source, "processed_at": processed_at})
