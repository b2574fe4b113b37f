"""A loopback stand-in for the Gemini API that the real google-genai client talks to.

Point ``PLATE_OCR_GEMINI_BASE_URL`` (``Settings.gemini_base_url``) at ``GeminiStandIn.url``. It
answers each generateContent call as ``reply(n)`` says, ``n`` counting from 1: ``(status, body,
delay)``, where a ``bytes`` body goes out as it is (malformed answers) and anything else as JSON.
A negative delay trickles the body instead: 8 bytes every ``-delay`` seconds (a server that never
stays silent long enough for a client's read timeout).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[int], tuple[int, Any, float]]


@dataclass
class Call:
    """One request the stand-in received."""

    path: str
    headers: dict[str, str]
    body: Any


class GeminiStandIn:
    """The stand-in server, as a context manager; ``calls`` lists what it received, in order."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.calls: list[Call] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = raw
                stand_in.calls.append(Call(self.path, dict(self.headers.items()), body))
                status, payload, delay = stand_in.reply(len(stand_in.calls))
                time.sleep(max(delay, 0.0))
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if delay >= 0:
                        self.wfile.write(data)
                    for start in range(0, len(data), 8) if delay < 0 else ():
                        self.wfile.write(data[start : start + 8])
                        self.wfile.flush()
                        time.sleep(-delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> GeminiStandIn:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def gemini_answer(payload: Any) -> dict[str, Any]:
    """A generateContent response whose text is ``payload`` (JSON-encoded unless a string)."""
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
        ]
    }
