"""A Docker-free local server: HTTP requests -> API Gateway REST (v1) proxy events -> the handler.

``plate-ocr serve`` (and ``make run``) start it. The handler is found by its import path with
``functions/`` put on ``sys.path`` at run time, so :mod:`plate_ocr` holds no static import of the
handlers. Bodies always travel base64-encoded, as API Gateway sends binary media types.

Requests are served in parallel, one thread each: the handler keeps each request's state per
thread (functions/api/resolver.py). The server caps open connections at :data:`MAX_CONNECTIONS`
(more get 503 at once), gives a request :data:`REQUEST_DEADLINE_SECONDS` to arrive in full (a
client that trickles its headers or body gets 408), refuses conflicting Content-Length headers and
chunked bodies, and names each request's id in ``X-Amzn-RequestId``, as API Gateway does. Its own
refusals answer in the API's error shape, with a request id and the security headers.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from plate_ocr.config import get_settings
from plate_ocr.errors import SECURITY_HEADERS
from plate_ocr.upload import max_body_bytes

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

STAGE = "local"
#: Seconds a connection may stay silent (mid-request or idle between requests) before it closes.
SOCKET_TIMEOUT_SECONDS = 60.0
#: The methods the server hands to the handler (the API's routes use GET and POST; CORS OPTIONS).
ALLOWED_METHODS = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"
#: Seconds a request has to arrive in full, from its first line (or the wait for it on a kept-alive
#: connection) to the last byte of its body; the handler's own deadline (TIMEOUT_SECONDS) follows.
REQUEST_DEADLINE_SECONDS = 30.0
#: Body bytes read and dropped after a 413 so that the client reads the answer (larger: closed).
DRAIN_BYTES = 64 * 1024 * 1024
#: Open connections served at once; one thread each, so this also caps the server's threads.
MAX_CONNECTIONS = 64
#: Characters of a request line written to the access log (a request line may be 64 KB).
_LOG_LINE_CHARS = 300


def default_functions_dir() -> Path:
    """``functions/`` of the repository this package was installed from (editable install)."""
    return Path(__file__).resolve().parents[3] / "functions"


class LambdaContext:
    """The parts of the Lambda context object the handlers and Powertools read."""

    function_name = "plate-ocr-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:plate-ocr-local"
    log_group_name = "/aws/lambda/plate-ocr-local"
    log_stream_name = "local"

    def __init__(self, timeout_seconds: float = 30.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def make_api_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    query: list[tuple[str, str]] | Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = STAGE,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as API Gateway builds it for ``/{proxy+}``."""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    query_pairs = list(query.items()) if isinstance(query, Mapping) else list(query or [])
    multi_headers: dict[str, list[str]] = {}
    for name, value in pairs:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        multi_query.setdefault(name, []).append(value)
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method.upper(),
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")} if path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": "/{proxy+}",
            "httpMethod": method.upper(),
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": path,
            "accountId": "000000000000",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": source_ip, "userAgent": dict(pairs).get("User-Agent")},
            "domainName": "localhost",
            "apiId": "local",
        },
        "body": base64.b64encode(body).decode("ascii") if body else None,
        "isBase64Encoded": bool(body),
    }


def load_handler(handler: str, functions_dir: Path | None = None) -> Handler:
    """Imports ``package.module.function`` with ``functions_dir`` on ``sys.path``."""
    folder = str(functions_dir or default_functions_dir())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name, _, attr = handler.rpartition(".")
    fn: Handler = getattr(importlib.import_module(module_name), attr)
    return fn


def response_parts(response: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes of a Lambda proxy response."""
    status = int(response.get("statusCode", 502))
    headers: list[tuple[str, str]] = []
    multi = response.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers.extend((name, str(v)) for v in values)
    for name, value in (response.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
    return status, headers, body


def make_request_handler(
    handler: Handler, timeout_seconds: float, max_body: int | None = None
) -> type[BaseHTTPRequestHandler]:
    """Requests to ``handler``; bodies over ``max_body`` bytes are refused before they are read
    (unset: the most the API takes, ``PLATE_OCR_MAX_IMAGE_BYTES`` and a form's framing)."""
    body_limit = (
        max_body if max_body is not None else max_body_bytes(get_settings().max_image_bytes)
    )

    class _Request(BaseHTTPRequestHandler):
        server_version = "plate-ocr-local"
        protocol_version = "HTTP/1.1"
        # A client that stops sending (or idles on keep-alive) would hold its thread forever.
        timeout = SOCKET_TIMEOUT_SECONDS

        _expired = False

        def handle_one_request(self) -> None:
            # A timer, not a socket timeout: a client that sends one byte per timeout would
            # otherwise hold its thread for as long as it likes.
            self._expired = False
            self._timer = threading.Timer(REQUEST_DEADLINE_SECONDS, self._expire)
            self._timer.daemon = True
            self._timer.start()
            try:
                super().handle_one_request()
            finally:
                self._timer.cancel()

        def _expire(self) -> None:
            self._expired = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RD)

        def _dispatch(self) -> None:
            lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
            if len(lengths) > 1:
                self.send_error(400, "The request has conflicting Content-Length headers.")
                return
            if self.headers.get("Transfer-Encoding") is not None:
                self.send_error(411, "Send the body with a Content-Length, not chunked.")
                return
            length = _content_length(lengths.pop() if lengths else None)
            if length is None:
                self.send_error(400, "Content-Length is not a whole number of bytes.")
                return
            if length > body_limit:
                request_id = str(uuid.uuid4())
                self._send(
                    413,
                    _refusal_headers(request_id),
                    _error_body(
                        "image_too_large", f"The request is over {body_limit} bytes.", request_id
                    ),
                )
                self.close_connection = True
                self._drain(length)
                return
            try:
                body = self.rfile.read(length) if length else None
            except TimeoutError:
                self.send_error(408, "The request body did not arrive in time.")
                return
            self._timer.cancel()
            if body is not None and len(body) < length:
                self.send_error(400, "The body is shorter than its Content-Length.")
                return
            url = urlsplit(self.path)
            event = make_api_event(
                self.command,
                url.path or "/",
                headers=list(self.headers.items()),
                body=body,
                query=parse_qsl(url.query, keep_blank_values=True),
                source_ip=self.client_address[0],
            )
            request_id = event["requestContext"]["requestId"]
            try:
                response = handler(event, LambdaContext(timeout_seconds))
                status, headers, payload = response_parts(response)
                headers.append(("X-Amzn-RequestId", request_id))
            except Exception:
                # Like API Gateway when the function crashes: a 502 and the log has the cause.
                logger.exception("handler failed")
                status, headers = 502, _refusal_headers(request_id)
                payload = _error_body("bad_gateway", "The handler failed.", request_id)
            self._send(status, headers, payload)

        def _drain(self, length: int) -> None:
            # A client that writes its whole body before it reads (http.client, urllib) gets a
            # reset instead of the 413 when the socket closes with its body unread; read and drop
            # up to DRAIN_BYTES of it, within the request's deadline.
            left = min(length, DRAIN_BYTES)
            with contextlib.suppress(OSError, ValueError):
                while left > 0 and (chunk := self.rfile.read1(min(left, 65536))):
                    left -= len(chunk)

        def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            # http.server's own refusals (header too long, bad request line), in the JSON shape.
            self.close_connection = True
            if self._expired:
                code, message = 408, "The request did not arrive in time."
            if self.request_version == "HTTP/0.9":
                # A request line that is no HTTP (TLS, noise) leaves HTTP/0.9, whose replies carry
                # no status line; answer in HTTP/1.1 so the client sees the refusal.
                self.request_version = "HTTP/1.1"
            if code == 501:
                # An unknown method; API Gateway answers 4xx too, and only the handler gets 5xx.
                code, message = 405, f"Method {self.command!r} is not allowed."
            reason = self.responses.get(code, ("error",))[0]
            code_name = reason.lower().replace(" ", "_").replace("-", "_")
            request_id = str(uuid.uuid4())
            headers = _refusal_headers(request_id)
            if code == 405:
                headers.append(("Allow", ALLOWED_METHODS))
            self._send(code, headers, _error_body(code_name, message or reason, request_id))

        def log_message(self, format: str, *args: Any) -> None:
            logger.info("%s %s", self.address_string(), (format % args)[:_LOG_LINE_CHARS])

    return _Request


def _content_length(value: str | None) -> int | None:
    """The body length a request declares: 0 without one, None when it is no count of bytes."""
    if value is None or not value.strip():
        return 0
    text = value.strip()
    # isdigit() alone takes '²' and other Unicode digits, which int() refuses.
    return int(text) if text.isascii() and text.isdigit() else None


def _error_body(code: str, message: str, request_id: str) -> bytes:
    """The API's error shape (plate_ocr.schema.ErrorBody)."""
    return json.dumps({"error": code, "message": message, "request_id": request_id}).encode()


def _refusal_headers(request_id: str) -> list[tuple[str, str]]:
    """Headers of the server's own refusals: what the API's answers carry."""
    return [
        ("Content-Type", "application/json"),
        *SECURITY_HEADERS.items(),
        ("X-Amzn-RequestId", request_id),
    ]


class CappedThreadingServer(ThreadingHTTPServer):
    """A threading server that answers 503 at once past ``max_connections`` open connections."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        request_handler: type[BaseHTTPRequestHandler],
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        super().__init__(address, request_handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            request_id = str(uuid.uuid4())
            message = "Too many open connections; retry shortly."
            body = _error_body("service_unavailable", message, request_id)
            headers = [*_refusal_headers(request_id), ("Retry-After", "1"), ("Connection", "close")]
            head = "HTTP/1.1 503 Service Unavailable\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in headers
            )
            head += f"Content-Length: {len(body)}\r\n\r\n"
            with contextlib.suppress(OSError):
                request.sendall(head.encode("ascii") + body)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # ThreadingMixIn's, with the slot freed before the connection is closed: a client that has
        # read its answer to the end can always connect again.
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self._slots.release()
            self.shutdown_request(request)


def make_server(
    host: str = "127.0.0.1",
    port: int = 3000,
    handler: str = "api.app.lambda_handler",
    functions_dir: Path | None = None,
    timeout_seconds: float = 30.0,
    max_connections: int = MAX_CONNECTIONS,
) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (port 0 picks a free one); call ``serve_forever``."""
    fn = load_handler(handler, functions_dir)
    return CappedThreadingServer(
        (host, port), make_request_handler(fn, timeout_seconds), max_connections
    )


#: glibc's malloc gives threads that allocate at once arenas of their own (up to 8 per core) and
#: seldom hands their memory back: with 4 clients reading crops the server grew 10-11% over 1000
#: requests (``make load``, the second look from 0.7) and kept it. Two arenas hold it flat (+0.2%,
#: and 200 MB less from the start) for about 6% of throughput. Lambda runs one request at a time.
MALLOC_ARENAS = 2
#: ``mallopt``'s parameter number for the arena cap (glibc's malloc.h).
M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Caps glibc's malloc arenas for this threaded server, before its threads start; whether it
    did (not on other C libraries, nor when ``MALLOC_ARENA_MAX`` already says how many)."""
    import ctypes
    import ctypes.util

    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))


def serve(
    host: str = "127.0.0.1",
    port: int = 3000,
    handler: str = "api.app.lambda_handler",
    functions_dir: Path | None = None,
) -> None:
    """Serves the API handler until interrupted."""
    # EMF metric blobs on stdout are for CloudWatch; locally they only bury the request log.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    limit_malloc_arenas()
    server = make_server(host, port, handler, functions_dir)
    bound_host, bound_port = server.server_address[:2]
    print(f"plate-ocr API on http://{bound_host!s}:{bound_port}/ (Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
