"""Bad input over real HTTP: every payload gets a defined 2xx or 4xx with a JSON body, never a 5xx.

The payloads are generated here. Each case goes through `plate-ocr serve`'s server on 127.0.0.1
into the real API handler and the real decoding; only the locator and recogniser are fakes. After
each bad request the same server must answer a good one normally.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hardening_support import Reply, Served, http, raw_http, serving
from PIL import Image

from plate_ocr.localserver import LambdaContext, make_api_event, response_parts
from plate_ocr.upload import FormPart, encode_multipart
from tests.support.fakes import PLATE

BOUNDARY = "hardening-b0undary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
LIMIT = 10 * 1024 * 1024  # the default PLATE_OCR_MAX_IMAGE_BYTES


# --- payload makers ---------------------------------------------------------------------------


def _pil(mode: str = "RGB", size: tuple[int, int] = (160, 60), **save: Any) -> Image.Image:
    color: Any = {"RGB": (40, 90, 200), "RGBA": (40, 90, 200, 128), "CMYK": (10, 200, 30, 0)}
    return Image.new(mode, size, color.get(mode, 120))


def _encode(image: Image.Image, fmt: str, **save: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **save)
    return buf.getvalue()


def jpeg(size: tuple[int, int] = (160, 60)) -> bytes:
    return _encode(_pil("RGB", size), "JPEG", quality=90)


def png(mode: str = "RGB", size: tuple[int, int] = (160, 60)) -> bytes:
    return _encode(_pil(mode, size), "PNG")


def png_16bit() -> bytes:
    image = Image.new("I;16", (160, 60))
    image.putdata([(x * 400) % 65536 for x in range(160 * 60)])
    data = _encode(image, "PNG")
    assert data[24] == 16  # IHDR bit depth: really 16 bits per sample
    return data


def png_palette() -> bytes:
    data = _encode(_pil("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG")
    assert data[25] == 3  # IHDR colour type 3: palette
    return data


def jpeg_cmyk() -> bytes:
    data = _encode(_pil("CMYK"), "JPEG")
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode == "CMYK"
    return data


def jpeg_exif_rotated() -> bytes:
    """A 160x60 landscape JPEG whose EXIF says: turn me 90 degrees clockwise (orientation 6)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(_pil("RGB", (160, 60)), "JPEG", exif=exif.tobytes())


def png_bomb(side: int = 20_000) -> bytes:
    """A real, complete 20000x20000 1-bit PNG: 400 MP of zeros in about 60 KB."""
    row = b"\x00" * (1 + side // 8)
    zipper = zlib.compressobj(9)
    idat = b"".join(zipper.compress(row) for _ in range(side)) + zipper.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def heic_junk() -> bytes:
    # The ISO-BMFF 'ftyp' box that identifies HEIC, then junk.
    ftyp = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    return ftyp + bytes(range(256)) * 4


def heic() -> bytes:
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(_pil()).save(buf, quality=80)
    return buf.getvalue()


def animated(fmt: str) -> bytes:
    frames = [_pil(), Image.new("RGB", (160, 60), (200, 40, 40))]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=100)
    return buf.getvalue()


def random_bytes(size: int = 4096, seed: int = 6) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


def over_limit() -> bytes:
    data = jpeg()
    return data + b"\x00" * (LIMIT + 1 - len(data))


def form(*parts: FormPart) -> bytes:
    return encode_multipart(list(parts), BOUNDARY)


# --- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request: its body, its headers and the answers that are defined for it."""

    body: Callable[[], bytes]
    content_type: str | None
    statuses: tuple[int, ...]
    code: str | None = None  # the error code, when the answer must be an error
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)


CASES = {
    # empty and tiny
    "empty-body": Case(lambda: b"", "image/jpeg", (400,), "empty_image"),
    "one-byte": Case(lambda: b"\xff", "image/jpeg", (400,), "invalid_image"),
    "truncated-jpeg": Case(lambda: jpeg()[:200], "image/jpeg", (400,), "invalid_image"),
    "truncated-png": Case(lambda: png()[:60], "image/png", (400,), "invalid_image"),
    "jpeg-cut-in-the-scan": Case(lambda: jpeg()[:-300], "image/jpeg", (200, 400)),
    "random-bytes-named-jpg": Case(
        lambda: form(FormPart("image_file", random_bytes(), "photo.jpg", "image/jpeg")),
        MULTIPART,
        (400,),
        "invalid_image",
    ),
    "random-bytes-raw": Case(random_bytes, "image/jpeg", (400,), "invalid_image"),
    # too big
    "decompression-bomb-20000x20000-png": Case(png_bomb, "image/png", (413,), "image_too_large"),
    "decompression-bomb-dry-run": Case(
        png_bomb, "image/png", (413,), "image_too_large", query="?dryRun=true"
    ),
    "10mb-plus-one-byte-raw": Case(over_limit, "image/jpeg", (413,), "image_too_large"),
    "10mb-plus-one-byte-multipart": Case(
        lambda: form(FormPart("image_file", over_limit(), "big.jpg", "image/jpeg")),
        MULTIPART,
        (413,),
        "image_too_large",
    ),
    # other formats: GIF is refused (plate_ocr.formats says why), junk in a known wrapper too
    "gif": Case(lambda: _encode(_pil("P"), "GIF"), "image/jpeg", (415,), "unsupported_media_type"),
    "gif-as-gif": Case(
        lambda: _encode(_pil("P"), "GIF"), "image/gif", (415,), "unsupported_media_type"
    ),
    "heic-junk": Case(heic_junk, "image/heic", (400,), "invalid_image"),
    "heic-junk-in-multipart": Case(
        lambda: form(FormPart("image_file", heic_junk(), "IMG_0001.HEIC", "image/heic")),
        MULTIPART,
        (400,),
        "invalid_image",
    ),
    "tiff-fax": Case(
        lambda: _encode(Image.new("1", (160, 60)), "TIFF", compression="group4"),
        "image/tiff",
        (415,),
        "unsupported_media_type",
    ),
    # every format a camera or phone makes (issue 13): read
    "bmp": Case(lambda: _encode(_pil(), "BMP"), "image/bmp", (200,)),
    "bmp-sent-as-png": Case(lambda: _encode(_pil(), "BMP"), "image/png", (200,)),
    "tiff": Case(lambda: _encode(_pil(), "TIFF"), "image/tiff", (200,)),
    "tiff-lzw-16-bit": Case(
        lambda: _encode(Image.new("I;16", (160, 60), 30000), "TIFF", compression="tiff_lzw"),
        "image/tiff",
        (200,),
    ),
    "heic": Case(heic, "image/heic", (200,)),
    "heic-in-multipart": Case(
        lambda: form(FormPart("image_file", heic(), "IMG_0001.HEIC", "image/heic")),
        MULTIPART,
        (200,),
    ),
    "avif": Case(lambda: _encode(_pil(), "AVIF"), "image/avif", (200,)),
    "animated-webp": Case(lambda: animated("WEBP"), "image/webp", (200,)),
    "apng": Case(lambda: animated("PNG"), "image/apng", (200,)),
    "animated-avif": Case(lambda: animated("AVIF"), "image/avif", (200,)),
    "multi-page-tiff": Case(lambda: animated("TIFF"), "image/tiff", (200,)),
    # unusual but valid pictures: read
    "cmyk-jpeg": Case(jpeg_cmyk, "image/jpeg", (200,)),
    "16-bit-png": Case(png_16bit, "image/png", (200,)),
    "palette-png": Case(png_palette, "image/png", (200,)),
    "greyscale-png": Case(lambda: png("L"), "image/png", (200,)),
    "alpha-png": Case(lambda: png("RGBA"), "image/png", (200,)),
    "exif-rotated-jpeg": Case(jpeg_exif_rotated, "image/jpeg", (200,)),
    "one-by-one-png": Case(lambda: png("RGB", (1, 1)), "image/png", (200,)),
    "webp": Case(lambda: _encode(_pil(), "WEBP"), "image/webp", (200,)),
    "jpeg-sent-as-png": Case(jpeg, "image/png", (200,)),
    # the form
    "multipart-without-image_file": Case(
        lambda: form(FormPart("dryRun", b"true")), MULTIPART, (400,), "missing_field"
    ),
    "wrong-field-name": Case(
        lambda: form(FormPart("file", jpeg(), "a.jpg", "image/jpeg")),
        MULTIPART,
        (400,),
        "missing_field",
    ),
    # a body cut short: python-multipart takes it without complaint, and the last photo of a burst
    # was silently dropped (or a one-photo form reported as having none)
    "a-burst-cut-in-its-second-photo": Case(
        lambda: form(
            FormPart("image_file", jpeg(), "a.jpg"), FormPart("image_file", jpeg(), "b.jpg")
        )[:-200],
        MULTIPART,
        (400,),
        "invalid_multipart",
    ),
    "a-form-cut-before-its-closing-boundary": Case(
        lambda: form(FormPart("image_file", jpeg(), "a.jpg"))[:-8],
        MULTIPART,
        (400,),
        "invalid_multipart",
    ),
    "an-empty-multipart-body": Case(lambda: b"", MULTIPART, (400,), "invalid_multipart"),
    # several photos of one vehicle (issue 13): voted into one reading, up to 8
    "two-files": Case(
        lambda: form(
            FormPart("image_file", jpeg(), "a.jpg", "image/jpeg"),
            FormPart("image_file", jpeg(), "b.jpg", "image/jpeg"),
        ),
        MULTIPART,
        (200,),
    ),
    "eight-files-of-mixed-formats": Case(
        lambda: form(
            *(
                FormPart("image_file", make(), f"{i}", None)
                for i, make in enumerate(
                    [jpeg, png, heic, png_16bit, jpeg_cmyk, png_palette, jpeg, jpeg_exif_rotated]
                )
            )
        ),
        MULTIPART,
        (200,),
    ),
    "nine-files": Case(
        lambda: form(*(FormPart("image_file", jpeg(), f"{i}.jpg") for i in range(9))),
        MULTIPART,
        (400,),
        "too_many_files",
    ),
    "a-gif-among-two-files": Case(
        lambda: form(
            FormPart("image_file", jpeg(), "a.jpg"),
            FormPart("image_file", _encode(_pil("P"), "GIF"), "b.gif"),
        ),
        MULTIPART,
        (415,),
        "unsupported_media_type",
    ),
    "empty-file-field": Case(
        lambda: form(FormPart("image_file", b"", "a.jpg", "image/jpeg")),
        MULTIPART,
        (400,),
        "empty_image",
    ),
    "multipart-without-boundary": Case(
        lambda: form(FormPart("image_file", jpeg(), "a.jpg")),
        "multipart/form-data",
        (400,),
        "invalid_multipart",
    ),
    "multipart-with-another-boundary": Case(
        lambda: form(FormPart("image_file", jpeg(), "a.jpg")),
        "multipart/form-data; boundary=not-the-one",
        (400,),
    ),
    "multipart-not-closed": Case(
        lambda: form(FormPart("image_file", jpeg(), "a.jpg"))[:-40], MULTIPART, (200, 400)
    ),
    "korean-file-name": Case(
        lambda: form(FormPart("image_file", jpeg(), "서울 12가3456 차량.jpg", "image/jpeg")),
        MULTIPART,
        (200,),
    ),
    "korean-file-name-rfc2231": Case(
        lambda: (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image_file"; '
                f"filename*=UTF-8''%EC%B0%A8%EB%9F%89.jpg\r\nContent-Type: image/jpeg\r\n\r\n"
            ).encode()
            + jpeg()
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        ),
        MULTIPART,
        (200,),
    ),
    # the wrong Content-Type
    "text-plain": Case(jpeg, "text/plain", (415,), "unsupported_media_type"),
    "json": Case(lambda: b'{"image_file": "x"}', "application/json", (415,)),
    "octet-stream": Case(jpeg, "application/octet-stream", (415,), "unsupported_media_type"),
    "form-urlencoded": Case(lambda: b"image_file=abc", "application/x-www-form-urlencoded", (415,)),
    "no-content-type": Case(jpeg, None, (415,), "unsupported_media_type"),
    "content-type-garbage": Case(jpeg, ";;;===", (415,), "unsupported_media_type"),
    "content-type-upper-case": Case(jpeg, "IMAGE/JPEG; charset=binary", (200,)),
    # headers
    "very-long-header-under-the-line-limit": Case(
        jpeg, "image/jpeg", (200,), headers={"X-Padding": "a" * 60_000}
    ),
    "many-headers": Case(
        jpeg, "image/jpeg", (200,), headers={f"X-Extra-{i}": "v" * 100 for i in range(90)}
    ),
    "dry-run-odd-value": Case(
        jpeg, "image/jpeg", (400,), "invalid_dry_run", query="?dryRun=%F0%9F%9A%97"
    ),
    "dry-run-json-in-the-form": Case(
        lambda: form(FormPart("image_file", jpeg(), "a.jpg"), FormPart("dryRun", b"{}")),
        MULTIPART,
        (400,),
        "invalid_dry_run",
    ),
    "dry-run-repeated": Case(jpeg, "image/jpeg", (200,), query="?dryRun=true&dryRun=false"),
}


def _assert_error_json(reply: Reply, code: str | None) -> None:
    headers = {name.lower(): value for name, value in reply.headers.items()}
    assert headers.get("content-type", "").startswith("application/json"), reply.headers
    body = reply.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in body["message"]
    # The API's error shape and headers, whether the handler or the server itself refused.
    assert isinstance(body["request_id"], str) and body["request_id"]
    # API Gateway (here the local server) names the request in a header; a handler alone does not.
    assert headers.get("x-amzn-requestid", body["request_id"]) == body["request_id"]
    assert headers.get("x-content-type-options") == "nosniff", reply.headers
    assert headers.get("x-frame-options") == "DENY", reply.headers
    if code is not None:
        assert body["error"] == code


def _assert_answers_normally(server: Served, photo: bytes) -> None:
    reply = http(
        f"{server.url}/ocr/license-plate", data=photo, headers={"Content-Type": "image/jpeg"}
    )
    assert reply.status == 200, reply.body[:300]
    assert reply.json()["plate_number"] == PLATE
    assert http(f"{server.url}/healthz").body == b"ok"


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_bad_input_gets_a_defined_answer_and_the_server_goes_on(server, photo, name):
    case = CASES[name]
    headers = dict(case.headers)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type

    # WHEN the payload is posted over HTTP
    reply = http(f"{server.url}/ocr/license-plate{case.query}", data=case.body(), headers=headers)

    # THEN the answer is one of the defined ones, JSON, and an error names its code
    assert reply.status in case.statuses, (reply.status, reply.body[:300])
    assert reply.status < 500
    if reply.status >= 400:
        _assert_error_json(reply, case.code)
    else:
        body = reply.json()
        assert body.get("success") is True or "image" in body  # a reading or a dry run
    # AND the server answers the next request normally
    _assert_answers_normally(server, photo)


#: The refused payloads; /anonymize refuses a form of two photos before it looks at them.
REFUSED = [
    name
    for name, case in CASES.items()
    if min(case.statuses) >= 400 and name != "a-gif-among-two-files"
]


@pytest.mark.parametrize("name", REFUSED, ids=REFUSED)
def test_anonymize_refuses_bad_input_as_a_read_does(server, photo, name):
    case = CASES[name]
    headers = dict(case.headers)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type

    # WHEN the payload a read refuses is posted to /anonymize
    reply = http(f"{server.url}/anonymize{case.query}", data=case.body(), headers=headers)

    # THEN it is refused the same way, in JSON, and the server goes on
    assert reply.status in case.statuses, (reply.status, reply.body[:300])
    _assert_error_json(reply, case.code)
    ok = http(f"{server.url}/anonymize", data=photo, headers={"Content-Type": "image/jpeg"})
    assert ok.status == 200 and ok.body[:3] == b"\xff\xd8\xff"


def test_an_exif_rotated_photo_is_read_upright(server, recognizer):
    reply = http(
        f"{server.url}/ocr/license-plate",
        data=jpeg_exif_rotated(),
        headers={"Content-Type": "image/jpeg"},
    )

    assert reply.status == 200
    # 160x60 landscape pixels + orientation 6 = a 60-wide, 160-high upright picture
    assert recognizer.shapes == [(160, 60, 3)]
    assert (reply.json()["image_width"], reply.json()["image_height"]) == (60, 160)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("16-bit", png_16bit),
        ("palette", png_palette),
        ("alpha", lambda: png("RGBA")),
        ("cmyk", jpeg_cmyk),
        ("greyscale", lambda: png("L")),
        ("heic", heic),
        ("avif", lambda: _encode(_pil("RGBA"), "AVIF")),
        ("tiff-16-bit", lambda: _encode(Image.new("I;16", (160, 60), 30000), "TIFF")),
        ("bmp-palette", lambda: _encode(_pil("P"), "BMP")),
    ],
    ids=[
        "16-bit",
        "palette",
        "alpha",
        "cmyk",
        "greyscale",
        "heic",
        "avif",
        "tiff-16-bit",
        "bmp-palette",
    ],
)
def test_unusual_pictures_reach_the_engines_as_8_bit_bgr(server, recognizer, name, make):
    kind = "image/jpeg" if name == "cmyk" else "image/png"

    reply = http(f"{server.url}/ocr/license-plate", data=make(), headers={"Content-Type": kind})

    assert reply.status == 200
    assert recognizer.shapes == [(60, 160, 3)]


# --- what http.server refuses before the handler sees anything ---------------------------------


RAW_REQUESTS = {
    "header-line-over-64-kb": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        431,
    ),
    "more-than-100-headers": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(120))
        + b"\r\n",
        431,
    ),
    "request-line-over-64-kb": (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    "garbage-request-line": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    "unknown-method": (b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    "korean-utf8-in-a-header": (
        b"POST /ocr/license-plate HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        + "X-Name: 서울 차량\r\n".encode()
        + b"Content-Length: 1\r\n\r\n\xff",
        400,
    ),
    "bad-content-length": (
        b"POST /ocr/license-plate HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: lots\r\n\r\n",
        400,
    ),
    "superscript-digit-content-length": (
        b"POST /ocr/license-plate HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: \xb2\r\n\r\nab",
        400,
    ),
    "negative-content-length": (
        b"POST /ocr/license-plate HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: -5\r\n\r\n",
        400,
    ),
    "body-shorter-than-content-length": (
        b"POST /ocr/license-plate HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: 5000\r\n\r\n\xff\xd8\xff",
        400,
    ),
    "conflicting-content-lengths": (
        b"POST /ocr/license-plate HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: 3\r\nContent-Length: 40\r\n\r\n\xff\xd8\xff",
        400,
    ),
    "chunked-body": (
        b"POST /ocr/license-plate HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\n\xff\xd8\xff\r\n0\r\n\r\n",
        411,
    ),
    "body-over-the-server-limit": (
        b"POST /ocr/license-plate HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: 99999999999\r\n\r\n",
        413,
    ),
}


@pytest.mark.parametrize("name", list(RAW_REQUESTS), ids=list(RAW_REQUESTS))
def test_malformed_http_is_refused_in_json_and_the_server_goes_on(server, photo, name):
    request, status = RAW_REQUESTS[name]

    reply = raw_http(server.host, server.port, request)

    assert reply.status == status, reply.body[:300]
    _assert_error_json(reply, None)
    assert reply.headers["X-Amzn-RequestId"] == reply.json()["request_id"]
    _assert_answers_normally(server, photo)


def test_a_client_that_sends_its_whole_body_first_reads_the_413(server, photo):
    # urllib writes the body before it reads; a server that closed with the body unread reset
    # the connection, and the client saw a broken pipe instead of the answer.
    over = b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024)

    reply = http(
        f"{server.url}/ocr/license-plate", data=over, headers={"Content-Type": "image/jpeg"}
    )

    assert reply.status == 413
    _assert_error_json(reply, "image_too_large")
    _assert_answers_normally(server, photo)


# --- bodies only API Gateway can deliver (the local server always encodes correctly) ----------


def _event(body: str | None, is_base64: bool, content_type: str = "image/jpeg") -> dict[str, Any]:
    event = make_api_event("POST", "/ocr/license-plate", headers={"Content-Type": content_type})
    event["body"], event["isBase64Encoded"] = body, is_base64
    return event


@pytest.mark.parametrize(
    ("body", "is_base64", "status", "code"),
    [
        ("!!! not base64 !!!", True, 400, "invalid_base64"),
        ("QUJDR", True, 400, "invalid_base64"),
        (base64.b64encode(b"\xff\xd8\xff" + b"\x00" * 10).decode()[:-1], True, 400, None),
        ("한글 텍스트", False, 400, "invalid_image"),
        ("\xff\xd8\xff\xe0 latin-1 text", False, 400, "invalid_image"),
        (None, True, 400, "empty_image"),
    ],
    ids=[
        "not-base64",
        "bad-padding",
        "base64-cut-short",
        "utf8-text-body",
        "latin1-text-body",
        "null-body",
    ],
)
def test_bodies_that_are_not_base64_images_are_a_bad_request(
    api, pipeline, photo, body, is_base64, status, code
):
    response = api.lambda_handler(_event(body, is_base64), LambdaContext())

    code_, headers, payload = response_parts(response)
    assert code_ == status
    reply = Reply(code_, dict(headers), payload)
    _assert_error_json(reply, code)
    good = _event(base64.b64encode(photo).decode(), True)
    assert api.lambda_handler(good, LambdaContext())["statusCode"] == 200


# --- found by schemathesis (tests/hardening/test_api_schema.py), kept as plain cases ----------


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "code"),
    [
        ("POST", "/uploads", b'{"content_type": "image/jpeg"}', "text/plain", 415, None),
        ("POST", "/uploads", b'{"content_type": "image/jpeg"}', "multipart/form-data", 400, None),
        ("POST", "/uploads", b"9\xff\xfe\x807\x80", "application/json", 400, "bad_request"),
        ("POST", "/uploads", b"[null, null]", "application/json", 422, "validation_error"),
        ("POST", "/uploads", b'{"content_type": "image/gif"}', "application/json", 422, None),
        ("PUT", "/healthz", None, None, 405, "method_not_allowed"),
        ("DELETE", "/ocr/license-plate", None, None, 405, "method_not_allowed"),
        ("GET", "/results/../../etc/passwd", None, None, 404, None),
        ("GET", "/results/%00", None, None, 422, "validation_error"),
    ],
    ids=[
        "uploads-text-plain",
        "uploads-multipart-without-boundary",
        "uploads-json-that-is-not-utf8",
        "uploads-json-array",
        "uploads-gif",
        "put-on-a-get-route",
        "delete-on-a-post-route",
        "path-traversal-in-result-id",
        "nul-in-result-id",
    ],
)
def test_other_routes_refuse_bad_requests_in_json(
    server, photo, method, path, body, content_type, status, code
):
    headers = {"Content-Type": content_type} if content_type else {}

    reply = http(f"{server.url}{path}", data=body, headers=headers, method=method)

    assert reply.status == status, reply.body[:300]
    _assert_error_json(reply, code)
    if status == 405:
        assert "OPTIONS" in reply.headers["Allow"]
    _assert_answers_normally(server, photo)


def test_a_client_that_stops_sending_gets_a_408_and_frees_its_thread(
    api, pipeline, photo, monkeypatch
):
    import socket

    from plate_ocr import localserver

    # GIVEN a server whose connections time out after 1 s of silence
    monkeypatch.setattr(localserver, "SOCKET_TIMEOUT_SECONDS", 1.0)
    with serving(monkeypatch) as server:
        # WHEN a client announces 5000 bytes, sends 3 and then waits (keeping the socket open)
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(
                b"POST /ocr/license-plate HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                b"Content-Length: 5000\r\n\r\n\xff\xd8\xff"
            )
            answer = b""
            while chunk := sock.recv(65536):  # the server closes after its answer
                answer += chunk

        # THEN the server answers 408 in JSON and goes on
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b'"error": "request_timeout"' in answer
        _assert_answers_normally(server, photo)


def test_a_client_that_trickles_its_request_gets_a_408_at_the_request_deadline(
    api, pipeline, photo, monkeypatch
):
    import socket
    import time

    from plate_ocr import localserver

    # GIVEN a server that gives a request 1 s to arrive (and 60 s to each silence)
    monkeypatch.setattr(localserver, "REQUEST_DEADLINE_SECONDS", 1.0)
    with serving(monkeypatch) as server:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            started = time.monotonic()
            # WHEN a client sends one header byte every 0.2 s, never finishing
            answer = b""
            try:
                for byte in b"POST /ocr/license-plate HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
            except OSError:
                pass
            sock.settimeout(5)
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except OSError:
                pass
            seconds = time.monotonic() - started

        # THEN it is cut off at the deadline with a 408, and the server goes on
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert seconds < 5
        _assert_answers_normally(server, photo)


def test_connections_past_the_cap_get_a_503_at_once(api, pipeline, photo, monkeypatch):
    import contextlib
    import socket
    import time

    from plate_ocr import localserver

    # GIVEN a server that serves at most 2 connections at once, both held open by idle clients
    real_make_server = localserver.make_server
    monkeypatch.setattr(
        localserver,
        "make_server",
        lambda *a, **k: real_make_server(*a, **{**k, "max_connections": 2}),
    )
    with serving(monkeypatch) as server:
        idle = [socket.create_connection((server.host, server.port)) for _ in range(2)]
        try:
            # WHEN a third client connects (the answer comes before it sends anything)
            with socket.create_connection((server.host, server.port), timeout=10) as third:
                answer = b""
                while chunk := third.recv(65536):
                    answer += chunk
            # THEN it is told to come back, in JSON
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 ")
            assert b"Retry-After: 1" in head
            assert json.loads(body)["error"] == "service_unavailable"
            assert json.loads(body)["request_id"]
            assert b"X-Content-Type-Options: nosniff" in head
        finally:
            for sock in idle:
                sock.close()
        # AND once they leave (their threads end on the closed sockets), requests are served again
        for _ in range(50):
            # Refused while a slot is still held: the 503 can close the socket before the request
            # is even sent (OSError), and the next try comes later.
            with contextlib.suppress(OSError):
                if (
                    raw_http(server.host, server.port, b"GET /healthz HTTP/1.1\r\n\r\n").status
                    == 200
                ):
                    break
            time.sleep(0.05)
        _assert_answers_normally(server, photo)
