"""`plate-ocr serve`: real HTTP on 127.0.0.1 -> API Gateway events -> the same API handler."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from functional_support import FUNCTIONS_DIR

from plate_ocr.localserver import make_api_event, make_server, response_parts
from plate_ocr.upload import FormPart, encode_multipart


@pytest.fixture
def server(api: Any, pipeline: Any) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, "api.app.lambda_handler", FUNCTIONS_DIR)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    yield f"http://{host!s}:{port}"
    httpd.shutdown()
    httpd.server_close()


def _request(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_serves_healthz_page_and_docs(server):
    assert _request(f"{server}/healthz")[::2] == (200, b"ok")
    status, headers, page = _request(f"{server}/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b'content=""' in page  # no stage prefix locally
    assert _request(f"{server}/docs")[0] == 200


def test_reads_a_multipart_upload(server, photo):
    boundary = "localboundary"
    body = encode_multipart([FormPart("image_file", photo, "차량.jpg", "image/jpeg")], boundary)

    status, _headers, payload = _request(
        f"{server}/ocr/license-plate",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert status == 200
    assert json.loads(payload)["plate_number"] == "12가3456"


def test_reads_a_raw_body_with_a_query_string(server, photo):
    status, _headers, payload = _request(
        f"{server}/ocr/license-plate?dryRun=true",
        data=photo,
        headers={"Content-Type": "image/jpeg"},
    )

    assert status == 200
    assert json.loads(payload)["image"]["width"] == 640


def test_errors_keep_their_status_and_json_body(server):
    status, _headers, payload = _request(
        f"{server}/ocr/license-plate", data=b"hello", headers={"Content-Type": "text/plain"}
    )

    assert status == 415
    assert json.loads(payload)["error"] == "unsupported_media_type"


def test_answers_cors_preflight(server):
    status, headers, _ = _request(
        f"{server}/ocr/license-plate",
        method="OPTIONS",
        headers={"Origin": "http://localhost:8080", "Access-Control-Request-Method": "POST"},
    )

    assert status in (200, 204)
    assert "Access-Control-Allow-Origin" in headers


def test_events_carry_multi_value_headers_and_query_strings():
    event = make_api_event(
        "POST",
        "/ocr/license-plate",
        headers=[("X-A", "1"), ("X-A", "2")],
        body=b"\x00\xff",
        query=[("q", "1"), ("q", "2")],
    )

    assert event["multiValueHeaders"] == {"X-A": ["1", "2"]}
    assert event["headers"] == {"X-A": "2"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AP8="


def test_response_parts_decode_base64_bodies():
    status, headers, body = response_parts(
        {
            "statusCode": 201,
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "headers": {"X-One": "1"},
            "body": "AP8=",
            "isBase64Encoded": True,
        }
    )

    assert (status, body) == (201, b"\x00\xff")
    assert headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-One", "1")]


def test_a_header_too_long_is_refused_in_json_and_the_server_goes_on(server):
    status, _headers, payload = _request(f"{server}/healthz", headers={"X-Long": "a" * 70_000})

    assert status == 431
    assert json.loads(payload)["error"] == "request_header_fields_too_large"
    assert _request(f"{server}/healthz")[::2] == (200, b"ok")


def test_the_server_caps_malloc_arenas_unless_told_otherwise(monkeypatch):
    import sys

    from plate_ocr.localserver import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False  # the operator's own setting stands
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    # glibc (the CI machines and the Lambda image) takes the cap; another C library has no mallopt.
    if sys.platform.startswith("linux"):
        import ctypes

        has_mallopt = hasattr(ctypes.CDLL(None), "mallopt")
        assert limit_malloc_arenas() is has_mallopt
