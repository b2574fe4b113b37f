"""stage2_status is one vocabulary: the enum, the wire model and the OpenAPI schema agree."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plate_ocr.results import Stage2Status
from plate_ocr.schema import ReadingModel
from plate_ocr.telemetry import result_metrics

WIRE_VALUES = (
    "not_needed",
    "disabled",
    "ok",
    "skipped_no_key",
    "no_plate",
    "invalid_plate",
    "error:secret",
    "error:timeout",
    "error:malformed",
    "error:rate_limited",
    "error:auth",
    "error:transport",
)


def _reading(status: str) -> ReadingModel:
    return ReadingModel.model_validate(
        {
            "success": False,
            "plate_number": None,
            "confidence": None,
            "stage": "모두 실패",
            "stage_id": "failed",
            "elapsed_sec": 0.1,
            "stage2_status": status,
        }
    )


def test_the_members_are_the_wire_values_clients_already_read() -> None:
    assert tuple(member.value for member in Stage2Status) == WIRE_VALUES


@pytest.mark.parametrize("code", [500, 503, 404], ids=["500", "503", "404"])
def test_an_http_error_keeps_its_status_code_on_the_wire(code: int) -> None:
    status = Stage2Status.http_error(code)

    assert status == f"error:http_{code}"
    assert Stage2Status(f"error:http_{code}") == status
    assert _reading(status).model_dump(mode="json")["stage2_status"] == f"error:http_{code}"


def test_an_http_error_without_a_status_code_is_a_transport_error() -> None:
    assert Stage2Status.http_error(None) is Stage2Status.ERROR_TRANSPORT


@pytest.mark.parametrize("value", ["error:http_", "error:http_5x", "error:other", "OK"])
def test_the_wire_model_refuses_a_status_outside_the_vocabulary(value: str) -> None:
    with pytest.raises(ValidationError):
        _reading(value)


def test_the_schema_lists_the_members_and_the_http_error_pattern() -> None:
    schema = ReadingModel.model_json_schema()
    variants = schema["$defs"]["Stage2Status"]["anyOf"]

    assert variants[0]["enum"] == list(WIRE_VALUES)
    assert variants[1]["pattern"] == "^error:http_[0-9]+$"


@pytest.mark.parametrize(
    "status, calls",
    [
        (Stage2Status.NOT_NEEDED, 0.0),
        (Stage2Status.DISABLED, 0.0),
        (Stage2Status.SKIPPED_NO_KEY, 0.0),
        (Stage2Status.ERROR_SECRET, 0.0),
        (Stage2Status.OK, 1.0),
        (Stage2Status.ERROR_TIMEOUT, 1.0),
        (Stage2Status.http_error(503), 1.0),
    ],
    ids=lambda v: str(v),
)
def test_stage2_calls_count_only_the_outcomes_that_asked_gemini(
    status: Stage2Status, calls: float
) -> None:
    metrics = dict((name, value) for name, _unit, value in result_metrics(_reading(status)))

    assert metrics["Stage2Calls"] == calls
