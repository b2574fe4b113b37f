"""What the handlers observe: their Powertools logger, tracer and metrics; the business metrics of
one read, as (name, unit, value), which they publish as EMF; the process's age and peak memory."""

from __future__ import annotations

import os
import resource
from typing import TYPE_CHECKING, Protocol

from plate_ocr import logsafe
from plate_ocr.results import Stage, Stage2Status

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer


def handler_observability(service: str, log_level: str) -> tuple[Logger, Tracer, Metrics]:
    """A handler's logger, tracer and metrics. plate_ocr's library logs go out through the logger
    as the same JSON with the correlation id, bounded in size, and no library's debug log prints
    the Gemini key (:mod:`plate_ocr.logsafe`).

    ``service`` names the handler where ``POWERTOOLS_SERVICE_NAME`` is unset; the template sets it
    and ``POWERTOOLS_METRICS_NAMESPACE``, the defaults keep ``plate-ocr serve`` and tests working.
    """
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME", service), level=log_level.upper())
    metrics = Metrics(namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE", "PlateOcr"))
    logsafe.protect(logger.registered_handler)
    logsafe.quiet_secret_bearing_loggers()
    copy_config_to_registered_loggers(source_logger=logger, include={"plate_ocr"})
    return logger, Tracer(), metrics


class ReadSummary(Protocol):
    """What the metrics need of a result: an OcrResult or its wire model."""

    @property
    def success(self) -> bool: ...
    @property
    def stage(self) -> str: ...
    @property
    def stage2_status(self) -> Stage2Status: ...
    @property
    def elapsed_sec(self) -> float: ...


def result_metrics(result: ReadSummary) -> list[tuple[str, str, float]]:
    """ReadLatency, PlatesRead, NoPlate, Stage1Hits and Stage2Calls for one read."""
    return [
        ("ReadLatency", "Milliseconds", round(result.elapsed_sec * 1000.0, 2)),
        ("PlatesRead", "Count", 1.0 if result.success else 0.0),
        ("NoPlate", "Count", 0.0 if result.success else 1.0),
        ("Stage1Hits", "Count", 1.0 if result.success and result.stage == Stage.STAGE1 else 0.0),
        ("Stage2Calls", "Count", 1.0 if result.stage2_status.called_gemini else 0.0),
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
