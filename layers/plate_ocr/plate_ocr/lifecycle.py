"""The production pipeline's lifecycle in a process: built once from the settings (on first use, or
preloaded during a function's init), warmed up, and its state reported for /status and /warmup."""

from __future__ import annotations

import logging
import threading
import time

from plate_ocr.config import Settings, get_settings
from plate_ocr.errors import ModelUnavailableError
from plate_ocr.pipeline import Pipeline
from plate_ocr.schema import ModelState

logger = logging.getLogger(__name__)

#: After a failed load, requests fail fast with the same error for this long before a retry, so a
#: missing model directory answers 503 at once instead of re-running a slow failing load each time.
RETRY_AFTER_SECONDS = 30.0

_lock = threading.Lock()
_pipeline: Pipeline | None = None
_state: tuple[ModelState, str] = (ModelState.LOADING, "models not loaded yet")
_failed_at: float | None = None
_load_seconds: float | None = None


def _missing_weights(settings: Settings) -> str | None:
    from plate_ocr.confidence import FILE as CALIBRATION
    from plate_ocr.locate.detector import CONFIG, WEIGHTS

    needed = (f"{settings.recog_network}.pth", f"{settings.recog_network}.yaml", WEIGHTS, CONFIG)
    missing = [name for name in (*needed, CALIBRATION) if not (settings.model_dir / name).is_file()]
    return f"Model files are missing: {', '.join(missing)}." if missing else None


def _build(settings: Settings) -> Pipeline:
    model_dir = settings.model_dir
    missing = _missing_weights(settings)
    if missing:
        raise ModelUnavailableError(missing)
    try:
        import torch

        from plate_ocr.confidence import FILE as CALIBRATION
        from plate_ocr.confidence import Calibration
        from plate_ocr.gemini import build_fallback
        from plate_ocr.locate import finder_chain, last_resort
        from plate_ocr.locate.detector import PlateDetector
        from plate_ocr.recognizer import PlateRecognizer

        torch.set_num_threads(settings.torch_threads)

        recognizer = PlateRecognizer(
            model_dir,
            network=settings.recog_network,
            gpu=settings.use_gpu,
            second_look_below=settings.second_look_below,
        )
        detector = PlateDetector(model_dir, gpu=settings.use_gpu)
        finders = finder_chain(detector, settings.max_regions)
        tilted = last_resort(detector, settings.max_regions)
        calibration = Calibration.read(model_dir / CALIBRATION)
        fallback = build_fallback(settings)
    except ModelUnavailableError:
        raise
    except (ImportError, OSError, RuntimeError, ValueError, KeyError) as exc:
        # The detail goes to the log; the client sees a generic 503.
        logger.exception("model load failed")
        raise ModelUnavailableError(
            f"The models could not be loaded: {type(exc).__name__}."
        ) from exc
    return Pipeline(
        finders, recognizer, calibration, fallback=fallback, settings=settings, last_resort=tilted
    )


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
        _state = (ModelState.LOADING, "loading models")
        started = time.perf_counter()
        try:
            pipeline = _build(get_settings())
        except ModelUnavailableError as exc:
            _state, _failed_at = (ModelState.ERROR, str(exc)), time.monotonic()
            raise
        _load_seconds = time.perf_counter() - started
        _pipeline, _failed_at = pipeline, None
        _state = (ModelState.READY, f"models loaded in {_load_seconds:.2f} s")
        return pipeline


def load_pipeline() -> tuple[Pipeline, float | None]:
    """The process-wide pipeline, and the seconds this call waited for its models to load (None
    when they were loaded already): an answer says ``model_load_sec`` apart from the read itself.

    Raises:
        ModelUnavailableError: the models cannot be loaded (answered as 503).
    """
    was_loaded = _pipeline is not None
    started = time.perf_counter()
    pipeline = get_pipeline()
    if was_loaded or pipeline is not _pipeline:  # loaded before, or a stand-in pipeline (tests)
        return pipeline, None
    return pipeline, round(time.perf_counter() - started, 3)


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


def warm_up() -> float:
    """Loads the models and runs each once, so the first request pays no lazy set-up; seconds.

    Blank photos on both of the detector's canvases (landscape and portrait) and a blank crop:
    torch sets up its kernels per input shape on first use. A decoder process is started too
    (the first photo decoded otherwise waits 0.1-0.2 s for one).
    """
    started = time.perf_counter()
    pipeline = get_pipeline()
    import numpy as np

    from plate_ocr.imaging.pool import get_pool

    get_pool().prestart()

    for shape in ((900, 1200, 3), (1200, 900, 3)):
        for finder in pipeline.finders:
            finder.locate(np.full(shape, 128, dtype=np.uint8))
    pipeline.recognizer.read(np.full((120, 480, 3), 255, dtype=np.uint8))
    return time.perf_counter() - started


def model_status() -> tuple[ModelState, str]:
    """Whether the models are loaded, and a detail, for /status."""
    if _pipeline is None and _failed_at is None:
        # Before the first load a missing model is already known: say so rather than "loading".
        missing = _missing_weights(get_settings())
        if missing:
            return (ModelState.ERROR, missing)
    return _state


def reset() -> None:
    """Forgets the built pipeline and its state (tests, and settings changes in a warm process)."""
    global _pipeline, _state, _failed_at, _load_seconds
    with _lock:
        _pipeline, _failed_at, _load_seconds = None, None, None
        _state = (ModelState.LOADING, "models not loaded yet")
