"""The original EC2 service's answer, as its documentation shows it: the drop-in contract.

Written by hand from the original's two documented examples, never generated from our own models,
so that a change of ours that would break its clients fails here:

    success:  {"success": true,  "plate_number": "12가3456", "confidence": 0.85,
               "stage": "1단계 로직", "elapsed_sec": 2.34}
    failure:  {"success": false, "plate_number": null, "confidence": null,
               "stage": "모두 실패", "elapsed_sec": 5.67}

Its ``stage`` values are ``1단계 로직``, ``2단계 로직`` and ``모두 실패``. Extra fields are allowed:
its clients read these five.
"""

from __future__ import annotations

from typing import Any

SUCCESS_EXAMPLE = {
    "success": True,
    "plate_number": "12가3456",
    "confidence": 0.85,
    "stage": "1단계 로직",
    "elapsed_sec": 2.34,
}
FAILURE_EXAMPLE = {
    "success": False,
    "plate_number": None,
    "confidence": None,
    "stage": "모두 실패",
    "elapsed_sec": 5.67,
}
STAGES = ("1단계 로직", "2단계 로직", "모두 실패")

_FIELDS = ("success", "plate_number", "confidence", "stage", "elapsed_sec")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(_FIELDS),
    "properties": {"elapsed_sec": {"type": "number", "minimum": 0}},
    "oneOf": [
        {
            "properties": {
                "success": {"const": True},
                "plate_number": {"type": "string", "minLength": 1},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "stage": {"enum": list(STAGES[:2])},
            }
        },
        {
            "properties": {
                "success": {"const": False},
                "plate_number": {"type": "null"},
                "confidence": {"type": "null"},
                "stage": {"const": STAGES[2]},
            }
        },
    ],
}


def check(body: dict[str, Any]) -> None:
    """Raises ``jsonschema.ValidationError`` unless ``body`` is an answer the original's clients
    understand, with the original's field order for its five fields."""
    import jsonschema

    jsonschema.validate(body, SCHEMA)
    order = [k for k in body if k in _FIELDS]
    if order != list(_FIELDS):
        raise AssertionError(f"the original's fields come in its order, not {order}")
