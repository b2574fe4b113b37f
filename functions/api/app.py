"""API Lambda: routes, OpenAPI and error mapping in front of :mod:`plate_ocr`.

A thin adapter: requests become :mod:`plate_ocr` calls, domain errors become one HTTP status each
(``{"error": code, "message": text}``), results become the :mod:`plate_ocr.schema` models.
"""

from __future__ import annotations

import json
import os
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from plate_ocr import batch, factory, imaging, telemetry
from plate_ocr.config import get_settings
from plate_ocr.deadline import run_with_deadline
from plate_ocr.errors import PlateOcrError
from plate_ocr.schema import (
    BatchResult,
    DryRunResponse,
    ErrorBody,
    ImageInfoModel,
    OcrResponse,
    StatusResponse,
    UploadRequest,
    UploadResponse,
    WarmupResponse,
)
from plate_ocr.telemetry import result_metrics
from plate_ocr.upload import FIELD, RAW_IMAGE_TYPES, decode_body, read_upload

STATIC_DIR = Path(__file__).resolve().parent / "static"
RESULT_ID_PATTERN = r"^[0-9a-f]{32}$"

settings = get_settings()
# The template sets these; the defaults keep `plate-ocr serve` and tests working without them.
logger = Logger(
    service=os.getenv("POWERTOOLS_SERVICE_NAME", "plate-ocr-api"), level=settings.log_level.upper()
)
tracer = Tracer()
metrics = Metrics(namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE", "PlateOcr"))
# Library logs (logging.getLogger("plate_ocr...")) go out as the same JSON with the correlation id.
copy_config_to_registered_loggers(source_logger=logger, include={"plate_ocr"})

_origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()] or ["*"]
cors = CORSConfig(
    allow_origin=_origins[0],
    extra_origins=_origins[1:],
    allow_headers=["Content-Type", "X-Api-Key"],
    max_age=600,
)
app = APIGatewayRestResolver(enable_validation=True, cors=cors)


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response[str]:
    body = ErrorBody(error=code, message=message, request_id=_request_id())
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(),
        headers=headers,
    )


def _json(model: BaseModel, status: int = 200) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=model.model_dump_json(),
    )


def _request_id() -> str:
    try:
        return str(app.current_event.request_context.request_id or "")
    except (AttributeError, KeyError, TypeError):
        return ""


def _ok(description: str, model: Any) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


def _errors(*statuses: int) -> dict[int, OpenAPIResponse]:
    return {s: _ok("Error", ErrorBody) for s in statuses}


@app.exception_handler(PlateOcrError)  # type: ignore[untyped-decorator]
def handle_domain_error(exc: PlateOcrError) -> Response[str]:
    if exc.http_status >= 500:
        logger.warning("request failed", extra={"error": exc.code})
    else:
        logger.info("request refused", extra={"error": exc.code, "status": exc.http_status})
    return _error(exc.http_status, exc.code, str(exc))


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def handle_validation_error(exc: RequestValidationError) -> Response[str]:
    # Locations and types only: pydantic's messages would echo the input back.
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('type', 'invalid')}"
        for e in exc.errors()
    )
    return _error(422, "validation_error", f"The request is not valid ({problems}).")


@app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
def handle_unsupported_content_type(_exc: RequestUnsupportedContentType) -> Response[str]:
    # Powertools' validation raises it for a JSON route sent another type; it is no server error.
    return _error(
        415, "unsupported_media_type", "Send this route application/json (or no body at all)."
    )


@app.exception_handler(ValueError)  # type: ignore[untyped-decorator]
def handle_value_error(exc: ValueError) -> Response[str]:
    # Powertools' validation parses a JSON route's body by its Content-Type and lets bare
    # ValueErrors out (multipart without a boundary, bytes that are not UTF-8): the client's
    # mistake. A ValueError from anywhere else is ours.
    if any(
        frame.name == "_get_body" and Path(frame.filename).name == "openapi_validation.py"
        for frame in traceback.extract_tb(exc.__traceback__)
    ):
        return _error(400, "bad_request", "The body cannot be parsed as its Content-Type says.")
    logger.exception("unexpected error")
    return _error(500, "internal_error", "An unexpected error occurred.")


@app.not_found
def handle_not_found(_exc: Exception) -> Response[str]:
    event = app.current_event
    allowed = _methods_of(event.path)
    if allowed:
        # A known path with another method: say which ones (RFC 9110 wants the Allow header).
        return _error(
            405,
            "method_not_allowed",
            f"{event.http_method} is not allowed here.",
            headers={"Allow": ", ".join(sorted(allowed | {"OPTIONS"}))},
        )
    return _error(404, "not_found", "No such route.")


def _methods_of(path: str) -> set[str]:
    routes = app._static_routes + app._dynamic_routes
    return {route.method.upper() for route in routes if route.rule.match(path)}


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def handle_unexpected(exc: Exception) -> Response[str]:
    logger.exception("unexpected error")
    return _error(500, "internal_error", "An unexpected error occurred.")


# --- Pages and documentation ------------------------------------------------------------------


@lru_cache(maxsize=1)
def _page_template() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def _base_path() -> str:
    # Behind the execute-api URL paths carry the stage (/Prod/...); behind SAM local or a custom
    # domain they do not. The page and the docs need the prefix to build their URLs.
    context = app.current_event.request_context
    stage = context.stage
    if stage and stage != "$default" and (context.path or "").startswith(f"/{stage}"):
        return f"/{stage}"
    return ""


@app.get("/", include_in_schema=False)
def index() -> Response[str]:
    page = _page_template().replace("{{API_BASE}}", _base_path())
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=page)


@lru_cache(maxsize=4)
def openapi_document(base_path: str) -> str:
    """The OpenAPI document, with the request bodies Powertools cannot infer from signatures."""
    spec = json.loads(
        app.get_openapi_json_schema(
            title="plate-ocr",
            version="1.0.0",
            description="Reads South Korean licence plates from photos.",
            servers=[{"url": base_path or "/"}],  # type: ignore[list-item]
        )
    )
    image_schema = {"type": "string", "format": "binary"}
    spec["paths"]["/ocr/license-plate"]["post"]["requestBody"] = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: image_schema,
                        "dryRun": {"type": "boolean", "default": False},
                    },
                }
            },
            **{t: {"schema": image_schema} for t in RAW_IMAGE_TYPES},
        },
    }
    # Validation errors leave through handle_validation_error, in the one error shape.
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for operations in spec["paths"].values():
        for operation in operations.values():
            if "422" in operation.get("responses", {}):
                operation["responses"]["422"] = {
                    "description": "Validation error",
                    "content": {"application/json": {"schema": error_ref}},
                }
    spec["components"]["schemas"].pop("HTTPValidationError", None)
    return json.dumps(spec, ensure_ascii=False)


@app.get("/openapi.json", include_in_schema=False)
def openapi_json() -> Response[str]:
    if not settings.enable_docs:
        return _error(404, "not_found", "Documentation is turned off.")
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=openapi_document(_base_path()),
    )


@app.get("/docs", include_in_schema=False)
def docs() -> Response[str]:
    if not settings.enable_docs:
        return _error(404, "not_found", "Documentation is turned off.")
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=swagger_page(_base_path()),
    )


@lru_cache(maxsize=4)
def swagger_page(base_path: str) -> str:
    """Swagger UI with Powertools' bundled assets inlined (no CDN) and our document embedded."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import (
        generate_swagger_html,
    )

    assets = Path(swagger_ui.__file__).parent
    return generate_swagger_html(
        openapi_document(base_path).replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )


# --- Operations -------------------------------------------------------------------------------


@app.get(
    "/healthz",
    summary="Liveness",
    description="Answers `ok` while the function runs; loads no model.",
    tags=["operations"],
    responses={
        200: {"description": "Alive", "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
def healthz() -> Response[str]:
    return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body="ok")


@app.get(
    "/status",
    summary="Model status",
    description="`ready` once the models are loaded, `loading` before, `error` if they cannot be.",
    tags=["operations"],
    responses={200: _ok("Status", StatusResponse)},
)
def status() -> Response[str]:
    state, detail = factory.model_status()
    return _json(StatusResponse(status=state, detail=detail))  # type: ignore[arg-type]


@app.post(
    "/warmup",
    summary="Load the models",
    description=(
        "Loads the models and runs one read, and says how long that took. `full=true` also loads "
        "CRAFT, the plate finder's rare second opinion (about +1 s and +400 MB), so that no later "
        "read pays for it."
    ),
    tags=["operations"],
    responses={
        200: _ok("Warm", WarmupResponse),
        **_errors(503, 504),
    },
)
def warmup(
    full: Annotated[bool, Query(description="Also load and run CRAFT.")] = False,
) -> Response[str]:
    seconds = run_with_deadline(lambda: factory.warm_up(full=full), settings.timeout_seconds)
    _state, detail = factory.model_status()
    metrics.add_metric(name="WarmupLatency", unit=MetricUnit.Seconds, value=seconds)
    return _json(WarmupResponse(warmup_sec=round(seconds, 3), detail=detail))


# --- Reading ----------------------------------------------------------------------------------


@app.post(
    "/ocr/license-plate",
    summary="Read the licence plate in a photo",
    description=(
        f"Send multipart/form-data with `{FIELD}` (and optionally `dryRun=true` to validate the "
        "upload without reading it), or a raw image/jpeg, image/png or image/webp body "
        "(`?dryRun=true` works there). Behind API Gateway a body reaches the function "
        "base64-encoded within Lambda's 6 MB payload limit, so send photos up to about 4 MB "
        "here and larger ones (up to 10 MB) through POST /uploads."
    ),
    tags=["ocr"],
    responses={
        200: _ok(
            "The reading (success false when no plate was read), or a dry run",
            OcrResponse | DryRunResponse,
        ),
        **_errors(400, 413, 415, 422, 503, 504),
    },
)
def read_plate() -> Response[str]:
    event = app.current_event
    query = event.query_string_parameters or {}
    upload = read_upload(
        decode_body(event.body, bool(event.is_base64_encoded)),
        event.headers.get("content-type"),
        max_bytes=settings.max_image_bytes,
        dry_run_query=query.get("dryRun"),
    )
    if upload.dry_run:
        info = imaging.inspect_image(
            upload.data,
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
        )
        image = ImageInfoModel(
            format=info.format,  # type: ignore[arg-type]
            width=info.width,
            height=info.height,
            size_bytes=info.size_bytes,
        )
        return _json(DryRunResponse(image=image, request_id=_request_id()))

    data = upload.data
    result = run_with_deadline(lambda: factory.get_pipeline().read(data), settings.timeout_seconds)
    for name, unit, value in result_metrics(result):
        metrics.add_metric(name=name, unit=unit, value=value)
    logger.info(
        "photo read",
        extra={
            "success": result.success,
            "stage": result.stage.value,
            "stage2_status": result.stage2_status,
            "elapsed_sec": result.elapsed_sec,
        },
    )
    return _json(OcrResponse.from_result(result, _request_id()))


# --- Large photos: presigned upload, then the batch path -----------------------------------


@app.post(
    "/uploads",
    summary="Get a presigned S3 upload for a large photo",
    description=(
        "Returns a presigned POST into incoming/ (image types only, size limited). Send `fields` "
        "and then the photo as `file` to `url`; the batch function reads it and "
        "GET /results/{result_id} returns the result."
    ),
    tags=["batch"],
    responses={
        200: _ok("Upload form", UploadResponse),
        **_errors(400, 415, 422, 503),
    },
)
def create_upload(request: Annotated[UploadRequest | None, Body()] = None) -> Response[str]:
    if app.current_event.body and not isinstance(app.current_event.json_body, dict | None):
        # Powertools validates a JSON array element by element and lets [null, ...] through.
        return _error(422, "validation_error", "The request is not valid (body: not an object).")
    content_type = (request or UploadRequest()).content_type
    return _json(batch.get_store().presign_upload(content_type))


@app.get(
    "/results/<result_id>",
    summary="The result of an uploaded photo",
    description="404 until the batch function has read the photo.",
    tags=["batch"],
    responses={
        200: _ok("The result", BatchResult),
        **_errors(404, 422, 503),
    },
)
def get_result(
    result_id: Annotated[str, PathParam(pattern=RESULT_ID_PATTERN)],
) -> Response[str]:
    data = batch.get_store().get_result(result_id)
    if data is None:
        return _error(404, "not_ready", "No result yet; try again in a few seconds.")
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=data.decode()
    )


# Lambda gives init a full CPU burst: load the models now, and log the cold-start figures once.
logger.info("init done", extra=factory.preload())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = app.resolve(event, context)
    logger.info("invocation done", extra={"peak_rss_mb": round(telemetry.peak_rss_mb(), 1)})
    return response
