"""One read through the API with the real models (slow; skipped until models/ has the weights)."""

from __future__ import annotations

import pytest
from functional_support import json_body, load_event

from plate_ocr import lifecycle
from plate_ocr.config import get_settings
from plate_ocr.schema import OcrResponse


@pytest.mark.slow
def test_the_real_pipeline_answers_the_event_photo_in_the_schema(api, invoke):
    weights = get_settings().model_dir / f"{get_settings().recog_network}.pth"
    if not weights.is_file():
        pytest.skip(f"no trained model at {weights}")
    lifecycle.reset()
    try:
        response = invoke(api, load_event("api-post-ocr-multipart"))
    finally:
        lifecycle.reset()

    assert response["statusCode"] == 200, response["body"]
    body = OcrResponse.model_validate(json_body(response))
    assert body.image_width == 640
    assert body.stage_id in ("stage1", "stage2", "failed")
