"""The wire contract: pydantic models shared by API responses, batch result objects and OpenAPI.

The fields mirror :meth:`plate_ocr.results.OcrResult.to_dict` (a test keeps the two in step) and
keep the original service's fields (``success``, ``plate_number``, ``confidence``, ``stage``,
``elapsed_sec``) first.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plate_ocr.formats import ImageFormat, ImageType
from plate_ocr.plate_class import PlateClass
from plate_ocr.quality import (
    MIN_CHAR_HEIGHT_PX,
    MIN_SHARPNESS,
    TINY_CHAR_HEIGHT_PX,
    Quality,
    QualityIssue,
)
from plate_ocr.results import OcrResult, Stage, Stage2Status, StageLabel


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
    confidence: float = Field(
        ge=0.0, le=1.0, description="Calibrated probability that plate_number is exactly right."
    )
    box: list[list[float]] | None = Field(
        min_length=4,
        max_length=4,
        description=(
            "4 corners [x, y] in pixels of the original photo, clockwise from top-left; null for "
            "a stage-2 plate whose place is unknown."
        ),
    )
    char_confidences: list[CharConfidenceModel] = []
    candidates: list[CandidateModel] = []
    format: str | None = Field(default=None, description="7char, 8char, regional or diplomatic.")
    region: str | None = None
    usage: str | None = Field(
        default=None, description="private, commercial, delivery, rental, ..."
    )
    usage_label: str | None = Field(
        default=None, description="Korean label of the usage (비사업용, ...)."
    )
    stage_id: Stage = Stage.STAGE1
    needs_review: bool = Field(
        default=False,
        description="Below the success threshold: a person should check it (확인 필요).",
    )
    detection_score: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="How sure the plate finder is that this is a plate.",
    )
    plate_class: PlateClass = Field(
        default=PlateClass.WHITE,
        description="The plate's class from its colour and layout (ev: electric or hydrogen car).",
    )
    plate_class_label: str = Field(
        default=PlateClass.WHITE.label,
        description="Korean label of the class (전기차, 사업용, ...).",
    )
    is_ev: bool = Field(default=False, description="An electric (or hydrogen) car's plate.")
    quality: Quality | None = Field(
        default=None,
        description=(
            f"low when the plate's characters are under {MIN_CHAR_HEIGHT_PX:g} px high in the "
            f"photo or its crop is blurred (sharpness under {MIN_SHARPNESS:g}); null when nothing "
            "could be measured (a stage-2 plate whose place is unknown). A stage-1 reading of a "
            "low-quality plate needs PLATE_OCR_MIN_CONFIDENCE_LOW_QUALITY to succeed."
        ),
    )
    quality_issues: list[QualityIssue] = Field(
        default=[], description="Why quality is low: small_characters, blurred."
    )
    char_height_px: float | None = Field(
        default=None,
        ge=0.0,
        description=(
            "Height in photo pixels of the smallest characters a reading needs. Under "
            f"{TINY_CHAR_HEIGHT_PX:g} px a stage-1 reading needs "
            "PLATE_OCR_MIN_CONFIDENCE_TINY_CHARACTERS to succeed."
        ),
    )
    sharpness: float | None = Field(
        default=None,
        ge=0.0,
        description="Variance of the Laplacian over the grey variance of the plate's crop.",
    )


class ReadingModel(_Model):
    """What was read from one photo: the answer's fields, and each frame's of a burst."""

    success: bool
    plate_number: str | None
    confidence: float | None = Field(
        ge=0.0,
        le=1.0,
        description="Calibrated probability that plate_number is right; null on failure.",
    )
    stage: StageLabel = Field(
        description="The original service's stage: 1단계 로직, 2단계 로직, 모두 실패."
    )
    elapsed_sec: float = Field(ge=0.0)
    stage_id: Stage = Field(description="The stage as a stable machine id.")
    plates: list[PlateModel] = []
    image_width: int = Field(default=0, ge=0)
    image_height: int = Field(default=0, ge=0)
    timings_ms: dict[str, float] = {}
    stage2_status: Stage2Status = Field(
        default=Stage2Status.NOT_NEEDED,
        description="What stage 2 (Gemini) did: ok, or why it gave no plate.",
    )
    photo_too_small: bool = Field(
        default=False,
        description=(
            "The photo is too small to trust: the first plate's characters are under "
            f"{MIN_CHAR_HEIGHT_PX:g} px high (or no plate of readable size fits in the photo)."
        ),
    )
    model_load_sec: float | None = Field(
        default=None,
        ge=0.0,
        description=(
            "Seconds this request waited for the models to load before reading (a cold start "
            "without preloading); null when they were loaded. elapsed_sec is the read alone."
        ),
    )


class FrameModel(ReadingModel):
    """One photo of several of the same vehicle, read alone."""

    index: int = Field(ge=0, description="The photo's place in the request (0 first).")
    filename: str | None = None


class VoteModel(_Model):
    """How the plate of several photos of one vehicle was voted."""

    frames: int = Field(ge=1, description="Photos sent.")
    voters: int = Field(ge=0, description="Photos whose reading had the voted plate's layout.")
    agreeing: int = Field(ge=0, description="Photos that read exactly the voted plate.")
    support: list[float] = Field(
        default=[], description="Per character, the share of the weighted votes behind it."
    )
    best_frame: int | None = Field(
        default=None, description="The photo the plate's box, class and quality come from."
    )


class OcrResponse(ReadingModel):
    """What ``POST /ocr/license-plate`` answers (and what a batch result holds).

    For several photos of one vehicle, the answer is the voted plate, ``frames`` lists what each
    photo read alone and ``vote`` how the plate was voted; both are null for one photo.
    """

    frames: list[FrameModel] | None = None
    vote: VoteModel | None = None
    request_id: str

    @classmethod
    def from_result(cls, result: OcrResult, request_id: str) -> OcrResponse:
        return cls.model_validate({**result.to_dict(), "request_id": request_id})


class ImageInfoModel(_Model):
    format: ImageFormat
    width: int = Field(gt=0, description="Upright, as its EXIF orientation says (as a read).")
    height: int = Field(gt=0, description="Upright, as its EXIF orientation says (as a read).")
    size_bytes: int = Field(gt=0)


class DryRunResponse(_Model):
    """``dryRun``: the upload is a readable image within the limits; no OCR ran."""

    success: bool = True
    dry_run: Literal[True] = True
    image: ImageInfoModel
    images: list[ImageInfoModel] | None = Field(
        default=None, description="Every photo, when several of one vehicle were sent."
    )
    request_id: str


class ErrorBody(_Model):
    """Every 4xx / 5xx answer of the API."""

    error: str = Field(description="Stable machine code, e.g. invalid_image, image_too_large.")
    message: str
    request_id: str | None = None


class ModelState(StrEnum):
    """Whether the models are loaded (``GET /status``)."""

    READY = "ready"
    LOADING = "loading"
    ERROR = "error"


class StatusResponse(_Model):
    status: ModelState
    detail: str


class WarmupResponse(_Model):
    status: Literal[ModelState.READY] = ModelState.READY
    warmup_sec: float = Field(ge=0.0, description="Seconds this call spent loading and warming.")
    detail: str


class UploadRequest(_Model):
    content_type: ImageType = ImageType.JPEG


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
            confidence=None,
            stage=Stage.FAILED.label,
            stage_id=Stage.FAILED,
            elapsed_sec=round(elapsed_sec, 4),
            stage2_status=Stage2Status.NOT_NEEDED,
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
