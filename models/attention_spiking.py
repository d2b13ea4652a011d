"""Attention in spikes: a memory-neuron circuit whose normalised rates are softmax(beta_eff X^T xi).

The two-layer circuit of Krotov & Hopfield (2021): feature neurons (EC-like, on/off code of the cue),
one small assembly of memory neurons per stored item, and a shared inhibitory pool. Keys (feature ->
memory synapses) and values (memory -> read-out synapses) are learned in the simulation by a saturating
Hebbian rule, one presentation per item; values may differ from keys (``values``). At recall, every
memory neuron sees the same pool, so with an exponential f-I curve the assembly rates are

    r_mu / sum_nu r_nu = softmax_mu(beta_eff k_mu . xi),   beta_eff = J_k / (2 n_vis Delta (1 + g_sh)),

where g_sh ~ inhibition G_sh A / A_ref is the pool's shunting (divisive) conductance and A its rate: the
knob ``inhibition`` moves beta_eff. The read-out cells receive sum_mu r_mu v_mu through the values, so
their on - off rates, divided by their total, estimate V^T softmax(beta_eff K^T xi): one modern Hopfield
update (Ramsauer et al. 2020, eq. 3). Equations: :mod:`hipposim.backends.brian2.attention`.

Recorded per cue: beta_eff fitted to the window rates (minimum Jensen-Shannon divergence to
softmax(beta K^T xi)), the softmax at that beta, the memory-layer rates, and over time the normalised
rates (``attention``) and the read-out (``state``). Step k's estimate covers bin k while the circuit
settles (``t_settle``) and, after that, everything from the end of settling to the end of bin k, so the
last step is the whole measurement window.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from hipposim.circuits.attention import (
    ValueKind,
    learned_items,
    on_off_readout,
    predict_pool,
    recall_counts,
    running_windows,
    value_patterns,
    window_counts,
)
from hipposim.contract import InhibitionFactor, Model, Params, standard_dataset
from hipposim.errors import ModelError
from hipposim.functional.retrieval import fit_inverse_temperature, overlaps, softmax
from hipposim.stimuli import Stimulus
from hipposim.units import Rate, Strength, Time, Voltage, quantity_type

PositiveVoltage = quantity_type("voltage", gt=0)
PositiveRate = quantity_type("frequency", gt=0)
POPULATIONS = ("ec_in", "mem", "mem_inh", "ec_out")


class AttentionSpikingParams(Params):
    """Parameters of :class:`AttentionSpiking`. Potentials are those of a reduced model (only their ratios
    to ``Delta`` matter)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, validate_default=True)

    # sizes and stored pairs
    m: int = Field(10, ge=1, description="memory neurons per assembly (one assembly per stored item)")
    n_inh: int = Field(300, ge=1, description="cells of the shared inhibitory pool (more cells: less shared "
                                              "noise in the pool's output)")
    values: ValueKind = Field("same", description="value stored with each key: 'same' (auto-association), "
                                                  "'shuffled' (another stored item) or 'random' (new pattern)")
    # protocol
    t_learn: Time = Field("100 ms", description="presentation time of each item (one shot)")
    t_settle: Time = Field("50 ms", description="recall: time for the circuit to settle before rates are counted")
    t_measure: Time = Field("250 ms", description="recall: window over which rates are counted")
    t_bin: Time = Field("25 ms", description="time bin of the state and attention time courses")
    # feature layer
    r_f: PositiveRate = Field("40 Hz", description="rate of an active on/off feature cell for a fully visible cue "
                                                   "(scaled by N / visible units)")
    tau_s: Time = Field("10 ms", description="decay of the key and value synaptic currents")
    # memory neurons
    J_k: Strength = Field("100 mV", description="dendritic drive of a perfectly matching, fully visible cue")
    I_bd: Voltage = Field("0 mV", description="tonic dendritic drive (shunted with the key drive)")
    I_bs: Voltage = Field("30 mV", description="tonic somatic drive (not shunted; keeps the memory layer firing "
                                               "when the shunt divides the dendritic drive away)")
    Delta: PositiveVoltage = Field("1 mV", description="escape-noise softness of the exponential f-I curve")
    rho0: PositiveRate = Field("2 Hz", description="memory-neuron rate at u = 0")
    rho_max: PositiveRate = Field("1000 Hz", description="memory-neuron hazard ceiling; with t_ref the firing "
                                                        "rate stays below rho_max / (1 + rho_max t_ref)")
    t_ref: Time = Field("1.5 ms", description="dead time of a memory neuron after each spike (a physiological "
                                              "refractory period; caps the rate at 1 / t_ref)")
    r_teach: PositiveRate = Field("100 Hz", description="assembly rate imposed by the instructive input while "
                                                        "its item is learned")
    r_teach_out: PositiveRate = Field("150 Hz", description="read-out cell rate imposed by the value pattern "
                                                            "while it is learned")
    # inhibitory pool
    c_fb: float = Field(5.0, gt=0, description="pool rate per unit of mean memory rate (Hz/Hz)")
    A0: Rate = Field("0 Hz", description="tonic pool rate")
    tau_p: Time = Field("5 ms", description="pool input filter")
    A_ref: PositiveRate = Field("50 Hz", description="pool rate at which the shunt equals inhibition x G_sh")
    G_sh: float = Field(3.0, ge=0, description="shunting conductance (relative to leak) at pool rate A_ref and "
                                               "inhibition 1")
    tau_sh: Time = Field("30 ms", description="decay of the shunting conductance")
    K_ref: Strength = Field("75 mV", description="subtractive somatic inhibition at pool rate A_ref (fixed gain; "
                                                 "sets the total memory rate, not its shape)")
    tau_i: Time = Field("20 ms", description="decay of the subtractive inhibitory current")
    inhibition: InhibitionFactor = 1.0
    # read-out
    r_out: PositiveRate = Field("50 Hz", description="read-out rate scale at mean memory rate R_ref")
    R_ref: PositiveRate = Field("10 Hz", description="reference mean memory rate of the read-out gain")
    # plasticity
    eta: float = Field(0.5, gt=0, description="Hebbian learning rate per spike pair")
    tau_h: Time = Field("20 ms", description="Hebbian trace time constant")
    # numerics and checks
    dt: Time = Field("0.25 ms", description="integration time step")
    silent_rate: Rate = Field("0.5 Hz", description="mean memory rate in a recall window below which the memory "
                                                    "layer counts as silent (the run stops with an error)")
    beta_max: float = Field(10.0, gt=0, description="upper bound of the fitted beta_eff (per unit of X^T xi)")
    target: Literal["numpy", "cython"] = Field("numpy", description="Brian2 code-generation target")

    @model_validator(mode="after")
    def _cross_checks(self) -> AttentionSpikingParams:
        taus = {n: getattr(self, n) for n in ("tau_s", "tau_p", "tau_sh", "tau_i", "tau_h")}
        shortest = min(taus, key=lambda k: taus[k].si)
        if self.dt.si > taus[shortest].si:
            raise ValueError(f"dt ({self.dt}) is larger than {shortest} ({taus[shortest]}); expected dt <= "
                             f"{taus[shortest]}")
        for name in ("t_settle", "t_measure"):
            ratio = getattr(self, name).si / self.t_bin.si
            if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6:
                raise ValueError(f"{name} ({getattr(self, name)}) must be a whole number (>= 1) of t_bin "
                                 f"({self.t_bin})")
        if self.t_learn.si < self.dt.si:
            raise ValueError(f"t_learn ({self.t_learn}) is shorter than dt ({self.dt})")
        return self


class AttentionSpiking(Model):
    """Spiking attention circuit (feature layer, memory assemblies, shared inhibitory pool) in Brian2."""

    description = ("Spiking memory-neuron circuit (Krotov & Hopfield 2021) in Brian2: one-shot Hebbian keys and "
                   "values, shared shunting inhibition; normalised rates = softmax(beta_eff X^T xi)")
    Params = AttentionSpikingParams
    step_unit = "ms"
    knobs = {"inhibition": "inhibition"}
    #: a small, fast circuit for tests and smoke runs
    tiny_params = {"m": 4, "n_inh": 30, "t_learn": "60 ms", "t_settle": "30 ms", "t_measure": "90 ms",
                   "t_bin": "30 ms"}
    records = ("attention", "memory_rate", "memory_rate_t", "scores", "beta_eff", "beta_eff_at_bound",
               "beta_theory", "beta_pred", "beta_pred_saturated", "pool_rate_pred", "memory_rate_pred",
               "memory_rate_max", "memory_count", "softmax_at_beta_eff", "pool_rate", "key_patterns", "value_patterns",
               "keys_learned", "values_learned", "cue_input", "ec_in_spike_time", "ec_in_spike_index",
               "mem_spike_time", "mem_spike_index", "mem_inh_spike_time", "mem_inh_spike_index",
               "ec_out_spike_time", "ec_out_spike_index", "phase_start", "phase_end", "recall_start")

    #: parameter overrides that each scale memory (tests/test_limits.py measures the estimate at each)
    memory_probes = ({"m": 60},)

    @classmethod
    def memory_estimate(cls, shape) -> dict:
        """Peak bytes of a run (:func:`hipposim.scenario.limits.spiking_estimate`): ``P m`` memory neurons,
        ``2 N`` feature cells, ``N`` read-out cells and ``n_inh`` pool cells; keys (``2 N`` per memory neuron)
        and values (``2 N`` per memory neuron) as synapses; every cell's input at every time step over
        ``P t_learn + C (t_settle + t_measure)``."""
        from hipposim.scenario.limits import spiking_estimate

        n, p, c = shape.n_units, shape.n_items, shape.n_cues
        mem = p * max(shape.num("m", 10), 1)
        cells = mem + 3 * n + shape.num("n_inh", 300)
        seconds = p * shape.seconds("t_learn") + c * (shape.seconds("t_settle") + shape.seconds("t_measure"))
        return spiking_estimate(shape, cells=cells, synapses=mem * 4 * n + shape.num("n_inh", 300) * mem,
                                inputs=cells, seconds=seconds, dt=shape.seconds("dt"))

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        from hipposim.backends.brian2.attention import (
            AttentionSpec,
            SilentMemoryLayer,
            run_attention,
        )

        p = self.params
        keys = stimulus.bipolar_patterns().astype(float)
        values = value_patterns(keys, p.values, rng)
        cues = stimulus.bipolar_cues().astype(float)
        check_key_value_pairs(keys, values)
        prediction = self.predict(keys, cues)   # from the parameters and the cues, before any simulation
        mv = 1e3  # the reduced potentials enter the backend in mV
        spec = AttentionSpec(
            keys=keys, values=values, cues=cues, m=p.m, n_inh=p.n_inh, dt=p.dt.si, t_learn=p.t_learn.si,
            t_settle=p.t_settle.si, t_measure=p.t_measure.si, r_f=p.r_f.si, tau_s=p.tau_s.si,
            J_k=p.J_k.si * mv, I_bd=p.I_bd.si * mv, I_bs=p.I_bs.si * mv, Delta=p.Delta.si * mv, rho0=p.rho0.si,
            rho_max=p.rho_max.si, t_ref=p.t_ref.si, r_teach=p.r_teach.si, r_teach_out=p.r_teach_out.si, c_fb=p.c_fb, A0=p.A0.si,
            tau_p=p.tau_p.si, A_ref=p.A_ref.si, G_sh=p.G_sh, tau_sh=p.tau_sh.si,
            K_fb=p.K_ref.si * mv / p.A_ref.si, tau_i=p.tau_i.si, inhibition=p.inhibition, r_out=p.r_out.si,
            R_ref=p.R_ref.si, eta=p.eta, tau_h=p.tau_h.si, silent_rate=p.silent_rate.si,
            seed=int(rng.integers(2**31)), target=p.target)
        try:
            out = run_attention(spec)
        except ValueError as exc:
            raise ModelError(f"attention-spiking-v1, field 'values': {exc}") from None
        except SilentMemoryLayer as exc:
            raise ModelError(
                f"population 'mem' is silent: {exc} < silent_rate {p.silent_rate} in the recall window; field "
                f"'inhibition' = {p.inhibition:g} leaves every memory neuron silent (the shared pool 'mem_inh' "
                "suppresses all assemblies); expected a smaller inhibition") from None
        return self._result(stimulus, keys, values, cues, out, prediction)

    def predict(self, keys: np.ndarray, cues: np.ndarray) -> dict[str, np.ndarray]:
        """The circuit's mean-field prediction for bipolar ``keys`` (P, N) and ``cues`` (C, N), before a run.

        See :func:`hipposim.circuits.attention.predict_pool`: ``beta`` is J_k / (2 n_vis Delta (1 + g)) at
        the pool rate of the fixed point, ``rates`` the memory-neuron rates, ``saturated`` the cues where the
        exponential law does not hold.
        """
        p = self.params
        mv = 1e3
        return predict_pool(np.asarray(cues) @ np.asarray(keys).T, np.count_nonzero(cues, axis=1),
                            J_k=p.J_k.si * mv, I_bd=p.I_bd.si * mv, I_bs=p.I_bs.si * mv, Delta=p.Delta.si * mv,
                            rho0=p.rho0.si, rho_max=p.rho_max.si, t_ref=p.t_ref.si, c_fb=p.c_fb, A0=p.A0.si,
                            A_ref=p.A_ref.si, G_sh=p.G_sh, K_fb=p.K_ref.si * mv / p.A_ref.si,
                            inhibition=p.inhibition)

    def _result(self, stimulus: Stimulus, keys, values, cues, out, prediction):
        p = self.params
        n_items, n_units = keys.shape
        n_mem = n_items * p.m
        width = p.t_bin.si
        n_bins = int(round((p.t_settle.si + p.t_measure.si) / width))
        settle_bins = int(round(p.t_settle.si / width))
        windows = running_windows(n_bins, settle_bins)
        recall = [(a, b) for name, a, b in out.phases if name.startswith("recall_")]
        t_mem, i_mem = out.spikes["mem"]
        t_out, i_out = out.spikes["ec_out"]
        t_inh, _ = out.spikes["mem_inh"]
        n_cues = len(recall)
        starts = np.array([a for a, _ in recall])
        counts_t = recall_counts(t_mem, i_mem // p.m, n_items, starts, n_bins, width, p.dt.si)  # per assembly
        out_t = recall_counts(t_out, i_out, 2 * n_units, starts, n_bins, width, p.dt.si)        # per read-out cell
        pool_t = recall_counts(t_inh, np.zeros(len(t_inh), dtype=np.int64), 1, starts, n_bins, width, p.dt.si)
        est_mem = np.stack([counts_t[:, a:b].sum(axis=1) for a, b in windows], axis=1)
        est_out = np.stack([out_t[:, a:b].sum(axis=1) for a, b in windows], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            attention = est_mem / est_mem.sum(axis=-1, keepdims=True)   # NaN only in a bin without spikes
        readout = on_off_readout(est_out)                               # (cue, step, unit), bipolar scale
        window = counts_t[:, settle_bins:].sum(axis=1)
        cell_max = np.array([window_counts(t_mem, i_mem, n_mem, a + p.t_settle.si, b).max() for a, b in recall])
        memory_rate = window / (p.m * p.t_measure.si)
        pool_rate = pool_t[:, settle_bins:, 0].sum(axis=1) / (p.n_inh * p.t_measure.si)
        scores = cues @ keys.T
        fits = [fit_inverse_temperature(memory_rate[c] / memory_rate[c].sum(), scores[c], high=p.beta_max)
                for c in range(n_cues)]
        beta = np.array([f[0] for f in fits])
        at_bound = np.array([f[2] for f in fits], dtype=np.int64)
        n_vis = np.count_nonzero(cues, axis=1)
        g_sh = p.inhibition * p.G_sh * pool_rate / p.A_ref.si
        beta_theory = (p.J_k.si / p.Delta.si) / (2 * n_vis * (1 + g_sh))
        k_learned, v_learned = learned_items(out.w_keys, out.w_values, n_items, p.m)

        states = readout if stimulus.coding == "bipolar" else (readout + 1) / 2
        ov = overlaps(readout, values, "bipolar")
        step_values = (np.arange(n_bins) + 1) * width * 1e3
        ds = standard_dataset(stimulus, states, ov, None, np.full(n_cues, -1, dtype=np.int64),
                              step_values=step_values, step_unit="ms",
                              attrs={"overlap_measure": "item", "brian2_target": p.target, "values": p.values,
                                     "inhibition": p.inhibition, "bin_ms": width * 1e3,
                                     "step_meaning": "end of the estimate window (ms after cue onset): bin k "
                                                     "while settling, then a running window from t_settle",
                                     "overlap_against": "the value stored with each item",
                                     "converged_step_meaning": "none: a spiking circuit has no fixed point",
                                     **{f"{k}": v for k, v in out.timings.items()}})
        ds["attention"] = (("cue", "step", "pattern"), attention)
        ds["memory_rate"] = (("cue", "pattern"), memory_rate, {"units": "Hz"})
        ds["memory_rate_t"] = (("cue", "step", "pattern"), counts_t / (p.m * width), {"units": "Hz"})
        ds["scores"] = (("cue", "pattern"), scores)
        ds["beta_eff"] = (("cue",), beta)
        ds["beta_eff_at_bound"] = (("cue",), at_bound)
        ds["beta_theory"] = (("cue",), beta_theory)
        ds["beta_pred"] = (("cue",), prediction["beta"])
        ds["beta_pred_saturated"] = (("cue",), prediction["saturated"].astype(np.int64))
        ds["pool_rate_pred"] = (("cue",), prediction["pool_rate"], {"units": "Hz"})
        ds["memory_rate_pred"] = (("cue", "pattern"), prediction["rates"], {"units": "Hz"})
        ds["memory_count"] = (("cue", "pattern"), window)
        ds["memory_rate_max"] = (("cue",), cell_max / p.t_measure.si, {"units": "Hz"})
        ds["softmax_at_beta_eff"] = (("cue", "pattern"), softmax(beta[:, None] * scores))
        ds["pool_rate"] = (("cue",), pool_rate, {"units": "Hz"})
        ds["key_patterns"] = (("pattern", "unit"), keys)
        ds["value_patterns"] = (("pattern", "unit"), values)
        ds["keys_learned"] = (("pattern", "unit"), k_learned)
        ds["values_learned"] = (("pattern", "unit"), v_learned)
        ds["cue_input"] = (("cue", "unit"), cues)
        for pop in POPULATIONS:
            t, i = out.spikes[pop]
            ds[f"{pop}_spike_time"] = ((f"{pop}_spike",), t * 1e3, {"units": "ms"})
            ds[f"{pop}_spike_index"] = ((f"{pop}_spike",), i.astype(np.int64))
        ds = ds.assign_coords(phase=("phase", [nm for nm, _, _ in out.phases]))
        ds["phase_start"] = (("phase",), np.array([a for _, a, _ in out.phases]) * 1e3, {"units": "ms"})
        ds["phase_end"] = (("phase",), np.array([b for _, _, b in out.phases]) * 1e3, {"units": "ms"})
        ds["recall_start"] = (("cue",), np.array([a for a, _ in recall]) * 1e3, {"units": "ms"})
        ds.attrs["n_memory_neurons"] = n_mem
        return ds


def check_key_value_pairs(keys: np.ndarray, values: np.ndarray) -> None:
    """Refuse keys and values of different item counts or widths with a :class:`ModelError` naming 'values'."""
    keys, values = np.asarray(keys), np.asarray(values)
    if keys.ndim != 2 or values.ndim != 2 or keys.shape[0] != values.shape[0] or keys.shape[1] != values.shape[1]:
        raise ModelError(f"attention-spiking-v1, field 'values': {keys.shape[0]} keys of width {keys.shape[-1]} "
                         f"but {values.shape[0]} values of width {values.shape[-1]}; every item needs one key and "
                         "one value of the same width")
