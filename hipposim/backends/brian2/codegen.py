"""Code-generation targets: numpy, cython and cpp_standalone.

* ``numpy`` starts at once and needs no compiler.
* ``cython`` compiles each code object once; the compiled modules live in a
  user cache (``~/.cache/hipposim/cython`` or ``$HIPPOSIM_CACHE/cython``). The
  cache is keyed by a hash of the generated code and Brian2 locks it, so
  parallel runs can share it and a second run reuses the compiled code.
* ``cpp_standalone`` builds a whole program in a fresh per-run folder
  (:func:`tempfile.mkdtemp`), so parallel runs never collide.

Different targets draw random numbers differently: a seed reproduces spikes
only within one target.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Literal

from . import import_brian2

Target = Literal["numpy", "cython", "cpp_standalone"]


def cache_root() -> Path:
    """Root of hipposim's compiled-code cache."""
    env = os.environ.get("HIPPOSIM_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hipposim"
    return base


def compile_jobs() -> int:
    """Parallel compiler jobs for cpp_standalone: the cores this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def configure_target(target: Target, keep_build: bool = False) -> Iterator[dict]:
    """Select a Brian2 target for the duration of the block; restore the previous one after.

    Yields a dict that receives ``build_dir`` for ``cpp_standalone``.
    """
    b2 = import_brian2()

    info: dict = {"target": target}
    old_target = b2.prefs.codegen.target
    old_cache = b2.prefs.codegen.runtime.cython.cache_dir
    old_make = list(b2.prefs.devices.cpp_standalone.extra_make_args_unix)
    build_dir = None
    try:
        if target == "cpp_standalone":
            # Brian2's default `make -j` starts one compiler per source file at once (over 100 for a
            # CA3 network); at most one per core
            b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{compile_jobs()}"]
            build_dir = tempfile.mkdtemp(prefix="hipposim-standalone-")
            info["build_dir"] = build_dir
            b2.set_device("cpp_standalone", directory=build_dir, build_on_run=True)
        else:
            b2.prefs.codegen.target = target
            if target == "cython":
                cache = cache_root() / "cython"
                cache.mkdir(parents=True, exist_ok=True)
                b2.prefs.codegen.runtime.cython.cache_dir = str(cache)
        yield info
    finally:
        b2.prefs.codegen.target = old_target
        b2.prefs.codegen.runtime.cython.cache_dir = old_cache
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = old_make
        if target == "cpp_standalone":
            b2.device.reinit()
            b2.set_device("runtime")
            if build_dir and not keep_build:
                shutil.rmtree(build_dir, ignore_errors=True)



def count_compiled(target: str) -> int | None:
    """Number of compiled modules in hipposim's Cython cache (``None`` for other targets).

    A sweep records it before and after each task: a difference of zero means
    the task reused compiled code. The cache is shared by all workers, so a
    module compiled by one worker may appear in another's count.
    """
    if target != "cython":
        return None
    folder = cache_root() / "cython"
    if not folder.is_dir():
        return 0
    return sum(1 for f in folder.iterdir() if f.suffix in (".so", ".pyd"))
