"""Hostile multipart bodies (issue 12): refused with a 400 quickly, never a 500.

The stdlib ``email`` parser that python-multipart replaced was quadratic in the number of parts and
recursed on nested comments (RecursionError, a 500 and a 174 KB traceback each time). Each body
goes straight into the API handler; the time is printed (run with -s), not asserted.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from plate_ocr.localserver import LambdaContext, make_api_event
from plate_ocr.upload import MAX_PART_HEADER_BYTES, MAX_PARTS

BOUNDARY = "b0undary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _part(headers: str, data: bytes) -> bytes:
    return f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode() + data + b"\r\n"


def _form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _image_part(photo: bytes, extra: str = "") -> bytes:
    disposition = 'Content-Disposition: form-data; name="image_file"; filename="a.jpg"'
    return _part(f"{disposition}{extra}\r\nContent-Type: image/jpeg", photo)


CASES = {
    # (content type, body maker(photo), allowed statuses, error code)
    "nested-comments-in-the-request-content-type": (
        f"multipart/form-data; boundary={BOUNDARY} " + "(" * 750 + ")" * 750,
        lambda photo: _form(_image_part(photo)),
        (400,),
        "invalid_multipart",
    ),
    "a-168-kb-part-header-of-encoded-words": (
        MULTIPART,
        lambda photo: _form(_image_part(photo, "\r\nX-Note: " + "=?utf-8?q?=E2=80=8B?= " * 7_600)),
        (400,),
        "invalid_multipart",
    ),
    "60k-tiny-parts": (
        MULTIPART,
        lambda photo: _form(
            *(_part(f'Content-Disposition: form-data; name="f{i}"', b"x") for i in range(60_000))
        ),
        (400,),
        "invalid_multipart",
    ),
    "one-part-more-than-allowed": (
        MULTIPART,
        lambda photo: _form(
            _image_part(photo),
            *(
                _part(f'Content-Disposition: form-data; name="f{i}"', b"x")
                for i in range(MAX_PARTS)
            ),
        ),
        (400,),
        "invalid_multipart",
    ),
    "part-header-one-byte-over-the-limit": (
        MULTIPART,
        lambda photo: _form(_image_part(photo, "\r\nX-Pad: " + "a" * MAX_PART_HEADER_BYTES)),
        (400,),
        "invalid_multipart",
    ),
    "a-dry-run-field-of-2-kb": (
        MULTIPART,
        lambda photo: _form(
            _image_part(photo), _part('Content-Disposition: form-data; name="dryRun"', b"t" * 2048)
        ),
        (400,),
        "invalid_dry_run",
    ),
    "a-boundary-over-70-characters": (
        "multipart/form-data; boundary=" + "b" * 71,
        lambda photo: _form(_image_part(photo)),
        (400,),
        "invalid_multipart",
    ),
    # Comments mean nothing in form-data headers and the parser does not interpret them: nested
    # parentheses cost nothing, and the photo is read.
    "2000-nested-comments-in-a-part-header": (
        MULTIPART,
        lambda photo: _form(_image_part(photo, "\r\nX-Comment: " + "(" * 2000 + ")" * 2000)),
        (200,),
        None,
    ),
    "the-most-parts-allowed": (
        MULTIPART,
        lambda photo: _form(
            _image_part(photo),
            *(
                _part(f'Content-Disposition: form-data; name="f{i}"', b"x")
                for i in range(MAX_PARTS - 1)
            ),
        ),
        (200,),
        None,
    ),
}


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_a_hostile_form_is_refused_quickly_and_never_a_500(api, pipeline, photo, name):
    content_type, make, statuses, code = CASES[name]
    event = make_api_event("POST", "/ocr/license-plate", headers={"Content-Type": content_type})
    body = make(photo)
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True

    started = time.perf_counter()
    response = api.lambda_handler(event, LambdaContext())
    seconds = time.perf_counter() - started

    print(f"\nMULTIPART {name} bytes={len(body)} status={response['statusCode']} s={seconds:.3f}")
    assert response["statusCode"] in statuses
    answer = json.loads(response["body"])
    if code is not None:
        assert answer["error"] == code and answer["message"]
