"""Warming a worker: one tiny Brian2 network, so a sweep's first task pays no first-use cost."""
from __future__ import annotations

from . import import_brian2
from .codegen import configure_target
from .lif import LIFConstants, lif_group, named_clock

#: constants of the warm-up cells (any valid LIF; the network only exercises code paths)
WARM_LIF = LIFConstants(tau_m=20e-3, tau_e=5e-3, tau_i=10e-3, v_rest=-65e-3, v_reset=-65e-3, v_th=-50e-3,
                        t_ref=2e-3)


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


    t0 = time.perf_counter()
    b2 = import_brian2()
    dt = 1e-4
    with configure_target("numpy"):
        rates = b2.TimedArray(np.full((2, 4), 50.0) * b2.Hz, dt=1e-3 * b2.second, name="warm_ta")
        src = b2.PoissonGroup(4, rates=0 * b2.Hz, name="warm_src", clock=named_clock("warm_src", dt),
                              namespace={"warm_ta": rates})
        src.run_regularly("rates = warm_ta(t, i)", clock=named_clock("warm_rates", 1e-3), name="warm_rates")
        group = lif_group("warm_e", 4, WARM_LIF, dt)
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
