"""Helpers of the container tests: the real Lambda image under `sam local invoke`, AWS on moto.

scripts/container-test.sh (``make container-test``) starts Docker and the moto server, builds the
image and runs these tests with:

- ``PLATE_OCR_IMAGE``: the image tag to invoke (the tests skip without it);
- ``PLATE_OCR_AWS_ENDPOINT``: the moto server, at an address containers reach (the bridge gateway);
- ``PLATE_OCR_EXPECT_MODEL``: ``1`` when models/korplate.pth was baked into the image;
- ``PLATE_OCR_COLD_START_FILE``: where the ``COLD_START`` lines go (the script prints them).

Each `sam local invoke` starts a fresh container, so every invocation is a cold start.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SAM = os.environ.get("SAM", str(ROOT / ".venv" / "bin" / "sam"))
REGION = "ap-northeast-2"
BUCKET = "plate-ocr-bucket"  # the bucket named in events/batch-sqs-s3.json
SECRET_ID = "plate-ocr/gemini-api-key"
INVOKE_TIMEOUT_S = 600

# Variables the functions get under `sam local invoke`. SAM's --env-vars only overrides variables
# the template declares, so the generated template declares each of them too.
OVERRIDES = (
    "AWS_ENDPOINT_URL",
    "PLATE_OCR_BUCKET_NAME",
    "PLATE_OCR_GEMINI_SECRET_ID",
    "PLATE_OCR_GEMINI_BASE_URL",
    "POWERTOOLS_TRACE_DISABLED",
    "LOG_LEVEL",
)


@dataclass
class Invocation:
    """What one `sam local invoke` gave back."""

    response: dict[str, Any]
    output: str  # sam's stderr: the container's log, the emulator's log (debug level) and SAM's own
    wall_s: float
    peak_sampled_rss_mb: float | None
    logs: list[dict[str, Any]] = field(default_factory=list)

    def body_json(self) -> Any:
        return json.loads(self.response["body"])

    def log_value(self, key: str) -> float | None:
        """The last number the function logged under ``key`` (structured JSON logs)."""
        values = [rec[key] for rec in self.logs if isinstance(rec.get(key), int | float)]
        return float(values[-1]) if values else None

    def emulator_ms(self, pattern: str) -> float | None:
        match = re.findall(pattern, self.output)
        return float(match[-1]) if match else None


def _json_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
    return records


class _PeakRssSampler:
    """Watches the processes of the containers of one image while a `sam local invoke` runs.

    A fallback for when the function does not log its own peak RSS. Each process's ``VmHWM`` (its
    peak resident set, what getrusage reports inside) is read through this machine's /proc, for the
    process ids in the container's cgroup. VmHWM is a high-water mark, so polling every 50 ms loses
    nothing as long as the process is read once after its peak: the runtime idles after the invoke
    until SAM stops the container.
    """

    def __init__(self, image: str) -> None:
        self._image = image
        self._stop = threading.Event()
        self.peak_kib = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _PeakRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        ids: list[str] = []
        while not self._stop.is_set():
            if not ids:
                ids = subprocess.run(
                    ["docker", "ps", "-q", "--no-trunc", "--filter", f"ancestor={self._image}"],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout.split()
            for cid in ids:
                for pid in _container_pids(cid):
                    self.peak_kib = max(self.peak_kib, _vm_hwm_kib(pid))
            self._stop.wait(0.05)


def _container_pids(container_id: str) -> list[int]:
    for path in (
        Path("/sys/fs/cgroup/memory/docker") / container_id / "cgroup.procs",  # v1, cgroupfs
        Path("/sys/fs/cgroup/system.slice") / f"docker-{container_id}.scope" / "cgroup.procs",
        Path("/sys/fs/cgroup/docker") / container_id / "cgroup.procs",
    ):
        try:
            return [int(line) for line in path.read_text().split()]
        except (OSError, ValueError):
            continue
    return []


def _vm_hwm_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


class SamLocal:
    """`sam local invoke` against a generated template whose functions run the built image."""

    def __init__(self, template: Path, env_vars: Path, rapid_image: str) -> None:
        self.template = template
        self.env_vars = env_vars
        self.rapid_image = rapid_image

    def invoke(self, function: str, event: Path) -> Invocation:
        env = {
            **os.environ,
            "SAM_CLI_TELEMETRY": "0",
            # The emulator logs at debug level: INIT REPORT and INVOKE RTDONE give its timings.
            "SAM_CLI_RIE_DEV": "1",
            "AWS_DEFAULT_REGION": REGION,
        }
        cmd = [
            SAM, "local", "invoke", function,
            "--template-file", str(self.template),
            "--event", str(event),
            "--env-vars", str(self.env_vars),
            "--skip-pull-image",
            "--region", REGION,
        ]  # fmt: skip
        started = time.perf_counter()
        with _PeakRssSampler(self.rapid_image) as sampler:
            done = subprocess.run(
                cmd, capture_output=True, text=True, env=env, timeout=INVOKE_TIMEOUT_S, check=False
            )
        wall = time.perf_counter() - started
        assert done.returncode == 0 and done.stdout.strip(), (
            f"sam local invoke {function} failed ({done.returncode}):\n{done.stderr[-4000:]}"
        )
        # stdout holds the response alone; split on "\n" only, since bodies may hold U+2028, which
        # str.splitlines() would also break at.
        response = json.loads(done.stdout.strip().split("\n")[-1])
        peak = sampler.peak_kib / 1024 if sampler.peak_kib else None
        return Invocation(response, done.stderr, wall, peak, _json_lines(done.stderr))


_INIT_REPORT = r"INIT REPORT\(durationMs: ([0-9.]+)\)"
_INVOKE_DONE = r"INVOKE RTDONE\(status: \w+, produced bytes: \d+, duration: ([0-9.]+)ms\)"
_REPORT_DURATION = r"REPORT RequestId: \S+\s+Init Duration: [0-9.]+ ms\s+Duration: ([0-9.]+) ms"


def closed_port(host: str) -> int:
    # A port nothing listens on: stage 2 (Gemini) fails at once instead of reaching out.
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def local_template(source: Path, image: str, out: Path) -> None:
    """template.yaml with ``ImageUri: image`` on each function; declares the OVERRIDES variables."""
    spec = importlib.util.spec_from_file_location(
        "local_template", ROOT / "scripts" / "local_template.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.local_template(source, image, out, OVERRIDES)


@dataclass
class ColdStart:
    function: str
    init_s: float
    first_invoke_ms: float
    peak_rss_mb: float
    sources: str

    def line(self) -> str:
        return (
            f"COLD_START function={self.function} init_s={self.init_s:.3f} "
            f"first_invoke_ms={self.first_invoke_ms:.1f} peak_rss_mb={self.peak_rss_mb:.1f}"
        )


def cold_start_of(function: str, inv: Invocation) -> ColdStart:
    """The cold-start figures of one fresh-container invocation, each from the best source there is.

    init_s: the function's own ``init_s`` log field, else the emulator's INIT REPORT (runtime start
    to the handler module imported). first_invoke_ms: the emulator's INVOKE RTDONE duration.
    peak_rss_mb: the function's ``peak_rss_mb`` log field (getrusage), else VmHWM read from outside.
    """
    sources = []
    init_s = inv.log_value("init_s")
    if init_s is None:
        init_ms = inv.emulator_ms(_INIT_REPORT)
        assert init_ms is not None, f"no init time in the log:\n{inv.output[-3000:]}"
        init_s = init_ms / 1000.0
        sources.append("init_s=emulator INIT REPORT")
    invoke_ms = inv.emulator_ms(_INVOKE_DONE)
    if invoke_ms is None:
        invoke_ms = inv.emulator_ms(_REPORT_DURATION)
        sources.append("first_invoke_ms=REPORT Duration")
    assert invoke_ms is not None, f"no invoke duration in the log:\n{inv.output[-3000:]}"
    peak = inv.log_value("peak_rss_mb")
    if peak is None:
        assert inv.peak_sampled_rss_mb is not None, "neither a logged nor a sampled peak RSS"
        peak = inv.peak_sampled_rss_mb
        sources.append("peak_rss_mb=VmHWM of the container's processes, read from the host")
    return ColdStart(function, init_s, invoke_ms, peak, ", ".join(sources) or "function logs")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout_s: float, proc: subprocess.Popen[str] | None = None) -> None:
    """Waits until a GET of ``url`` gets an HTTP answer (any status), or fails the test.

    An open port is not enough: Docker's proxy accepts connections to a published port before the
    server in the container listens, and then resets them.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}) before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except urllib.error.HTTPError:
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")
