"""The attention circuit in Brian2 (Krotov & Hopfield 2021): feature neurons, one memory assembly per item,
a shared inhibitory pool. Built from and returning plain arrays (no Brian2 object crosses the boundary).

Populations (every object has an explicit name):

* ``ec_in`` (2N): feature layer, on/off code of the cue. Regular firing (phase oscillators,
  ``dphi/dt = rate``, spike at phi > 1), random phases. On cell i fires iff x_i = +1, off cell N+i iff
  x_i = -1; masked units (0) are silent. Every active cell fires at ``r_f N / n_vis`` (divisive
  normalisation by the number of visible units), so the total input does not depend on masking.
* ``mem`` (P m): memory layer, P assemblies of m neurons with escape noise and no reset
  (an inhomogeneous Poisson process given u; Gerstner et al. 2014, ch. 9)::

      v_d = (I_ff + I_bd) / (1 + g_sh)       dendrite, shunted by the pool (divisive)
      u   = v_d + I_bs - I_fb                soma, subtractive pool current
      rho = rho0 exp(u / Delta)              exponential escape rate

  I_ff (tau_s), g_sh (tau_sh) and I_fb (tau_i) decay exponentially and jump at each input spike.
* ``mem_inh`` (n_inh): the shared inhibitory pool, linear Poisson cells with rate ``A0 + fb``;
  ``fb`` is the memory layer's spike train low-passed with ``tau_p`` (mean fb = c_fb x mean memory rate).
  Each pool spike shunts every memory dendrite (``g_sh``, scaled by the knob ``inhibition``) and
  hyperpolarises every memory soma by a fixed amount (``I_fb``).
* ``ec_out`` (2N): feature read-out (CA1-like), linear Poisson on/off cells, ``rho = s``, driven by the
  memory layer through the learned values.

Because every memory neuron sees the same g_sh and I_fb, within one recall

    r_mu / sum_nu r_nu = softmax_mu(I_ff,mu / (Delta (1 + g_sh))),

and with the on/off code I_ff,mu = J_k (n_vis + k_mu . xi) / (2 n_vis), so the normalised assembly
rates are softmax(beta_eff k_mu . xi) with beta_eff = J_k / (2 n_vis Delta (1 + g_sh)): the subtractive
current only sets the total rate, the shunt sets beta.

Plastic synapses ``keys`` (ec_in -> mem) and ``values`` (mem -> ec_out) start at 0 and learn in one
presentation of each item by a soft-bounded Hebbian trace rule (traces a, +1 per spike, decay tau_h)::

    pre spike:  w += (1 - w) (1 - exp(-eta a_post)),   post spike: w += (1 - w) (1 - exp(-eta a_pre))

During learning the item's assembly is clamped to ``r_teach`` (instructive input), ``ec_out`` to the
value pattern at ``r_teach_out``, and transmission through keys, values and the pool is off
(acetylcholine-like encoding mode, Hasselmo 2006). At recall, plasticity is off, every state variable is
reset before each cue, and the cue drives ``ec_in`` for ``t_settle + t_measure``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import import_brian2
from .lif import named_clock

POPULATIONS = ("ec_in", "mem", "mem_inh", "ec_out")


@dataclass
class AttentionSpec:
    """Everything the circuit needs, in SI units (mV for the reduced potentials) and plain arrays."""

    keys: np.ndarray        # (P, N) in {-1, +1}
    values: np.ndarray      # (P, N) in {-1, +1}
    cues: np.ndarray        # (C, N) in {-1, 0, +1}
    m: int
    n_inh: int
    dt: float
    t_learn: float
    t_settle: float
    t_measure: float
    r_f: float
    tau_s: float
    J_k: float              # mV
    I_bd: float             # mV
    I_bs: float             # mV
    Delta: float            # mV
    rho0: float
    rho_max: float
    t_ref: float            # s, dead time of a memory neuron
    r_teach: float
    r_teach_out: float
    c_fb: float
    A0: float
    tau_p: float
    A_ref: float
    G_sh: float
    tau_sh: float
    K_fb: float             # mV per Hz of pool rate
    tau_i: float
    inhibition: float
    r_out: float
    R_ref: float
    eta: float
    tau_h: float
    silent_rate: float      # Hz: below this mean memory rate in a recall window, the run stops
    seed: int
    target: str


@dataclass
class AttentionOutput:
    """Plain results of one simulation."""

    spikes: dict[str, tuple[np.ndarray, np.ndarray]]   # pop -> (times s, indices)
    w_keys: np.ndarray                                 # (2N, P m)
    w_values: np.ndarray                               # (P m, 2N)
    phases: list[tuple[str, float, float]]             # (name, start s, end s)
    timings: dict[str, float] = field(default_factory=dict)


class SilentMemoryLayer(Exception):
    """The memory layer fell silent in a recall window (``cue``, ``rate`` in Hz)."""

    def __init__(self, cue: int, rate: float):
        super().__init__(f"cue {cue}: mean memory rate {rate:.3g} Hz")
        self.cue, self.rate = cue, rate


def check_pairs(keys: np.ndarray, values: np.ndarray, cues: np.ndarray) -> None:
    """Refuse keys and values of different item counts or widths, and codes the circuit cannot carry."""
    if keys.ndim != 2 or values.ndim != 2 or cues.ndim != 2:
        raise ValueError("keys, values and cues must be 2-D (items, units)")
    if keys.shape[0] != values.shape[0]:
        raise ValueError(f"{keys.shape[0]} keys but {values.shape[0]} values; every item needs one key "
                         "and one value")
    if keys.shape[1] != values.shape[1] or cues.shape[1] != keys.shape[1]:
        raise ValueError(f"keys, values and cues must have the same width; got {keys.shape[1]}, "
                         f"{values.shape[1]}, {cues.shape[1]}")
    if not (np.all(np.isin(keys, (-1.0, 1.0))) and np.all(np.isin(values, (-1.0, 1.0)))):
        raise ValueError("keys and values must be bipolar (+-1): the on/off code and the saturating Hebbian "
                         "rule carry one bit per unit")
    if np.any(np.count_nonzero(cues, axis=1) == 0):
        raise ValueError("a cue has every unit masked; the feature layer would be silent")


def run_attention(spec: AttentionSpec) -> AttentionOutput:
    """Learn every key -> value pair in one presentation, then recall every cue; return plain arrays.

    Raises :class:`SilentMemoryLayer` as soon as a recall window's mean memory rate falls below
    ``spec.silent_rate`` (no normalisation of an empty count ever happens).
    """
    keys = np.asarray(spec.keys, dtype=float)
    values = np.asarray(spec.values, dtype=float)
    cues = np.asarray(spec.cues, dtype=float)
    check_pairs(keys, values, cues)
    b2 = import_brian2()
    from .codegen import configure_target

    with configure_target(spec.target):
        return _simulate(b2, spec, keys, values, cues)


def _simulate(b2, spec: AttentionSpec, keys, values, cues) -> AttentionOutput:
    Hz, mV, second = b2.Hz, b2.mV, b2.second
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    b2.seed(spec.seed)
    phase_rng = np.random.default_rng(spec.seed)
    P, N = keys.shape
    m, n_inh = int(spec.m), int(spec.n_inh)
    n_mem = P * m
    clock = named_clock("attention", spec.dt)
    tau_s = spec.tau_s * second

    ec_in = b2.NeuronGroup(2 * N, "dphi/dt = rate : 1\nrate : Hz", threshold="phi > 1", reset="phi -= 1",
                           method="euler", name="ec_in", clock=clock)

    def set_input(pattern: np.ndarray) -> None:
        r = spec.r_f * N / np.count_nonzero(pattern)
        ec_in.rate = np.concatenate([(pattern > 0) * r, (pattern < 0) * r]) * Hz
        ec_in.phi = phase_rng.random(2 * N)

    mem = b2.NeuronGroup(
        n_mem, """
        dI_ff/dt = -I_ff/tau_s : volt
        dg_sh/dt = -g_sh/tau_sh : 1
        dI_fb/dt = -I_fb/tau_i : volt
        v_d = (I_ff + I_bd) / (1 + g_sh) : volt
        u = v_d + I_bs - I_fb : volt
        rho = learning*r_teach*teach + (1 - learning)*clip(rho0*exp(u/Delta), 0*Hz, rho_max) : Hz
        teach : 1
        learning : 1 (shared)
        """,
        threshold="rand() < 1 - exp(-rho*dt)", refractory=spec.t_ref * second, method="exact", name="mem",
        clock=clock, namespace=dict(tau_s=tau_s, tau_sh=spec.tau_sh * second, tau_i=spec.tau_i * second,
                       I_bd=spec.I_bd * mV, I_bs=spec.I_bs * mV, rho0=spec.rho0 * Hz, rho_max=spec.rho_max * Hz,
                       Delta=spec.Delta * mV, r_teach=spec.r_teach * Hz))
    mem_inh = b2.NeuronGroup(n_inh, "dfb/dt = -fb/tau_p : Hz\nrate = A0 + fb : Hz",
                             threshold="rand() < 1 - exp(-rate*dt)", method="exact", name="mem_inh", clock=clock,
                             namespace=dict(tau_p=spec.tau_p * second, A0=spec.A0 * Hz))
    mem_to_inh = b2.Synapses(mem, mem_inh, model="gate : 1 (shared)",
                             on_pre="fb_post += gate*c_fb/(n_mem*tau_p)", name="mem_to_inh", clock=clock,
                             namespace=dict(c_fb=spec.c_fb, n_mem=n_mem, tau_p=spec.tau_p * second))
    mem_to_inh.connect()
    # mean g_sh = inhibition G_sh A / A_ref (divisive, the knob); mean I_fb = K_fb A (subtractive, fixed)
    inh_to_mem = b2.Synapses(mem_inh, mem, model="inhibition : 1 (shared)\ngate : 1 (shared)",
                             on_pre="""g_sh_post += gate*inhibition*G_sh/(n_inh*A_ref*tau_sh)
                                       I_fb_post += gate*K_fb/(n_inh*tau_i)""",
                             name="inh_to_mem", clock=clock,
                             namespace=dict(G_sh=spec.G_sh, n_inh=n_inh, A_ref=spec.A_ref * Hz,
                                            tau_sh=spec.tau_sh * second, K_fb=spec.K_fb * mV / Hz,
                                            tau_i=spec.tau_i * second))
    inh_to_mem.connect()
    inh_to_mem.inhibition = spec.inhibition
    ec_out = b2.NeuronGroup(2 * N, """ds/dt = -s/tau_s : Hz
                                       rho = learning*r_teach_out*teach + (1 - learning)*s : Hz
                                       teach : 1
                                       learning : 1 (shared)""",
                            threshold="rand() < 1 - exp(-rho*dt)", method="exact", name="ec_out", clock=clock,
                            namespace=dict(tau_s=tau_s, r_teach_out=spec.r_teach_out * Hz))

    hebb = """w : 1
              dapre/dt = -apre/tau_h : 1 (event-driven)
              dapost/dt = -apost/tau_h : 1 (event-driven)
              plastic : 1 (shared)
              transmit : 1 (shared)"""
    hebb_ns = dict(eta=spec.eta, tau_h=spec.tau_h * second)
    post_rule = "apost += 1\nw += plastic*(1 - w)*(1 - exp(-eta*apre))"
    # a fully matching, fully visible cue gives I_ff = J_k (each of N active inputs at r_f)
    w_key = spec.J_k * mV / (N * spec.r_f * Hz * tau_s)
    key_syn = b2.Synapses(ec_in, mem, model=hebb, on_pre="""I_ff_post += transmit*w*w_key
                                                            apre += 1
                                                            w += plastic*(1 - w)*(1 - exp(-eta*apost))""",
                          on_post=post_rule, name="keys", clock=clock, namespace=dict(hebb_ns, w_key=w_key))
    key_syn.connect()
    key_syn.w = 0.0
    # read-out cells fire ~r_out when the mean memory rate is R_ref (half the memory cells project to each)
    w_val = 2 * spec.r_out * Hz / (n_mem * spec.R_ref * Hz * tau_s)
    val_syn = b2.Synapses(mem, ec_out, model=hebb, on_pre="""s_post += transmit*w*w_val
                                                             apre += 1
                                                             w += plastic*(1 - w)*(1 - exp(-eta*apost))""",
                          on_post=post_rule, name="values", clock=clock, namespace=dict(hebb_ns, w_val=w_val))
    val_syn.connect()
    val_syn.w = 0.0

    groups = {"ec_in": ec_in, "mem": mem, "mem_inh": mem_inh, "ec_out": ec_out}
    monitors = {p: b2.SpikeMonitor(g, name=f"spikes_{p}") for p, g in groups.items()}
    net = b2.Network(*groups.values(), mem_to_inh, inh_to_mem, key_syn, val_syn, *monitors.values(),
                     name="attention_net")

    def reset_state() -> None:
        mem.I_ff = 0 * mV
        mem.g_sh = 0
        mem.I_fb = 0 * mV
        mem_inh.fb = 0 * Hz
        ec_out.s = 0 * Hz
        for syn in (key_syn, val_syn):
            syn.apre = 0
            syn.apost = 0

    timings["build_s"] = time.perf_counter() - t0
    phases: list[tuple[str, float, float]] = []

    # ---------------- learning: one presentation per item
    t0 = time.perf_counter()
    def set_phase(learning: int) -> None:
        """Learning: teachers on, keys and values plastic, no transmission, pool off; recall: the reverse."""
        mem.learning = ec_out.learning = learning
        for syn in (key_syn, val_syn):
            syn.plastic = learning
            syn.transmit = 1 - learning
        mem_to_inh.gate = inh_to_mem.gate = 1 - learning

    set_phase(1)
    assembly = np.repeat(np.arange(P), m)
    for mu in range(P):
        reset_state()
        set_input(keys[mu])
        mem.teach = (assembly == mu).astype(float)
        ec_out.teach = np.concatenate([values[mu] > 0, values[mu] < 0]).astype(float)
        start = float(net.t / second)
        net.run(spec.t_learn * second, namespace={})
        phases.append((f"learn_{mu}", start, float(net.t / second)))
    timings["learn_s"] = time.perf_counter() - t0

    # ---------------- recall
    t0 = time.perf_counter()
    set_phase(0)
    mem.teach = 0
    ec_out.teach = 0
    mon = monitors["mem"]
    for c in range(cues.shape[0]):
        reset_state()
        set_input(cues[c])
        start = float(net.t / second)
        net.run((spec.t_settle + spec.t_measure) * second, namespace={})
        phases.append((f"recall_{c}", start, float(net.t / second)))
        t_sp = np.asarray(mon.t_[:])
        n_window = np.count_nonzero(t_sp >= start + spec.t_settle - 1e-12)
        rate = n_window / (n_mem * spec.t_measure)
        if rate < spec.silent_rate:
            raise SilentMemoryLayer(c, rate)
    timings["recall_s"] = time.perf_counter() - t0

    spikes = {p: (np.asarray(mo.t_[:], dtype=float), np.asarray(mo.i[:], dtype=np.int64))
              for p, mo in monitors.items()}
    w_keys = _dense(key_syn, 2 * N, n_mem)
    w_values = _dense(val_syn, n_mem, 2 * N)
    return AttentionOutput(spikes=spikes, w_keys=w_keys, w_values=w_values, phases=phases, timings=timings)


def _dense(syn, n_pre: int, n_post: int) -> np.ndarray:
    """(n_pre, n_post) weight matrix of an all-to-all synapse group."""
    out = np.zeros((n_pre, n_post))
    out[np.asarray(syn.i[:]), np.asarray(syn.j[:])] = np.asarray(syn.w[:], dtype=float)
    return out
