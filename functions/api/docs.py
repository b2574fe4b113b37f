"""The API's documentation: OpenAPI response specs for the routes, the document, Swagger UI.

Powertools builds the document from the routes' signatures and ``responses``; this adds what it
cannot infer: the photo routes' request body (read by plate_ocr.upload, not by a signature) and
validation errors in the API's one error shape.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from plate_ocr.schema import ErrorBody
from plate_ocr.upload import FIELD, RAW_IMAGE_TYPES


def ok(description: str, model: Any) -> OpenAPIResponse:
    """A JSON answer of ``model``."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def errors(*statuses: int) -> dict[int, OpenAPIResponse]:
    """Error answers (:class:`plate_ocr.schema.ErrorBody`) with these statuses."""
    return {s: ok("Error", ErrorBody) for s in statuses}


@lru_cache(maxsize=4)
def openapi_document(
    app: APIGatewayRestResolver, base_path: str, photo_bodies: tuple[tuple[str, int], ...]
) -> str:
    """The OpenAPI document of ``app`` served under ``base_path``; ``photo_bodies`` names the
    routes that take a photo and how many photos a form may carry there."""
    spec = json.loads(
        app.get_openapi_json_schema(
            title="plate-ocr",
            version="1.0.0",
            description="Reads South Korean licence plates from photos.",
            servers=[{"url": base_path or "/"}],  # type: ignore[list-item]
        )
    )
    for path, photos in photo_bodies:
        spec["paths"][path]["post"]["requestBody"] = photo_body(photos)
    # Validation errors leave through the app's handler, in the one error shape.
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


def photo_body(photos: int) -> dict[str, Any]:
    """The request body of a route that takes a photo (up to ``photos`` in a form)."""
    image: dict[str, Any] = {"type": "string", "format": "binary"}
    field = (
        image
        if photos == 1
        else {"type": "array", "items": image, "minItems": 1, "maxItems": photos}
    )
    form = {
        "type": "object",
        "required": [FIELD],
        "properties": {FIELD: field, "dryRun": {"type": "boolean", "default": False}},
    }
    return {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": form},
            **{t: {"schema": image} for t in RAW_IMAGE_TYPES},
        },
    }


@lru_cache(maxsize=4)
def swagger_page(document: str) -> str:
    """Swagger UI with Powertools' bundled assets inlined (no CDN) and ``document`` embedded."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import (
        generate_swagger_html,
    )

    assets = Path(swagger_ui.__file__).parent
    return generate_swagger_html(
        document.replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
