"""Errors live in plate_ocr/errors.py; each says its HTTP status and whether a retry can help."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from plate_ocr import errors
from plate_ocr.errors import PlateOcrError

PACKAGE = Path(errors.__file__).resolve().parent
ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, PlateOcrError) and cls is not PlateOcrError
]


def _exception_classes_outside_errors() -> list[str]:
    """Classes defined outside errors.py whose bases name an exception (``...Error``,
    ``Exception``)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]
            if any(b == "Exception" or b.endswith("Error") for b in bases):
                found.append(f"{path.relative_to(PACKAGE)}: {node.name}")
    return found


def test_no_module_but_errors_defines_an_exception() -> None:
    assert _exception_classes_outside_errors() == []


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_each_error_states_its_code_status_and_retry_rule(cls: type[PlateOcrError]) -> None:
    own = vars(cls)

    assert {"code", "http_status", "retryable"} <= own.keys()
    assert isinstance(cls.retryable, bool)
    assert 400 <= cls.http_status < 600


def test_bad_input_is_never_retryable() -> None:
    # The batch retries a record on retryable errors only; a 4xx retried would loop into the DLQ.
    assert [cls.__name__ for cls in ERRORS if cls.http_status < 500 and cls.retryable] == []
