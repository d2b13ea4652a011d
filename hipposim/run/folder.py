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

``--overwrite`` never clears the old result first: the new one is built in a
hidden sibling folder (``.<name>.hipposim-new.<pid>``) while the old folder stays
locked, and swapped in only when it is finished (one ``renameat2(RENAME_EXCHANGE)``
on Linux), so an interruption at any moment leaves the old result whole or the
new one complete. Files are created with the permissions the umask allows (as
``open`` would), paths read from a folder are checked again before use (nothing
is read or written through a symbolic link or outside the folder), every file is
size-checked before it is read, and one write session never writes one path twice.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from ..errors import HipposimError, OutputError, RunFailed
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
#: largest manifest, metrics file or task record read back (they are a few kilobytes)
MAX_JSON_BYTES = 16 * 2 ** 20
#: spare bytes kept beside a manifest being written, given up so the final status fits on a full disk
RESERVE_NAME = ".hipposim.reserve"
RESERVE_BYTES = 256 * 1024
#: hidden siblings of a folder being replaced: ``.<name>.hipposim-new.<pid>`` / ``-old.<pid>``
STAGING = re.compile(r"^\.(?P<name>.+)\.hipposim-(?P<kind>new|old)\.(?P<pid>\d+)$")
#: what a scenario name must be to become part of a path (the schema's rule, checked again when read back)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class OutputCollision(RunFailed):
    """A run would write one path twice (a trace over the stimulus, a folder over a file)."""


def umask() -> int:
    """The process's umask (read without changing it where /proc tells it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def checked_name(value: Any, where: str) -> str:
    """A scenario name read back from a file (``where``), checked again before it becomes part of a path:
    :class:`OutputError` for anything but a short name of letters, digits, ``_``, ``-`` and ``.``."""
    if not isinstance(value, str) or NAME.fullmatch(value) is None or value in (".", ".."):
        raise OutputError(f"'{where}' names the scenario {str(value)[:80]!r}, which is not a scenario name "
                          "(letters, digits, '_', '-', '.'); refusing to build an output path from it; "
                          "pass --out")
    return value


def check_size(path: Path, limit: float, what: str) -> int:
    """Refuse to read ``path`` when it is larger than ``limit`` bytes (checked before reading)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise OutputError(f"cannot read {what} '{path}': {exc.strerror or exc}") from None
    if size > limit:
        raise OutputError(f"{what} '{path}' is {size / 2**20:.1f} MiB, more than the {limit / 2**20:.0f} MiB "
                          "hipposim reads back; it is not a file hipposim wrote")
    return size


class Incomplete(OutputError):
    """A folder that did not finish (status not "complete") is refused as an input (exit 2)."""


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

    def __init__(self, root: str | Path, lock: FolderLock | None = None, final: str | Path | None = None,
                 final_lock: FolderLock | None = None):
        self.root = Path(root).resolve()
        self.lock = lock
        #: where the folder goes when it is finished (an ``--overwrite`` builds it beside the old one)
        self.final = Path(final).resolve() if final is not None else self.root
        self.final_lock = final_lock
        self.committed = final is None
        self._written: set[Path] = set()
        self._dirs: set[Path] = set()

    @property
    def staging(self) -> bool:
        """Whether this folder is being built beside an old result that it will replace."""
        return not self.committed

    def commit(self) -> None:
        """Swap a finished replacement in for the old result (nothing to do for a folder built in place)."""
        if self.committed:
            return
        old = self.root
        _swap(self.root, self.final)  # the old result now sits at the staging name
        self.root, self.committed = self.final, True
        _remove_tree(old)
        if self.final_lock is not None:
            self.final_lock.release()
            self.final_lock = None

    def release(self) -> None:
        """Release the folder's lock (if this object holds it); an unfinished replacement is discarded,
        so the old result stays as it was."""
        self.drop_reserve()
        if not self.committed:
            _remove_tree(self.root)
            self.root, self.committed = self.final, True
        if self.lock is not None:
            self.lock.release()
        if self.final_lock is not None:
            self.final_lock.release()
            self.final_lock = None

    def reserve(self) -> None:
        """Keep :data:`RESERVE_BYTES` on the disk beside the manifest, given up by :func:`write_status`."""
        try:
            with open(self.root / RESERVE_NAME, "xb") as fh:
                fh.write(b"\0" * RESERVE_BYTES)
        except OSError:
            pass

    def drop_reserve(self) -> None:
        try:
            path = self.root / RESERVE_NAME
            if path.is_file() and not path.is_symlink():
                path.unlink()
        except OSError:
            pass

    def path(self, relative: str | Path) -> Path:
        """Resolve ``relative`` inside the folder; refuse anything that escapes it or passes through a
        symbolic link (a link planted in the folder could lead anywhere)."""
        rel = Path(relative)
        if rel.is_absolute():
            raise OutputError(f"output path '{relative}' is absolute; expected a path inside '{self.root}'")
        node = self.root
        for part in rel.parts:
            if part in ("", "."):
                continue
            if part == "..":
                raise OutputError(f"output path '{relative}' escapes the output folder '{self.root}'")
            node = node / part
            if node.is_symlink():
                raise OutputError(f"'{node}' is a symbolic link; refusing to write or read through it")
        target = (self.root / rel).resolve()
        if target != self.root and self.root not in target.parents:
            raise OutputError(f"output path '{relative}' escapes the output folder '{self.root}'")
        return target

    @contextmanager
    def staged(self, relative: str | Path, rewrite: bool = False) -> Iterator[str]:
        """A temporary path next to the destination, renamed into place when the block succeeds.

        One folder object never writes one path twice unless ``rewrite`` (the manifest): a second
        write of a path is an :class:`OutputCollision`. The file gets the permissions ``open`` would
        give it under the umask (``mkstemp`` alone would make it 0600).
        """
        target = self.path(relative)
        if target in self._written and not rewrite:
            raise OutputCollision(f"'{relative}' would overwrite '{target}', which this run wrote already; "
                                  "give every output its own path")
        if target in self._dirs or any(d in self._written for d in target.parents):
            raise OutputCollision(f"'{relative}' collides with a file or folder this run wrote already")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX)
        except OSError as exc:
            if _is_disk_full(exc):
                raise DiskFull(f"cannot write into '{target.parent}': {exc.strerror or exc} (the disk is full)") from None
            raise
        try:
            os.fchmod(fd, 0o666 & ~umask())
        finally:
            os.close(fd)
        self._written.add(target)
        self._dirs.update(target.parents)
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
    def atomic(self, relative: str | Path, mode: str = "wb", rewrite: bool = False) -> Iterator[Any]:
        """Open a temporary file next to the destination; rename it into place on success."""
        with self.staged(relative, rewrite=rewrite) as tmp, open(tmp, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())

    def write_json(self, relative: str, data: Any, indent: int | None = 2) -> Path:
        rewrite = Path(relative).name == MANIFEST and Path(relative).parent == Path(".")
        with self.atomic(relative, "w", rewrite=rewrite) as fh:
            json.dump(data, fh, indent=indent, sort_keys=False, allow_nan=False, default=_json_default)
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
    """Record a final status in the manifest, never truncating it: every attempt is an atomic
    replace, so the manifest on disk is always the old one or the new one, whole. When the disk is
    full the reserve kept beside the manifest is given up first; then a compact manifest (no
    traceback, no indentation) is tried. Returns whether the status reached the disk."""
    attempts = [(manifest, 2), (manifest, 2), ({k: v for k, v in manifest.items() if k != "traceback"}, None)]
    for i, (data, indent) in enumerate(attempts):
        if i == 1:
            folder.drop_reserve()
        try:
            folder.write_json(MANIFEST, data, indent=indent)
            return True
        except Exception:
            continue
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
    if path.is_symlink():
        raise OutputError(f"'{path}' is a symbolic link; a hipposim manifest is a plain file")
    check_size(path, MAX_JSON_BYTES, "the manifest")
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


def _remove_tree(path: Path) -> None:
    """Remove a folder hipposim made (never following a symbolic link); best effort."""
    try:
        if path.is_symlink() or not path.exists():
            return
        shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where it is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP if hasattr(errno, "ENOTSUP") else errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap(new: Path, final: Path) -> None:
    """Put the finished folder ``new`` at ``final``; the old ``final`` ends up at ``new``'s name.

    Atomic where the kernel can exchange two paths; elsewhere two renames, and a folder left
    half-swapped by a crash between them is put back by the next :func:`prepare_output`."""
    if _exchange(new, final):
        return
    aside = final.with_name(f".{final.name}.hipposim-old.{os.getpid()}")
    os.rename(final, aside)
    os.rename(new, final)
    os.rename(aside, new)


def _siblings(root: Path) -> list[tuple[Path, str]]:
    """Hidden staging siblings of ``root`` left by earlier replacements: (path, "new" | "old")."""
    out = []
    try:
        for child in root.parent.iterdir():
            m = STAGING.match(child.name)
            if m and m["name"] == root.name and not child.is_symlink() and child.is_dir():
                out.append((child, m["kind"]))
    except OSError:
        pass
    return out


def _tidy(root: Path) -> None:
    """Put back an old result a crash left aside mid-swap, and remove replacements nobody is building."""
    for path, kind in _siblings(root):
        lock = FolderLock(path)
        try:
            lock.acquire()
        except OutputError:
            continue  # a replacement in progress in another process
        try:
            if kind == "old" and not root.exists():
                lock.release()
                os.rename(path, root)  # the old result, whole, back in its place
                continue
            _remove_tree(path)
        except OSError:
            pass
        finally:
            lock.release()


def prepare_output(out: str | Path, overwrite: bool) -> RunFolder:
    """Create and lock an empty run folder at ``out``.

    An existing non-empty folder is refused unless ``overwrite`` is given, and
    even then only a folder whose manifest is a valid hipposim manifest is
    replaced, so a typo never wipes unrelated files. The replacement is built in
    a hidden sibling folder while the old one stays locked, and swapped in by
    :meth:`RunFolder.commit`; until then the old result is untouched. A folder in
    use by another process is refused (exit 2) with the holder's pid. The caller
    releases the lock (:meth:`RunFolder.release`).
    """
    if str(out).strip() == "":
        raise OutputError("--out is empty; name the folder to write")
    root = Path(out)
    if root.is_symlink():
        raise OutputError(f"'{root}' is a symbolic link; choose another --out")
    if root.exists() and not root.is_dir():
        raise OutputError(f"'{root}' exists and is not a folder; choose another --out")
    _tidy(root.resolve() if root.parent.exists() else root)
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
                              "refusing to replace it")
        try:
            read_manifest(root)
        except OutputError as exc:
            raise OutputError(f"{exc}; refusing to replace '{root}'") from None
        old_lock = FolderLock(root).acquire()
        try:
            read_manifest(root)  # still hipposim's, now that it is ours
            staging = root.resolve().with_name(f".{root.resolve().name}.hipposim-new.{os.getpid()}")
            staging.mkdir()
            lock = FolderLock(staging).acquire()
        except OSError as exc:
            old_lock.release()
            raise OutputError(f"cannot create a folder beside '{root}': {exc.strerror or exc}") from None
        except BaseException:
            old_lock.release()
            raise
        return RunFolder(staging, lock, final=root, final_lock=old_lock)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder '{root}': {exc.strerror or exc}") from None
    lock = FolderLock(root).acquire()
    try:
        if any(c.name not in LOCK_FILES for c in root.iterdir()):
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
    from ..scenario.limits import current

    check_size(path, current().max_memory, what)
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
    check_size(path, MAX_JSON_BYTES, what)
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
        raise Incomplete(f"run folder '{root}' did not finish (status '{status}'){detail}")
    folder = RunFolder(root)
    metrics = read_json(folder.path("metrics.json"), "the metrics file") if status == "complete" else {}
    if not isinstance(metrics, dict):
        raise OutputError(f"the metrics file '{root / 'metrics.json'}' does not hold one entry per model")
    ds = open_dataset(folder.path("stimulus.nc"), "the stimulus file")
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


def check_outputs(outputs: tuple[list[str], list[str]], source: str | None) -> None:
    """Refuse (exit 2, before any work) outputs that would land on one another: two files at one path
    (a model labelled ``stimulus`` with ``traces: ./`` writes over ``stimulus.nc``), or a file where a
    folder must be, or a bookkeeping file of the folder."""
    import posixpath

    from ..errors import Problem, ScenarioError
    from .lock import LOCK_FILES

    files, folders = outputs
    norm = lambda p: posixpath.normpath(str(p).replace("\\", "/"))  # noqa: E731
    seen: dict[str, str] = {}
    for f in files:
        key = norm(f).casefold()  # two names differing only in case are one file on some disks
        if key in seen:
            raise ScenarioError(Problem(f"two outputs of this run are the same file '{norm(f)}' ('{seen[key]}' and "
                                        f"'{f}'); give the model another label or output.traces another "
                                        "folder", "output.traces"), source)
        if posixpath.basename(norm(f)) in LOCK_FILES:
            raise ScenarioError(Problem(f"the output '{f}' is a bookkeeping file of the run folder", "models"),
                                source)
        seen[key] = f
    dirs = {norm(d).casefold() for d in folders if norm(d) != "."}
    for f in files:
        parts = norm(f).casefold().split("/")
        parents = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if norm(f).casefold() in dirs or parents & set(seen):
            raise ScenarioError(Problem(f"the output '{f}' is also a folder of this run; choose other "
                                        "output.traces / output.figures folders", "output"), source)


def kept(exc: BaseException, folder) -> None:
    """Say in the error that an ``--overwrite`` that did not finish left the previous result as it was."""
    note = f" (the previous result in '{folder.final}' is unchanged)"
    if isinstance(exc, HipposimError) and exc.args:
        exc.args = (f"{exc.args[0]}{note}",) + exc.args[1:]
    elif not isinstance(exc, KeyboardInterrupt):
        exc.args = (f"{exc.args[0] if exc.args else exc}{note}",)
