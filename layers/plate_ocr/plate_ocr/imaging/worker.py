"""The decoder process: decodes one photo at a time for its parent, under CPU and memory limits.

Started by :mod:`plate_ocr.imaging.pool` as ``python -m plate_ocr.imaging.worker FD MEMORY_MB``
on one end of a socket pair. A request is a JSON header and the file's bytes; the answer is a JSON
header and the BGR pixels, or an error. The parent kills the process when a deadline passes; the
process ends by itself when the parent goes away (end of file on the socket).

Limits: the address space may grow by ``MEMORY_MB`` over what the process holds once its imports
are done (RLIMIT_AS), and each decode gets ``cpu_seconds`` of CPU time (RLIMIT_CPU, soft: the kernel
ends the process with SIGXCPU).
"""

from __future__ import annotations

import json
import math
import os
import resource
import socket
import struct
import sys
from typing import Any

_HEADER = struct.Struct(">I")
#: A JSON header is a few hundred bytes; anything larger is a broken peer.
_MAX_HEADER_BYTES = 64 * 1024


def send_message(sock: socket.socket, header: dict[str, Any], payload: Any = b"") -> None:
    """A length-prefixed JSON header, then ``payload`` (bytes or a buffer) as it is."""
    raw = json.dumps(header).encode("utf-8")
    sock.sendall(_HEADER.pack(len(raw)) + raw)
    if len(memoryview(payload)):
        sock.sendall(payload)


def recv_header(sock: socket.socket) -> dict[str, Any] | None:
    """The next JSON header, or None at end of file."""
    try:
        prefix = recv_exact(sock, _HEADER.size, eof_ok=True)
    except EOFError:
        return None
    (length,) = _HEADER.unpack(prefix)
    if length > _MAX_HEADER_BYTES:
        raise ConnectionError("oversized header")
    raw = recv_exact(sock, length)
    header: dict[str, Any] = json.loads(raw)
    return header


def recv_exact(sock: socket.socket, size: int, *, eof_ok: bool = False) -> bytes:
    """Exactly ``size`` bytes; EOFError when the peer closed before the first one and ``eof_ok``."""
    buffer = bytearray(size)
    recv_into(sock, memoryview(buffer), eof_ok=eof_ok)
    return bytes(buffer)


def recv_into(sock: socket.socket, view: memoryview, *, eof_ok: bool = False) -> None:
    """Fills ``view`` from ``sock``; raises ConnectionError at an early end of file."""
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            if eof_ok and got == 0:
                raise EOFError
            raise ConnectionError("the peer closed the connection")
        got += n


def _address_space_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _serve(sock: socket.socket, memory_mb: int) -> None:
    import cv2
    import numpy  # noqa: F401  (loaded before the memory limit is set)
    import pillow_heif
    from PIL import AvifImagePlugin

    from plate_ocr.errors import ImageTooComplexError, PlateOcrError
    from plate_ocr.imaging.convert import decode_stream

    # One decode at a time and no thread pool: predictable CPU use, nothing to break on a kill
    # (each decoder thread would also reserve its stack inside the memory limit).
    cv2.setNumThreads(1)
    pillow_heif.options.DECODE_THREADS = 1
    AvifImagePlugin.DEFAULT_MAX_THREADS = 1
    limit = _address_space_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    send_message(sock, {"ready": True, "pid": os.getpid()})
    while True:
        header = recv_header(sock)
        if header is None:
            return
        data = recv_exact(sock, int(header["size"]))
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(used.ru_utime + used.ru_stime + float(header["cpu_seconds"]))
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
        try:
            shape, bands = decode_stream(
                data, header["format"], int(header["bit_depth"]), int(header["orientation"])
            )
        except PlateOcrError as exc:
            send_message(sock, {"ok": False, "code": exc.code, "message": str(exc)})
            continue
        except (MemoryError, cv2.error):
            too = ImageTooComplexError("Decoding the image needs more memory than allowed.")
            send_message(sock, {"ok": False, "code": too.code, "message": str(too)})
            continue
        finally:
            del data
        # The pixels follow the header band by band, converted as they go (convert.py).
        send_message(sock, {"ok": True, "shape": list(shape)})
        for band in bands:
            sock.sendall(band.data.cast("B"))
            del band
        del bands
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        send_message(sock, {"peak_rss_mb": round(peak_mb, 1)})


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[1]))
    try:
        _serve(sock, int(argv[2]))
    except (ConnectionError, BrokenPipeError):
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
