"""The business metrics of one read, as (name, unit, value); handlers publish them as EMF."""

from __future__ import annotations

import os
import resource
from typing import Protocol

from plate_ocr.results import Stage

#: stage2_status values for which no call to Gemini was made.
_NO_STAGE2_CALL = frozenset({"not_needed", "disabled", "skipped_no_key", "error:secret"})


class ReadSummary(Protocol):
    """What the metrics need of a result: an OcrResult or its wire model."""

    @property
    def success(self) -> bool: ...
    @property
    def stage(self) -> str: ...
    @property
    def stage2_status(self) -> str: ...
    @property
    def elapsed_sec(self) -> float: ...


def result_metrics(result: ReadSummary) -> list[tuple[str, str, float]]:
    """ReadLatency, PlatesRead, NoPlate, Stage1Hits and Stage2Calls for one read."""
    return [
        ("ReadLatency", "Milliseconds", round(result.elapsed_sec * 1000.0, 2)),
        ("PlatesRead", "Count", 1.0 if result.success else 0.0),
        ("NoPlate", "Count", 0.0 if result.success else 1.0),
        ("Stage1Hits", "Count", 1.0 if result.success and result.stage == Stage.STAGE1 else 0.0),
        ("Stage2Calls", "Count", 0.0 if result.stage2_status in _NO_STAGE2_CALL else 1.0),
    ]


def process_age_s() -> float:
    """Seconds since this process started (Linux /proc), so init time counts Python's start too."""
    with open("/proc/self/stat", encoding="ascii") as fh:
        # Field 22 (starttime, clock ticks after boot); the command name before ")" may hold spaces.
        start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime", encoding="ascii") as fh:
        uptime_s = float(fh.read().split()[0])
    return uptime_s - start_ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    """The process's peak resident memory in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
