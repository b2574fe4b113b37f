"""The deadline of one request or batch record (TIMEOUT_SECONDS), carried in a context variable.

Work is stopped, not abandoned: steps that can run long check the deadline as they go (multipart
parsing, the PNG inflation check), decoding runs in a child process that is killed when the
deadline passes (:mod:`plate_ocr.imaging.pool`), and stage 2 gets only the time that is left. The
models run between those checks; they take about 0.1 s (CRAFT's second opinion up to 1.5 s), so a
read whose deadline passes while they run still answers with its result, up to that much late, and
leaves nothing running.

A context variable, not an argument: the deadline reaches the decoder and the Gemini client
through the pipeline, whose interface does not change, and every thread (one request each in the
local server) has its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from plate_ocr.errors import DeadlineExceededError

__all__ = ["Deadline", "DeadlineExceededError", "current", "limit"]


class Deadline:
    """A point in time (monotonic clock) by which the work must be done."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; 0 once passed."""
        return max(0.0, self.expires_at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.expires_at

    def check(self) -> None:
        """Raises:
        DeadlineExceededError: the deadline has passed.
        """
        if self.expired():
            raise self.error()

    def error(self) -> DeadlineExceededError:
        return DeadlineExceededError(f"The request took longer than {self.seconds:g} seconds.")


_current: ContextVar[Deadline | None] = ContextVar("plate_ocr_deadline", default=None)


def current() -> Deadline | None:
    """The deadline of the work running in this context, if any."""
    return _current.get()


@contextmanager
def limit(seconds: float) -> Iterator[Deadline]:
    """Runs the block under a deadline of ``seconds`` (never later than an enclosing one)."""
    outer = _current.get()
    deadline = Deadline(seconds)
    if outer is not None and outer.expires_at < deadline.expires_at:
        deadline = outer
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def check() -> None:
    """Raises DeadlineExceededError when the current deadline (if any) has passed."""
    deadline = _current.get()
    if deadline is not None:
        deadline.check()
