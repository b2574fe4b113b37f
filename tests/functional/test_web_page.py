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
from functional_support import EVENTS, FUNCTIONS_DIR

from plate_ocr import factory
from plate_ocr.localserver import make_server

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
def server(api: Any, pipeline: Any) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, "api.app.lambda_handler", FUNCTIONS_DIR)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    host, port = httpd.server_address[:2]
    yield f"http://{host!s}:{port}"
    httpd.shutdown()
    httpd.server_close()


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


def _choose_photo(page: DevTools) -> None:
    """Picks events/plate.jpg in the page's file input, as the upload button does, and waits."""
    document = page.send("DOM.getDocument")
    node = page.send("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#file-input")
    page.send("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(EVENTS / "plate.jpg")])
    page.wait_for("document.body.dataset.done")


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
    monkeypatch.setattr(factory, "warm_up", lambda full=False: 1.5)
    monkeypatch.setattr(factory, "model_status", lambda: ("ready", "models loaded in 1.50 s"))
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

    monkeypatch.setattr(factory, "get_pipeline", broken)
    page = browser(f"{server}/")

    _choose_photo(page)

    assert _text(page, "error") == "인식 실패: The models could not be loaded: OSError."
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
