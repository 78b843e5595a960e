"""Where the Lambda handlers' own output goes when they run in this process.

On AWS a function's Powertools log lines and Python warnings (Powertools warns "No application
metrics to publish" after an invocation that counted nothing) go to CloudWatch Logs, never to
whoever started the work. Run locally by the simulator, they would land on the terminal and in
`--json` output. `lambda_logs` gives them one destination instead: a stream (stderr by default)
at a level (a simulation keeps only errors), restored when the run ends.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TextIO

WARNINGS_LOGGER = "py.warnings"


@contextmanager
def lambda_logs(
    modules: Iterable[str], *, level: str = "WARNING", stream: TextIO | None = None
) -> Iterator[None]:
    """Import the handler `modules` (their init, as Lambda does on a cold start), then send
    their Powertools loggers and every Python warning to `stream` at `level` and above."""
    target = stream if stream is not None else sys.stderr
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"not a log level: {level!r}")
    for module in modules:
        importlib.import_module(module)
    with ExitStack() as undo:
        for logger in _powertools_loggers():
            _route(undo, logger, target, numeric)
        logging.captureWarnings(True)
        undo.callback(logging.captureWarnings, False)
        captured = logging.getLogger(WARNINGS_LOGGER)
        handler = logging.StreamHandler(target)
        previous = (captured.level, captured.propagate)
        captured.addHandler(handler)
        captured.setLevel(numeric)
        captured.propagate = False
        undo.callback(captured.removeHandler, handler)
        undo.callback(_restore, captured, *previous)
        yield


def _powertools_loggers() -> list[logging.Logger]:
    """Loggers a Powertools `Logger()` configured: they carry its stream handler."""
    return [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and getattr(logger, "powertools_handler", None)
    ]


def _route(undo: ExitStack, logger: logging.Logger, stream: TextIO, level: int) -> None:
    handler = logger.powertools_handler  # type: ignore[attr-defined]
    previous_level = logger.level
    if isinstance(handler, logging.StreamHandler):
        # Assigned, not `setStream`: that flushes the old stream, which may be closed by now
        # (the stdout a test captured when the handler module was first imported).
        undo.callback(setattr, handler, "stream", handler.stream)
        handler.stream = stream
    logger.setLevel(level)
    undo.callback(logger.setLevel, previous_level)


def _restore(logger: logging.Logger, level: int, propagate: bool) -> None:
    logger.setLevel(level)
    logger.propagate = propagate
