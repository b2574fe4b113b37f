"""Runs a read under a deadline (TIMEOUT_SECONDS): the caller gets a 504 instead of waiting on."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from plate_ocr.errors import PlateOcrError

T = TypeVar("T")

# A few workers: a read that overruns its deadline keeps its thread until it ends (Python threads
# cannot be killed), and the next request must not queue behind it.
_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="plate-ocr")


class DeadlineExceededError(PlateOcrError):
    """The read took longer than TIMEOUT_SECONDS."""

    code = "timeout"
    http_status = 504


def run_with_deadline(fn: Callable[[], T], seconds: float) -> T:
    """``fn()`` in a worker thread; its exceptions propagate.

    Raises:
        DeadlineExceededError: ``fn`` did not finish within ``seconds``.
    """
    future = _executor.submit(fn)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        future.cancel()
        raise DeadlineExceededError(
            f"Reading the photo took longer than {seconds:g} seconds."
        ) from None
