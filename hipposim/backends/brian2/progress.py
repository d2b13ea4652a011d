"""Progress of a Brian2 run: a spinner while Brian2 prepares and compiles, then a bar over biological time.

Brian2's ``Network.run`` takes a ``report=`` callback ``report(elapsed,
completed, start, duration)``; it is called once with ``completed = 0`` when
code generation and compilation are done and the first time step is about to
run, then every ``report_period`` of wall-clock time, and once at the end. So
:func:`run_with_progress` shows

* a spinner (``desc: preparing and compiling``) from the call until that first
  report, and
* a tqdm bar in milliseconds of *biological* time after it.

Network code calls it in place of ``net.run``::

    run_with_progress(net, spec.duration, desc="ca3 network", namespace={})

``enabled=None`` (the default) follows :func:`progress_enabled`: on unless
:func:`set_progress` turned it off (``hipposim --quiet`` does) or stderr is
not a terminal. Neither the spinner nor the bar changes what is simulated.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

from . import import_brian2

_ENABLED: bool | None = None  # None: decide from the terminal


def set_progress(enabled: bool | None) -> None:
    """Turn progress display inside simulations on (True), off (False) or automatic (None)."""
    global _ENABLED
    _ENABLED = enabled


def progress_enabled() -> bool:
    """Whether progress is shown: the :func:`set_progress` choice, else whether stderr is a terminal.

    Off the main thread (Dask runs sweep tasks in worker threads) it is off
    unless turned on explicitly: sweeps keep their one per-task bar.
    """
    if _ENABLED is not None:
        return _ENABLED
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


class _Spinner:
    """A tqdm line with no total whose description spins until :meth:`stop`."""

    FRAMES = "|/-\\"

    def __init__(self, desc: str, period: float = 0.15):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=None, desc=f"{desc}: preparing and compiling", bar_format="{desc} {postfix}",
                         leave=False, file=sys.stderr)
        self._stop = threading.Event()
        self._period = period
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        k = 0
        while not self._stop.wait(self._period):
            self._bar.set_postfix_str(self.FRAMES[k % len(self.FRAMES)], refresh=True)
            k += 1

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self._bar.close()


class BioTimeReport:
    """Brian2 ``report=`` callback: spinner until the first report, then a tqdm bar in ms of biological time."""

    def __init__(self, desc: str, enabled: bool = True):
        self.desc = desc
        self.enabled = enabled
        self.calls: list[float] = []  # completed fractions seen (for tests and diagnostics)
        self._spinner = _Spinner(desc) if enabled else None
        self._bar = None

    def __call__(self, elapsed, completed, start, duration) -> None:
        completed = float(completed)
        self.calls.append(completed)
        if not self.enabled:
            return
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
        if self._bar is None:
            from tqdm.auto import tqdm

            self._total_ms = float(duration) * 1e3
            self._bar = tqdm(total=round(self._total_ms, 3), desc=self.desc, unit="ms", unit_scale=False,
                             leave=False, file=sys.stderr,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} ms biological "
                                        "[{elapsed}<{remaining}]")
        self._bar.n = round(completed * self._total_ms, 3)
        self._bar.refresh()

    def close(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextmanager
def _closing(report: BioTimeReport):
    try:
        yield report
    finally:
        report.close()


def run_with_progress(net, duration: float, desc: str = "simulating", enabled: bool | None = None,
                      report_period: float = 0.25, **run_kwargs) -> BioTimeReport | None:
    """Run the Brian2 network ``net`` for ``duration`` seconds with a compile spinner and a biological-time bar.

    ``run_kwargs`` (e.g. ``namespace={}``) go to ``net.run``. The bar is
    redrawn at most every ``report_period`` seconds of wall-clock time.
    Returns the report callback (its ``calls`` list holds the completed
    fractions Brian2 reported: first 0.0, last 1.0). On a standalone device
    (``cpp_standalone``), which takes no Python callback, the network runs
    without a bar and ``None`` is returned.
    """
    b2 = import_brian2()
    from brian2.devices.device import RuntimeDevice

    if not isinstance(b2.get_device(), RuntimeDevice):
        net.run(duration * b2.second, **run_kwargs)
        return None
    enabled = progress_enabled() if enabled is None else bool(enabled)
    report = BioTimeReport(desc, enabled)
    with _closing(report):
        net.run(duration * b2.second, report=report, report_period=report_period * b2.second, **run_kwargs)
    return report
