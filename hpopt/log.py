"""hpopt's logging: one INFO line per finished trial on the ``"hpopt"`` logger, and how to see or
silence it.

hpopt never configures logging when it is imported (Python's advice for libraries). Instead,
the first :meth:`Study.optimize <hpopt.Study.optimize>` of a program that has configured no
logging at all (no handler on the root logger or on ``"hpopt"``) and has made no choice with the
functions below turns on the *default handler*: INFO lines on stderr, as Optuna does, because a
person running a study in a terminal or notebook wants to see it progress. A program that set up
logging itself (``logging.basicConfig``, a framework, pytest) gets hpopt's records through its own
handlers and is left alone.

Example:
    >>> import logging
    >>> import hpopt.log
    >>> hpopt.log.set_verbosity(logging.WARNING)   # silence the per-trial lines
    >>> hpopt.log.get_verbosity() == logging.WARNING
    True
    >>> hpopt.log.enable_default_handler()         # INFO lines on stderr again
    >>> hpopt.log.disable_default_handler()        # back to Python's defaults
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

__all__ = [
    "LOGGER_NAME",
    "get_logger",
    "set_verbosity",
    "get_verbosity",
    "enable_default_handler",
    "disable_default_handler",
]

#: Name of the logger every hpopt module logs to.
LOGGER_NAME = "hpopt"
_FORMAT = "[hpopt %(levelname)s %(asctime)s] %(message)s"

_lock = threading.Lock()
_handler: logging.Handler | None = None
_saved: tuple[int, bool] | None = None  # the logger's (level, propagate) before our handler
_chosen = False  # the user called one of the functions below: never decide for them again


def get_logger() -> logging.Logger:
    """The ``"hpopt"`` logger."""
    return logging.getLogger(LOGGER_NAME)


def _level(level: int | str) -> int:
    if isinstance(level, bool):
        raise TypeError(f"`level` must be a logging level (int or name), but got {level!r}.")
    if isinstance(level, int):
        return level
    if isinstance(level, str):
        value = logging.getLevelName(level.upper())
        if isinstance(value, int):
            return value
    raise ValueError(
        "`level` must be a logging level such as logging.INFO or one of 'DEBUG', 'INFO', 'WARNING', "
        f"'ERROR', 'CRITICAL', but got {level!r}."
    )


def set_verbosity(level: int | str) -> None:
    """Set the ``"hpopt"`` logger's level: ``"INFO"`` shows one line per finished trial,
    ``"WARNING"`` silences them.

    Raises:
        ValueError, TypeError: Not a logging level.
    """
    global _chosen
    value = _level(level)
    with _lock:
        _chosen = True
        get_logger().setLevel(value)


def get_verbosity() -> int:
    """The effective level of the ``"hpopt"`` logger."""
    return get_logger().getEffectiveLevel()


def enable_default_handler(stream: TextIO | None = None) -> None:
    """Print hpopt's log records (INFO and up, unless :func:`set_verbosity` said otherwise) on
    ``stream`` (default: stderr at the time of each record). Idempotent.

    While it is on, records do not also propagate to the root logger (no duplicated lines).
    """
    global _chosen
    with _lock:
        _chosen = True
        _enable(stream)


def _enable(stream: TextIO | None) -> None:
    global _handler, _saved
    logger = get_logger()
    if _handler is not None:
        logger.removeHandler(_handler)
    else:
        _saved = (logger.level, logger.propagate)
    handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    _handler = handler
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    logger.propagate = False


def disable_default_handler() -> None:
    """Remove the default handler and restore the logger's level and propagation; hpopt's records
    then go wherever the program's logging configuration sends them (by default: warnings only)."""
    global _handler, _saved, _chosen
    with _lock:
        _chosen = True
        if _handler is None:
            return
        logger = get_logger()
        logger.removeHandler(_handler)
        _handler = None
        if _saved is not None:
            level, propagate = _saved
            logger.setLevel(level)
            logger.propagate = propagate
        _saved = None


def auto_default_handler() -> None:
    """Turn the default handler on if nobody has configured logging (called by ``optimize``).

    Does nothing when the user called any function of this module, when the ``"hpopt"`` logger
    has a level or a real handler, or when the root logger has a handler.
    """
    with _lock:
        if _chosen or _handler is not None:
            return
        logger = get_logger()
        own = [h for h in logger.handlers if not isinstance(h, logging.NullHandler)]
        if own or logger.level != logging.NOTSET or logging.getLogger().handlers:
            return
        _enable(None)


class _StderrHandler(logging.StreamHandler):
    """A stream handler that writes to the *current* ``sys.stderr`` (which tests and notebooks
    replace), and prints above an active tqdm progress bar instead of through it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        from hpopt.progress import active_write

        writer = active_write()
        if writer is None:
            super().emit(record)
            return
        try:
            writer(self.format(record))
        except Exception:  # noqa: BLE001  (logging must never raise)
            self.handleError(record)
