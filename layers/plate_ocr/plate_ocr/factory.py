"""Builds the production pipeline once per process and reports its state for /status and /warmup."""

from __future__ import annotations

import logging
import threading
import time

from plate_ocr.config import Settings, get_settings
from plate_ocr.errors import ModelUnavailableError
from plate_ocr.pipeline import Pipeline

logger = logging.getLogger(__name__)

#: After a failed load, requests fail fast with the same error for this long before a retry, so a
#: missing model directory answers 503 at once instead of re-running a slow failing load each time.
RETRY_AFTER_SECONDS = 30.0

_lock = threading.Lock()
_pipeline: Pipeline | None = None
_state: tuple[str, str] = ("loading", "models not loaded yet")
_failed_at: float | None = None
_load_seconds: float | None = None


def _missing_weights(settings: Settings) -> str | None:
    weights = settings.model_dir / f"{settings.recog_network}.pth"
    return None if weights.is_file() else f"The recogniser weights are missing ({weights.name})."


def _build(settings: Settings) -> Pipeline:
    model_dir = settings.model_dir
    missing = _missing_weights(settings)
    if missing:
        raise ModelUnavailableError(missing)
    try:
        import torch

        from plate_ocr.gemini import build_fallback
        from plate_ocr.locator import PlateLocator
        from plate_ocr.recognizer import PlateRecognizer

        torch.set_num_threads(settings.torch_threads)

        recognizer = PlateRecognizer(
            model_dir,
            network=settings.recog_network,
            gpu=settings.use_gpu,
            second_look_below=settings.second_look_below,
        )
        locator = PlateLocator(craft_dir=settings.detector_dir)
        fallback = build_fallback(settings)
    except ModelUnavailableError:
        raise
    except (ImportError, OSError, RuntimeError, ValueError, KeyError) as exc:
        # The detail goes to the log; the client sees a generic 503.
        logger.exception("model load failed")
        raise ModelUnavailableError(
            f"The models could not be loaded: {type(exc).__name__}."
        ) from exc
    return Pipeline(locator, recognizer, fallback=fallback, settings=settings)


def get_pipeline() -> Pipeline:
    """The process-wide pipeline, built on first use.

    Raises:
        ModelUnavailableError: the models cannot be loaded (answered as 503).
    """
    global _pipeline, _state, _failed_at, _load_seconds
    if _pipeline is not None:
        return _pipeline
    with _lock:
        if _pipeline is not None:
            return _pipeline
        if _failed_at is not None and time.monotonic() - _failed_at < RETRY_AFTER_SECONDS:
            raise ModelUnavailableError(_state[1])
        _state = ("loading", "loading models")
        started = time.perf_counter()
        try:
            pipeline = _build(get_settings())
        except ModelUnavailableError as exc:
            _state, _failed_at = ("error", str(exc)), time.monotonic()
            raise
        _load_seconds = time.perf_counter() - started
        _pipeline, _failed_at = pipeline, None
        _state = ("ready", f"models loaded in {_load_seconds:.2f} s")
        return pipeline


def preload() -> dict[str, float | str]:
    """Loads the models during a function's init, when ``preload_models`` is set; never raises.

    Returns the figures the handler logs once: ``init_s`` (process start to models ready),
    ``peak_rss_mb`` and the model ``status``. A failed load is remembered and answered as 503.
    """
    from plate_ocr import telemetry

    if get_settings().preload_models:
        try:
            get_pipeline()
        except ModelUnavailableError:
            logger.warning("models not loaded at init; reads answer 503 until they load")
    return {
        "init_s": round(telemetry.process_age_s(), 3),
        "peak_rss_mb": round(telemetry.peak_rss_mb(), 1),
        "status": model_status()[0],
    }


def warm_up(full: bool = False) -> float:
    """Loads the models and runs one read, so the first request pays no lazy set-up; seconds.

    By default the cheap path and the recogniser only: a blank photo reads as no plate, and reading
    it through the pipeline would also load CRAFT, the rare second opinion (+1 s, +400 MB).
    ``full`` loads CRAFT too and runs it once on each of its canvases, for a process that should
    reach its working size before traffic (a long-lived server, a load test).
    """
    started = time.perf_counter()
    pipeline = get_pipeline()
    import numpy as np

    blank = np.full((120, 480, 3), 255, dtype=np.uint8)
    pipeline.locator.locate(blank)
    pipeline.recognizer.read(blank)
    locate_more = getattr(pipeline.locator, "locate_with_craft", None)
    if full and locate_more is not None:
        # A small photo (the small canvas) and a large one (the large canvas).
        locate_more(np.full((60, 200, 3), 255, dtype=np.uint8))
        locate_more(np.full((900, 1200, 3), 255, dtype=np.uint8))
    return time.perf_counter() - started


def model_status() -> tuple[str, str]:
    """("ready" | "loading" | "error", detail) for /status."""
    if _pipeline is None and _failed_at is None:
        # Before the first load a missing model is already known: say so rather than "loading".
        missing = _missing_weights(get_settings())
        if missing:
            return ("error", missing)
    return _state


def reset() -> None:
    """Forgets the built pipeline and its state (tests, and settings changes in a warm process)."""
    global _pipeline, _state, _failed_at, _load_seconds
    with _lock:
        _pipeline, _failed_at, _load_seconds = None, None, None
        _state = ("loading", "models not loaded yet")
