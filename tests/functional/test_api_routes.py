"""The API handler on API Gateway events: every route, the error mapping, the deadline."""

from __future__ import annotations

import base64
import io
import json
import logging
from typing import Any

import pytest
from functional_support import (
    BOX,
    BUCKET,
    BrokenPipelineFactory,
    json_body,
    load_event,
    with_body,
)

from plate_ocr import lifecycle, storage
from plate_ocr.engines import FallbackAnswer
from plate_ocr.pipeline import Pipeline
from plate_ocr.results import Stage2Status
from plate_ocr.schema import DryRunResponse, ErrorBody, OcrResponse
from plate_ocr.upload import FormPart, encode_multipart
from tests.support.bombs import progressive_jpeg_within_limits
from tests.support.calibration import weakest_char
from tests.support.fakes import FakeLocator
from tests.support.frames import distinct_copies

ORIGINAL_FIELDS = ("success", "plate_number", "confidence", "stage", "elapsed_sec")


def _png(width: int = 120, height: int = 40, mode: str = "RGB") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, (width, height), 200 if mode == "L" else (200, 200, 200)).save(out, "PNG")
    return out.getvalue()


def _gif() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 0, 0)).save(out, "GIF")
    return out.getvalue()


def _multipart(parts: list[tuple[str, bytes, str | None]]) -> bytes:
    return encode_multipart([FormPart(n, d, f) for n, d, f in parts], "b0undary")


def _assert_error(response: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response["body"]
    body = json_body(response)
    ErrorBody.model_validate(body)
    assert body["error"] == code
    assert body["message"]
    assert "Traceback" not in response["body"]
    return body


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_name", ["api-post-ocr-multipart", "api-post-ocr-jpeg"], ids=["multipart", "raw-jpeg"]
)
def test_reads_the_plate_of_the_event_photo(api, pipeline, invoke, event_name):
    # GIVEN the shared event carrying the synthetic plate photo
    event = load_event(event_name)

    # WHEN the API reads it
    response = invoke(api, event)

    # THEN the original fields come first and the richer ones follow, in the schema
    assert response["statusCode"] == 200
    body = json_body(response)
    OcrResponse.model_validate(body)
    assert list(body)[:5] == list(ORIGINAL_FIELDS)
    assert body["success"] is True
    assert body["plate_number"] == "12가3456"
    assert (body["stage"], body["stage_id"]) == ("1단계 로직", "stage1")
    assert body["confidence"] == pytest.approx(0.93)
    assert body["request_id"] == event["requestContext"]["requestId"]
    plate = body["plates"][0]
    assert len(plate["box"]) == 4
    assert [c["char"] for c in plate["char_confidences"]] == list("12가3456")
    assert plate["usage"] == "private"
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]


def test_response_fields_match_the_library_result(api, pipeline, invoke, photo):
    # GIVEN the library's own answer for the photo
    expected = pipeline.read(photo).to_dict()

    # WHEN the API answers for the same photo
    body = json_body(invoke(api, load_event("api-post-ocr-jpeg")))

    # THEN it carries exactly the library's fields plus request_id
    assert set(body) == set(expected) | {"request_id"}


def test_falls_back_to_stage_two_when_stage_one_reads_nothing(api, pipeline, invoke, recognizer):
    # GIVEN a recogniser that reads nothing and a stage 2 that reads the plate
    recognizer.text = ""
    pipeline.fallback.answer = FallbackAnswer(
        status=Stage2Status.OK, plate_number="123가4567", confidence=0.8
    )

    # WHEN the photo is read
    body = json_body(invoke(api, load_event("api-post-ocr-jpeg")))

    # THEN stage 2's answer is the result
    assert body["success"] is True
    assert body["plate_number"] == "123가4567"
    assert (body["stage"], body["stage_id"]) == ("2단계 로직", "stage2")
    assert body["stage2_status"] == "ok"


def test_says_stage_two_was_skipped_when_no_key_is_configured(api, pipeline, invoke, recognizer):
    recognizer.text = ""

    body = json_body(invoke(api, load_event("api-post-ocr-jpeg")))

    assert body["success"] is False
    assert (body["plate_number"], body["confidence"]) == (None, None)
    assert (body["stage"], body["stage_id"]) == ("모두 실패", "failed")
    assert body["stage2_status"] == "skipped_no_key"


def test_an_unsure_reading_is_a_failure_listed_for_review(api, pipeline, invoke, recognizer):
    # GIVEN a reading under the success threshold and no stage-2 key
    recognizer.confidence = 0.26

    # WHEN the photo is read
    body = json_body(invoke(api, load_event("api-post-ocr-jpeg")))

    # THEN the answer is a failure, and the reading waits for a person in plates
    assert (body["success"], body["plate_number"], body["confidence"]) == (False, None, None)
    assert body["stage"] == "모두 실패"
    assert [(p["plate_number"], p["needs_review"]) for p in body["plates"]] == [("12가3456", True)]


def test_dry_run_validates_the_upload_without_reading_it(api, pipeline, invoke, recognizer, photo):
    # GIVEN the dry-run event (multipart with dryRun=true)
    event = load_event("api-post-ocr-dryrun")

    # WHEN it is sent
    response = invoke(api, event)

    # THEN the image is described and no engine ran
    assert response["statusCode"] == 200
    body = DryRunResponse.model_validate(json_body(response))
    assert body.image.format == "jpeg"
    assert (body.image.width, body.image.height) == (640, 400)
    assert body.image.size_bytes == len(photo)
    assert recognizer.calls == 0


def test_dry_run_works_as_a_query_parameter_on_raw_bodies(api, pipeline, invoke, recognizer):
    event = load_event("api-post-ocr-jpeg")
    event["queryStringParameters"] = {"dryRun": "true"}
    event["multiValueQueryStringParameters"] = {"dryRun": ["true"]}

    response = invoke(api, event)

    assert response["statusCode"] == 200
    assert json_body(response)["dry_run"] is True
    assert recognizer.calls == 0


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_a_dry_run_reports_the_size_a_read_reports(api, pipeline, invoke, orientation):
    from PIL import Image

    # GIVEN a 160x60 JPEG whose EXIF says how to turn it upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.new("RGB", (160, 60), (200, 200, 200)).save(out, "JPEG", exif=exif.tobytes())
    event = with_body(load_event("api-post-ocr-jpeg"), out.getvalue(), "image/jpeg")

    # WHEN it is checked and when it is read
    read = json_body(invoke(api, event))
    event["queryStringParameters"] = {"dryRun": "true"}
    event["multiValueQueryStringParameters"] = {"dryRun": ["true"]}
    checked = json_body(invoke(api, event))["image"]

    # THEN both give the upright size (a quarter turn for orientations 5-8)
    upright = (60, 160) if orientation in (6, 8) else (160, 60)
    assert (read["image_width"], read["image_height"]) == upright
    assert (checked["width"], checked["height"]) == upright


def test_dry_run_needs_no_model(api, invoke, monkeypatch):
    # GIVEN a process whose models cannot load
    broken = BrokenPipelineFactory()
    monkeypatch.setattr(lifecycle, "get_pipeline", broken)

    # WHEN a dry run is sent
    response = invoke(api, load_event("api-post-ocr-dryrun"))

    # THEN it still answers, without touching the models
    assert response["statusCode"] == 200
    assert broken.calls == 0


def test_accepts_png_bodies(api, pipeline, invoke):
    event = with_body(load_event("api-post-ocr-jpeg"), _png(), "image/png")

    assert invoke(api, event)["statusCode"] == 200


BAD_REQUESTS = [
    pytest.param(
        _multipart([("dryRun", b"false", None)]),
        "multipart",
        400,
        "missing_field",
        id="multipart-without-image_file",
    ),
    pytest.param(
        _multipart([("photo", b"\xff\xd8\xff", "a.jpg")]),
        "multipart",
        400,
        "missing_field",
        id="wrong-field-name",
    ),
    pytest.param(
        _multipart([("image_file", _png(), "a.png"), ("image_file", b"", "b.png")]),
        "multipart",
        400,
        "empty_image",
        id="an-empty-photo-among-two",
    ),
    pytest.param(
        _multipart([("image_file", _png(), f"{i}.png") for i in range(9)]),
        "multipart",
        400,
        "too_many_files",
        id="nine-photos",
    ),
    pytest.param(
        _multipart([("image_file", b"", "empty.jpg")]),
        "multipart",
        400,
        "empty_image",
        id="empty-file",
    ),
    pytest.param(b"not an image at all", "image/jpeg", 400, "invalid_image", id="text-as-jpeg"),
    pytest.param(
        b"\xff\xd8\xff\xe0" + b"\x00" * 40, "image/jpeg", 400, "invalid_image", id="truncated-jpeg"
    ),
    pytest.param(_gif(), "image/jpeg", 415, "unsupported_media_type", id="gif-named-jpeg"),
    pytest.param(
        b'{"image": "x"}', "application/json", 415, "unsupported_media_type", id="json-body"
    ),
    pytest.param(_png(), None, 415, "unsupported_media_type", id="no-content-type"),
    pytest.param(b"x", "multipart/form-data", 400, "invalid_multipart", id="multipart-no-boundary"),
]


@pytest.mark.parametrize(("body", "kind", "status", "code"), BAD_REQUESTS)
def test_bad_uploads_get_a_4xx_with_a_json_error(api, pipeline, invoke, body, kind, status, code):
    if kind == "multipart":
        kind = "multipart/form-data; boundary=b0undary"
    event = with_body(load_event("api-post-ocr-jpeg"), body, kind)

    _assert_error(invoke(api, event), status, code)

    # AND the next request is answered normally
    assert invoke(api, load_event("api-post-ocr-jpeg"))["statusCode"] == 200


def test_an_empty_body_is_a_bad_request(api, pipeline, invoke):
    event = with_body(load_event("api-post-ocr-jpeg"), b"", "image/jpeg")

    _assert_error(invoke(api, event), 400, "empty_image")


def test_broken_base64_is_a_bad_request(api, pipeline, invoke):
    event = load_event("api-post-ocr-jpeg")
    event["body"] = "!!! not base64 !!!"

    _assert_error(invoke(api, event), 400, "invalid_base64")


def test_a_photo_over_the_limit_gets_413(api, pipeline, invoke, monkeypatch, settings, photo):
    # GIVEN a byte limit just below the event photo's size
    small = settings.model_copy(update={"max_image_bytes": len(photo) - 1})
    monkeypatch.setattr(api, "settings", small)

    # WHEN the photo is sent both ways
    for name in ("api-post-ocr-jpeg", "api-post-ocr-multipart"):
        # THEN both are refused as too large
        _assert_error(invoke(api, load_event(name)), 413, "image_too_large")


def test_a_picture_over_the_pixel_limit_gets_413(api, invoke, monkeypatch, settings, recognizer):
    tiny = settings.model_copy(update={"max_image_pixels": 1000})
    fake = Pipeline([FakeLocator(box=BOX)], recognizer, weakest_char, settings=tiny)
    monkeypatch.setattr(lifecycle, "get_pipeline", lambda: fake)

    _assert_error(invoke(api, load_event("api-post-ocr-jpeg")), 413, "image_too_large")


def test_answers_503_while_the_models_cannot_load(api, invoke, monkeypatch):
    monkeypatch.setattr(lifecycle, "get_pipeline", BrokenPipelineFactory())

    body = _assert_error(invoke(api, load_event("api-post-ocr-jpeg")), 503, "model_unavailable")

    assert "korplate.pth" in body["message"]


def test_answers_504_when_decoding_passes_the_deadline(
    api, invoke, pipeline, settings, monkeypatch
):
    # GIVEN TIMEOUT_SECONDS of 0.2 s and a photo within every limit that takes longer to decode
    monkeypatch.setattr(api, "settings", settings.model_copy(update={"timeout_seconds": 0.2}))
    event = with_body(
        load_event("api-post-ocr-jpeg"), progressive_jpeg_within_limits(), "image/jpeg"
    )

    # WHEN the photo is sent
    body = _assert_error(invoke(api, event), 504, "timeout")

    # THEN the answer names the deadline, and the next photo (normal deadline) decodes normally
    assert "0.2" in body["message"]
    monkeypatch.setattr(api, "settings", settings)
    assert invoke(api, load_event("api-post-ocr-jpeg"))["statusCode"] == 200


def test_an_unexpected_error_is_a_500_without_a_stack_trace(api, invoke, monkeypatch):
    def explode() -> Any:
        raise RuntimeError("secret internals /var/task/x.py")

    monkeypatch.setattr(lifecycle, "get_pipeline", explode)

    response = invoke(api, load_event("api-post-ocr-jpeg"))

    body = _assert_error(response, 500, "internal_error")
    assert "internals" not in body["message"]


def test_a_value_error_inside_a_route_is_ours_not_a_bad_request(api, invoke, monkeypatch):
    # GIVEN a route whose JSON body Powertools parsed, failing afterwards with a ValueError
    def broken() -> Any:
        raise ValueError("secret internals")

    monkeypatch.setattr(storage, "get_store", broken)

    # WHEN it is called
    response = invoke(api, load_event("api-post-uploads"))

    # THEN the answer is a server error, not the client's
    body = _assert_error(response, 500, "internal_error")
    assert "internals" not in body["message"]


def test_a_known_path_with_a_parameter_answers_405_with_its_methods(api, invoke):
    event = load_event("api-get-result")
    event["httpMethod"] = "DELETE"

    response = invoke(api, event)

    _assert_error(response, 405, "method_not_allowed")
    assert response["multiValueHeaders"]["Allow"] == ["GET, OPTIONS"]


# --- operations --------------------------------------------------------------------------------


def test_healthz_answers_ok(api, invoke):
    response = invoke(api, load_event("api-get-healthz"))

    assert response["statusCode"] == 200
    assert response["body"] == "ok"


@pytest.mark.parametrize(
    "state",
    [("ready", "models loaded in 1.20 s"), ("loading", "loading models"), ("error", "missing")],
    ids=["ready", "loading", "error"],
)
def test_status_reports_the_model_state(api, invoke, monkeypatch, state):
    monkeypatch.setattr(lifecycle, "model_status", lambda: state)

    response = invoke(api, load_event("api-get-status"))

    assert response["statusCode"] == 200
    assert json_body(response) == {"status": state[0], "detail": state[1]}


def test_warmup_loads_the_models_and_says_how_long_it_took(api, invoke, monkeypatch):
    asked: list[bool] = []
    monkeypatch.setattr(lifecycle, "warm_up", lambda: asked.append(True) or 1.2345)
    monkeypatch.setattr(lifecycle, "model_status", lambda: ("ready", "models loaded in 1.20 s"))

    response = invoke(api, load_event("api-post-warmup"))

    assert response["statusCode"] == 200
    assert asked == [True]
    assert json_body(response) == {
        "status": "ready",
        "warmup_sec": 1.234,
        "detail": "models loaded in 1.20 s",
    }


def test_warmup_answers_503_when_the_models_cannot_load(api, invoke, monkeypatch):
    def fail() -> float:
        return float(BrokenPipelineFactory()())  # type: ignore[arg-type]

    monkeypatch.setattr(lifecycle, "warm_up", fail)

    _assert_error(invoke(api, load_event("api-post-warmup")), 503, "model_unavailable")


def test_unknown_routes_get_a_json_404(api, invoke):
    event = load_event("api-get-healthz")
    event["path"] = event["requestContext"]["path"] = "/nope"

    _assert_error(invoke(api, event), 404, "not_found")


# --- page and documentation --------------------------------------------------------------------


def test_serves_the_web_page_with_the_api_base_path(api, invoke):
    # GIVEN a request through the execute-api URL, whose path carries the stage
    event = load_event("api-get-index")
    event["requestContext"]["path"] = "/Prod/"

    response = invoke(api, event)

    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"][0].startswith("text/html")
    assert 'content="/Prod"' in response["body"]
    assert "{{API_BASE}}" not in response["body"]


def test_openapi_documents_every_route_and_both_request_bodies(api, invoke):
    response = invoke(api, load_event("api-get-openapi"))

    assert response["statusCode"] == 200
    spec = json_body(response)
    assert {
        "/healthz",
        "/status",
        "/warmup",
        "/ocr/license-plate",
        "/uploads",
        "/results/{result_id}",
    } <= set(spec["paths"])
    ocr = spec["paths"]["/ocr/license-plate"]["post"]
    assert {"multipart/form-data", "image/jpeg", "image/png", "image/webp"} <= set(
        ocr["requestBody"]["content"]
    )
    assert {"200", "400", "413", "415", "422", "503", "504"} <= set(ocr["responses"])


def test_swagger_ui_embeds_the_document(api, invoke):
    response = invoke(api, load_event("api-get-docs"))

    assert response["statusCode"] == 200
    assert "SwaggerUIBundle" in response["body"]
    assert "/ocr/license-plate" in response["body"]


@pytest.mark.parametrize("event_name", ["api-get-docs", "api-get-openapi"], ids=["docs", "spec"])
def test_documentation_can_be_turned_off(api, invoke, monkeypatch, settings, event_name):
    monkeypatch.setattr(api, "settings", settings.model_copy(update={"enable_docs": False}))

    _assert_error(invoke(api, load_event(event_name)), 404, "not_found")


def test_cors_headers_follow_the_setting(api, invoke):
    event = load_event("api-get-healthz")
    event["headers"]["Origin"] = "https://plates.example.com"
    event["multiValueHeaders"]["Origin"] = ["https://plates.example.com"]

    response = invoke(api, event)

    assert response["multiValueHeaders"]["Access-Control-Allow-Origin"] == ["*"]


# --- presigned uploads and results ---------------------------------------------------------------


def test_presigned_upload_is_limited_in_key_type_and_size(api, aws, invoke):
    # GIVEN the uploads event asking for a JPEG upload
    response = invoke(api, load_event("api-post-uploads"))

    # THEN the answer is a presigned POST for exactly one key under incoming/
    assert response["statusCode"] == 200
    body = json_body(response)
    assert body["key"] == f"incoming/{body['result_id']}"
    assert body["result_path"] == f"/results/{body['result_id']}"
    assert BUCKET in body["url"]
    policy = json.loads(base64.b64decode(body["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": body["key"]} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions
    assert body["fields"]["Content-Type"] == "image/jpeg"


def test_presigned_upload_defaults_to_jpeg_without_a_body(api, aws, invoke):
    event = with_body(load_event("api-post-uploads"), b"", None)

    response = invoke(api, event)

    assert response["statusCode"] == 200
    assert json_body(response)["fields"]["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(
    "body", [b'{"content_type": "image/gif"}', b'{"content_type": 5}', b"[1"], ids=str
)
def test_presigned_upload_refuses_other_types_with_422(api, aws, invoke, body):
    event = with_body(load_event("api-post-uploads"), body, "application/json")

    _assert_error(invoke(api, event), 422, "validation_error")


def test_result_is_404_until_the_batch_wrote_it_then_200(api, aws, invoke):
    # GIVEN the result event, whose result is not written yet
    event = load_event("api-get-result")
    result_id = event["path"].rsplit("/", 1)[1]

    # WHEN it is asked for before and after the result object exists
    before = invoke(api, event)
    aws.put_object(
        Bucket=BUCKET,
        Key=f"results/{result_id}.json",
        Body=json.dumps({"success": True, "plate_number": "12가3456"}).encode(),
    )
    after = invoke(api, event)

    # THEN 404 first, the stored JSON then
    _assert_error(before, 404, "not_ready")
    assert after["statusCode"] == 200
    assert json_body(after)["plate_number"] == "12가3456"


@pytest.mark.parametrize(
    ("result_id", "status", "code"),
    [
        ("short", 422, "validation_error"),
        ("X" * 32, 422, "validation_error"),
        ("..%2F..%2Fetc%2Fpasswd", 422, "validation_error"),
        ("../../etc/passwd", 404, "not_found"),
    ],
    ids=["short", "upper-case", "encoded-traversal", "traversal"],
)
def test_result_ids_that_cannot_exist_are_refused(api, aws, invoke, result_id, status, code):
    event = load_event("api-get-result")
    event["path"] = event["requestContext"]["path"] = f"/results/{result_id}"

    body = _assert_error(invoke(api, event), status, code)

    if status == 422:
        # THEN the message says what a result id looks like
        assert "32 lower-case hexadecimal characters" in body["message"]


def test_uploads_answer_503_without_a_bucket(api, invoke, monkeypatch, settings):
    from plate_ocr import storage
    from plate_ocr.storage import S3Store

    no_bucket = settings.model_copy(update={"bucket_name": None})
    monkeypatch.setattr(storage, "get_store", lambda: S3Store(object(), no_bucket))

    _assert_error(invoke(api, load_event("api-post-uploads")), 503, "storage_unavailable")


def test_openapi_documents_validation_errors_in_the_error_shape(api, invoke):
    spec = json_body(invoke(api, load_event("api-get-openapi")))

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "422" in operation["responses"]:
                schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method)
    assert "#/components/schemas/HTTPValidationError" not in json.dumps(spec)


def test_a_read_publishes_the_business_metrics(api, pipeline, invoke, capsys):
    invoke(api, load_event("api-post-ocr-jpeg"))

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for b in blobs for d in b["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"PlatesRead", "Stage1Hits", "Stage2Calls", "NoPlate", "ReadLatency"} <= names
    values = {k: v for b in blobs for k, v in b.items() if k in names}
    assert values["PlatesRead"] == [1.0]
    assert values["Stage1Hits"] == [1.0]
    assert values["Stage2Calls"] == [0.0]


def test_plate_numbers_stay_out_of_info_logs(api, pipeline, invoke, caplog):
    caplog.set_level(logging.INFO)

    invoke(api, load_event("api-post-ocr-jpeg"))

    # Timestamps, ids and timings are numbers that may hold "3456" by chance: leave them out.
    numeric = {"created", "msecs", "relativeCreated", "process", "thread", "peak_rss_mb"}
    records = [
        json.dumps(
            {k: v for k, v in vars(r).items() if k not in numeric}, default=str, ensure_ascii=False
        )
        for r in caplog.records
    ]
    assert any("photo read" in r for r in records)
    assert not [r for r in records if "3456" in r]


def test_the_production_store_presigns_on_the_regional_endpoint(monkeypatch, settings):
    from plate_ocr import storage

    # GIVEN the process-wide store, built as in Lambda (region from the environment)
    monkeypatch.setattr(storage, "get_settings", lambda: settings)
    storage.get_store.cache_clear()
    try:
        upload = storage.get_store().presign_upload("image/png")
    finally:
        storage.get_store.cache_clear()

    # THEN the browser posts to the bucket's regional host (the global one answers 307)
    assert upload.url == f"https://{BUCKET}.s3.ap-northeast-2.amazonaws.com/"
    assert upload.fields["Content-Type"] == "image/png"


def test_every_answer_carries_the_security_headers(api, invoke, pipeline):
    for name in ("api-get-healthz", "api-post-ocr-jpeg"):
        response = invoke(api, load_event(name))
        headers = {k.lower(): v for k, v in response["multiValueHeaders"].items()}

        assert headers["x-content-type-options"] == ["nosniff"]
        assert headers["x-frame-options"] == ["DENY"]
        assert headers["content-security-policy"] == [
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
        ]


def test_the_page_allows_its_own_inline_script_and_style_only(api, invoke):
    import base64
    import hashlib
    import re

    response = invoke(api, load_event("api-get-index"))
    headers = {k.lower(): v for k, v in response["multiValueHeaders"].items()}
    (policy,) = headers["content-security-policy"]
    (script,) = re.findall(r"<script>(.*?)</script>", response["body"], re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()

    assert f"script-src 'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-frame-options"] == ["DENY"]


# --- issue 13: honest timing, boxes inside the photo --------------------------------------------


def test_a_read_that_waited_for_the_models_says_how_long_apart_from_the_read(
    api, invoke, monkeypatch, settings, recognizer, fallback
):
    import time

    # GIVEN models that take 0.2 s to load and are not loaded yet
    def slow_build(_settings: Any) -> Pipeline:
        time.sleep(0.2)
        return Pipeline(
            [FakeLocator(box=BOX)], recognizer, weakest_char, fallback, settings=settings
        )

    lifecycle.reset()
    monkeypatch.setattr(lifecycle, "_build", slow_build)
    try:
        # WHEN two photos are read one after the other
        first = json_body(invoke(api, load_event("api-post-ocr-jpeg")))
        second = json_body(invoke(api, load_event("api-post-ocr-jpeg")))
    finally:
        lifecycle.reset()

    # THEN the first says how long it waited for the models, and its read time leaves that out
    assert first["model_load_sec"] >= 0.2
    assert first["elapsed_sec"] < first["model_load_sec"]
    # AND the second waited for nothing
    assert second["model_load_sec"] is None


def test_the_answers_boxes_lie_inside_the_photo(api, pipeline, invoke, monkeypatch):
    from plate_ocr.engines import PlateRegion

    # GIVEN a finder whose box reaches past the 640x400 photo's top-left corner
    class Outside:
        def locate(self, image: Any) -> list[PlateRegion]:
            box = ((-40.0, -30.0), (700.0, -5.0), (690.0, 420.0), (-15.0, 410.0))
            return [PlateRegion(box=box, crop=image, score=0.9)]

    monkeypatch.setattr(pipeline, "finders", (Outside(),))

    # WHEN the photo is read
    body = json_body(invoke(api, load_event("api-post-ocr-jpeg")))

    # THEN its box is clipped to the photo
    assert body["plates"][0]["box"] == [[0, 0], [640, 0], [640, 400], [0, 400]]


# --- issue 13: one read per vehicle -------------------------------------------------------------


class SequenceRecognizer:
    """Reads the given plates in turn, one per photo."""

    def __init__(self, *texts: str, confidence: float = 0.95) -> None:
        self.texts, self.confidence = list(texts), confidence

    def read(self, crop: Any) -> Any:
        from plate_ocr.engines import RawReading

        text = self.texts.pop(0)
        return RawReading(text, self.confidence, tuple(self.confidence for _ in text))


def _burst(photo: bytes, count: int, *extra: tuple[str, bytes, str | None]) -> dict[str, Any]:
    frames = distinct_copies(photo, count)
    parts = [("image_file", frames[i], f"frame-{i}.jpg") for i in range(count)]
    body = _multipart([*parts, *extra])
    return with_body(
        load_event("api-post-ocr-multipart"), body, "multipart/form-data; boundary=b0undary"
    )


def test_several_photos_of_one_vehicle_are_voted_into_one_answer(
    api, pipeline, invoke, monkeypatch, photo
):
    from tests.support import original_contract

    # GIVEN three photos of a car, each read with one character wrong (the vote's confidence is
    # then the best frame's 0.95 times the 2-of-3 agreement: 0.63, a success at a 0.6 threshold)
    monkeypatch.setattr(
        pipeline, "recognizer", SequenceRecognizer("12가3458", "17가3456", "12나3456")
    )
    monkeypatch.setattr(
        pipeline, "settings", pipeline.settings.model_copy(update={"min_confidence": 0.6})
    )

    # WHEN they are sent as repeated image_file parts
    response = invoke(api, _burst(photo, 3))

    # THEN the answer is one plate, voted per character, in the original's contract
    assert response["statusCode"] == 200, response["body"]
    body = json_body(response)
    OcrResponse.model_validate(body)
    original_contract.check(body)
    assert (body["success"], body["plate_number"]) == (True, "12가3456")
    # AND each photo's own reading is listed, with its file name
    assert [f["plates"][0]["plate_number"] for f in body["frames"]] == [
        "12가3458",
        "17가3456",
        "12나3456",
    ]
    assert [f["filename"] for f in body["frames"]] == ["frame-0.jpg", "frame-1.jpg", "frame-2.jpg"]
    assert body["vote"]["frames"] == 3 and body["vote"]["agreeing"] == 0


def test_one_photo_answers_without_frames(api, pipeline, invoke):
    body = json_body(invoke(api, load_event("api-post-ocr-multipart")))

    assert body["frames"] is None and body["vote"] is None


def test_a_dry_run_of_several_photos_checks_each(api, pipeline, invoke, photo, recognizer):
    response = invoke(api, _burst(photo, 2, ("dryRun", b"true", None)))

    body = DryRunResponse.model_validate(json_body(response))
    assert [i.width for i in body.images] == [640, 640]
    assert recognizer.calls == 0


def test_a_burst_of_the_most_photos_may_carry_dry_run_too(api, pipeline, invoke, recognizer):
    from plate_ocr.upload import MAX_FRAMES

    # dryRun and a client's own field are parts of the form, not photos: they do not count
    # against the photos of a burst.
    small = _png(32, 16)
    extra = (("dryRun", b"true", None), ("client", b"gate-3", None))
    response = invoke(api, _burst(small, MAX_FRAMES, *extra))

    assert response["statusCode"] == 200, response["body"]
    assert len(DryRunResponse.model_validate(json_body(response)).images) == MAX_FRAMES
    assert recognizer.calls == 0


def test_one_photo_more_than_a_burst_takes_is_refused_by_name(api, pipeline, invoke):
    from plate_ocr.upload import MAX_FRAMES

    response = invoke(api, _burst(_png(32, 16), MAX_FRAMES + 1, ("dryRun", b"true", None)))

    assert response["statusCode"] == 400
    body = json_body(response)
    assert body["error"] == "too_many_files"
    assert f"more than {MAX_FRAMES} 'image_file' parts" in body["message"]


@pytest.mark.parametrize("dry_run", [False, True], ids=["read", "dry-run"])
def test_a_bad_photo_among_several_is_named_in_the_error(api, pipeline, invoke, photo, dry_run):
    parts = [("image_file", photo, "a.jpg"), ("image_file", b"not a photo", "b.jpg")]
    if dry_run:
        parts.append(("dryRun", b"true", None))
    event = with_body(
        load_event("api-post-ocr-multipart"),
        _multipart(parts),
        "multipart/form-data; boundary=b0undary",
    )

    body = _assert_error(invoke(api, event), 400, "invalid_image")

    assert body["message"].startswith("Photo 2 of 2: ")


def test_the_page_learns_its_upload_limits_and_types_from_the_server(
    api, invoke, monkeypatch, settings
):
    import html

    from plate_ocr import formats

    def limits(body: str) -> dict[str, Any]:
        meta = body.split('name="upload-limits" content="', 1)[1].split('"', 1)[0]
        return json.loads(html.unescape(meta))

    # GIVEN the stack's settings (a bucket; 4 MB straight to Lambda), then the local server's
    behind_gateway = settings.model_copy(update={"direct_upload_bytes": 4 * 2**20})
    monkeypatch.setattr(api, "settings", behind_gateway)
    deployed = invoke(api, load_event("api-get-index"))["body"]
    monkeypatch.setattr(api, "settings", settings.model_copy(update={"bucket_name": None}))
    local = invoke(api, load_event("api-get-index"))["body"]

    # THEN the page knows where each photo may go, and which types it may pick
    assert limits(deployed) == {
        "direct": 4 * 2**20,
        "max": 10 * 2**20,
        "pixels": 40_000_000,
        "presigned": True,
    }
    assert limits(local) == {
        "direct": 10 * 2**20,
        "max": 10 * 2**20,
        "pixels": 40_000_000,
        "presigned": False,
    }
    assert f'accept="{formats.accept_list()}"' in local
    assert "JPEG · PNG · WebP · BMP · TIFF · HEIC/HEIF · AVIF, 최대 10MB" in local


def test_a_null_query_value_is_read_as_empty_not_a_server_error(api, pipeline, invoke):
    # API Gateway sends `?dryRun` as "", a hand-made event may say null (Powertools fails on it)
    answers = []
    for value in ("", None):
        event = load_event("api-post-ocr-jpeg")
        event["queryStringParameters"] = {"dryRun": value}
        event["multiValueQueryStringParameters"] = {"dryRun": [value]}
        response = invoke(api, event)
        answers.append((response["statusCode"], json_body(response)["error"]))

    # THEN null is answered as the empty value is: a clear 400, not a 500
    assert answers == [(400, "invalid_dry_run")] * 2
