"""Log records that are safe to keep: no secret from a library's debug log, bounded in size, one
traceback per kind of error.

- botocore logs whole responses at DEBUG, the ``GetSecretValue`` answer with the Gemini key among
  them; urllib3, httpx and google-genai log requests. With the root logger at DEBUG (``plate-ocr
  -v``, Lambda's ``ApplicationLogLevel=DEBUG``) they would all print. Their loggers are held at
  INFO, whatever the root's level.
- A record's message is cut at :data:`MAX_MESSAGE_CHARS` and its traceback at
  :data:`MAX_TRACEBACK_CHARS`, and a traceback is written once per kind of error (type and the
  line that raised); later ones say how often the error repeated. A deep recursion once logged
  174 KB on every request.
"""

from __future__ import annotations

import logging
import threading
import traceback

#: Libraries that log request or response bodies (or headers) at DEBUG.
SECRET_BEARING_LOGGERS = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "httpx",
    "httpcore",
    "google_genai",
    "google.auth",
)
MAX_MESSAGE_CHARS = 2_000
MAX_TRACEBACK_CHARS = 8_000


def quiet_secret_bearing_loggers() -> None:
    """Holds the loggers of :data:`SECRET_BEARING_LOGGERS` at INFO or above."""
    for name in SECRET_BEARING_LOGGERS:
        library = logging.getLogger(name)
        if library.level < logging.INFO:  # NOTSET (0) follows the root, DEBUG is explicit
            library.setLevel(logging.INFO)


class BoundedRecords(logging.Filter):
    """A handler filter: cuts long messages, and writes each kind of traceback once, cut too."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > MAX_MESSAGE_CHARS:
            message = f"{message[:MAX_MESSAGE_CHARS]}... [{len(message)} chars]"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            kind = _kind(exc)
            with self._lock:
                count = self._seen.get(kind, 0) + 1
                self._seen[kind] = count
            if count == 1:
                text = "".join(traceback.format_exception(exc, limit=30))
                if len(text) > MAX_TRACEBACK_CHARS:
                    text = (
                        f"[...{len(text) - MAX_TRACEBACK_CHARS} chars]{text[-MAX_TRACEBACK_CHARS:]}"
                    )
                message = f"{message}\n{text}"
            else:
                message = (
                    f"{message} ({kind[0]} at {kind[1]}, {count} times; traceback logged once)"
                )
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = message, None
        return True


def _kind(exc: BaseException) -> tuple[str, str]:
    frames = traceback.extract_tb(exc.__traceback__, limit=None) if exc.__traceback__ else []
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return type(exc).__name__, where


def protect(handler: logging.Handler) -> None:
    """Adds :class:`BoundedRecords` to ``handler`` once."""
    if not any(isinstance(f, BoundedRecords) for f in handler.filters):
        handler.addFilter(BoundedRecords())
