"""The CA3 -> CA1 spiking network in Brian2: build it from plain arrays, run it, return plain arrays.

Everything the network needs (connectivity, initial weights, the time course
of every drive and switch) arrives as numpy arrays in a :class:`NetworkSpec`;
everything it produces leaves as numpy arrays in a :class:`NetworkOutput`.
No Brian2 object or Quantity crosses this boundary.

Populations (every object has an explicit name: Brian2 orders objects that
share a schedule slot by name, so automatic names made the same seed give
different spikes when a network was built twice in one process):

* ``ca3_e`` pyramidal cells, ``ca3_i`` basket cells (feedback inhibition);
* ``ca1_e`` pyramidal cells, ``ca1_i`` interneurons;
* ``ec`` entorhinal input (Poisson, rates from a timeline);
* ``mossy`` dentate mossy fibres (Poisson, one per CA3 cell, the teacher).

Plastic synapses (``ca3_ee`` recurrent collaterals, ``schaffer`` CA3->CA1)
follow one of two rules; ``plastic(t)`` gates learning and ``rec_gain(t)``
scales recurrent transmission (acetylcholine-like switch):

* ``stdp-symmetric`` (Mishra et al. 2016 window, with a depression offset
  ``theta``: co-active pairs potentiate, one-sided pairs depress, silent pairs stay;
  its drift lacks the covariance rule's ``a^2`` term)::

      pre spike:  w <- clip(w + eta (a_post - theta), 0, w_max)
      post spike: w <- clip(w + eta (a_pre  - theta), 0, w_max)

* ``covariance`` (rate-based with a postsynaptic threshold, Dayan & Abbott 2001, Sect. 8.2;
  ``nu`` are low-pass rate traces, ``eta_cov`` a rate in 1/s)::

      every 1 ms: w <- clip(w + eta_cov (1 ms) (nu_pre/nu_ref)(nu_post/nu_ref - a), 0, w_max)

  A silent presynaptic cell leaves its synapses unchanged; an active one onto a silent
  cell depresses them by ``eta_cov a`` per second at nu_pre = nu_ref.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import import_brian2
from .lif import LIFConstants, lif_group, named_clock

POPULATIONS = ("ca3_e", "ca3_i", "ca1_e", "ca1_i", "ec")


@dataclass
class Projection:
    """Connections ``i -> j`` with weights (volts for fixed, dimensionless for plastic)."""

    i: np.ndarray
    j: np.ndarray
    w: np.ndarray


@dataclass
class NetworkSpec:
    """Everything needed to build and run the network, in SI units and plain arrays."""

    dt: float
    duration: float
    sizes: dict[str, int]
    lif_e: LIFConstants
    lif_i: LIFConstants
    timeline_dt: float
    mossy_rates: np.ndarray      # (T, n_ca3_e) Hz
    ec_rates: np.ndarray         # (T, n_ec) Hz
    rec_gain: np.ndarray         # (T,) scales recurrent CA3 transmission
    pp_gain: np.ndarray          # (T,) scales perforant-path transmission to CA3
    plastic: np.ndarray          # (T,) 1 where synapses learn
    ee: Projection               # plastic, w in [0, w_max]
    schaffer: Projection         # plastic
    fixed: dict[str, Projection]  # name -> fixed projection (w in volts); names "src__tgt__label"
    w_ee: float                  # volts per unit weight, recurrent
    w_sc: float                  # volts per unit weight, Schaffer
    w_mf: float                  # volts, mossy fibre synapse
    # plasticity and numerics: no defaults here; the model's declared parameters are the one source
    rule: str
    eta: float
    theta: float
    eta_cov: float               # covariance rule: 1/s
    tau_stdp: float
    w_max: float
    nu_ref: float
    coding_level: float
    seed: int
    target: str
    record_ec: bool


@dataclass
class NetworkOutput:
    """Plain results of one simulation."""

    spikes: dict[str, tuple[np.ndarray, np.ndarray]]  # pop -> (times s, indices)
    ee_w: np.ndarray
    schaffer_w: np.ndarray
    final_v: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)


def _plastic_synapse_code(rule: str) -> tuple[str, str, str]:
    """(model, on_pre extra, on_post) for a learning rule."""
    if rule == "stdp-symmetric":
        model = """w : 1
        dapre/dt = -apre/tau_stdp : 1 (event-driven)
        dapost/dt = -apost/tau_stdp : 1 (event-driven)"""
        pre = "apre += 1\nw = clip(w + eta*plastic*(apost - theta), 0, w_max)"
        post = "apost += 1\nw = clip(w + eta*plastic*(apre - theta), 0, w_max)"
    elif rule == "covariance":
        model = "w : 1"
        pre, post = "", ""
    else:
        raise ValueError(f"unknown plasticity rule {rule!r}")
    return model, pre, post


def build_and_run(spec: NetworkSpec) -> NetworkOutput:
    """Build the network described by ``spec``, simulate it, and return plain arrays."""
    b2 = import_brian2()

    from .codegen import configure_target
    from .progress import run_with_progress

    timings: dict[str, float] = {}
    with configure_target(spec.target):
        t0 = time.perf_counter()
        b2.seed(spec.seed)
        net, monitors, plastic_syn = _build(spec)
        timings["build_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_with_progress(net, spec.duration, desc="CA3 network", namespace={})
        timings["run_s"] = time.perf_counter() - t0
        spikes = {pop: (np.asarray(m.t_[:], dtype=float), np.asarray(m.i[:], dtype=np.int64))
                  for pop, m in monitors.items()}
        out = NetworkOutput(
            spikes=spikes,
            ee_w=_weights(plastic_syn["ca3_ee"], len(spec.ee.i)),
            schaffer_w=_weights(plastic_syn["schaffer"], len(spec.schaffer.i)),
            final_v={pop: np.asarray(net[pop].v_[:], dtype=float)
                     for pop in ("ca3_e", "ca3_i", "ca1_e", "ca1_i") if spec.sizes.get(pop, 0) > 0},
            timings=timings)
    return out


def _weights(syn, n: int) -> np.ndarray:
    return np.asarray(syn.w[:], dtype=float) if (syn is not None and n) else np.zeros(0)


def _build(spec: NetworkSpec):
    b2 = import_brian2()

    dt = spec.dt
    second = b2.second
    # drives and switches are piecewise constant on the timeline grid: they are read
    # once per timeline step by run_regularly, not on every time step or spike
    tl_dt = spec.timeline_dt
    ta = {
        "mossy_ta": b2.TimedArray(spec.mossy_rates * b2.Hz, dt=spec.timeline_dt * second, name="mossy_ta"),
        "ec_ta": b2.TimedArray(spec.ec_rates * b2.Hz, dt=spec.timeline_dt * second, name="ec_ta"),
        "rec_gain_ta": b2.TimedArray(spec.rec_gain, dt=spec.timeline_dt * second, name="rec_gain_ta"),
        "pp_gain_ta": b2.TimedArray(spec.pp_gain, dt=spec.timeline_dt * second, name="pp_gain_ta"),
        "plastic_ta": b2.TimedArray(spec.plastic, dt=spec.timeline_dt * second, name="plastic_ta"),
    }
    # populations of size 0 are left out (the benchmark runs CA3 alone)
    trace = spec.rule == "covariance"
    groups = {}
    for pop, consts in (("ca3_e", spec.lif_e), ("ca3_i", spec.lif_i), ("ca1_e", spec.lif_e),
                        ("ca1_i", spec.lif_i)):
        if spec.sizes.get(pop, 0) > 0:
            groups[pop] = lif_group(pop, spec.sizes[pop], consts, dt, rate_trace=trace and pop.endswith("_e"))
    if spec.sizes.get("ec", 0) > 0:
        groups["ec"] = b2.PoissonGroup(spec.sizes["ec"], rates=0 * b2.Hz, name="ec", clock=named_clock("ec", dt),
                                       namespace={"ec_ta": ta["ec_ta"]})
        groups["ec"].run_regularly("rates = ec_ta(t, i)", clock=named_clock("ec_rates", tl_dt), name="ec_rates")
    mossy = b2.PoissonGroup(spec.sizes["ca3_e"], rates=0 * b2.Hz, name="mossy", clock=named_clock("mossy", dt),
                            namespace={"mossy_ta": ta["mossy_ta"]})
    mossy.run_regularly("rates = mossy_ta(t, i)", clock=named_clock("mossy_rates", tl_dt), name="mossy_rates")
    objects: list = list(groups.values()) + [mossy]

    mf = b2.Synapses(mossy, groups["ca3_e"], on_pre="ge_post += w_mf", name="mossy_ca3",
                     clock=named_clock("mossy_ca3", dt), namespace={"w_mf": spec.w_mf * b2.volt})
    mf.connect(j="i")
    objects.append(mf)

    plastic_ns = {"eta": spec.eta, "theta": spec.theta, "eta_cov_step": spec.eta_cov * 1e-3,
                  "tau_stdp": spec.tau_stdp * second, "w_max": spec.w_max,
                  "plastic_ta": ta["plastic_ta"], "rec_gain_ta": ta["rec_gain_ta"],
                  "nu_ref": spec.nu_ref * b2.Hz, "a_level": spec.coding_level}
    model, pre_learn, post = _plastic_synapse_code(spec.rule)
    plastic_syn = {}
    for name, src, tgt, proj, scale, gain in (
            ("ca3_ee", "ca3_e", "ca3_e", spec.ee, spec.w_ee, "*gain"),
            ("schaffer", "ca3_e", "ca1_e", spec.schaffer, spec.w_sc, "")):
        plastic_syn[name] = None
        if len(proj.i) == 0 or src not in groups or tgt not in groups:
            continue  # Brian2 cannot connect empty index arrays; leave the pathway out
        ns = dict(plastic_ns, w_scale=scale * b2.volt)
        on_pre = f"ge_post += w_scale*w{gain}" + ("\n" + pre_learn if pre_learn else "")
        syn = b2.Synapses(groups[src], groups[tgt], model=model + "\nplastic : 1 (shared)\ngain : 1 (shared)",
                          on_pre=on_pre, on_post=post or None, name=name, clock=named_clock(name, dt),
                          namespace=ns)
        syn.run_regularly(f"plastic = plastic_ta(t)\ngain = {'rec_gain_ta(t)' if gain else '1.0'}",
                          clock=named_clock(f"{name}_switches", tl_dt), when="start", order=-1,
                          name=f"{name}_switches")
        plastic_syn[name] = syn
        syn.connect(i=proj.i.astype(np.int32), j=proj.j.astype(np.int32))
        syn.w = proj.w
        if spec.rule == "covariance":
            syn.run_regularly("w = clip(w + eta_cov_step*plastic*(nu_pre/nu_ref)"
                              "*(nu_post/nu_ref - a_level), 0, w_max)", clock=named_clock(f"{name}_cov", 1e-3),
                              name=f"{name}_cov")
        objects.append(syn)

    for key, proj in spec.fixed.items():
        src, tgt, label = key.split("__")
        if len(proj.i) == 0 or src not in groups or tgt not in groups:
            continue
        inhibitory = src in ("ca3_i", "ca1_i")
        var = "gi" if inhibitory else "ge"
        gated = src == "ec" and tgt == "ca3_e"
        syn = b2.Synapses(groups[src], groups[tgt], model="w : volt" + ("\ngain : 1 (shared)" if gated else ""),
                          on_pre=f"{var}_post += w" + ("*gain" if gated else ""),
                          name=f"{src}_{tgt}_{label}", clock=named_clock(f"{src}_{tgt}_{label}", dt),
                          namespace={"pp_gain_ta": ta["pp_gain_ta"]})
        if gated:
            syn.run_regularly("gain = pp_gain_ta(t)", clock=named_clock(f"{syn.name}_gate", tl_dt), when="start",
                              order=-1, name=f"{syn.name}_gate")
        syn.connect(i=proj.i.astype(np.int32), j=proj.j.astype(np.int32))
        syn.w = proj.w * b2.volt
        objects.append(syn)

    pops = [p for p in POPULATIONS if p in groups and (p != "ec" or spec.record_ec)]
    monitors = {p: b2.SpikeMonitor(groups[p], name=f"spikes_{p}") for p in pops}
    objects += list(monitors.values())
    net = b2.Network(*objects, name="hipposim_ca3")
    return net, monitors, plastic_syn
