"""The web page in headless Chromium (Debian's ``chromium``), driven over the DevTools protocol.

The page talks to ``plate-ocr serve`` on 127.0.0.1 with the engines faked, so the test checks the
page and the API together: upload a photo, see the plate, its stage and time, and the box drawn.
Skips when no Chromium is installed (``apt-get install chromium``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from functional_support import EVENTS

from plate_ocr import lifecycle

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._next_id = 0

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=30))
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")


@pytest.fixture
def browser() -> Iterator[Callable[[str], DevTools]]:
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    pytest.importorskip("websockets.sync.client")
    profile = tempfile.mkdtemp(prefix="plate-ocr-chromium-")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",  # root in CI containers
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from websockets.sync.client import connect

    sockets = contextlib.ExitStack()
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("Chromium did not start")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]

        def open_page(url: str) -> DevTools:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.loads(r.read())
            page = next(t for t in targets if t["type"] == "page")
            devtools = DevTools(
                sockets.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None))
            )
            devtools.send("Page.enable")
            devtools.send("Page.navigate", url=url)
            devtools.wait_for("document.readyState === 'complete'")
            return devtools

        yield open_page
    finally:
        sockets.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _choose_photo(page: DevTools, path: Path = EVENTS / "plate.jpg", timeout: float = 20.0) -> None:
    """Picks a photo in the page's file input, as the upload button does, and waits."""
    document = page.send("DOM.getDocument")
    node = page.send("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#file-input")
    page.send("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(path)])
    page.wait_for("document.body.dataset.done", timeout)


def _text(page: DevTools, element_id: str) -> str:
    return str(page.evaluate(f"document.getElementById({element_id!r}).textContent"))


def test_uploading_a_photo_shows_the_plate_stage_time_and_box(server, browser):
    # GIVEN the page open in Chromium
    page = browser(f"{server}/")
    assert page.evaluate("document.title") == "차량 번호판 인식"
    page.wait_for("document.getElementById('status').dataset.state !== 'unknown'")

    # WHEN the synthetic plate photo is chosen with the upload button's file input
    _choose_photo(page)

    # THEN the plate, confidence, stage and time are shown in Korean
    assert _text(page, "error") == ""
    assert _text(page, "result-plate") == "12가3456"
    assert _text(page, "result-confidence") == "93.0%"
    assert _text(page, "result-stage") == "1단계 로직"
    assert _text(page, "result-time").endswith("초")
    assert _text(page, "result-usage") == "비사업용"
    # AND the plate's box is drawn on the photo (the top edge of the fake box, in green)
    pixel = page.evaluate(
        "Array.from(document.getElementById('canvas').getContext('2d')"
        ".getImageData(320, 220, 1, 1).data)"
    )
    red, green, _blue, _alpha = pixel
    assert green > 180 and red < 80, pixel


def test_the_warm_up_button_reports_the_time(server, browser, monkeypatch):
    monkeypatch.setattr(lifecycle, "warm_up", lambda: 1.5)
    monkeypatch.setattr(lifecycle, "model_status", lambda: ("ready", "models loaded in 1.50 s"))
    page = browser(f"{server}/")

    page.evaluate("document.getElementById('warmup-button').click()")

    assert (
        page.wait_for(
            "document.getElementById('warmup-button').textContent.includes('예열 완료')"
            " && document.getElementById('warmup-button').textContent"
        )
        == "예열 완료 (1.50초)"
    )
    page.wait_for("document.getElementById('status').dataset.state === 'ready'")
    assert _text(page, "status") == "모델 상태: 준비됨"


def test_an_error_from_the_api_is_shown_on_the_page(server, browser, monkeypatch):
    from plate_ocr.errors import ModelUnavailableError

    def broken() -> Any:
        raise ModelUnavailableError("The models could not be loaded: OSError.")

    monkeypatch.setattr(lifecycle, "get_pipeline", broken)
    page = browser(f"{server}/")

    _choose_photo(page)

    assert _text(page, "error") == (
        "인식 실패: 인식 모델을 불러올 수 없습니다. 잠시 후 다시 시도해 주세요."
    )
    assert _text(page, "result-plate") == "-"


def test_dropping_a_photo_on_the_page_reads_it(server, browser):
    page = browser(f"{server}/")
    box = page.evaluate(
        "(() => { const r = document.getElementById('drop-zone').getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    data = {"items": [], "files": [str(EVENTS / "plate.jpg")], "dragOperationsMask": 1}

    for kind in ("dragEnter", "dragOver", "drop"):
        page.send("Input.dispatchDragEvent", type=kind, x=box[0], y=box[1], data=data)
    page.wait_for("document.body.dataset.done")

    assert _text(page, "result-plate") == "12가3456"
    assert _text(page, "result-stage") == "1단계 로직"


def test_an_unsure_reading_is_shown_as_needing_review_never_as_a_result(
    server, browser, recognizer
):
    # GIVEN a reading under the success threshold (and no stage-2 key)
    recognizer.confidence = 0.42
    page = browser(f"{server}/")

    # WHEN the photo is read
    _choose_photo(page)

    # THEN the page says a person must check it, with its confidence, and the stage failed
    assert _text(page, "result-plate") == "확인 필요: 12가3456"
    assert _text(page, "result-confidence") == "42.0% (낮음)"
    assert _text(page, "result-stage") == "모두 실패"
    labels = json.loads(page.evaluate("document.getElementById('canvas').dataset.labels"))
    assert len(labels) == 1


def test_a_stage_two_answer_leaves_the_unsure_reading_drawn_as_unsure(
    server, browser, recognizer, fallback
):
    from plate_ocr.engines import FallbackAnswer
    from plate_ocr.results import Stage2Status

    # GIVEN an unsure stage-1 reading (0.42) and a stage-2 answer, which has no box
    recognizer.confidence = 0.42
    fallback.answer = FallbackAnswer(
        status=Stage2Status.OK, plate_number="34나5678", confidence=0.9
    )
    page = browser(f"{server}/")

    # WHEN the photo is read
    _choose_photo(page)

    # THEN the answer is stage 2's, and the one box drawn (stage 1's) is labelled as needing review
    # with its confidence, not drawn as the answer (it was, being the first plate with a box)
    assert _text(page, "result-plate") == "34나5678"
    (label,) = json.loads(page.evaluate("document.getElementById('canvas').dataset.labels"))
    assert label["sure"] is False
    assert label["text"] == "확인 필요 12가3456 42.0%"


class _CrowdedLocator:
    """Four plates, three stacked edge to edge (each label would sit on the plate above) and one
    reaching past the photo. (Plates of cars never overlap: the pipeline keeps one reading of a
    place.)"""

    BOXES = (
        ((170.0, 220.0), (470.0, 220.0), (470.0, 260.0), (170.0, 260.0)),
        ((180.0, 262.0), (480.0, 262.0), (480.0, 302.0), (180.0, 302.0)),
        ((175.0, 304.0), (475.0, 304.0), (475.0, 344.0), (175.0, 344.0)),
        ((-40.0, -30.0), (160.0, -30.0), (160.0, 30.0), (-40.0, 30.0)),
    )

    def locate(self, image: Any) -> list[Any]:
        from plate_ocr.engines import PlateRegion

        return [PlateRegion(box=b, crop=image, score=0.9) for b in self.BOXES]


def test_plate_labels_never_overlap_and_stay_on_the_photo(server, browser, pipeline, monkeypatch):
    from plate_ocr.engines import RawReading

    # GIVEN four plates read on one photo, their boxes crowded together
    texts = iter(["12가3456", "34나5678", "56다7890", "78라1234"])

    class Recognizer:
        def read(self, crop: Any) -> RawReading:
            text = next(texts)
            return RawReading(text, 0.95, tuple(0.95 for _ in text))

    monkeypatch.setattr(pipeline, "finders", (_CrowdedLocator(),))
    monkeypatch.setattr(pipeline, "recognizer", Recognizer())
    page = browser(f"{server}/")

    # WHEN the photo is read
    _choose_photo(page)

    # THEN every plate has a label, no two labels overlap, and all lie on the canvas
    labels = json.loads(page.evaluate("document.getElementById('canvas').dataset.labels"))
    width, height = page.evaluate(
        "[document.getElementById('canvas').width, document.getElementById('canvas').height]"
    )
    assert len(labels) == 4
    for i, a in enumerate(labels):
        assert (
            a["x"] >= 0 and a["x"] + a["w"] <= width and a["y"] >= 0 and a["y"] + a["h"] <= height
        )
        for b in labels[i + 1 :]:
            apart = (
                a["x"] + a["w"] <= b["x"]
                or b["x"] + b["w"] <= a["x"]
                or a["y"] + a["h"] <= b["y"]
                or b["y"] + b["h"] <= a["y"]
            )
            assert apart, (a, b)


# --- issue 13: phone photos up to 10 MB, the presigned path behind API Gateway ------------------


@pytest.fixture(scope="module")
def phone_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 MB JPEG (noise at quality 95, 2700x2100): as large as a phone's photo."""
    import cv2
    import numpy as np

    pixels = np.random.default_rng(13).integers(0, 256, (2100, 2700, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok and 6 * 2**20 < len(data) < 10 * 2**20
    path = tmp_path_factory.mktemp("photos") / "phone.jpg"
    path.write_bytes(data.tobytes())
    return path


def _refuse_presigned_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    from plate_ocr import storage

    def no_store() -> Any:
        raise AssertionError("the page asked for a presigned upload")

    monkeypatch.setattr(storage, "get_store", no_store)


def test_locally_a_6_mb_phone_photo_is_read_directly(
    api, settings, server, browser, monkeypatch, phone_photo
):
    # GIVEN `make run`: no bucket, so no presigned upload exists
    monkeypatch.setattr(api, "settings", settings.model_copy(update={"bucket_name": None}))
    _refuse_presigned_uploads(monkeypatch)
    page = browser(f"{server}/")
    assert (
        json.loads(page.evaluate("document.querySelector('meta[name=upload-limits]').content"))[
            "presigned"
        ]
        is False
    )

    # WHEN a 6 MB photo is chosen
    _choose_photo(page, phone_photo, timeout=60)

    # THEN it went straight to the API and was read
    assert _text(page, "error") == ""
    assert page.evaluate("document.body.dataset.path") == "direct"
    assert _text(page, "result-plate") == "12가3456"


def test_a_photo_over_the_limit_is_refused_in_korean_before_anything_is_sent(
    api, settings, server, browser, monkeypatch, tmp_path
):
    monkeypatch.setattr(api, "settings", settings.model_copy(update={"bucket_name": None}))
    big = tmp_path / "big.jpg"
    big.write_bytes((EVENTS / "plate.jpg").read_bytes() + b"\x00" * (10 * 2**20))
    page = browser(f"{server}/")

    document = page.send("DOM.getDocument")
    node = page.send("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#file-input")
    page.send("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(big)])
    message = page.wait_for("document.getElementById('error').textContent")

    assert message.startswith("사진이 너무 큽니다 (10MB). 최대 10MB")
    assert page.evaluate("document.body.dataset.path") is None


def test_a_heic_photo_is_read_though_the_browser_cannot_show_it(server, browser, tmp_path):
    import io

    import pillow_heif
    from PIL import Image

    buf = io.BytesIO()
    photo = Image.open(EVENTS / "plate.jpg")
    pillow_heif.from_pillow(photo).save(buf, quality=80)
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(buf.getvalue())
    page = browser(f"{server}/")

    _choose_photo(page, path)

    assert _text(page, "error") == ""
    assert _text(page, "result-plate") == "12가3456"
    assert page.evaluate("document.getElementById('canvas').width") == 640


@pytest.fixture
def s3_server(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """S3 on a moto server on 127.0.0.1, which the browser can post to, as behind API Gateway."""
    import boto3
    from botocore.config import Config
    from functional_support import BUCKET, REGION
    from moto.server import ThreadedMotoServer

    from plate_ocr import storage
    from plate_ocr.storage import S3Store

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto.start()
    host, port = moto.get_host_and_port()
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=f"http://{host}:{port}",
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    behind_gateway = settings.model_copy(update={"direct_upload_bytes": 4 * 2**20})
    monkeypatch.setattr(storage, "get_store", lambda: S3Store(s3, behind_gateway))
    try:
        yield s3, behind_gateway
    finally:
        moto.stop()


def test_behind_api_gateway_a_large_photo_goes_through_a_presigned_upload(
    api, batch_app, pipeline, s3_server, server, browser, monkeypatch, phone_photo
):
    from functional_support import BUCKET, batch_event

    from plate_ocr.localserver import LambdaContext

    # GIVEN the stack's settings: a bucket, and photos over 4 MB kept off the Lambda payload
    s3, behind_gateway = s3_server
    monkeypatch.setattr(api, "settings", behind_gateway)
    monkeypatch.setattr(batch_app, "settings", behind_gateway)
    page = browser(f"{server}/")
    # The page's policy admits https://*.amazonaws.com only; the stand-in S3 is plain http.
    page.send("Page.setBypassCSP", enabled=True)
    page.send("Page.reload")
    page.wait_for("document.readyState === 'complete'")
    limits = json.loads(page.evaluate("document.querySelector('meta[name=upload-limits]').content"))
    assert limits == {
        "direct": 4 * 2**20,
        "max": 10 * 2**20,
        "pixels": 40_000_000,
        "presigned": True,
    }

    # AND S3's notification to the batch, played by a thread that waits for the upload
    def notify() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="incoming/")
            if listing.get("Contents"):
                key = listing["Contents"][0]["Key"]
                batch_app.lambda_handler(batch_event([key]), LambdaContext())
                return
            time.sleep(0.2)

    notifier = threading.Thread(target=notify, daemon=True)
    notifier.start()

    # WHEN the 6 MB photo is chosen
    _choose_photo(page, phone_photo, timeout=90)
    notifier.join(timeout=5)

    # THEN it went to S3 through a presigned upload, and the batch's result is shown
    assert _text(page, "error") == ""
    assert page.evaluate("document.body.dataset.path") == "presigned"
    assert _text(page, "result-plate") == "12가3456"
    assert _text(page, "result-stage") == "1단계 로직"
