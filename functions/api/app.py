"""API Lambda: routes and error mapping in front of :mod:`plate_ocr`.

A thin adapter: requests become :mod:`plate_ocr` calls, domain errors become one HTTP status each
(``{"error": code, "message": text}``), results become the :mod:`plate_ocr.schema` models. The
OpenAPI document and Swagger UI are api/docs.py's, the web page api/page.py's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import jmespath_utils
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from api import docs
from api.page import html_response, page
from api.resolver import IsolatedRestResolver
from plate_ocr import deadline, imaging, lifecycle, storage, telemetry
from plate_ocr.anonymize import anonymize
from plate_ocr.config import get_settings
from plate_ocr.errors import SECURITY_HEADERS, BadRequestError, PlateOcrError
from plate_ocr.formats import ImageFormat
from plate_ocr.imaging.pool import get_pool
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
from plate_ocr.upload import (
    FIELD,
    MAX_FRAMES,
    RAW_IMAGE_TYPES,
    Upload,
    decode_body,
    read_upload,
)

RESULT_ID_PATTERN = r"^[0-9a-f]{32}$"

#: The routes that take photos, and how many a form may carry there (the OpenAPI request body).
PHOTO_ROUTES = (("/ocr/license-plate", MAX_FRAMES), ("/anonymize", 1))

settings = get_settings()
logger, tracer, metrics = telemetry.handler_observability("plate-ocr-api", settings.log_level)

_origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()] or ["*"]
cors = CORSConfig(
    allow_origin=_origins[0],
    extra_origins=_origins[1:],
    allow_headers=["Content-Type", "X-Api-Key"],
    max_age=600,
)
# Powertools keeps the current event on a class attribute; this resolver keeps it per context, so
# the local server's parallel requests never see each other's event (api/resolver.py).
app = IsolatedRestResolver(enable_validation=True, cors=cors)


def _mark_route_reached(resolver: IsolatedRestResolver, next_middleware: NextMiddleware) -> Any:
    # App middlewares run after Powertools' request validation: an error raised before this mark
    # comes from parsing or validating the request, not from a route.
    resolver.context["route_reached"] = True
    return next_middleware(resolver)


app.use(middlewares=[_mark_route_reached])


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


@app.exception_handler(PlateOcrError)  # type: ignore[untyped-decorator]
def handle_domain_error(exc: PlateOcrError) -> Response[str]:
    if exc.http_status >= 500:
        logger.warning("request failed", extra={"error": exc.code})
    else:
        logger.info("request refused", extra={"error": exc.code, "status": exc.http_status})
    return _error(exc.http_status, exc.code, str(exc))


#: What a valid value of a path parameter looks like, said when one is not valid.
PARAMETER_HINTS = {
    "result_id": (
        "A result id is the 32 lower-case hexadecimal characters that POST /uploads answered as "
        "result_id, e.g. 0f8e2c4a9b1d4e6f8a0b2c4d6e8f0a1b."
    ),
}


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def handle_validation_error(exc: RequestValidationError) -> Response[str]:
    # Locations and types only: pydantic's messages would echo the input back.
    errors = exc.errors()
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('type', 'invalid')}" for e in errors
    )
    hints = dict.fromkeys(
        PARAMETER_HINTS[name]
        for e in errors
        for name in e.get("loc", ())
        if isinstance(name, str) and name in PARAMETER_HINTS
    )
    message = " ".join([f"The request is not valid ({problems}).", *hints])
    return _error(422, "validation_error", message)


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
    # mistake. A ValueError once the route is reached is ours.
    if not app.context.get("route_reached"):
        return _error(400, "bad_request", "The body cannot be parsed as its Content-Type says.")
    logger.exception("unexpected error")
    return _error(500, "internal_error", "An unexpected error occurred.")


@app.not_found
def handle_not_found(_exc: Exception) -> Response[str]:
    event = app.current_event
    allowed = app.allowed_methods(event.path)
    if allowed:
        # A known path with another method: say which ones (RFC 9110 wants the Allow header).
        return _error(
            405,
            "method_not_allowed",
            f"{event.http_method} is not allowed here.",
            headers={"Allow": ", ".join(sorted(allowed | {"OPTIONS"}))},
        )
    return _error(404, "not_found", "No such route.")


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def handle_unexpected(exc: Exception) -> Response[str]:
    logger.exception("unexpected error")
    return _error(500, "internal_error", "An unexpected error occurred.")


# --- Pages and documentation ------------------------------------------------------------------


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
    return html_response(page(_base_path(), settings.bucket_name is not None, settings))


def _openapi_document() -> str:
    return docs.openapi_document(app, _base_path(), PHOTO_ROUTES)


@app.get("/openapi.json", include_in_schema=False)
def openapi_json() -> Response[str]:
    if not settings.enable_docs:
        return _error(404, "not_found", "Documentation is turned off.")
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=_openapi_document()
    )


@app.get("/docs", include_in_schema=False)
def swagger_ui() -> Response[str]:
    if not settings.enable_docs:
        return _error(404, "not_found", "Documentation is turned off.")
    return html_response(docs.swagger_page(_openapi_document()), inline_styles=True)


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
    responses={200: docs.ok("Status", StatusResponse)},
)
def status() -> Response[str]:
    state, detail = lifecycle.model_status()
    return _json(StatusResponse(status=state, detail=detail))


@app.post(
    "/warmup",
    summary="Load the models",
    description=(
        "Loads the models and runs each once on blank photos, and says how long that took, so "
        "that no later read pays for the set-up."
    ),
    tags=["operations"],
    responses={
        200: docs.ok("Warm", WarmupResponse),
        **docs.errors(503),
    },
)
def warmup() -> Response[str]:
    # Loading the models cannot be stopped midway and is bounded (a few seconds); no deadline.
    seconds = lifecycle.warm_up()
    _state, detail = lifecycle.model_status()
    metrics.add_metric(name="WarmupLatency", unit=MetricUnit.Seconds, value=seconds)
    return _json(WarmupResponse(warmup_sec=round(seconds, 3), detail=detail))


# --- Reading ----------------------------------------------------------------------------------


@app.post(
    "/ocr/license-plate",
    summary="Read the licence plate in a photo",
    description=(
        f"Send multipart/form-data with `{FIELD}` (and optionally `dryRun=true` to validate the "
        f"upload without reading it), or a raw photo body ({', '.join(RAW_IMAGE_TYPES)}; "
        f"`?dryRun=true` works there). Up to {MAX_FRAMES} `{FIELD}` parts are photos of the same "
        "vehicle (a burst, all within the size limit of one photo): the answer is one plate, "
        "voted per character across them and weighted by confidence, with each photo's own "
        "reading in `frames`. Behind API Gateway a body reaches the function "
        "base64-encoded within Lambda's 6 MB payload limit, so send photos up to about 4 MB "
        f"here and larger ones (up to {settings.max_image_bytes / 2**20:g} MB) through "
        "POST /uploads."
    ),
    tags=["ocr"],
    responses={
        200: docs.ok(
            "The reading (success false when no plate was read), or a dry run",
            OcrResponse | DryRunResponse,
        ),
        **docs.errors(400, 413, 415, 422, 503, 504),
    },
)
def read_plate() -> Response[str]:
    upload = _upload()
    count = len(upload.photos)
    if upload.dry_run:
        return _dry_run(upload)

    pipeline, model_load_sec = lifecycle.load_pipeline()
    if count > 1:
        result = pipeline.read_frames(upload.photos, upload.filenames)
    else:
        result = pipeline.read(upload.data)
    result = replace(result, model_load_sec=model_load_sec)
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


@app.post(
    "/anonymize",
    summary="The photo with every plate blurred",
    description=(
        f"Send one photo as for POST /ocr/license-plate (`{FIELD}`, or a raw photo body). The "
        "answer is the photo as JPEG, upright and without its metadata (EXIF, GPS), with every "
        "plate the finder finds pixelated and blurred beyond reading, whatever was read there; "
        "`X-Plates-Blurred` says how many. Behind API Gateway send `Accept: image/jpeg`, or it "
        "answers the JPEG base64-encoded. `dryRun=true` checks the upload as a read's does."
    ),
    tags=["privacy"],
    responses={
        200: {
            "description": "The photo with its plates blurred (JPEG), or a dry run (JSON)",
            "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"model": DryRunResponse},
            },
        },
        **docs.errors(400, 413, 415, 422, 503, 504),
    },
)
def anonymize_photo():  # type: ignore[no-untyped-def]
    # No return annotation: Powertools validates and serializes an annotated route's body as that
    # type, and turns bytes into text. Unannotated, a non-JSON Response passes through as it is.
    upload = _upload()
    if len(upload.photos) > 1:
        raise BadRequestError(f"Send one '{FIELD}' to /anonymize.", "too_many_files")
    if upload.dry_run:
        return _dry_run(upload)
    pipeline, _ = lifecycle.load_pipeline()
    covered = anonymize(
        upload.data,
        pipeline.every_finder,
        max_bytes=settings.max_image_bytes,
        max_pixels=settings.max_image_pixels,
    )
    metrics.add_metric(name="PlatesBlurred", unit=MetricUnit.Count, value=covered.plates)
    logger.info("photo anonymized", extra={"plates": covered.plates})
    return Response(
        status_code=200,
        content_type="image/jpeg",
        body=covered.jpeg,
        headers={
            "X-Plates-Blurred": str(covered.plates),
            "Cache-Control": "no-store",
            "Content-Disposition": 'inline; filename="anonymized.jpg"',
        },
    )


def _upload() -> Upload:
    event = app.current_event
    query = event.query_string_parameters or {}
    return read_upload(
        decode_body(event.body, bool(event.is_base64_encoded)),
        event.headers.get("content-type"),
        max_bytes=settings.max_image_bytes,
        dry_run_query=query.get("dryRun"),
    )


def _dry_run(upload: Upload) -> Response[str]:
    count = len(upload.photos)
    images = [_inspect(photo, i, count) for i, photo in enumerate(upload.photos)]
    return _json(
        DryRunResponse(
            image=images[0], images=images if count > 1 else None, request_id=_request_id()
        )
    )


def _inspect(photo: bytes, index: int, count: int) -> ImageInfoModel:
    try:
        info = imaging.inspect_image(
            photo, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
        )
    except PlateOcrError as exc:
        raise exc.about_photo(index, count) if count > 1 else exc from None
    width, height = info.upright_size
    return ImageInfoModel(
        format=ImageFormat(info.format), width=width, height=height, size_bytes=info.size_bytes
    )


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
        200: docs.ok("Upload form", UploadResponse),
        **docs.errors(400, 415, 422, 503),
    },
)
def create_upload(request: Annotated[UploadRequest | None, Body()] = None) -> Response[str]:
    if app.current_event.body and not isinstance(app.current_event.json_body, dict | None):
        # Powertools validates a JSON array element by element and lets [null, ...] through.
        return _error(422, "validation_error", "The request is not valid (body: not an object).")
    content_type = (request or UploadRequest()).content_type
    return _json(storage.get_store().presign_upload(content_type.value))


@app.get(
    "/results/<result_id>",
    summary="The result of an uploaded photo",
    description="404 until the batch function has read the photo.",
    tags=["batch"],
    responses={
        200: docs.ok("The result", BatchResult),
        **docs.errors(404, 422, 503),
    },
)
def get_result(
    result_id: Annotated[str, PathParam(pattern=RESULT_ID_PATTERN)],
) -> Response[str]:
    data = storage.get_store().get_result(result_id)
    if data is None:
        return _error(404, "not_ready", "No result yet; try again in a few seconds.")
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=data.decode()
    )


# Lambda gives init a full CPU burst: load the models and start a decoder process now, and log the
# cold-start figures once.
if settings.preload_models:
    get_pool().prestart()
logger.info("init done", extra=lifecycle.preload())

#: Seconds kept back from the function's own timeout: a 504 must leave the function in time.
_ANSWER_MARGIN_SECONDS = 1.0


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The Logger's keys (set by inject_lambda_context) are process-wide, and the local server runs
    # requests in parallel threads: the same keys per thread (a context variable) win over them.
    logger.thread_safe_append_keys(
        correlation_id=jmespath_utils.query(
            envelope=correlation_paths.API_GATEWAY_REST, data=event
        ),
        function_request_id=context.aws_request_id,
    )
    try:
        # The whole request (parsing, decoding, reading) runs under TIMEOUT_SECONDS:
        # plate_ocr.deadline.
        seconds = min(
            settings.timeout_seconds,
            max(0.1, context.get_remaining_time_in_millis() / 1000.0 - _ANSWER_MARGIN_SECONDS),
        )
        with deadline.limit(seconds):
            response = app.resolve(_query_without_nulls(event), context)
        add_security_headers(response)
        logger.info("invocation done", extra={"peak_rss_mb": round(telemetry.peak_rss_mb(), 1)})
        return response
    finally:
        logger.thread_safe_clear_keys()


def _query_without_nulls(event: dict[str, Any]) -> dict[str, Any]:
    """The event with ``null`` query values as empty strings: API Gateway sends ``?dryRun`` as
    ``""``, but a hand-made event (a test console, another integration) may say ``null``, on which
    Powertools' resolver fails (a 500)."""
    out = dict(event)
    single = event.get("queryStringParameters")
    if isinstance(single, dict):
        out["queryStringParameters"] = {k: "" if v is None else v for k, v in single.items()}
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, dict):
        out["multiValueQueryStringParameters"] = {
            k: [("" if x is None else x) for x in v]
            if isinstance(v, list)
            else ("" if v is None else v)
            for k, v in multi.items()
        }
    return out


def add_security_headers(response: dict[str, Any]) -> None:
    """Adds :data:`SECURITY_HEADERS` that a route did not set (pages set their own policy)."""
    multi = response.get("multiValueHeaders")
    headers = multi if multi is not None else response.setdefault("headers", {})
    present = {name.lower() for name in headers}
    for name, value in SECURITY_HEADERS.items():
        if name.lower() not in present:
            headers[name] = [value] if multi is not None else value
