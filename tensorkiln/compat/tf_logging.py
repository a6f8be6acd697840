"""``tf.logging``: TF 1.x's logging functions on Python's ``logging`` (logger ``"tensorkiln"``).

Records go to stderr as ``LEVEL:tensorkiln:message``; the default verbosity is ``WARN`` as in TF,
so ``tf.logging.set_verbosity(tf.logging.INFO)`` is needed to see ``info``.
"""
from __future__ import annotations

import logging as _logging
import sys
from typing import Any

__all__ = ["DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "debug", "info", "warn", "warning", "error",
           "fatal", "log", "log_if", "log_first_n", "log_every_n", "vlog", "set_verbosity", "get_verbosity",
           "get_logger"]

DEBUG = _logging.DEBUG
INFO = _logging.INFO
WARN = WARNING = _logging.WARN
ERROR = _logging.ERROR
FATAL = _logging.FATAL

_logger = _logging.getLogger("tensorkiln")


def get_logger() -> _logging.Logger:
    """The logger, with a stderr handler added on first use (unless one is configured)."""
    if not _logger.handlers:
        handler = _logging.StreamHandler(sys.stderr)
        handler.setFormatter(_logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        _logger.addHandler(handler)
        _logger.propagate = False
        if _logger.level == _logging.NOTSET:
            _logger.setLevel(WARN)
    return _logger


def log(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    get_logger().log(level, msg, *args, **kwargs)


def debug(msg: Any, *args: Any, **kwargs: Any) -> None:
    get_logger().debug(msg, *args, **kwargs)


def info(msg: Any, *args: Any, **kwargs: Any) -> None:
    get_logger().info(msg, *args, **kwargs)


def warning(msg: Any, *args: Any, **kwargs: Any) -> None:
    get_logger().warning(msg, *args, **kwargs)


warn = warning


def error(msg: Any, *args: Any, **kwargs: Any) -> None:
    get_logger().error(msg, *args, **kwargs)


def fatal(msg: Any, *args: Any, **kwargs: Any) -> None:
    get_logger().critical(msg, *args, **kwargs)


def vlog(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    get_logger().log(level, msg, *args, **kwargs)


def log_if(level: int, msg: Any, condition: Any, *args: Any) -> None:
    if condition:
        log(level, msg, *args)


_counts: dict[tuple[str, int], int] = {}


def _count(n: int) -> int:
    frame = sys._getframe(2)
    key = (frame.f_code.co_filename, frame.f_lineno)
    c = _counts.get(key, 0)
    _counts[key] = c + 1
    return c


def log_every_n(level: int, msg: Any, n: int, *args: Any) -> None:
    """Log on the 1st, (n+1)th, (2n+1)th… call from this line."""
    if _count(n) % max(int(n), 1) == 0:
        log(level, msg, *args)


def log_first_n(level: int, msg: Any, n: int, *args: Any) -> None:
    if _count(n) < n:
        log(level, msg, *args)


def set_verbosity(v: int) -> None:
    get_logger().setLevel(v)


def get_verbosity() -> int:
    return get_logger().getEffectiveLevel()
