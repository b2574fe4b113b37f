"""Settings refuse misspelt keywords and report environment variables that name no setting."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from plate_ocr import config
from plate_ocr.config import Settings, unknown_variables, variable_names

ROOT = Path(__file__).resolve().parents[2]


def test_a_misspelt_keyword_is_refused_not_ignored():
    with pytest.raises(ValidationError, match="min_confidance"):
        Settings(min_confidance=0.2)  # type: ignore[call-arg]


def test_every_setting_is_read_from_its_prefixed_name_and_the_originals_aliases():
    names = variable_names()
    assert {"PLATE_OCR_MIN_CONFIDENCE", "PLATE_OCR_MAX_REGIONS", "PLATE_OCR_USE_GPU"} <= names
    assert {"LOG_LEVEL", "USE_GPU", "TIMEOUT_SECONDS", "CORS_ORIGINS", "GEMINI_MODEL"} <= names


def test_unknown_variables_lists_only_prefixed_names_that_are_no_setting():
    environ = {
        "PLATE_OCR_MIN_CONFIDANCE": "0.3",
        "PLATE_OCR_MIN_CONFIDENCE": "0.8",
        "LOG_LEVEL": "DEBUG",
        "HOME": "/root",
    }
    assert unknown_variables(environ) == ["PLATE_OCR_MIN_CONFIDANCE".replace("ENCE", "ANCE")]


def test_get_settings_warns_about_a_misspelt_variable_and_keeps_the_default(monkeypatch, caplog):
    monkeypatch.setenv("PLATE_OCR_MIN_CONFIDANCE", "0.3")
    monkeypatch.delenv("PLATE_OCR_MIN_CONFIDENCE", raising=False)
    config.get_settings.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="plate_ocr.config"):
            settings = config.get_settings()
    finally:
        config.get_settings.cache_clear()
    assert settings.min_confidence == Settings.model_fields["min_confidence"].default
    assert "PLATE_OCR_MIN_CONFIDANCE" in caplog.text


def test_every_plate_ocr_variable_of_the_template_names_a_setting():
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    set_there = set(re.findall(r"^\s+(PLATE_OCR_[A-Z0-9_]+):", text, flags=re.M))
    assert set_there, "template.yaml sets no PLATE_OCR_ variable?"
    assert unknown_variables(dict.fromkeys(set_there, "")) == []


def test_the_readmes_settings_table_lists_every_setting_and_no_other():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([A-Z0-9_]+)`", section, flags=re.M))
    # Each setting once, by its first name (the original service's name where it has one).
    expected = set()
    for name, field in Settings.model_fields.items():
        alias = getattr(field.validation_alias, "choices", None)
        expected.add(str(alias[0]) if alias else "PLATE_OCR_" + name.upper())
    # Powertools' own variables have a row too; they are read by Powertools, not by Settings.
    assert rows - {"POWERTOOLS_SERVICE_NAME"} == expected
