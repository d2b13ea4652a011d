"""The v2 CA3 -> CA1 network in Brian2: every excitatory pathway learns online, with a paired control.

Built from plain arrays (:class:`V2Spec`), returns plain arrays (:class:`V2Output`).

Populations (suffix ``_ctl`` for the no-plasticity control copy, which shares
the connectivity, the initial weights and the very same EC and mossy spikes):

* ``ec`` Poisson channels, ``mossy`` Poisson mossy fibres (one per CA3 cell);
* ``ca3_e``, ``ca3_i``, ``ca1_e``, ``ca1_i`` LIF cells (:data:`LIF_EQUATIONS`
  with spike-frequency adaptation ``ga``).

Drives are tables indexed by a timeline: ``ec_rates = ec_table[ec_row(t), i]``
(rows: stored items, cues, silence) so the 2-D rate array never grows with time.

Every plastic pathway (perforant path ``pp``, temporoammonic ``ec1``, recurrent
``ee``, Schaffer ``sc``) transmits ``w u gain(t)`` and learns with the same
symmetric spike-timing rule with a depression offset (its drift, ``eta (2 tau r_pre
r_post - theta (r_pre + r_post))``, lacks the covariance rule's ``a^2`` term; traces with time
constant ``tau_stdp``)::

    pre spike:  a_pre  += 1;  u <- clip(u + eta plastic(t) (a_post - theta), 0, 1)
    post spike: a_post += 1;  u <- clip(u + eta plastic(t) (a_pre  - theta), 0, 1)

A post-gated pathway (``post_gated``) keeps only the postsynaptic term,
``du = eta post (a_pre - theta)``: it changes only while its target cell fires
(potentiating the inputs active then, depressing the silent ones), so a cell
that never fires keeps its initial weights. ``plastic(t)`` is 0 at all times in
the control copy.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import import_brian2
from .lif import LIFConstants, named_clock

#: LIF with current-based exponential synapses and an adaptation variable ``ga``
#: (each spike adds ``b_adapt``; decays with ``tau_adapt``).
LIF_EQUATIONS = """
dv/dt = (v_rest - v + ge - gi - ga)/tau_m : volt (unless refractory)
dge/dt = -ge/tau_e : volt
dgi/dt = -gi/tau_i : volt
dga/dt = -ga/tau_adapt : volt
"""


@dataclass
class Pathway:
    """One projection ``src -> tgt``; ``w`` in volts per spike; ``u0`` given for plastic ones."""

    src: str
    tgt: str
    pre: np.ndarray
    post: np.ndarray
    w: float
    u0: np.ndarray | None = None
    eta: float = 0.0
    theta: float = 0.0
    gate: str | None = None        # "rec" or "pp": transmission scaled by that timeline switch
    post_gated: bool = False       # learn on postsynaptic spikes only: du = eta post (a_pre - theta)
    learned_ffi: bool = False      # EC -> E inhibition whose jump is w xbar_pre (the channel's learned mean)
    w_slow: float = 0.0            # slow (NMDA-like) jump per spike, volts at u = 1 (recurrent pathway)
    asymmetric: bool = False       # pair-based asymmetric STDP (:data:`LEARN_PRE_ASYM`) instead of symmetric
    a_minus: float = 1.0           # asymmetric STDP: depression / potentiation ratio


@dataclass
class V2Spec:
    """Everything the network needs, in SI units and plain arrays."""

    dt: float
    duration: float
    timeline_dt: float
    sizes: dict[str, int]                 # ca3_e, ca3_i, ca1_e, ca1_i, ec
    lif_e: LIFConstants
    lif_i: LIFConstants
    b_adapt: float                        # volts added to ga per pyramidal spike
    tau_adapt: float
    ec_table: np.ndarray                  # (rows, n_ec) Hz
    ec_row: np.ndarray                    # (T,) row of ec_table per timeline step
    mossy_table: np.ndarray               # (rows, n_e) Hz
    mossy_row: np.ndarray                 # (T,)
    rec_gain: np.ndarray                  # (T,) recurrent and Schaffer transmission
    pp_gain: np.ndarray                   # (T,) perforant-path transmission
    plastic: np.ndarray                   # (T,) 1 where synapses learn
    pathways: dict[str, Pathway]
    tau_stdp: float
    control: bool
    seed: int
    target: str
    ec_mean: bool = False                 # EC channels learn their mean trace xbar (for learned_ffi pathways)
    xbar0: float = 0.0                    # prior of xbar (trace units)
    tau_bar0: float = 0.2                 # weight of the prior in the running mean, seconds of encoding
    tau_slow: float = 0.1                 # decay of the slow recurrent current
    ec1_gain: np.ndarray | None = None    # (T,) EC -> CA1 transmission (None: always 1)


@dataclass
class V2Output:
    spikes: dict[str, tuple[np.ndarray, np.ndarray]]   # "ca3_e", "ca3_e_ctl", ... -> (times s, index)
    u: dict[str, np.ndarray]                           # learned u of each plastic pathway (plastic copy)
    final_v: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)


PLASTIC_MODEL = """u : 1
dapre/dt = -apre/tau_stdp : 1 (event-driven)
dapost/dt = -apost/tau_stdp : 1 (event-driven)
pl : 1 (shared)
gain : 1 (shared)"""
#: LIF with an extra slow (NMDA-like) excitatory current ``gs`` (decay ``tau_slow``).
LIF_SLOW_EQUATIONS = """
dv/dt = (v_rest - v + ge + gs - gi - ga)/tau_m : volt (unless refractory)
dge/dt = -ge/tau_e : volt
dgs/dt = -gs/tau_slow : volt
dgi/dt = -gi/tau_i : volt
dga/dt = -ga/tau_adapt : volt
"""
#: EC channels as Poisson units with a presynaptic trace ``x`` (jump 1, decay tau_stdp) and its running
#: mean over plastic (encoding) time with a prior xbar0 weighted as tau_bar0 seconds of it:
#: dT/dt = plastic(t), dxbar/dt = plastic(t) (x - xbar) / (T + tau_bar0)
#: i.e. xbar(t) = (xbar0 tau_bar0 + int plastic x dt) / (tau_bar0 + int plastic dt).
EC_MEAN_MODEL = """rates : Hz
dx/dt = -x/tau_stdp : 1
dT/dt = plastic_ta(t) : second
dxbar/dt = plastic_ta(t)*(x - xbar)/(T + tau_bar0) : 1
"""
LEARN_PRE = "apre += 1\nu = clip(u + eta*pl*(apost - theta), 0, 1)"
LEARN_POST = "apost += 1\nu = clip(u + eta*pl*(apre - theta), 0, 1)"
#: asymmetric (Bi & Poo 1998) window: a presynaptic spike after postsynaptic ones depresses by
#: ``a_minus`` times the postsynaptic trace, a postsynaptic spike after presynaptic ones potentiates by the
#: presynaptic trace minus the offset theta (inputs silent while the cell fires are depressed)
LEARN_PRE_ASYM = "apre += 1\nu = clip(u - eta*pl*a_minus*apost, 0, 1)"


def run_v2(spec: V2Spec) -> V2Output:
    """Build the network of ``spec``, simulate it and return plain arrays."""
    b2 = import_brian2()
    from .codegen import configure_target
    from .progress import run_with_progress

    timings: dict[str, float] = {}
    with configure_target(spec.target):
        t0 = time.perf_counter()
        b2.seed(spec.seed)
        net, monitors, syns = _build(spec)
        timings["build_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_with_progress(net, spec.duration, desc="CA3 v2 network", namespace={})
        timings["run_s"] = time.perf_counter() - t0
        spikes = {k: (np.asarray(m.t_[:], dtype=float), np.asarray(m.i[:], dtype=np.int64))
                  for k, m in monitors.items()}
        u = {k: np.asarray(s.u[:], dtype=float).copy() for k, s in syns.items()}
        if spec.ec_mean:
            u["xbar"] = np.asarray(net["ec"].xbar[:], dtype=float).copy()
        final_v = {k: np.asarray(net[k].v_[:], dtype=float) for k in monitors}
    return V2Output(spikes=spikes, u=u, final_v=final_v, timings=timings)


def _build(spec: V2Spec):
    b2 = import_brian2()
    second, Hz, volt = b2.second, b2.Hz, b2.volt
    dt, tl = spec.dt, spec.timeline_dt
    ta = {
        "ec_row_ta": b2.TimedArray(spec.ec_row.astype(float), dt=tl * second, name="ec_row_ta"),
        "mossy_row_ta": b2.TimedArray(spec.mossy_row.astype(float), dt=tl * second, name="mossy_row_ta"),
        "rec_ta": b2.TimedArray(spec.rec_gain, dt=tl * second, name="rec_ta"),
        "pp_ta": b2.TimedArray(spec.pp_gain, dt=tl * second, name="pp_ta"),
        "plastic_ta": b2.TimedArray(spec.plastic, dt=tl * second, name="plastic_ta"),
        # 2-D look-up tables: a TimedArray with a 1 s step indexed by (row * second, cell)
        "ec_tab": b2.TimedArray(spec.ec_table * Hz, dt=1 * second, name="ec_tab"),
        "mossy_tab": b2.TimedArray(spec.mossy_table * Hz, dt=1 * second, name="mossy_tab"),
    }
    objects: list = []
    if spec.ec1_gain is not None:
        ta["ec1_ta"] = b2.TimedArray(spec.ec1_gain, dt=tl * second, name="ec1_ta")
    if spec.ec_mean:
        ec = b2.NeuronGroup(spec.sizes["ec"], EC_MEAN_MODEL, threshold="rand() < rates*dt", reset="x += 1",
                            method="euler", name="ec", clock=named_clock("ec", dt),
                            namespace=dict(ta, tau_stdp=spec.tau_stdp * second, tau_bar0=spec.tau_bar0 * second))
        ec.xbar = spec.xbar0
    else:
        ec = b2.PoissonGroup(spec.sizes["ec"], rates=0 * Hz, name="ec", clock=named_clock("ec", dt),
                             namespace=ta)
    ec.run_regularly("rates = ec_tab(ec_row_ta(t)*second, i)", clock=named_clock("ec_rates", tl),
                     when="start", name="ec_rates")
    mossy = b2.PoissonGroup(spec.sizes["ca3_e"], rates=0 * Hz, name="mossy", clock=named_clock("mossy", dt),
                            namespace=ta)
    mossy.run_regularly("rates = mossy_tab(mossy_row_ta(t)*second, i)", clock=named_clock("mossy_rates", tl),
                        when="start", name="mossy_rates")
    objects += [ec, mossy]
    copies = ("", "_ctl") if spec.control else ("",)
    groups: dict[str, object] = {"ec": ec, "mossy": mossy}
    monitors, syns = {}, {}
    slow = any(pw.w_slow > 0 for pw in spec.pathways.values())
    for sfx in copies:
        for pop in ("ca3_e", "ca3_i", "ca1_e", "ca1_i"):
            c = spec.lif_e if pop.endswith("_e") else spec.lif_i
            ns = c.namespace()
            ns["tau_adapt"] = spec.tau_adapt * second
            reset = "v = v_reset"
            if pop.endswith("_e") and spec.b_adapt > 0:
                reset += "\nga += b_adapt"
                ns["b_adapt"] = spec.b_adapt * volt
            eqs = LIF_EQUATIONS
            if slow and pop == "ca3_e":
                eqs = LIF_SLOW_EQUATIONS
                ns["tau_slow"] = spec.tau_slow * second
            g = b2.NeuronGroup(spec.sizes[pop], eqs, threshold="v > v_th", reset=reset,
                               refractory=c.t_ref * second, method="exponential_euler", name=pop + sfx,
                               clock=named_clock(pop + sfx, dt), namespace=ns)
            g.v = c.v_rest * volt
            groups[pop + sfx] = g
            objects.append(g)
        learn = 1.0 if sfx == "" else 0.0
        for key, pw in spec.pathways.items():
            src = groups[pw.src if pw.src in ("ec", "mossy") else pw.src + sfx]
            tgt = groups[pw.tgt + sfx]
            var = "gi" if (pw.src.endswith("_i") or pw.learned_ffi) else "ge"
            name = f"{key}{sfx}"
            ns = {"w_syn": pw.w * volt, **ta}
            gate = {"rec": "rec_ta(t)", "pp": "pp_ta(t)", "ec1": "ec1_ta(t)", None: "1.0"}[pw.gate]
            if pw.learned_ffi:
                # the plastic copy reads the channel's learned mean; the control keeps the prior
                jump = "w_syn*xbar_pre*gain" if sfx == "" else f"w_syn*{spec.xbar0!r}*gain"
                syn = b2.Synapses(src, tgt, model="gain : 1 (shared)", on_pre=f"gi_post += {jump}",
                                  name=name, clock=named_clock(name, dt), namespace=ns)
                syn.run_regularly(f"gain = {gate}", clock=named_clock(name + "_sw", tl), when="start", order=-1,
                                  name=name + "_sw")
            elif pw.u0 is not None:
                ns.update(eta=pw.eta, theta=pw.theta, tau_stdp=spec.tau_stdp * second, w_slow=pw.w_slow * volt)
                learn_pre = "apre += 1" if pw.post_gated else (LEARN_PRE_ASYM if pw.asymmetric else LEARN_PRE)
                ns["a_minus"] = pw.a_minus
                on_pre = f"{var}_post += w_syn*u*gain\n" + learn_pre
                if pw.w_slow > 0:
                    on_pre = "gs_post += w_slow*u*gain\n" + on_pre
                syn = b2.Synapses(src, tgt, model=PLASTIC_MODEL, on_pre=on_pre,
                                  on_post=LEARN_POST, name=name, clock=named_clock(name, dt), namespace=ns)
                syn.run_regularly(f"pl = {learn}*plastic_ta(t)\ngain = {gate}", clock=named_clock(name + "_sw", tl),
                                  when="start", order=-1, name=name + "_sw")
            else:
                syn = b2.Synapses(src, tgt, model="gain : 1 (shared)", on_pre=f"{var}_post += w_syn*gain",
                                  name=name, clock=named_clock(name, dt), namespace=ns)
                syn.run_regularly(f"gain = {gate}", clock=named_clock(name + "_sw", tl), when="start", order=-1,
                                  name=name + "_sw")
            syn.connect(i=pw.pre.astype(np.int32), j=pw.post.astype(np.int32))
            if pw.u0 is not None and not pw.learned_ffi:
                syn.u = pw.u0
                if sfx == "":
                    syns[key] = syn
            objects.append(syn)
        for pop in ("ca3_e", "ca3_i", "ca1_e", "ca1_i"):
            monitors[pop + sfx] = b2.SpikeMonitor(groups[pop + sfx], name=f"spikes_{pop}{sfx}")
            objects.append(monitors[pop + sfx])
    net = b2.Network(*objects, name="hipposim_ca3_v2")
    return net, monitors, syns
