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


@contextlib.contextmanager
def configure_target(target: Target, keep_build: bool = False) -> Iterator[dict]:
    """Select a Brian2 target for the duration of the block; restore the previous one after.

    Yields a dict that receives ``build_dir`` for ``cpp_standalone``.
    """
    b2 = import_brian2()

    info: dict = {"target": target}
    old_target = b2.prefs.codegen.target
    old_cache = b2.prefs.codegen.runtime.cython.cache_dir
    build_dir = None
    try:
        if target == "cpp_standalone":
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
        if target == "cpp_standalone":
            b2.device.reinit()
            b2.set_device("runtime")
            if build_dir and not keep_build:
                shutil.rmtree(build_dir, ignore_errors=True)



def warm(target: Target = "numpy") -> float:
    """Prepare a worker for Brian2 tasks before a sweep fans out; return the seconds it took.

    Imports Brian2 and builds and runs a tiny network with the constructs of
    the CA3 network (LIF groups, a Poisson group driven by a TimedArray through
    ``run_regularly``, plastic event-driven synapses, a spike monitor). A
    process's first Brian2 network pays for parsing, template loading and code
    generation set-up (about 0.2-0.4 s of CPU); after this, the first task of
    the sweep does not. The tiny network always runs on the numpy target,
    whatever ``target`` the sweep uses: on ``cython`` it would compile modules
    that no task needs (15 modules, 79 s on a busy machine), and the real
    network's modules are compiled once, by the first task that needs them,
    into the shared cache, where Brian2's lock makes a second worker wait for
    them and reuse them. ``cpp_standalone`` builds each run in its own folder.
    """
    import time

    import numpy as np

    from .lif import LIFConstants, lif_group, named_clock

    t0 = time.perf_counter()
    b2 = import_brian2()
    dt = 1e-4
    with configure_target("numpy"):
        rates = b2.TimedArray(np.full((2, 4), 50.0) * b2.Hz, dt=1e-3 * b2.second, name="warm_ta")
        src = b2.PoissonGroup(4, rates=0 * b2.Hz, name="warm_src", clock=named_clock("warm_src", dt),
                              namespace={"warm_ta": rates})
        src.run_regularly("rates = warm_ta(t, i)", clock=named_clock("warm_rates", 1e-3), name="warm_rates")
        group = lif_group("warm_e", 4, LIFConstants(), dt)
        syn = b2.Synapses(src, group, model="""w : 1
            dapre/dt = -apre/(20*ms) : 1 (event-driven)
            dapost/dt = -apost/(20*ms) : 1 (event-driven)""",
                          on_pre="ge_post += 1*mV*w\napre += 1\nw = clip(w + 0.01*apost, 0, 1)",
                          on_post="apost += 1\nw = clip(w + 0.01*apre, 0, 1)", name="warm_syn",
                          clock=named_clock("warm_syn", dt), namespace={})
        syn.connect(i=np.arange(4, dtype=np.int32), j=np.arange(4, dtype=np.int32))
        syn.w = 0.5
        mon = b2.SpikeMonitor(group, name="warm_mon")
        net = b2.Network(src, group, syn, mon, name="warm_net")
        net.run(2e-3 * b2.second, namespace={})
    return time.perf_counter() - t0


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
