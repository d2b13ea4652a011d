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

A folder being written holds an OS lock (:mod:`hipposim.run.lock`): a second
writer is refused with the holder's pid. ``--overwrite`` clears a folder only
when its manifest is a valid hipposim manifest, so a typo never wipes unrelated
files. Before a large file is written the free space is checked, and running
out of space (``ENOSPC``) is a :class:`DiskFull` error, not a crash.
"""
from __future__ import annotations

import errno
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
from .lock import LOCK_FILES, FolderLock

MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"
KINDS = ("run", "sweep", "comparison")
STATUSES = ("running", "complete", "partial", "failed", "interrupted")
#: space kept free on the disk beyond the estimated size of a file about to be written
SPACE_MARGIN = 16 * 2 ** 20
#: datasets up to this size are serialised in memory before they touch the disk
IN_MEMORY_LIMIT = 512 * 2 ** 20
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


class DiskFull(RunFailed):
    """The disk has no room for a file the run must write; the run stops cleanly (exit 1)."""


def ensure_space(where: str | Path, nbytes: float, what: str) -> float:
    """Refuse to start writing ``nbytes`` under ``where`` when the disk has less free space
    (plus a margin): a full disk must stop a run with a message, not crash a library mid-write.
    Returns the free space in bytes (infinite when it cannot be read)."""
    path = Path(where)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return float("inf")
    if free < nbytes + SPACE_MARGIN:
        raise DiskFull(f"not enough free space to write {what}: about {nbytes / 2**20:.1f} MiB needed, "
                       f"{free / 2**20:.1f} MiB free on the disk of '{path}'")
    return free


def _is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _FULL


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
    """A folder that files are written into atomically, never outside it.

    A folder made by :func:`prepare_output` holds its lock until :meth:`release`.
    """

    def __init__(self, root: str | Path, lock: FolderLock | None = None):
        self.root = Path(root).resolve()
        self.lock = lock

    def release(self) -> None:
        """Release the folder's lock (if this object holds it)."""
        if self.lock is not None:
            self.lock.release()

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
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX)
        except OSError as exc:
            if _is_disk_full(exc):
                raise DiskFull(f"cannot write into '{target.parent}': {exc.strerror or exc} (the disk is full)") from None
            raise
        os.close(fd)
        try:
            yield tmp
            os.replace(tmp, target)
        except BaseException as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            full = next((e for e in (exc, exc.__cause__, exc.__context__) if _is_disk_full(e)), None)
            if full is not None:
                raise DiskFull(f"cannot write '{target}': {full.strerror or full} (the disk is full or "
                               "the file size limit is reached)") from None
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
        target = self.path(relative)
        need = 1.1 * ds.nbytes + 2 ** 20
        free = ensure_space(target.parent, need, f"'{target}'")
        if ds.nbytes <= IN_MEMORY_LIMIT or free < 4 * need + SPACE_MARGIN:
            # serialised in memory, then written with plain file I/O: a full disk is then an
            # ordinary OSError, never a failed flush inside libhdf5 (which crashes the process)
            data = ds.to_netcdf(engine="h5netcdf")
            with self.atomic(relative, "wb") as fh:
                fh.write(data)
        else:
            with self.staged(relative) as tmp:
                ds.to_netcdf(tmp, engine="h5netcdf")
        return target

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


def write_status(folder: RunFolder, manifest: dict) -> bool:
    """Record a final status in the manifest, best effort: when the atomic write fails (a full
    disk has no room for a second copy) the manifest is rewritten in place. Returns whether
    the status reached the disk."""
    try:
        folder.write_json(MANIFEST, manifest)
        return True
    except Exception:
        pass
    try:
        text = json.dumps(manifest, indent=2, allow_nan=False, default=_json_default) + "\n"
        with open(folder.path(MANIFEST), "r+", encoding="utf-8") as fh:
            fh.write(text)
            fh.truncate()
        return True
    except Exception:
        return False


def manifest_problem(data: Any) -> str | None:
    """What keeps ``data`` from being a hipposim manifest (None if it is one).

    A manifest names its tool and version (``"hipposim": "0.1.0"``, or for a comparison
    ``versions.hipposim``), its kind, its status, when it started and the library versions;
    a run or sweep manifest also holds the scenario and its seed.
    """
    if not isinstance(data, dict):
        return "it is not a JSON object"
    versions = data.get("versions")
    tool = data.get("hipposim", versions.get("hipposim") if isinstance(versions, dict) else None)
    if not isinstance(tool, str) or not tool[:1].isdigit():
        return "it does not name hipposim and its version"
    if data.get("kind") not in KINDS:
        return f"its 'kind' is {data.get('kind')!r}, not one of {', '.join(KINDS)}"
    if data.get("status") not in STATUSES:
        return f"its 'status' is {data.get('status')!r}, not one of {', '.join(STATUSES)}"
    if not isinstance(data.get("started"), str) or not isinstance(versions, dict):
        return "it lacks 'started' or 'versions'"
    if data["kind"] in ("run", "sweep"):
        if not isinstance(data.get("scenario"), dict) or not isinstance(data.get("seed"), int):
            return "it lacks the scenario or its seed"
    return None


def read_manifest(root: str | Path, kind: str | None = None) -> dict:
    """Read and check the manifest of a hipposim folder; :class:`OutputError` (exit 2) names what is wrong."""
    root = Path(root)
    path = root / MANIFEST
    if not root.is_dir():
        raise OutputError(f"'{root}' is not a folder")
    if not path.is_file():
        raise OutputError(f"'{root}' is not a hipposim run or sweep folder (no {MANIFEST})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise OutputError(f"cannot read '{path}': {_short(exc)}") from None
    problem = manifest_problem(data)
    if problem is not None:
        raise OutputError(f"'{path}' is not a valid hipposim manifest: {problem}")
    if kind is not None and data["kind"] != kind:
        raise OutputError(f"'{root}' is a {data['kind']} folder, not a {kind} folder")
    return data


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _clear(root: Path) -> None:
    """Remove everything in ``root`` except its lock files, never following a symbolic link."""
    for child in root.iterdir():
        if child.name in LOCK_FILES:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def prepare_output(out: str | Path, overwrite: bool) -> RunFolder:
    """Create and lock an empty run folder at ``out``.

    An existing non-empty folder is refused unless ``overwrite`` is given, and
    even then only a folder whose manifest is a valid hipposim manifest is
    cleared, so a typo never wipes unrelated files. The folder is locked before
    it is cleared; a folder in use by another process is refused (exit 2) with
    the holder's pid. The caller releases the lock (:meth:`RunFolder.release`).
    """
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise OutputError(f"'{root}' exists and is not a folder; choose another --out")
    try:
        existing = [c for c in root.iterdir() if c.name not in LOCK_FILES] if root.exists() else []
    except OSError as exc:
        raise OutputError(f"cannot read the output folder '{root}': {exc.strerror or exc}") from None
    if existing:
        if not overwrite:
            raise OutputError(f"output folder '{root}' already exists; pass --overwrite to replace it "
                              "or choose another --out")
        if not (root / MANIFEST).is_file() or (root / MANIFEST).is_symlink():
            raise OutputError(f"'{root}' is not empty and is not a hipposim run folder (no {MANIFEST}); "
                              "refusing to clear it")
        try:
            read_manifest(root)
        except OutputError as exc:
            raise OutputError(f"{exc}; refusing to clear '{root}'") from None
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder '{root}': {exc.strerror or exc}") from None
    lock = FolderLock(root).acquire()
    try:
        if existing:
            _clear(root)
        elif any(c.name not in LOCK_FILES for c in root.iterdir()):
            # another writer created files between the check and the lock
            raise OutputError(f"output folder '{root}' already exists; pass --overwrite to replace it "
                              "or choose another --out")
        # a write test: a read-only location is bad input, found before any work starts
        probe = root / f".hipposim.write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        lock.release()
        raise OutputError(f"cannot write into the output folder '{root}': {exc.strerror or exc}") from None
    except BaseException:
        lock.release()
        raise
    return RunFolder(root, lock)


def open_folder(root: str | Path, kind: str) -> tuple[RunFolder, dict]:
    """Lock an existing folder of ``kind`` (e.g. to resume a sweep); returns it and its manifest."""
    root = Path(root)
    manifest = read_manifest(root, kind)
    lock = FolderLock(root).acquire()
    return RunFolder(root, lock), manifest


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


def open_dataset(path: Path, what: str):
    """Load a NetCDF file written by hipposim; a missing or unreadable file is an :class:`OutputError`."""
    import xarray as xr

    if not path.is_file():
        raise OutputError(f"{what} '{path}' is missing; the folder is incomplete")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()
    except Exception as exc:  # h5py, h5netcdf and xarray raise several types for a damaged file
        raise OutputError(f"cannot read {what} '{path}': it is damaged or not a NetCDF file "
                          f"({type(exc).__name__}: {_short(exc)})") from None


def read_json(path: Path, what: str) -> Any:
    """Read a JSON file of a hipposim folder; a damaged file is an :class:`OutputError`."""
    if not path.is_file():
        raise OutputError(f"{what} '{path}' is missing; the folder is incomplete")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise OutputError(f"cannot read {what} '{path}': {_short(exc)}") from None


def load_run(root: str | Path, require_complete: bool = True) -> RunData:
    """Load a run folder written by :func:`hipposim.run.runner.run_scenario`.

    A damaged or missing file (manifest, metrics, stimulus or any model's trace)
    is an :class:`OutputError` naming it; nothing is silently dropped.
    """
    from ..stimuli import Stimulus

    root = Path(root)
    manifest = read_manifest(root)
    if manifest["kind"] != "run":
        raise OutputError(f"'{root}' is a {manifest['kind']} folder, not a run folder")
    status = manifest.get("status")
    if require_complete and status != "complete":
        detail = f": {manifest['error']}" if manifest.get("error") else ""
        raise RunFailed(f"run folder '{root}' did not finish (status '{status}'){detail}", )
    folder = RunFolder(root)
    metrics = read_json(root / "metrics.json", "the metrics file") if status == "complete" else {}
    if not isinstance(metrics, dict):
        raise OutputError(f"the metrics file '{root / 'metrics.json'}' does not hold one entry per model")
    ds = open_dataset(root / "stimulus.nc", "the stimulus file")
    try:
        stimulus = Stimulus.from_dataset(ds)
    except Exception as exc:
        raise OutputError(f"the stimulus file '{root / 'stimulus.nc'}' is not a hipposim stimulus "
                          f"({type(exc).__name__}: {_short(exc)})") from None
    results = {}
    models = manifest.get("models", [])
    if not isinstance(models, list):
        raise OutputError(f"'{root / MANIFEST}' lists its models wrongly")
    for entry in models:
        if not isinstance(entry, dict) or not isinstance(entry.get("label"), str) \
                or not isinstance(entry.get("trace"), str):
            raise OutputError(f"'{root / MANIFEST}' has a model entry without label or trace: {entry!r}")
        trace = folder.path(entry["trace"])  # refuses a trace path that leads out of the folder
        results[entry["label"]] = open_dataset(trace, f"the trace of model '{entry['label']}'")
    return RunData(root=root, manifest=manifest, metrics=metrics, stimulus=stimulus, results=results)
