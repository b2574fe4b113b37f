"""The web page (static/index.html) filled in for one deployment, and our pages' security policy."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from functools import lru_cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from plate_ocr import formats
from plate_ocr.config import Settings
from plate_ocr.formats import ImageFormat

STATIC_DIR = Path(__file__).resolve().parent / "static"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


@lru_cache(maxsize=1)
def _template() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def page(base_path: str, presigned: bool, settings: Settings) -> str:
    """The web page, told by the server what it may send where: the largest photo it may post
    straight to the API, whether a presigned upload exists for larger ones, the accepted types."""
    direct = min(settings.direct_upload_bytes or settings.max_image_bytes, settings.max_image_bytes)
    limits = {
        "direct": direct,
        "max": settings.max_image_bytes,
        "pixels": settings.max_image_pixels,
        "presigned": presigned,
    }
    values = {
        "{{API_BASE}}": base_path,
        "{{UPLOAD_LIMITS}}": html.escape(json.dumps(limits), quote=True),
        "{{ACCEPT}}": formats.accept_list(),
        "{{EXTENSION_TYPES}}": html.escape(json.dumps(formats.extension_types()), quote=True),
        "{{FORMATS}}": " · ".join(f.label for f in ImageFormat),
        "{{MAX_MB}}": f"{settings.max_image_bytes / (1024 * 1024):g}",
    }
    text = _template()
    for name, value in values.items():
        text = text.replace(name, value)
    return text


@lru_cache(maxsize=8)
def page_policy(text: str, inline_styles: bool = False) -> str:
    """The Content-Security-Policy of one of our pages: its own inline scripts and styles (by
    hash) and nothing else; the page's presigned uploads go to S3, its photos are blob URLs.

    Swagger UI sets style attributes from script, which hashes cannot allow: ``inline_styles``.
    """
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, content in _INLINE.findall(text):
        digest = base64.b64encode(hashlib.sha256(content.encode("utf-8")).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    scripts = " ".join(hashes["script"]) or "'none'"
    styles = "'unsafe-inline'" if inline_styles else " ".join(hashes["style"]) or "'none'"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            f"style-src {styles}",
            "img-src 'self' blob: data:",
            "connect-src 'self' https://*.amazonaws.com",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def html_response(page: str, inline_styles: bool = False) -> Response[str]:
    """A page with its own policy (:func:`page_policy`)."""
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=page,
        headers={"Content-Security-Policy": page_policy(page, inline_styles)},
    )
