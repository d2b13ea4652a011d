"""Signals that end a run: SIGTERM (what batch schedulers send), SIGINT (Ctrl-C) and SIGHUP
(the terminal went away) all become :class:`Interrupted`, so that the code that owns a
run or sweep folder can mark its manifest "interrupted" before the process exits.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGINT", None),
                            getattr(signal, "SIGHUP", None)) if s is not None)


class Interrupted(KeyboardInterrupt):
    """The process received a signal that asks it to stop. ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


def _raise(signum, frame):  # noqa: ARG001
    raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGTERM, SIGINT and SIGHUP into :class:`Interrupted` inside the block.

    Only the main thread can install signal handlers; elsewhere (a worker thread,
    a Dask worker) the block runs unchanged. The previous handlers are restored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in SIGNALS:
        try:
            previous[sig] = signal.signal(sig, _raise)
        except (ValueError, OSError):  # pragma: no cover - platform without the signal
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def status_of(exc: BaseException) -> str:
    """The manifest status for a run ended by ``exc``: "interrupted" for a signal or Ctrl-C, else "failed"."""
    return "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "failed"
