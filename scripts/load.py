"""Load test on loopback: `plate-ocr serve` with 4 concurrent clients posting real plate photos.

`make load` runs it. It starts the server itself on a free port of 127.0.0.1, waits for
/healthz, warms every model on both detector canvases (POST /warmup), lets ``--settle`` concurrent
requests bring the process to its working size (not counted), then sends ``--requests`` photos from
``--clients`` threads (stdlib HTTP, one keep-alive connection each) for at most ``--seconds``.
It prints errors, p50/p95/max latency, throughput, and the server's RSS at the start and after
the run (growth in %). A benchmark that prints figures, not a CI gate; the exit status is 1 when
any request failed or RSS grew by more than ``--max-rss-growth`` percent.

It also checks that clients never see each other's answers: every photo is read once alone after
the warm-up, and during the run each answer must match its photo's (same plates, same stage) and
name its own request id (the ``X-Amzn-RequestId`` header the server sent); a mismatch is an error.

Photos are READ from the shared data set at run time (val, then train; crops by default), never
copied; without it, events/plate.jpg is used.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT.parent / "shared" / "datasets" / "kr-plates" / "manifest.csv"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    plates_read: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_photos(manifest: Path, limit: int, kind: str) -> list[tuple[str, bytes]]:
    """(name, JPEG bytes) of plate photos, read in place; events/plate.jpg when none are there."""
    photos: list[tuple[str, bytes]] = []
    if manifest.is_file():
        with manifest.open(encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if kind in ("all", r["kind"])]
        # val first (held out), train only to fill up.
        rows.sort(key=lambda r: (r["split"] != "val", r["path"]))
        for row in rows[:limit]:
            path = manifest.parent / row["path"]
            if path.suffix.lower() in (".jpg", ".jpeg", ".png") and path.is_file():
                photos.append((row["path"], path.read_bytes()))
    if not photos:
        photos.append(("events/plate.jpg", (ROOT / "events" / "plate.jpg").read_bytes()))
    return photos


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (the decoder processes) from /proc, in KiB."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1])
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:  # a thread that ended between the listing and the read
            continue
        for child in children:
            with contextlib.suppress(OSError, RuntimeError):  # a decoder process that ended
                total += rss_kib(int(child))
    return total


def signature(body: bytes) -> tuple[object, ...]:
    """What an answer says about its photo: the parts that must not change under concurrency."""
    answer = json.loads(body)
    return (
        answer.get("success"),
        answer.get("plate_number"),
        tuple(p.get("plate_number") for p in answer.get("plates", [])),
        answer.get("image_width"),
        answer.get("image_height"),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    status, data, _ = request_with_id(conn, method, path, body)
    return status, data


def request_with_id(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes, str]:
    headers = {"Content-Type": "image/jpeg"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("X-Amzn-RequestId", "")


def wait_ready(host: str, port: int, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            if request(conn, "GET", "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer /healthz in time")


def client(
    host: str,
    port: int,
    photos: list[tuple[str, bytes]],
    counter: itertools_count,
    total: int,
    stop_at: float,
    tally: Tally,
    alone: dict[str, tuple[object, ...]] | None = None,
) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    while time.monotonic() < stop_at:
        n = counter.next()
        if n >= total:
            return
        name, data = photos[n % len(photos)]
        started = time.perf_counter()
        try:
            status, body, request_id = request_with_id(conn, "POST", "/ocr/license-plate", data)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60)
            with tally.lock:
                tally.errors.append(f"{name}: {type(exc).__name__}")
            continue
        elapsed = time.perf_counter() - started
        with tally.lock:
            tally.latencies.append(elapsed)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status != 200:
                tally.errors.append(f"{name}: HTTP {status} {body[:120]!r}")
                continue
            if json.loads(body).get("success"):
                tally.plates_read += 1
            if json.loads(body).get("request_id") != request_id:
                tally.errors.append(f"{name}: answered with another request's id")
            if alone is not None and name in alone and signature(body) != alone[name]:
                tally.errors.append(f"{name}: another photo's answer {signature(body)}")


def start_clients(
    host: str,
    port: int,
    photos: list[tuple[str, bytes]],
    total: int,
    seconds: float,
    clients: int,
    tally: Tally,
    alone: dict[str, tuple[object, ...]] | None = None,
) -> list[threading.Thread]:
    """Starts ``clients`` threads that share ``total`` requests, for at most ``seconds``."""
    counter, stop_at = itertools_count(), time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=client,
            args=(host, port, photos, counter, total, stop_at, tally, alone),
            daemon=True,
        )
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    return threads


class itertools_count:
    def __init__(self) -> None:
        self._n = -1
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=120.0, help="hard cap on the run")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--photos", type=int, default=200, help="distinct photos to cycle")
    parser.add_argument(
        "--kind",
        choices=["crop", "scene", "all"],
        default="crop",
        help="plate crops (default) or whole scenes",
    )
    parser.add_argument(
        "--settle",
        type=int,
        default=100,
        help="untimed concurrent requests after the warm-up, before the start RSS (allocator "
        "arenas, thread pools)",
    )
    parser.add_argument("--max-rss-growth", type=float, default=10.0, help="percent")
    args = parser.parse_args()

    photos = load_photos(args.manifest, args.photos, args.kind)
    host, port = "127.0.0.1", free_port()
    env = {**os.environ, "POWERTOOLS_METRICS_DISABLED": "true", "LOG_LEVEL": "WARNING"}
    exe = Path(sys.executable).with_name("plate-ocr")
    command = [str(exe), "serve", "--host", host, "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(host, port, server, timeout=60)
        rss_boot = rss_kib(server.pid)
        warm = http.client.HTTPConnection(host, port, timeout=120)
        started = time.perf_counter()
        warm_status, warm_body = request(warm, "POST", "/warmup")
        warm_seconds = time.perf_counter() - started
        settled = args.settle if warm_status == 200 else 0
        if settled:
            # As many clients as the run: each server thread grows its own malloc arena and
            # torch scratch space once, and the trace showed the working size reached after about
            # a hundred concurrent requests, flat after that.
            for thread in start_clients(host, port, photos, args.settle, 60, args.clients, Tally()):
                thread.join()
        # What each photo gets alone, one request at a time: the answers of the run must match.
        solo = http.client.HTTPConnection(host, port, timeout=120)
        alone = {}
        for name, data in photos:
            status, body = request(solo, "POST", "/ocr/license-plate", data)
            if status == 200:
                alone[name] = signature(body)
        rss_start = rss_kib(server.pid)
        model_note = "model loaded" if warm_status == 200 else "MODEL MISSING: smoke test only"
        print(
            f"server pid {server.pid} on {host}:{port}; warm-up HTTP {warm_status} in "
            f"{warm_seconds:.1f} s ({model_note})"
        )
        if warm_status != 200:
            print(f"  warm-up answer: {warm_body[:200].decode(errors='replace')}")
        print(
            f"{len(photos)} {args.kind} photos "
            f"({'shared data set' if len(photos) > 1 else 'events/'}), "
            f"{args.clients} clients, {args.requests} requests, cap {args.seconds:.0f} s"
        )

        tally = Tally()
        began = time.perf_counter()
        threads = start_clients(
            host, port, photos, args.requests, args.seconds, args.clients, tally, alone
        )
        # RSS against requests done, sampled twice a second: a plateau and a leak look alike
        # in two snapshots but not in a trace.
        trace: list[tuple[int, int]] = []
        while any(thread.is_alive() for thread in threads):
            trace.append((len(tally.latencies), rss_kib(server.pid)))
            time.sleep(0.5)
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        rss_end = rss_kib(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    done = len(tally.latencies)
    growth = 100.0 * (rss_end - rss_start) / rss_start
    print(f"requests: {done} in {wall:.1f} s ({done / wall:.1f}/s); statuses {tally.statuses}")
    print(f"errors: {len(tally.errors)}" + (f" (first: {tally.errors[0]})" if tally.errors else ""))
    if tally.latencies:
        print(
            f"latency: p50 {percentile(tally.latencies, 0.5) * 1000:.0f} ms, "
            f"p95 {percentile(tally.latencies, 0.95) * 1000:.0f} ms, "
            f"max {max(tally.latencies) * 1000:.0f} ms, "
            f"mean {statistics.fmean(tally.latencies) * 1000:.0f} ms"
        )
    print(f"plates read: {tally.plates_read}/{done}")
    print(
        f"server RSS: {rss_boot / 1024:.0f} MiB before warm-up; start = after warm-up and "
        f"{settled} untimed requests"
    )
    print(
        f"server RSS: {rss_start / 1024:.0f} MiB at start, {rss_end / 1024:.0f} MiB after "
        f"{done} requests ({growth:+.1f}%)"
    )
    if trace:
        marks, shown = [], -1
        for done_at, kib in trace:
            if done_at // 100 > shown:
                shown = done_at // 100
                marks.append(f"{done_at}: {kib / 1024:.0f}")
        print("server RSS (MiB) by requests done: " + ", ".join(marks))
    zero_errors = not tally.errors
    complete = done == args.requests
    stable = growth < args.max_rss_growth
    print(
        f"zero errors: {'yes' if zero_errors else 'NO'}; "
        f"all {args.requests} requests within {args.seconds:g} s: {'yes' if complete else 'NO'}; "
        f"memory stable (<{args.max_rss_growth:g}%): {'yes' if stable else 'NO'}"
    )
    return 0 if zero_errors and complete and stable else 1


if __name__ == "__main__":
    sys.exit(main())
