"""Writes events/: a synthetic plate photo and the API / batch events that carry it.

The photo is rendered (Pillow + the NanumGothic font of Debian's fonts-nanum), never taken from the
private data set, so it may live in the repository.
Run: ``.venv/bin/python scripts/make_events.py``.
The output is deterministic: rerunning it rewrites the same files.
"""

from __future__ import annotations

import io
import json
import random
import sys
import uuid
from pathlib import Path
from urllib.parse import quote_plus

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from plate_ocr.localserver import make_api_event
from plate_ocr.upload import FormPart, encode_multipart

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
FONT = Path("/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf")
PLATE = "12가3456"
BOUNDARY = "----plateocrboundary7MA4YWxkTrZu0gW"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
RESULT_ID = "0123456789abcdef0123456789abcdef"


def render_photo(text: str = PLATE, seed: int = 7) -> bytes:
    """A 640x400 JPEG: a grey car rear with a white 520x110 mm style plate reading ``text``."""
    rng = random.Random(seed)
    photo = Image.new("RGB", (640, 400), (92, 96, 104))
    draw = ImageDraw.Draw(photo)
    for y in range(400):  # a soft vertical gradient so the scene is not flat
        shade = 70 + y // 8
        draw.line([(0, y), (639, y)], fill=(shade, shade + 4, shade + 10))
    draw.rounded_rectangle((60, 90, 580, 330), radius=30, fill=(150, 152, 160))  # bumper
    plate = Image.new("RGB", (300, 66), (250, 250, 247))
    plate_draw = ImageDraw.Draw(plate)
    plate_draw.rectangle((0, 0, 299, 65), outline=(20, 20, 20), width=3)
    font = ImageFont.truetype(str(FONT), 50)
    left, top, right, bottom = plate_draw.textbbox((0, 0), text, font=font)
    x = (300 - (right - left)) // 2 - left
    y = (66 - (bottom - top)) // 2 - top
    plate_draw.text((x, y), text, fill=(15, 15, 15), font=font)
    photo.paste(plate, (170, 220))
    photo = photo.filter(ImageFilter.GaussianBlur(0.6))
    noisy = photo.load()
    assert noisy is not None
    for _ in range(4000):
        px, py = rng.randrange(640), rng.randrange(400)
        r, g, b = noisy[px, py]  # type: ignore[misc]
        d = rng.randint(-12, 12)
        noisy[px, py] = (r + d, g + d, b + d)
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=85)
    return out.getvalue()


def multipart(
    photo: bytes,
    *,
    dry_run: bool = False,
    filename: str = "plate.jpg",
    more: tuple[bytes, ...] = (),
) -> bytes:
    """A form with the photo (and ``more`` photos of the same vehicle: a burst)."""
    parts = [FormPart("image_file", photo, filename, "image/jpeg")]
    parts += [
        FormPart("image_file", p, f"frame-{i + 2}.jpg", "image/jpeg") for i, p in enumerate(more)
    ]
    if dry_run:
        parts.append(FormPart("dryRun", b"true"))
    return encode_multipart(parts, BOUNDARY)


#: Headers API Gateway always passes on.
BASE_HEADERS = {
    "Host": "abcdef1234.execute-api.ap-northeast-2.amazonaws.com",
    "User-Agent": "curl/8.5.0",
    "X-Forwarded-For": "203.0.113.10",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}


def api_event(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> dict[str, object]:
    event = make_api_event(
        method, path, headers={**BASE_HEADERS, **(headers or {})}, body=body, stage="Prod"
    )
    context = event["requestContext"]
    assert isinstance(context, dict)
    context.update(
        requestId=REQUEST_ID,
        extendedRequestId=REQUEST_ID,
        requestTime="25/Nov/2026:12:00:00 +0000",
        requestTimeEpoch=1795608000000,
    )
    return event


def sqs_event(keys: list[str], bucket: str = "plate-ocr-bucket") -> dict[str, object]:
    records = []
    for index, key in enumerate(keys):
        notification = {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "ap-northeast-2",
                    "eventTime": "2026-11-25T12:00:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "incoming-photos",
                        "bucket": {
                            "name": bucket,
                            "arn": f"arn:aws:s3:::{bucket}",
                        },
                        "object": {
                            # S3 URL-encodes keys in notifications ('+' for a space).
                            "key": quote_plus(key, safe="/"),
                            "size": 43210,
                            "eTag": "0123456789abcdef0123456789abcdef",
                            "sequencer": f"0065F0C1D2E3F4A5{index:02d}",
                        },
                    },
                }
            ]
        }
        message_id = str(uuid.UUID(int=index + 1))
        records.append(
            {
                "messageId": message_id,
                "receiptHandle": f"AQEB-receipt-{index}",
                "body": json.dumps(notification, ensure_ascii=False),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795608000000",
                    "SenderId": "AIDAS3NOTIFICATIONS",
                    "ApproximateFirstReceiveTimestamp": "1795608000001",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:plate-ocr-incoming",
                "awsRegion": "ap-northeast-2",
            }
        )
    return {"Records": records}


def main() -> int:
    if not FONT.is_file():
        print(f"missing {FONT}: apt-get install -y fonts-nanum", file=sys.stderr)
        return 1
    EVENTS.mkdir(exist_ok=True)
    photo = render_photo()
    (EVENTS / "plate.jpg").write_bytes(photo)
    form = f"multipart/form-data; boundary={BOUNDARY}"
    events: dict[str, object] = {
        "api-get-index": api_event("GET", "/", headers={"Accept": "text/html"}),
        "api-get-docs": api_event("GET", "/docs", headers={"Accept": "text/html"}),
        "api-get-openapi": api_event("GET", "/openapi.json"),
        "api-get-healthz": api_event("GET", "/healthz"),
        "api-get-status": api_event("GET", "/status"),
        "api-post-warmup": api_event("POST", "/warmup"),
        "api-post-ocr-multipart": api_event(
            "POST",
            "/ocr/license-plate",
            headers={"Content-Type": form},
            body=multipart(photo),
        ),
        "api-post-ocr-jpeg": api_event(
            "POST",
            "/ocr/license-plate",
            headers={"Content-Type": "image/jpeg"},
            body=photo,
        ),
        "api-post-ocr-dryrun": api_event(
            "POST",
            "/ocr/license-plate",
            headers={"Content-Type": form},
            body=multipart(photo, dry_run=True),
        ),
        "api-post-ocr-burst": api_event(
            "POST",
            "/ocr/license-plate",
            headers={"Content-Type": form},
            # Three frames of one car: the same scene with other noise (a gate camera's burst).
            body=multipart(photo, more=(render_photo(seed=8), render_photo(seed=9))),
        ),
        "api-post-anonymize": api_event(
            "POST",
            "/anonymize",
            headers={"Content-Type": "image/jpeg", "Accept": "image/jpeg"},
            body=photo,
        ),
        "api-post-uploads": api_event(
            "POST",
            "/uploads",
            headers={"Content-Type": "application/json"},
            body=b'{"content_type": "image/jpeg"}',
        ),
        "api-get-result": api_event("GET", f"/results/{RESULT_ID}"),
        "batch-sqs-s3": sqs_event(["incoming/cars/plate.jpg", "incoming/주차장/차량 1.jpg"]),
    }
    for name, event in events.items():
        path = EVENTS / f"{name}.json"
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
