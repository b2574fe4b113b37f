"""The pipeline's result contract: frozen dataclasses shared by the CLI, the API and the batch."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from plate_ocr.plate_class import PlateClass
from plate_ocr.quality import Quality, QualityIssue

if TYPE_CHECKING:
    from pydantic import GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]


class StageLabel(StrEnum):
    """The original service's ``stage`` values, kept exactly for its clients and the web page."""

    STAGE1 = "1단계 로직"
    STAGE2 = "2단계 로직"
    FAILED = "모두 실패"


class Stage(StrEnum):
    """Which stage produced the answer: the stable machine id (``stage_id`` on the wire)."""

    STAGE1 = "stage1"
    STAGE2 = "stage2"
    FAILED = "failed"

    @property
    def label(self) -> StageLabel:
        """The original service's wording, which ``stage`` carries on the wire."""
        return StageLabel[self.name]


_HTTP_ERROR = re.compile(r"error:http_[0-9]+")


class Stage2Status(StrEnum):
    """What stage 2 did for a photo (``stage2_status`` on the wire).

    Besides the members, ``error:http_<code>`` names the HTTP status Gemini answered with, when it
    has no kind of its own (:meth:`http_error`); 429, 401 and 403 do.
    """

    #: Stage 1 read a plate; stage 2 was not asked.
    NOT_NEEDED = "not_needed"
    #: No stage 2 is configured, or the caller turned it off.
    DISABLED = "disabled"
    OK = "ok"
    SKIPPED_NO_KEY = "skipped_no_key"
    NO_PLATE = "no_plate"
    INVALID_PLATE = "invalid_plate"
    ERROR_SECRET = "error:secret"
    ERROR_TIMEOUT = "error:timeout"
    ERROR_MALFORMED = "error:malformed"
    ERROR_RATE_LIMITED = "error:rate_limited"
    ERROR_AUTH = "error:auth"
    ERROR_TRANSPORT = "error:transport"

    @classmethod
    def http_error(cls, code: object) -> Stage2Status:
        """``error:http_<code>`` for an HTTP status without a kind of its own; a code that is no
        status is a transport error."""
        return cls(f"error:http_{code}") if isinstance(code, int) else cls.ERROR_TRANSPORT

    @classmethod
    def _missing_(cls, value: object) -> Stage2Status | None:
        # error:http_<code> values are made on demand, like a Flag's combined members.
        if not isinstance(value, str) or not _HTTP_ERROR.fullmatch(value):
            return None
        member = str.__new__(cls, value)
        member._name_ = f"ERROR_HTTP_{value.rsplit('_', 1)[1]}"
        member._value_ = value
        return member

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        return {
            "title": schema.get("title", cls.__name__),
            "description": schema.get("description", ""),
            "anyOf": [
                {"type": "string", "enum": [member.value for member in cls]},
                {"type": "string", "pattern": f"^{_HTTP_ERROR.pattern}$"},
            ],
        }

    @property
    def called_gemini(self) -> bool:
        """Whether stage 2 made a call (the ``Stage2Calls`` metric): not when it was not needed,
        turned off, or had no key."""
        return self not in _NO_CALL


_NO_CALL = frozenset(
    {
        Stage2Status.NOT_NEEDED,
        Stage2Status.DISABLED,
        Stage2Status.SKIPPED_NO_KEY,
        Stage2Status.ERROR_SECRET,
    }
)


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
    """One plate found in a photo and what was read from it (always a grammar-valid plate).

    ``confidence`` is calibrated: the probability that ``plate_number`` is exactly right.
    ``needs_review`` is true below the success threshold: a person should look before acting on it.
    ``detection_score`` is the detector's score for the region (for a photo that is a plate crop
    already, how plate-like it is). ``box`` is None for a stage-2 plate whose place is unknown.
    ``quality`` says whether the photo of the plate is good enough to trust (plate_ocr.quality).
    """

    plate_number: str
    confidence: float
    box: Quad | None
    char_confidences: tuple[CharConfidence, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    format: str | None = None
    region: str | None = None
    usage: str | None = None
    usage_label: str | None = None
    stage: Stage = Stage.STAGE1
    needs_review: bool = False
    detection_score: float = 0.0
    plate_class: PlateClass = PlateClass.WHITE
    quality: Quality | None = None
    quality_issues: tuple[QualityIssue, ...] = ()
    char_height_px: float | None = None
    sharpness: float | None = None

    @property
    def is_ev(self) -> bool:
        """An electric (or hydrogen) car's plate."""
        return self.plate_class is PlateClass.EV

    def clipped(self, width: int, height: int) -> PlateRead:
        """This plate with its box held inside a ``width`` x ``height`` photo."""
        if self.box is None:
            return self
        return replace(self, box=clip_box(self.box, width, height))


def clip_box(box: Quad, width: int, height: int) -> Quad:
    """``box`` with every corner moved inside the photo (0..width, 0..height)."""

    def clip(point: Point) -> Point:
        return (min(max(point[0], 0.0), float(width)), min(max(point[1], 0.0), float(height)))

    return (clip(box[0]), clip(box[1]), clip(box[2]), clip(box[3]))


@dataclass(frozen=True)
class VoteSummary:
    """How the plate of several photos of one vehicle was voted (plate_ocr.vote)."""

    frames: int
    voters: int
    agreeing: int
    support: tuple[float, ...]
    best_frame: int | None


@dataclass(frozen=True)
class OcrResult:
    """Everything the pipeline knows about one photo.

    ``success`` is true only for a stage-1 reading at or above its success bar
    (:class:`plate_ocr.pipeline.Bar`; of several, the largest plate:
    :func:`plate_ocr.pipeline.answer`), or a valid plate from stage 2; otherwise ``plate_number``
    and ``confidence`` are None and the unsure readings, if any, are in ``plates`` with
    ``needs_review`` set. ``plates`` lists the answer first, then the rest surest first.
    """

    success: bool
    plate_number: str | None
    confidence: float | None
    stage: Stage
    elapsed_sec: float
    plates: tuple[PlateRead, ...] = ()
    image_width: int = 0
    image_height: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    stage2_status: Stage2Status = Stage2Status.NOT_NEEDED
    #: The photo is too small to trust: its plate's characters (or any plate's it could hold)
    #: are under plate_ocr.quality.MIN_CHAR_HEIGHT_PX.
    photo_too_small: bool = False
    #: Seconds the request waited for the models to load before the read (None: they were ready);
    #: ``elapsed_sec`` is the read alone.
    model_load_sec: float | None = None
    #: Several photos of one vehicle: each frame's own reading, and how the answer was voted.
    frames: tuple[FrameReading, ...] | None = None
    vote: VoteSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, the same shape as the API response body (without request fields).

        The original service's fields come first, with its values: ``stage`` is its Korean
        wording; the machine id is ``stage_id``.
        """
        data = asdict(self)
        data["stage"] = self.stage.label
        data = {**{k: data[k] for k in ORIGINAL_FIELDS}, "stage_id": self.stage.value, **data}
        for plate in data["plates"]:
            plate["stage_id"] = str(plate.pop("stage"))
            cls = PlateClass(plate["plate_class"])
            plate.update(
                plate_class=cls.value, plate_class_label=cls.label, is_ev=cls is PlateClass.EV
            )
            if plate["box"] is not None:
                plate["box"] = [list(p) for p in plate["box"]]
        if self.frames is not None:
            data["frames"] = [
                {"index": f.index, "filename": f.filename, **f.result.to_dict()}
                for f in self.frames
            ]
            for frame in data["frames"]:
                del frame["frames"], frame["vote"]
        return data


@dataclass(frozen=True)
class FrameReading:
    """One photo of several of the same vehicle, and what was read from it alone."""

    index: int
    filename: str | None
    result: OcrResult


#: The fields of the original service's answer, in its order.
ORIGINAL_FIELDS = ("success", "plate_number", "confidence", "stage", "elapsed_sec")
