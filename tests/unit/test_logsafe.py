"""Log records stay bounded, one traceback per kind of error, secret-bearing loggers stay quiet."""

from __future__ import annotations

import logging

import pytest

from plate_ocr import logsafe


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> tuple[logging.Logger, _Keep]:
    handler = _Keep()
    logsafe.protect(handler)
    logger = logging.getLogger("plate_ocr.test_logsafe")
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    return logger, handler


def _deep(n: int) -> None:
    if n:
        _deep(n - 1)
    raise RecursionError("maximum recursion depth exceeded")


def test_a_traceback_is_written_once_per_kind_of_error(captured):
    logger, handler = captured

    for _ in range(3):
        try:
            _deep(900)
        except RecursionError:
            logger.exception("unexpected error")

    first, *later = handler.lines
    assert "Traceback" in first
    assert len(first) <= logsafe.MAX_MESSAGE_CHARS + logsafe.MAX_TRACEBACK_CHARS + 100
    assert all("Traceback" not in line for line in later)
    assert "3 times" in later[-1]


def test_a_long_message_is_cut(captured):
    logger, handler = captured

    logger.info("%s", "x" * 100_000)

    assert len(handler.lines[0]) < logsafe.MAX_MESSAGE_CHARS + 50
    assert handler.lines[0].endswith("[100000 chars]")


def test_secret_bearing_loggers_stay_at_info_when_the_root_is_at_debug():
    for name in logsafe.SECRET_BEARING_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        logsafe.quiet_secret_bearing_loggers()

        assert not logging.getLogger("botocore.parsers").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("botocore").isEnabledFor(logging.INFO)
    finally:
        logging.getLogger().setLevel(logging.WARNING)
