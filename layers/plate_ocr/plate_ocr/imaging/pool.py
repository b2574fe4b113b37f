"""Decoding in child processes that are killed when the deadline passes.

Decoding is the one step whose cost an upload controls (the models then take about 0.1 s), and a
Python thread cannot be stopped: before this, a timed-out decode kept its worker thread busy for
its full 15-37 s, and on Lambda into the next invocations of the sandbox. Here each decode runs in
a decoder process (:mod:`plate_ocr.imaging.worker`) under CPU and memory limits; when the request's
deadline passes, the process is killed at once, so nothing of that request keeps running, and a new
one is started for the next photo (about 0.3 s).

Processes are started on demand up to ``decode_workers`` and then reused; a request waits (within
its deadline) for a free one. Lambda runs one request per sandbox, so it starts one.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from plate_ocr import deadline
from plate_ocr.errors import (
    ImageTooComplexError,
    ImageTooLargeError,
    InvalidImageError,
    PlateOcrError,
    UnsupportedMediaTypeError,
)
from plate_ocr.imaging.worker import recv_header, recv_into, send_message

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

logger = logging.getLogger(__name__)

_ERRORS: dict[str, type[PlateOcrError]] = {
    cls.code: cls
    for cls in (
        InvalidImageError,
        ImageTooLargeError,
        ImageTooComplexError,
        UnsupportedMediaTypeError,
    )
}


class _Worker:
    """One decoder process and the parent's end of its socket."""

    def __init__(self, memory_mb: int, limit: deadline.Deadline) -> None:
        parent_end, child_end = socket.socketpair()
        env = dict(os.environ)
        # The child imports plate_ocr, numpy and cv2 from wherever this process found them (the
        # Lambda task root, an editable install, a test's sys.path).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "plate_ocr.imaging.worker",
                str(child_end.fileno()),
                str(memory_mb),
            ],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        child_end.close()
        self.sock = parent_end
        self.peak_rss_mb = 0.0
        try:
            self._settimeout(limit)
            ready = recv_header(self.sock)
        except (OSError, ConnectionError) as exc:
            self.kill()
            if limit.expired():
                raise limit.error() from None
            raise OSError("the decoder process did not start") from exc
        if not ready or not ready.get("ready"):
            self.kill()
            raise OSError("the decoder process did not start")

    def decode(
        self,
        data: bytes,
        header: dict[str, object],
        limit: deadline.Deadline,
    ) -> npt.NDArray[np.uint8]:
        """The decoded image; the process is killed (and must be dropped) unless this returns or
        raises a PlateOcrError other than a deadline or a crash."""
        import numpy as np

        try:
            self._settimeout(limit)
            send_message(self.sock, {**header, "size": len(data)}, data)
            reply = recv_header(self.sock)
            if reply is None:
                raise ConnectionError("the decoder process ended")
            if not reply.get("ok"):
                error = _ERRORS.get(str(reply.get("code")), InvalidImageError)
                raise error(str(reply.get("message", "The image could not be decoded.")))
            shape = tuple(int(v) for v in reply["shape"])
            image = np.empty(shape, dtype=np.uint8)
            self._settimeout(limit)
            recv_into(self.sock, image.data.cast("B"))
            trailer = recv_header(self.sock) or {}
            self.peak_rss_mb = float(trailer.get("peak_rss_mb", 0.0))
            return image
        except TimeoutError:
            self.kill()
            raise limit.error() from None
        except (ConnectionError, OSError) as exc:
            # Killed by its CPU limit (SIGXCPU), or crashed in a decoder library.
            returncode = self.kill()
            if limit.expired():
                raise limit.error() from None
            logger.warning("decoder process ended (%s, exit %s)", type(exc).__name__, returncode)
            raise ImageTooComplexError(
                "Decoding the image needs more time or memory than allowed."
            ) from None

    def _settimeout(self, limit: deadline.Deadline) -> None:
        remaining = limit.remaining()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int | None:
        """Ends the process now (SIGKILL) and reaps it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.sock.close()
        return self.process.wait()


class DecoderPool:
    """Up to ``size`` decoder processes, each holding at most ``memory_mb`` MB over its imports."""

    def __init__(self, size: int, memory_mb: int, cpu_seconds: float) -> None:
        self.size = size
        self.memory_mb = memory_mb
        self.cpu_seconds = cpu_seconds
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._count = 0
        self.started = 0

    def decode(
        self, data: bytes, *, fmt: str, bit_depth: int, orientation: int
    ) -> npt.NDArray[np.uint8]:
        """Decodes ``data`` to upright 8-bit BGR in a decoder process, within the current deadline
        (or ``cpu_seconds`` when none is set).

        Raises:
            DeadlineExceededError: the deadline passed; the decoding process was killed.
            ImageTooComplexError: the decode broke its CPU or memory limit.
            InvalidImageError: the decoder could not read the pixels.
        """
        limit = deadline.current() or deadline.Deadline(self.cpu_seconds)
        header = {
            "format": fmt,
            "bit_depth": bit_depth,
            "orientation": orientation,
            # Wall time bounds the decode through the deadline; CPU time is the backstop.
            "cpu_seconds": min(self.cpu_seconds, limit.remaining() + 1.0),
        }
        worker = self._acquire(limit)
        keep = False
        try:
            image = worker.decode(data, header, limit)
            keep = True
            return image
        except PlateOcrError as exc:
            keep = worker.alive and exc.code not in ("timeout",)
            raise
        finally:
            self._release(worker, keep)

    def prestart(self) -> None:
        """Starts one idle decoder process now (a function's init), so no request waits for it."""
        limit = deadline.Deadline(30.0)
        with self._cond:
            if self._idle or self._count >= self.size:
                return
            self._count += 1
        try:
            worker = _Worker(self.memory_mb, limit)
        except (OSError, PlateOcrError):
            with self._cond:
                self._count -= 1
                self._cond.notify()
            logger.warning("decoder process could not be started ahead of use")
            return
        self.started += 1
        self._release(worker, True)

    def busy(self) -> int:
        """Decoder processes decoding now (started and not idle)."""
        with self._cond:
            return self._count - len(self._idle)

    def peak_rss_mb(self) -> float:
        """The largest peak resident memory an idle decoder process reported (MB)."""
        with self._cond:
            return max((w.peak_rss_mb for w in self._idle), default=0.0)

    def close(self) -> None:
        """Ends every idle decoder process (tests, settings changes)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.kill()

    def _acquire(self, limit: deadline.Deadline) -> _Worker:
        with self._cond:
            while not self._idle and self._count >= self.size:
                if limit.expired() or not self._cond.wait(limit.remaining()):
                    raise limit.error()
            if self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
                self._count -= 1
                worker.kill()
            self._count += 1
        try:
            worker = _Worker(self.memory_mb, limit)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        self.started += 1
        return worker

    def _release(self, worker: _Worker, keep: bool) -> None:
        if not keep:
            worker.kill()
        with self._cond:
            if keep:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()


@lru_cache(maxsize=1)
def get_pool() -> DecoderPool:
    """The process-wide decoder pool, sized by the settings."""
    from plate_ocr.config import get_settings

    settings = get_settings()
    return DecoderPool(
        size=settings.decode_workers,
        memory_mb=settings.decode_memory_mb,
        cpu_seconds=settings.timeout_seconds,
    )
