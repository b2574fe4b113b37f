"""POST /anonymize: the photo back as JPEG with every plate blurred beyond reading.

With fake engines the plate's place is known, so the test checks the pixels: the characters are
gone inside the plate (the plate-likeness of the crop falls to nothing) and the rest of the photo is
untouched. The slow test runs the real finder and recogniser on val photos: after blurring, our own
reader must not read the plate back.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from functional_support import BOX, json_body, load_event, with_body

from plate_ocr.locate.crops import plate_likeness
from plate_ocr.upload import FormPart, encode_multipart

MANIFEST = (
    Path(__file__).resolve().parents[3] / "shared" / "datasets" / "kr-plates" / "manifest.csv"
)


def _jpeg(response: dict[str, Any]) -> np.ndarray:
    assert response["statusCode"] == 200, response["body"]
    assert response["isBase64Encoded"] is True
    data = base64.b64decode(response["body"])
    assert data[:3] == b"\xff\xd8\xff"
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def _plate(image: np.ndarray) -> np.ndarray:
    (x0, y0), _, (x1, y1), _ = BOX
    return cv2.cvtColor(image[int(y0) : int(y1), int(x0) : int(x1)], cv2.COLOR_BGR2GRAY)


def test_anonymize_answers_the_photo_with_its_plate_blurred_beyond_reading(
    api, pipeline, invoke, photo
):
    # GIVEN the event photo, whose plate the finder puts at BOX
    original = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)

    # WHEN it is sent to /anonymize
    response = invoke(api, load_event("api-post-anonymize"))

    # THEN the answer is the same photo as JPEG, saying one plate was blurred
    covered = _jpeg(response)
    headers = response["multiValueHeaders"]
    assert headers["Content-Type"] == ["image/jpeg"]
    assert headers["X-Plates-Blurred"] == ["1"]
    assert covered.shape == original.shape
    # AND inside the plate the characters are gone
    assert plate_likeness(_plate(original)) > 0.5
    assert plate_likeness(_plate(covered)) == 0.0
    assert _plate(covered).std() < 0.3 * _plate(original).std()
    # AND away from the plate the photo is as it was (within JPEG's loss)
    diff = np.abs(covered.astype(int) - original.astype(int))
    assert diff[:150].mean() < 3 and diff[350:].mean() < 3


def test_a_photo_without_plates_comes_back_unblurred(api, pipeline, invoke, monkeypatch, photo):
    class NoPlates:
        def locate(self, image: Any) -> list[Any]:
            return []

    monkeypatch.setattr(pipeline, "finders", (NoPlates(),))

    response = invoke(api, load_event("api-post-anonymize"))

    assert response["multiValueHeaders"]["X-Plates-Blurred"] == ["0"]
    assert _jpeg(response).shape == (400, 640, 3)


def test_anonymize_blurs_what_the_last_resort_finds_too(api, pipeline, invoke, monkeypatch):
    from tests.support.fakes import FakeLocator

    # GIVEN a plate only the last-resort look finds (a plate tilted past the detector's range)
    class NoPlates:
        def locate(self, image: Any) -> list[Any]:
            return []

    monkeypatch.setattr(pipeline, "finders", (NoPlates(),))
    monkeypatch.setattr(pipeline, "last_resort", (FakeLocator(box=BOX),))

    response = invoke(api, load_event("api-post-anonymize"))

    # THEN it is blurred as well (a missed plate is personal data let out)
    assert response["multiValueHeaders"]["X-Plates-Blurred"] == ["1"]


def test_anonymize_takes_one_photo_only(api, pipeline, invoke, photo):
    body = encode_multipart([FormPart("image_file", photo, f"{i}.jpg") for i in range(2)], "b0")
    event = with_body(load_event("api-post-anonymize"), body, "multipart/form-data; boundary=b0")

    response = invoke(api, event)

    assert response["statusCode"] == 400
    assert json_body(response)["error"] == "too_many_files"


def test_a_bad_photo_gets_the_same_4xx_as_a_read(api, pipeline, invoke):
    event = with_body(load_event("api-post-anonymize"), b"not a photo", "image/jpeg")

    response = invoke(api, event)

    assert (response["statusCode"], json_body(response)["error"]) == (400, "invalid_image")


@pytest.mark.parametrize("size", [(70_000, 4), (4, 70_000)], ids=["wide", "tall"])
def test_a_photo_too_long_for_jpeg_is_refused_as_too_large(api, pipeline, invoke, size):
    # A read takes it (no plate); JPEG cannot hold a side over 65,500 px (OpenCV's limit), and
    # that was a 500.
    width, height = size
    ok, png = cv2.imencode(".png", np.full((height, width, 3), 200, np.uint8))
    assert ok
    event = with_body(load_event("api-post-anonymize"), png.tobytes(), "image/png")

    response = invoke(api, event)

    assert (response["statusCode"], json_body(response)["error"]) == (413, "image_too_large")
    assert "65500" in json_body(response)["message"]


@pytest.mark.slow
@pytest.mark.skipif(not MANIFEST.is_file(), reason="../shared/datasets/kr-plates is absent")
def test_after_blurring_our_own_reader_reads_no_plate_back():
    from plate_ocr import lifecycle
    from plate_ocr.anonymize import anonymize
    from plate_ocr.errors import ModelUnavailableError
    from plate_ocr.evaluate import load_manifest

    try:
        pipeline = lifecycle.get_pipeline()
    except ModelUnavailableError as exc:
        pytest.skip(str(exc))
    settings = pipeline.settings
    samples = load_manifest(MANIFEST, split="val")
    # Every scene and every fourth crop: the finder's regions on whole photos, the crop shortcut.
    samples = [s for i, s in enumerate(samples) if s.kind == "scene" or i % 4 == 0]

    read_before = read_after = 0
    for sample in samples:
        data = sample.path.read_bytes()
        before = pipeline.read(data, use_fallback=False)
        if sample.label not in {p.plate_number for p in before.plates}:
            continue  # the reader does not read this one even unblurred
        read_before += 1
        covered = anonymize(
            data,
            pipeline.finders,
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
        )
        after = pipeline.read(covered.jpeg, use_fallback=False)
        read = {p.plate_number for p in after.plates} | {
            c.plate_number for p in after.plates for c in p.candidates
        }
        if sample.label in read or after.success:
            read_after += 1
            print(f"READ BACK {sample.path.name}: {after.plate_number} {after.confidence}")

    print(f"\nANONYMIZE read before {read_before}/{len(samples)}, read back after {read_after}")
    assert read_before >= len(samples) // 2
    assert read_after == 0
