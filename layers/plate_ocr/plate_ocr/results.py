"""The pipeline's result contract: frozen dataclasses shared by the CLI, the API and the batch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]


class Stage(StrEnum):
    """Which stage produced the answer; stable ids for machines."""

    STAGE1 = "stage1"
    STAGE2 = "stage2"
    FAILED = "failed"


#: The original service's Korean wording, kept for existing clients and the web page.
STAGE_LABELS: dict[Stage, str] = {
    Stage.STAGE1: "1단계 로직",
    Stage.STAGE2: "2단계 로직",
    Stage.FAILED: "모두 실패",
}


@dataclass(frozen=True)
class CharConfidence:
    """One character of a reading with the recogniser's probability for it."""

    char: str
    confidence: float


@dataclass(frozen=True)
class Candidate:
    """An alternative reading that passes the plate grammar, with its score (0..1)."""

    plate_number: str
    score: float


@dataclass(frozen=True)
class PlateRead:
    """One plate found in a photo and what was read from it."""

    plate_number: str
    confidence: float
    box: Quad
    char_confidences: tuple[CharConfidence, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    valid: bool = True
    format: str | None = None
    region: str | None = None
    usage: str | None = None
    usage_label: str | None = None
    stage: Stage = Stage.STAGE1


@dataclass(frozen=True)
class OcrResult:
    """Everything the pipeline knows about one photo."""

    success: bool
    plate_number: str | None
    confidence: float
    stage: Stage
    elapsed_sec: float
    plates: tuple[PlateRead, ...] = ()
    image_width: int = 0
    image_height: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    stage2_status: str = "not_needed"

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS[self.stage]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, the same shape as the API response body (without request fields)."""
        data = asdict(self)
        data["stage"] = self.stage.value
        data["stage_label"] = self.stage_label
        for plate in data["plates"]:
            plate["stage"] = str(plate["stage"])
            plate["box"] = [list(p) for p in plate["box"]]
        return data
