"""The batch convention for one vehicle's photos: a .burst/ folder and its manifest."""

from __future__ import annotations

import json

import pytest

from plate_ocr.bursts import frame_keys, is_frame, is_manifest
from plate_ocr.errors import InvalidManifestError

FOLDER = "incoming/gate-3/0815.burst/"


@pytest.mark.parametrize(
    ("key", "frame", "manifest"),
    [
        (f"{FOLDER}0.jpg", True, False),
        (f"{FOLDER}manifest.json", False, True),
        ("incoming/gate-3/0815.jpg", False, False),
        ("incoming/manifest.json", False, False),
        (f"{FOLDER}sub/0.jpg", False, False),
        ("incoming/차량.burst/사진 1.jpg", True, False),
    ],
    ids=["frame", "manifest", "photo", "manifest-outside-a-burst", "deeper-folder", "korean"],
)
def test_keys_are_told_apart_by_their_folder_and_name(key, frame, manifest):
    assert (is_frame(key), is_manifest(key)) == (frame, manifest)


def test_a_manifest_names_its_frames_in_order_inside_its_folder():
    data = json.dumps({"frames": ["2.jpg", "1.jpg", "사진 3.heic"]}).encode()

    assert frame_keys(f"{FOLDER}manifest.json", data) == [
        f"{FOLDER}2.jpg",
        f"{FOLDER}1.jpg",
        f"{FOLDER}사진 3.heic",
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"frames": []}',
        json.dumps({"frames": [f"{i}.jpg" for i in range(9)]}).encode(),
        b'{"frames": ["../other/1.jpg"]}',
        b'{"frames": [".."]}',
        b'{"frames": ["manifest.json"]}',
        b'{"frames": ["1.jpg"], "extra": 1}',
        b'{"frames": ["' + b"a" * 20_000 + b'"]}',
        b"\xff\xfe",
    ],
    ids=[
        "not-json",
        "a-list",
        "no-frames",
        "no-frame",
        "nine-frames",
        "a-path",
        "dot-dot",
        "itself",
        "extra-field",
        "too-large",
        "not-utf8",
    ],
)
def test_a_manifest_that_cannot_be_read_is_refused(data):
    with pytest.raises(InvalidManifestError):
        frame_keys(f"{FOLDER}manifest.json", data)
