"""One writer per run or sweep folder.

A folder in use holds an OS file lock (:mod:`filelock`, ``fcntl.flock`` on
POSIX) on ``.hipposim.lock`` inside it, and the holder's process id in
``.hipposim.pid`` next to it. The operating system drops the lock when the
holder exits, even after ``kill -9``, so a stale pid file never blocks a new
writer. A second writer is refused at once with the holder's pid.
"""
from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import OutputError

LOCK_NAME = ".hipposim.lock"
PID_NAME = ".hipposim.pid"
#: bookkeeping files of a folder in use (the lock, its pid, the disk reserve of the manifest)
LOCK_FILES = frozenset({LOCK_NAME, PID_NAME, ".hipposim.reserve"})


def holder_pid(root: str | Path) -> str:
    """The pid recorded by the current holder of ``root``'s lock ("unknown" if none is readable)."""
    pid_file = Path(root) / PID_NAME
    try:
        if not pid_file.is_symlink():
            text = pid_file.read_text(encoding="ascii", errors="replace").strip()
            if text.isdigit():
                return text
    except OSError:
        pass
    return "unknown"


class FolderLock:
    """The exclusive lock of one output folder. Use :meth:`acquire` and :meth:`release`
    (or ``with``); acquiring never waits."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.lock_path = self.root / LOCK_NAME
        self.pid_path = self.root / PID_NAME
        self._lock: FileLock | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None and self._lock.is_locked

    def acquire(self) -> "FolderLock":
        for p in (self.lock_path, self.pid_path):
            if p.is_symlink():  # checked before opening: the lock file must never lead outside the folder
                raise OutputError(f"'{p}' is a symbolic link; refusing to use '{self.root}' as an output folder")
        lock = FileLock(str(self.lock_path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise OutputError(f"'{self.root}' is in use by another hipposim process (pid "
                              f"{holder_pid(self.root)}); wait for it to finish or choose another --out") from None
        except OSError as exc:
            raise OutputError(f"cannot lock the output folder '{self.root}': {exc.strerror or exc}") from None
        self._lock = lock
        try:
            tmp = self.pid_path.with_name(f"{PID_NAME}.{os.getpid()}.tmp")
            tmp.write_text(f"{os.getpid()}\n", encoding="ascii")
            os.replace(tmp, self.pid_path)
        except OSError:
            pass  # the lock holds without the pid file; a second writer then reports pid "unknown"
        return self

    def release(self) -> None:
        if self._lock is None:
            return
        try:
            if holder_pid(self.root) == str(os.getpid()):
                self.pid_path.unlink(missing_ok=True)
        except OSError:
            pass
        self._lock.release()
        self._lock = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
