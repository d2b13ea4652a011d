"""What the NWB and Neo exports share: the optional-extra check and run loading.

Both need the optional extra ``hipposim[export]`` (pynwb, nwbinspector, neo,
elephant); without it :func:`require` raises a :class:`MissingExtra` that says
what to install (``hipposim export`` exits with code 2).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..errors import HipposimError

EXTRA = "export"


class MissingExtra(HipposimError):
    """An optional dependency is not installed."""


def require(module: str, extra: str = EXTRA):
    """Import ``module`` or raise :class:`MissingExtra` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(f"{module} is not installed ({exc.msg}); install the '{extra}' extra: "
                           f"pip install \"hipposim[{extra}]\"") from None


def load_run_folder(root: str | Path):
    """Load a finished *run* folder; a sweep or comparison folder is refused with a clear error."""
    import json

    from ..errors import OutputError
    from ..run.folder import MANIFEST, load_run

    manifest = Path(root) / MANIFEST
    if manifest.exists():
        kind = json.loads(manifest.read_text()).get("kind", "run")
        if kind != "run":
            raise OutputError(f"'{root}' is a {kind} folder; export one run folder (a sweep keeps its runs' "
                              "metrics only; run the scenario without its sweep section to get spikes)")
    return load_run(root)


def as_run_data(run: Any):
    """A :class:`~hipposim.run.folder.RunData` from a RunData, a :class:`hipposim.results.Run` or a folder path."""
    from ..run.folder import RunData

    if isinstance(run, RunData):
        return run
    if hasattr(run, "data") and isinstance(run.data, RunData):
        return run.data
    if isinstance(run, (str, Path)):
        return load_run_folder(run)
    raise TypeError(f"expected a run folder, RunData or Run, got {type(run).__name__}")


def spiking_results(run) -> dict[str, Any]:
    """The results of ``run`` that record spikes, by label."""
    from ..analysis.firing import spiking_populations

    return {label: ds for label, ds in run.results.items() if spiking_populations(ds)}
