"""Helpers of the hardening tests: HTTP clients (urllib, and raw bytes on a socket), constants.

A module with a unique name, as ``conftest`` is ambiguous when several test folders are collected.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plate_ocr import localserver

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
EVENTS = ROOT / "events"
#: Where the fake locator puts the plate (engine fakes: tests/support).
BOX = ((10.0, 10.0), (110.0, 10.0), (110.0, 40.0), (10.0, 40.0))


@dataclass(frozen=True)
class Served:
    """The local server of a test: its base URL and its address."""

    url: str
    host: str
    port: int


@contextmanager
def serving(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    # EMF blobs on stdout would only bury the output of a failing test.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    httpd = localserver.make_server("127.0.0.1", 0, "api.app.lambda_handler", FUNCTIONS_DIR)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield Served(f"http://{host!s}:{port}", str(host), int(port))
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
    timeout: float = 20.0,
) -> Reply:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers.items()), error.read())


def raw_http(host: str, port: int, request: bytes, timeout: float = 20.0) -> Reply:
    """Sends bytes as they are (what urllib refuses to send) and parses the one response."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(headers.get("Content-Length", len(body)))
    return Reply(status, headers, body[:length])


def run_handler_script(script: str, cwd: Path, **env: str) -> list[str]:
    """Runs ``script`` in a fresh Python process that imports the handlers (settings and CORS are
    read at import), with ``env`` added; returns its stdout lines minus the JSON log lines."""
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(FUNCTIONS_DIR),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "LOG_LEVEL": "WARNING",
            **env,
        },
        timeout=120,
        check=False,
        cwd=cwd,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return [line for line in run.stdout.splitlines() if not line.startswith("{")]
