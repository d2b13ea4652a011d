"""The run folder: atomic writes, a manifest written last, and loading back.

Layout of a run folder::

    manifest.json        normalised scenario, seed, versions, times, status (written last)
    metrics.json         one entry per model (keys: see hipposim.analysis)
    stimulus.nc          the patterns and cues every model saw
    traces/<label>.nc    each model's labeled result (xarray, NetCDF4)
    figures/*.png        figures, redrawn by `hipposim plot RUN_DIR`

Every file is written to a temporary name inside the folder and renamed into
place, so a reader never sees half a file. A run folder whose manifest does not
say ``"status": "complete"`` is not finished.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from ..errors import OutputError, RunFailed

MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    """Versions of hipposim, Python and the libraries that shape the numbers."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("hipposim", "numpy", "scipy", "brian2", "xarray", "networkx", "matplotlib", "pydantic",
                 "dask", "h5netcdf"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


class RunFolder:
    """A folder that files are written into atomically, never outside it."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def path(self, relative: str | Path) -> Path:
        """Resolve ``relative`` inside the folder; refuse anything that escapes it."""
        rel = Path(relative)
        if rel.is_absolute():
            raise OutputError(f"output path '{relative}' is absolute; expected a path inside '{self.root}'")
        target = (self.root / rel).resolve()
        if target != self.root and self.root not in target.parents:
            raise OutputError(f"output path '{relative}' escapes the output folder '{self.root}'")
        return target

    @contextmanager
    def staged(self, relative: str | Path) -> Iterator[str]:
        """A temporary path next to the destination, renamed into place when the block succeeds."""
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX)
        os.close(fd)
        try:
            yield tmp
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @contextmanager
    def atomic(self, relative: str | Path, mode: str = "wb") -> Iterator[Any]:
        """Open a temporary file next to the destination; rename it into place on success."""
        with self.staged(relative) as tmp, open(tmp, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())

    def write_json(self, relative: str, data: Any) -> Path:
        with self.atomic(relative, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=False, allow_nan=False, default=_json_default)
            fh.write("\n")
        return self.path(relative)

    def write_dataset(self, relative: str, ds) -> Path:
        """Write an xarray Dataset as NetCDF4 (h5netcdf), atomically."""
        with self.staged(relative) as tmp:
            ds.to_netcdf(tmp, engine="h5netcdf")
        return self.path(relative)

    def save_figure(self, fig, relative: str) -> Path:
        suffix = Path(relative).suffix.lstrip(".") or "png"
        with self.atomic(relative, "wb") as fh:
            fig.savefig(fh, format=suffix, dpi=120 if suffix == "png" else None, bbox_inches="tight")
        return self.path(relative)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def prepare_output(out: str | Path, overwrite: bool) -> RunFolder:
    """Create an empty run folder at ``out``.

    An existing non-empty folder is refused unless ``overwrite`` is given, and
    even then only a folder that holds a hipposim manifest is cleared, so a
    typo never wipes unrelated files.
    """
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise OutputError(f"'{root}' exists and is not a folder; choose another --out")
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise OutputError(f"output folder '{root}' already exists; pass --overwrite to replace it "
                              "or choose another --out")
        if not (root / MANIFEST).exists():
            raise OutputError(f"'{root}' is not empty and is not a hipposim run folder (no {MANIFEST}); "
                              "refusing to clear it")
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    return RunFolder(root)


@dataclass
class RunData:
    """A finished run folder, loaded back (no simulation)."""

    root: Path
    manifest: dict
    metrics: dict
    stimulus: Any
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def scenario(self) -> dict:
        return self.manifest["scenario"]


def load_run(root: str | Path, require_complete: bool = True) -> RunData:
    """Load a run folder written by :func:`hipposim.run.runner.run_scenario`."""
    import xarray as xr

    from ..stimuli import Stimulus

    root = Path(root)
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        raise OutputError(f"'{root}' is not a hipposim run folder: it has no {MANIFEST}")
    manifest = json.loads(manifest_path.read_text())
    status = manifest.get("status")
    if require_complete and status != "complete":
        detail = f": {manifest['error']}" if manifest.get("error") else ""
        raise RunFailed(f"run folder '{root}' did not finish (status '{status}'){detail}", )
    metrics = json.loads((root / "metrics.json").read_text()) if (root / "metrics.json").exists() else {}
    with xr.open_dataset(root / "stimulus.nc", engine="h5netcdf") as ds:
        stimulus = Stimulus.from_dataset(ds.load())
    results = {}
    for entry in manifest.get("models", []):
        trace = root / entry["trace"]
        if trace.exists():
            with xr.open_dataset(trace, engine="h5netcdf") as ds:
                results[entry["label"]] = ds.load()
    return RunData(root=root, manifest=manifest, metrics=metrics, stimulus=stimulus, results=results)
