"""``ca3-spiking-v2``: a spiking EC -> DG -> CA3 -> CA1 -> cortex network whose every pathway learns online.

Circuit
-------
* **EC**: two Poisson channels per item unit, "on" (unit +1, firing at ``ec_rate``)
  and "off" (unit -1, at ``ec_off_rate``); a hidden unit silences both. One channel
  of each pair is active, so the EC coding level is a_EC = 1/2 at the mean channel
  rate (``ec_rate`` + ``ec_off_rate``) / 2.
* **DG** (:func:`hipposim.circuits.ca3.dg_code`): a fixed random expansion of the
  item centred on its OWN mean, then k-winners-take-all at ``coding_level``. An
  item's code depends on that item only. One granule drives one CA3 cell through
  a mossy fibre (Poisson, ``mf_rate``) while the item is presented.
* **CA3**: ``n_e`` LIF pyramidal cells with spike-frequency adaptation and
  ``i_per_e * n_e`` basket cells (fast feedback inhibition, E -> I -> E; optional
  feedforward inhibition of the cue, EC -> basket cells, ``J_ffi``).
* **CA1**: ``ca1_per_ca3 * n_e`` LIF cells, each with a local receptive field
  (an ``rf_side`` x ``rf_side`` patch of the image) in EC, plus interneurons.
* **Cortex readout** (topographic): pixel i is read only from the CA1 cells whose
  receptive field covers i (:func:`hipposim.circuits.ca3.local_readout_fit`),
  fitted on encoding-phase CA1 counts, with the mean item as the prior. A cell
  silent at recall reads as the mean item, so the readout cannot complete the
  hidden half from the visible half on its own: only CA1 cells driven in the hidden
  region (by learned Schaffer collaterals from a completed CA3) fill it in.

Learning (all four excitatory pathways, online, from spikes)
-----------------------------------------------------------
Every plastic pathway transmits ``w u`` with ``u`` in [0, 1]; pre- and postsynaptic
traces ``a_pre``, ``a_post`` jump by 1 per spike and decay with ``tau_stdp``.
Recurrent CA3 -> CA3 (``ee``) and Schaffer CA3 -> CA1 (``sc``) follow symmetric STDP
with a depression offset theta (drift ``eta (2 tau r_pre r_post - theta (r_pre + r_post))``: it
lacks the ``a^2`` term of the covariance rule)::

    pre spike:  u <- clip(u + eta (a_post - theta), 0, 1)
    post spike: u <- clip(u + eta (a_pre  - theta), 0, 1)

The perforant path EC -> CA3 (``pp``) and EC -> CA1 (``ec1``) keep only the
postsynaptic term (post-gated Hebbian learning with heterosynaptic depression)::

    post spike: u <- clip(u + eta (a_pre - theta), 0, 1)

so a cell's EC inputs change only while the cell fires: those active then are
potentiated, the silent ones depressed. The perforant path starts near zero
(``u0_pp``): a CA3 cell acquires the EC channels of an item only if the mossy
fibres made it fire during that item, so a cell outside every code never acquires
perforant input and a cue drives only code cells. No weight is computed from the
stored items.

Scale-free strengths
--------------------
Every pathway X -> Y is declared by ``J_XY``, the mean depolarisation of a Y cell
when X's code is active (a fraction ``a_X`` of X firing at the reference rate
``nu_X``; plastic pathways at u = 1). With in-degree K (fixed: ``K = round(p n_X)``)
and exponential synapses (time constant tau_s), a cell receives ``K a_X`` active
inputs, each jump ``w`` decaying with tau_s, so its mean input is
``K a_X nu_X tau_s w = J`` and::

    w = J / (K a_X nu_X tau_s)

1/(K a), not 1/sqrt(K a): retrieval is read from the item-specific mean input,
which must stay J at any size, while its fluctuations shrink like 1/sqrt(K a).
Balanced 1/sqrt(K a) scaling makes the means grow like sqrt(K a) and needs an E/I
cancellation retuned at each size. With 1/(K a) the same J give the same mean inputs at
any n_e and p_ee; what still depends on size is the number K a of code-mate inputs that
carry the recurrent signal (its relative noise ~ 1/sqrt(K a)): recall needs K a of
about 14 or more (measured at n_e 1000: p_ee 0.02, 0.1, 0.2 give K a = 1.4, 7, 14 and
no, weak and the best recall).

Protocol
--------
Each item: ``t_encode`` with mossy fibres and EC on, recurrent and Schaffer
transmission scaled by ``ach`` (acetylcholine-like), perforant transmission by
``pp_encode``, plasticity on; then ``t_gap`` of silence. Each cue: ``t_reset``
(no input, no recurrent transmission), then ``t_recall`` with the cue on EC, full
transmission, no plasticity.

The no-plasticity control (``control``) is a second copy of CA3 and CA1 in the same
Brian2 network, with the same connectivity, initial weights and the very same EC and
mossy spikes, whose synapses never learn.
"""
from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from hipposim.circuits.ca3 import (dg_code, ec_channels, fixed_indegree, local_readout_fit, patch_channels,
                                   receptive_fields)
from hipposim.circuits.graphs import graph_statistics
from hipposim.circuits.recording import check_activity, dense_sample, population_rates, weight_sample
from hipposim.contract import GainFactor, InhibitionFactor, Model, Params, standard_dataset
from hipposim.functional.coding import threshold_readout
from hipposim.functional.retrieval import overlaps
from hipposim.functional.spikes import binned_counts
from hipposim.stimuli import Stimulus
from hipposim.units import Rate, Strength, Time, Voltage

Prob = Field
TargetName = Literal["numpy", "cython", "cpp_standalone"]
TIMELINE_MS = 10


def _prob(default: float, text: str):
    return Field(default, gt=0, le=1, description=text)


def _unit(default: float, text: str):
    return Field(default, ge=0, le=1, description=text)


class CA3SpikingV2Params(Params):
    """Parameters of :class:`CA3SpikingV2` (quantities are strings with units)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, validate_default=True)

    # sizes and codes
    n_e: int = Field(1000, ge=20, description="CA3 pyramidal cells")
    i_per_e: float = Field(0.2, gt=0, le=1, description="interneurons per pyramidal cell (CA3 and CA1)")
    ca1_per_ca3: float = Field(0.5, gt=0, le=4, description="CA1 pyramidal cells per CA3 pyramidal cell")
    coding_level: float = Field(0.07, gt=0, lt=1, description="fraction a of CA3 (= DG) cells in an item's code")
    ca1_coding_level: float = Field(0.07, gt=0, lt=1, description="fraction of CA1 cells in the code EC "
                                                                  "imposes on CA1 (kWTA of the initial drive)")
    rf_side: int = Field(3, ge=1, le=16, description="side of a CA1 cell's receptive-field patch, in pixels")
    # connectivity (fixed in-degree K = round(p * n_pre))
    p_ee: float = _prob(0.2, "CA3 recurrent connection probability (recall needs K a = p_ee n_e a "
                                "of about 14 or more code-mate inputs per cell)")
    p_pp: float = _prob(0.2, "EC -> CA3 (perforant path) connection probability")
    p_sc: float = _prob(0.1, "CA3 -> CA1 (Schaffer) connection probability")
    p_ei: float = _prob(0.2, "pyramidal -> interneuron connection probability")
    p_ie: float = _prob(0.2, "interneuron -> pyramidal connection probability")
    # neurons
    tau_m: Time = Field("20 ms", description="membrane time constant of pyramidal cells")
    tau_m_i: Time = Field("10 ms", description="membrane time constant of interneurons")
    tau_e: Time = Field("5 ms", description="excitatory synaptic time constant")
    tau_i: Time = Field("5 ms", description="inhibitory synaptic time constant (fast basket cells)")
    t_ref: Time = Field("2 ms", description="refractory period")
    v_rest: Voltage = Field("-65 mV", description="resting potential")
    v_reset: Voltage = Field("-65 mV", description="reset potential after a spike")
    v_th: Voltage = Field("-50 mV", description="firing threshold")
    b_adapt: Strength = Field("1 mV", description="spike-frequency adaptation: hyperpolarisation added per "
                                                  "pyramidal spike")
    tau_adapt: Time = Field("100 ms", description="adaptation time constant")
    # scale-free strengths: mean depolarisation when the presynaptic code is active (see module docstring)
    J_mf: Strength = Field("120 mV", description="mossy fibre -> CA3 (one fibre per cell, firing at mf_rate)")
    J_pp: Strength = Field("70 mV", description="EC -> CA3 at u = 1, full item on EC")
    J_ee: Strength = Field("40 mV", description="CA3 -> CA3 at u = 1, code active at nu_e")
    J_ec1: Strength = Field("60 mV", description="EC -> CA1 at u = 1, full item on EC")
    J_sc: Strength = Field("100 mV", description="CA3 -> CA1 at u = 1, CA3 code active at nu_e")
    J_ei: Strength = Field("10 mV", description="pyramidal -> interneuron, code active at nu_e")
    J_ie: Strength = Field("40 mV", description="CA3 interneuron -> pyramidal, interneurons at nu_i")
    J_ffi: Strength = Field("0 mV", description="EC -> CA3 interneuron (feedforward inhibition of the cue), "
                                                "full item on EC")
    J_ei1: Strength = Field("10 mV", description="CA1 pyramidal -> interneuron, CA1 code active at nu_e")
    J_ie1: Strength = Field("40 mV", description="CA1 interneuron -> pyramidal, interneurons at nu_i")
    inhibition: InhibitionFactor = 1.0
    gain: GainFactor = 1.0
    # rates
    ec_rate: Rate = Field("40 Hz", description="rate of an active EC 'on' channel (pixel +1)")
    ec_off_rate: Rate = Field("40 Hz", description="rate of an active EC 'off' channel (pixel -1)")
    mf_rate: Rate = Field("200 Hz", description="mossy fibre rate onto code cells during encoding")
    nu_e: Rate = Field("50 Hz", description="reference rate of an active pyramidal cell (strength scale)")
    nu_i: Rate = Field("50 Hz", description="reference rate of an interneuron (strength scale)")
    # plasticity
    plasticity: bool = Field(True, description="master switch: the main network learns")
    control: bool = Field(True, description="run the no-plasticity control copy in the same network")
    tau_stdp: Time = Field("40 ms", description="STDP trace time constant")
    u0_pp: float = _unit(0.02, "initial u of EC -> CA3 synapses")
    eta_pp: float = Field(0.05, ge=0, description="learning rate of EC -> CA3 (per spike pairing)")
    theta_pp: float = Field(0.5, ge=0, description="depression offset of EC -> CA3")
    u0_ec1: float = _unit(0.5, "mean initial u of EC -> CA1 synapses")
    u0_ec1_spread: float = _unit(0.5, "half-width of the uniform spread of initial EC -> CA1 u")
    eta_ec1: float = Field(0.05, ge=0, description="learning rate of EC -> CA1")
    theta_ec1: float = Field(0.5, ge=0, description="depression offset of EC -> CA1")
    u0_ee: float = _unit(0.0, "initial u of CA3 recurrent synapses")
    eta_ee: float = Field(0.006, ge=0, description="learning rate of CA3 recurrent synapses")
    theta_ee: float = Field(0.3, ge=0, description="depression offset of CA3 recurrent synapses")
    u0_sc: float = _unit(0.01, "initial u of Schaffer synapses")
    eta_sc: float = Field(0.006, ge=0, description="learning rate of Schaffer synapses")
    theta_sc: float = Field(0.3, ge=0, description="depression offset of Schaffer synapses")
    ach: float = _unit(0.3, "recurrent and Schaffer transmission during encoding (acetylcholine-like)")
    pp_encode: float = _unit(0.3, "perforant-path transmission onto CA3 during encoding")
    # protocol
    t_encode: Time = Field("200 ms", description="presentation time of each item (multiple of 10 ms)")
    t_gap: Time = Field("20 ms", description="silence after each item (multiple of 10 ms)")
    t_reset: Time = Field("30 ms", description="reset before each recall trial (multiple of 10 ms)")
    t_recall: Time = Field("150 ms", description="duration of each recall trial (multiple of 10 ms)")
    bin: Time = Field("10 ms", description="bin of rates and overlaps")
    readout_settle: Time = Field("40 ms", description="encoding time skipped before readout samples")
    readout_window: Time = Field("20 ms", description="window of the encoding samples fitting the readout")
    ridge: float = Field(1.0, gt=0, description="ridge penalty of the readout (per pixel, on spike counts)")
    # numerics
    dt: Time = Field("0.2 ms", description="integration time step")
    target: TargetName = Field("numpy", description="Brian2 code-generation target")
    max_rate: Rate = Field("400 Hz", description="population rate above which the run is stopped as runaway")
    weight_sample: int = Field(300, ge=2, description="CA3 cells kept in the recorded weight matrices")

    @model_validator(mode="after")
    def _cross_checks(self) -> "CA3SpikingV2Params":
        if self.v_th.si <= self.v_rest.si:
            raise ValueError(f"v_th ({self.v_th}) must lie above v_rest ({self.v_rest}); expected v_th > v_rest")
        if self.v_reset.si >= self.v_th.si:
            raise ValueError(f"v_reset ({self.v_reset}) must lie below v_th ({self.v_th})")
        n_ca1 = self.n_ca1
        for fld, n, a in (("coding_level", self.n_e, self.coding_level),
                          ("ca1_coding_level", n_ca1, self.ca1_coding_level)):
            if round(a * n) < 1:
                raise ValueError(f"{fld} {a} leaves no active cell among {n}; expected {fld} >= {1 / n:.3g}")
        for fld, p, n in (("p_ee", self.p_ee, self.n_e - 1), ("p_sc", self.p_sc, self.n_e),
                          ("p_ei", self.p_ei, self.n_e), ("p_ie", self.p_ie, self.n_i)):
            if round(p * n) < 1:
                raise ValueError(f"{fld} {p} leaves no synapse onto a cell ({n} possible inputs)")
        taus = {"tau_e": self.tau_e, "tau_i": self.tau_i, "tau_m_i": self.tau_m_i}
        shortest = min(taus, key=lambda k: taus[k].si)
        if self.dt.si > 0.5 * taus[shortest].si:
            raise ValueError(f"dt ({self.dt}) exceeds half the shortest time constant {shortest} "
                             f"({taus[shortest]}); expected dt <= {taus[shortest].si * 500:g} ms")
        for fld in ("t_encode", "t_gap", "t_reset", "t_recall"):
            ms = getattr(self, fld).si * 1e3
            if abs(ms / TIMELINE_MS - round(ms / TIMELINE_MS)) > 1e-6:
                raise ValueError(f"{fld} ({getattr(self, fld)}) must be a whole multiple of {TIMELINE_MS} ms")
        if self.t_recall.si < 2 * self.bin.si:
            raise ValueError(f"t_recall ({self.t_recall}) must hold at least two bins of {self.bin}")
        if self.readout_settle.si + self.readout_window.si > self.t_encode.si:
            raise ValueError(f"readout_settle + readout_window ({self.readout_settle} + {self.readout_window}) "
                             f"exceed t_encode ({self.t_encode})")
        return self

    @property
    def n_i(self) -> int:
        return max(1, int(round(self.i_per_e * self.n_e)))

    @property
    def n_ca1(self) -> int:
        return max(1, int(round(self.ca1_per_ca3 * self.n_e)))

    @property
    def n_ca1_i(self) -> int:
        return max(1, int(round(self.i_per_e * self.n_ca1)))


def scale_free_weight(J: float, k: int, a: float, nu: float, tau: float) -> float:
    """Per-synapse jump ``w = J / (K a nu tau)`` (volts) giving mean input J from K a active inputs at nu."""
    return J / (k * a * nu * tau)


class CA3SpikingV2(Model):
    """Spiking CA3 -> CA1 -> cortex (Brian2) with all four pathways learned online and a paired control."""

    description = ("Spiking EC->DG->CA3->CA1->cortex in Brian2, v2: all four excitatory pathways learned online "
                   "by one spike rule, scale-free strengths, item-local DG codes, topographic readout, "
                   "paired no-plasticity control")
    Params = CA3SpikingV2Params
    step_unit = "ms"
    overlap_measure = "code_correlation"
    knobs = {"inhibition": "inhibition", "gain": "gain"}
    tiny_params = {"n_e": 200, "t_encode": "80 ms", "t_recall": "60 ms", "t_gap": "20 ms", "t_reset": "20 ms",
                   "readout_settle": "30 ms", "weight_sample": 100}
    #: parameter overrides that each scale memory (tests/test_limits.py measures the estimate at each)
    memory_probes = ({"n_e": 240, "ca1_per_ca3": 2.0, "p_pp": 1.0, "p_sc": 0.5},)

    @classmethod
    def memory_estimate(cls, shape) -> dict:
        """Peak bytes of a run (:func:`hipposim.scenario.limits.spiking_estimate`): CA3 (``n_e``), CA1
        (``ca1_per_ca3 n_e``) and their interneurons (``i_per_e``); EC -> CA3 (``p_pp 2 N`` per CA3 cell,
        also onto the interneurons), recurrent, Schaffer, E <-> I and EC -> CA1 (``2 rf_side^2`` per CA1
        cell) synapses; all of it twice with the no-plasticity ``control`` copy; the 1-D timelines over
        ``P (t_encode + t_gap) + C (t_reset + t_recall)`` that index the EC and mossy-fibre look-up tables
        (one row per item and cue)."""
        from hipposim.scenario.limits import spiking_estimate

        n, p, c = shape.n_units, shape.n_items, shape.n_cues
        n_e = shape.num("n_e", 1000)
        i_per_e = shape.num("i_per_e", 0.2)
        n_i, n_ca1 = i_per_e * n_e, shape.num("ca1_per_ca3", 0.5) * n_e
        n_ca1_i = i_per_e * n_ca1
        prob = lambda key, d: min(shape.num(key, d), 1.0)  # noqa: E731
        rf = 2 * shape.num("rf_side", 3) ** 2
        synapses = (prob("p_pp", 0.2) * 2 * n * (n_e + n_i) + prob("p_ee", 0.2) * n_e * n_e
                    + prob("p_sc", 0.1) * n_e * n_ca1 + prob("p_ei", 0.2) * (n_e * n_i + n_ca1 * n_ca1_i)
                    + prob("p_ie", 0.2) * (n_i * n_e + n_ca1_i * n_ca1) + rf * n_ca1)
        seconds = (p * (shape.seconds("t_encode") + shape.seconds("t_gap"))
                   + c * (shape.seconds("t_reset") + shape.seconds("t_recall")))
        copies = 2 if shape.flag("control", True) else 1
        out = spiking_estimate(shape, cells=n_e + n_i + n_ca1 + n_ca1_i + 2 * n, synapses=synapses,
                               inputs=8, seconds=seconds, dt=shape.seconds("dt"), copies=copies)
        # the EC and mossy-fibre drives are look-up tables, one row per item and cue, indexed by a timeline
        out["tables"] = 3 * (p + c + 2) * (n_e + 2 * n) * 8.0
        return out

    records = ("overlap_control", "overlap_ca1", "overlap_ca1_ec_code", "reconstruction_window",
               "reconstruction_window_control", "cue_known", "rate_ca3_e", "rate_ca3_i", "rate_ca1_e",
               "rate_ca1_i", "population_rate", "ca3_e_spike_time", "ca3_e_spike_index", "ca1_e_spike_time",
               "ca1_e_spike_index", "weights_before", "weights_after", "ca3_code", "ca1_code", "ca1_ec_code",
               "phase_start", "phase_end", "degree_hist_in", "degree_hist_out", "reconstruction_raw",
               "readout_accuracy", "readout_window_accuracy", "pp_u_code", "pp_u_noncode")

    # ------------------------------------------------------------------ structure
    def _structure(self, stimulus: Stimulus, rng: np.random.Generator) -> dict:
        p = self.params
        n_units = stimulus.n_units
        n_ec = 2 * n_units
        items = stimulus.bipolar_patterns().astype(float)
        dg_seed = int(rng.integers(2**31))
        code3 = dg_code(items, p.n_e, p.coding_level, seed=dg_seed)
        rf1 = self._ca1_fields(n_units, stimulus.image_shape, rng)
        k = {"pp": int(round(p.p_pp * n_ec)), "ee": int(round(p.p_ee * (p.n_e - 1))),
             "sc": int(round(p.p_sc * p.n_e)), "ei": int(round(p.p_ei * p.n_e)), "ie": int(round(p.p_ie * p.n_i)),
             "ei1": int(round(p.p_ei * p.n_ca1)), "ie1": int(round(p.p_ie * p.n_ca1_i)), "ec1": 2 * rf1.shape[1]}
        edges = {
            "pp": fixed_indegree(n_ec, p.n_e, k["pp"], rng),
            "ee": fixed_indegree(p.n_e, p.n_e, k["ee"], rng, no_self=True),
            "sc": fixed_indegree(p.n_e, p.n_ca1, k["sc"], rng),
            "ei": fixed_indegree(p.n_e, p.n_i, k["ei"], rng),
            "ie": fixed_indegree(p.n_i, p.n_e, k["ie"], rng),
            "ffi": fixed_indegree(n_ec, p.n_i, k["pp"], rng),
            "ei1": fixed_indegree(p.n_ca1, p.n_ca1_i, k["ei1"], rng),
            "ie1": fixed_indegree(p.n_ca1_i, p.n_ca1, k["ie1"], rng),
            "ec1": patch_channels(rf1, n_units),
        }
        n_ec1 = len(edges["ec1"][0])
        u0 = {
            "pp": np.full(len(edges["pp"][0]), p.u0_pp),
            "ee": np.full(len(edges["ee"][0]), p.u0_ee),
            "sc": np.full(len(edges["sc"][0]), p.u0_sc),
            "ec1": np.clip(p.u0_ec1 + p.u0_ec1_spread * rng.uniform(-1, 1, n_ec1), 0, 1),
        }
        # the code EC imposes on CA1: kWTA of each item's initial EC -> CA1 drive
        item_ch = ec_channels(items, np.ones_like(items, dtype=bool))
        pre1, post1 = edges["ec1"]
        drive = np.stack([np.bincount(post1, weights=u0["ec1"] * item_ch[mu][pre1], minlength=p.n_ca1)
                          for mu in range(len(items))])
        k1 = int(round(p.ca1_coding_level * p.n_ca1))
        code1 = np.zeros_like(drive)
        np.put_along_axis(code1, np.argsort(-(drive + 1e-9 * rng.standard_normal(drive.shape)), axis=1)[:, :k1],
                          1.0, axis=1)
        cover = np.zeros((p.n_ca1, n_units), dtype=bool)
        cover[np.repeat(np.arange(p.n_ca1), rf1.shape[1]), rf1.ravel()] = True
        return {"code3": code3, "code1": code1, "rf1": rf1, "cover": cover, "k": k, "edges": edges, "u0": u0,
                "item_ch": item_ch, "dg_seed": dg_seed}

    def _pathways(self, s: dict) -> dict:
        from hipposim.backends.brian2.ca3_v2 import Pathway

        p = self.params
        a_ec, te, ti = 0.5, p.tau_e.si, p.tau_i.si
        k, e, u0 = s["k"], s["edges"], s["u0"]
        nu_e, nu_i, nu_ec = p.nu_e.si, p.nu_i.si, 0.5 * (p.ec_rate.si + p.ec_off_rate.si)
        a3, a1 = p.coding_level, p.ca1_coding_level
        inh = p.inhibition
        w = {
            "mf": scale_free_weight(p.J_mf.si, 1, 1.0, p.mf_rate.si, te),
            "pp": scale_free_weight(p.J_pp.si, k["pp"], a_ec, nu_ec, te),
            "ee": p.gain * scale_free_weight(p.J_ee.si, k["ee"], a3, nu_e, te),
            "ec1": scale_free_weight(p.J_ec1.si, k["ec1"], a_ec, nu_ec, te),
            "sc": scale_free_weight(p.J_sc.si, k["sc"], a3, nu_e, te),
            "ei": scale_free_weight(p.J_ei.si, k["ei"], a3, nu_e, te),
            "ie": inh * scale_free_weight(p.J_ie.si, k["ie"], 1.0, nu_i, ti),
            "ffi": scale_free_weight(p.J_ffi.si, k["pp"], a_ec, nu_ec, te),
            "ei1": scale_free_weight(p.J_ei1.si, k["ei1"], a1, nu_e, te),
            "ie1": inh * scale_free_weight(p.J_ie1.si, k["ie1"], 1.0, nu_i, ti),
        }
        n = p.n_e
        return {
            "mf": Pathway("mossy", "ca3_e", np.arange(n), np.arange(n), w["mf"]),
            "pp": Pathway("ec", "ca3_e", *e["pp"], w["pp"], u0["pp"], p.eta_pp, p.theta_pp, "pp", True),
            "ee": Pathway("ca3_e", "ca3_e", *e["ee"], w["ee"], u0["ee"], p.eta_ee, p.theta_ee, "rec"),
            "ec1": Pathway("ec", "ca1_e", *e["ec1"], w["ec1"], u0["ec1"], p.eta_ec1, p.theta_ec1, None, True),
            "sc": Pathway("ca3_e", "ca1_e", *e["sc"], w["sc"], u0["sc"], p.eta_sc, p.theta_sc, "rec"),
            "ei": Pathway("ca3_e", "ca3_i", *e["ei"], w["ei"]),
            "ie": Pathway("ca3_i", "ca3_e", *e["ie"], w["ie"]),
            **({"ffi": Pathway("ec", "ca3_i", *e["ffi"], w["ffi"], gate="pp")} if p.J_ffi.si > 0 else {}),
            "ei1": Pathway("ca1_e", "ca1_i", *e["ei1"], w["ei1"]),
            "ie1": Pathway("ca1_i", "ca1_e", *e["ie1"], w["ie1"]),
        }

    # ------------------------------------------------------------------ protocol
    def _timeline(self, stimulus: Stimulus, s: dict, recall_mossy: np.ndarray | None = None,
                  ec1_recall: float = 1.0):
        """Rate tables and the 10-ms timeline of switches.

        ``recall_mossy`` (C, n_e) Hz: mossy-fibre rates during each recall trial (None: silent);
        ``ec1_recall``: EC -> CA1 transmission during recall (1 during encoding).
        """
        p = self.params
        P, C = stimulus.n_patterns, len(stimulus.cues)
        known = stimulus.known.astype(bool)
        cues = stimulus.bipolar_cues() if stimulus.coding == "binary" else stimulus.cues.astype(float)
        if stimulus.coding == "bipolar":
            known = known & (cues != 0)
        cue_ch = ec_channels(cues, known)
        half = cue_ch.shape[1] // 2
        channel_rate = np.r_[np.full(half, p.ec_rate.si), np.full(half, p.ec_off_rate.si)]
        ec_table = np.concatenate([s["item_ch"], cue_ch, np.zeros((1, cue_ch.shape[1]))]) * channel_rate
        mossy_table = np.concatenate([s["code3"], np.zeros((1, p.n_e))]) * p.mf_rate.si
        silent_ec, silent_mf = P + C, P
        if recall_mossy is not None:
            mossy_table = np.concatenate([mossy_table, recall_mossy])
        recall_mf = (lambda c: P + 1 + c) if recall_mossy is not None else (lambda c: silent_mf)  # noqa: E731
        n = {f: int(round(getattr(p, f).si * 1e3 / TIMELINE_MS)) for f in ("t_encode", "t_gap", "t_reset",
                                                                          "t_recall")}
        rows, phases, t = [], [], 0   # (steps, ec row, mossy row, rec, pp, plastic, ec1)
        learn = 1.0 if p.plasticity else 0.0
        for mu, name in enumerate(stimulus.names):
            rows.append((n["t_encode"], mu, mu, p.ach, p.pp_encode, learn, 1.0))
            phases.append((f"encode_{name}", t, t + n["t_encode"] * TIMELINE_MS))
            t += n["t_encode"] * TIMELINE_MS
            rows.append((n["t_gap"], silent_ec, silent_mf, 0.0, 0.0, 0.0, 1.0))
            phases.append((f"gap_{mu}", t, t + n["t_gap"] * TIMELINE_MS))
            t += n["t_gap"] * TIMELINE_MS
        for c in range(C):
            rows.append((n["t_reset"], silent_ec, silent_mf, 0.0, 0.0, 0.0, ec1_recall))
            phases.append((f"reset_{c}", t, t + n["t_reset"] * TIMELINE_MS))
            t += n["t_reset"] * TIMELINE_MS
            rows.append((n["t_recall"], P + c, recall_mf(c), 1.0, 1.0, 0.0, ec1_recall))
            phases.append((f"recall_{c}", t, t + n["t_recall"] * TIMELINE_MS))
            t += n["t_recall"] * TIMELINE_MS
        rows = [r for r in rows if r[0] > 0]
        steps = [r[0] for r in rows]
        col = lambda j: np.repeat([r[j] for r in rows], steps)  # noqa: E731
        tl = {"ec_row": col(1), "mossy_row": col(2), "rec_gain": col(3).astype(float),
              "pp_gain": col(4).astype(float), "plastic": col(5).astype(float), "ec1_gain": col(6).astype(float)}
        return ec_table, mossy_table, tl, phases, t * 1e-3

    def _ca1_fields(self, n_units: int, image_shape, rng: np.random.Generator) -> np.ndarray:
        """CA1 receptive fields (v2: random patches, :func:`~hipposim.circuits.ca3.receptive_fields`)."""
        p = self.params
        return receptive_fields(p.n_ca1, n_units, p.rf_side, image_shape, rng)

    def _protocol(self, stimulus: Stimulus, s: dict):
        """The timeline this model runs (v2: silent mossy fibres and full EC -> CA1 at recall)."""
        return self._timeline(stimulus, s)

    def _spec_extras(self, s: dict, tl: dict) -> dict:
        """Extra :class:`~hipposim.backends.brian2.ca3_v2.V2Spec` fields of a derived model (none in v2)."""
        return {}

    def _readout_fit(self, x: np.ndarray, y: np.ndarray, s: dict) -> tuple[np.ndarray, np.ndarray]:
        """v2: the topographic readout (:func:`~hipposim.circuits.ca3.local_readout_fit`)."""
        return local_readout_fit(x, y, s["cover"], self.params.ridge)

    # ------------------------------------------------------------------ run
    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        from hipposim.backends.brian2.ca3_v2 import V2Spec, run_v2
        from hipposim.backends.brian2.lif import LIFConstants

        p = self.params
        wall0 = time.perf_counter()
        s = self._structure(stimulus, rng)
        ec_table, mossy_table, tl, phases, duration = self._protocol(stimulus, s)
        lif = {kind: LIFConstants(tau_m=(p.tau_m if kind == "e" else p.tau_m_i).si, tau_e=p.tau_e.si,
                                  tau_i=p.tau_i.si, v_rest=p.v_rest.si, v_reset=p.v_reset.si, v_th=p.v_th.si,
                                  t_ref=p.t_ref.si) for kind in ("e", "i")}
        spec = V2Spec(dt=p.dt.si, duration=duration, timeline_dt=TIMELINE_MS * 1e-3,
                      sizes={"ca3_e": p.n_e, "ca3_i": p.n_i, "ca1_e": p.n_ca1, "ca1_i": p.n_ca1_i,
                             "ec": 2 * stimulus.n_units},
                      lif_e=lif["e"], lif_i=lif["i"], b_adapt=p.b_adapt.si, tau_adapt=p.tau_adapt.si,
                      ec_table=ec_table, ec_row=tl["ec_row"], mossy_table=mossy_table, mossy_row=tl["mossy_row"],
                      rec_gain=tl["rec_gain"], pp_gain=tl["pp_gain"], plastic=tl["plastic"],
                      pathways=self._pathways(s), tau_stdp=p.tau_stdp.si, control=p.control,
                      seed=int(rng.integers(2**31)), target=p.target, **self._spec_extras(s, tl))
        out = run_v2(spec)
        return self._result(stimulus, rng, s, out, phases, duration, time.perf_counter() - wall0)

    # ------------------------------------------------------------------ result
    def _recall_seconds(self) -> float:
        """Length of each recorded recall window (v2: ``t_recall``)."""
        return self.params.t_recall.si

    def _bin_seconds(self) -> float:
        """Bin of the recorded rates and overlaps (v2: ``bin``)."""
        return self.params.bin.si

    def _readout(self, spikes, stimulus, s, phases, recall, sfx):
        """Fit the topographic readout on encoding CA1 counts of copy ``sfx``; apply it to every recall bin."""
        p = self.params
        n1, win, width = p.n_ca1, p.readout_window.si, self._bin_seconds()
        xs, ys, enc = [], [], []
        for mu, name in enumerate(stimulus.names):
            a, b = next((a, b) for nm, a, b in phases if nm == f"encode_{name}")
            start = a * 1e-3 + p.readout_settle.si
            n_win = int(round((b * 1e-3 - start) / win + 1e-9))
            cts = binned_counts(*spikes["ca1_e" + sfx], n1, start, start + n_win * win, win)
            xs.append(cts)
            enc.append(cts.sum(axis=0))
            ys.append(np.repeat(stimulus.bipolar_patterns()[mu][None, :], n_win, axis=0))
        w_ro, prior = self._readout_fit(np.concatenate(xs), np.concatenate(ys), s)
        n_bins = int(round(self._recall_seconds() / width))
        raw = np.zeros((len(recall), n_bins, stimulus.n_units))
        window = np.zeros((len(recall), stimulus.n_units))
        ca1_bins = np.zeros((len(recall), n_bins, n1))
        scale = win / width
        for c, (a, b) in enumerate(recall):
            c1 = binned_counts(*spikes["ca1_e" + sfx], n1, a * 1e-3, a * 1e-3 + self._recall_seconds(), width)
            ca1_bins[c] = c1
            raw[c] = (c1 * scale) @ w_ro + prior
            # second half of recall, as counts per readout window
            late = c1[n_bins // 2:].mean(axis=0) * scale
            window[c] = late @ w_ro + prior
        return raw, window, ca1_bins, np.stack(enc)

    def _result(self, stimulus, rng, s, out, phases, duration, wall):
        p = self.params
        width = self._bin_seconds()
        sizes = {"ca3_e": p.n_e, "ca3_i": p.n_i, "ca1_e": p.n_ca1, "ca1_i": p.n_ca1_i}
        spikes = out.spikes
        rate_bin = p.bin.si   # population rates and the runaway check: always in bins of ``bin``
        edges_t, pop_rates = population_rates(spikes, sizes, duration, rate_bin)
        check_activity(pop_rates, edges_t, p.max_rate.si, str(p.max_rate), out.final_v, duration)
        recall = [(a, b) for nm, a, b in phases if nm.startswith("recall_")]
        n_bins = int(round(self._recall_seconds() / width))
        centres = (np.arange(n_bins) + 0.5) * width * 1e3
        code3, code1 = s["code3"], s["code1"]
        C, P = len(recall), stimulus.n_patterns
        ov3 = np.zeros((C, n_bins, P))
        ov3_ctl = np.zeros((C, n_bins, P))
        rate_cue = {key: np.zeros((C, n_bins)) for key in spikes}
        spk3 = np.zeros((C, n_bins))
        for c, (a, b) in enumerate(recall):
            t0 = a * 1e-3
            c3 = binned_counts(*spikes["ca3_e"], p.n_e, t0, t0 + self._recall_seconds(), width)
            ov3[c] = overlaps(c3, code3, "binary")
            spk3[c] = c3.sum(axis=1)
            if p.control:
                ctl = binned_counts(*spikes["ca3_e_ctl"], p.n_e, t0, t0 + self._recall_seconds(), width)
                ov3_ctl[c] = overlaps(ctl, code3, "binary")
            for key, (t, _) in spikes.items():
                counts = np.histogram(t, bins=t0 + np.arange(n_bins + 1) * width)[0]
                rate_cue[key][c] = counts / (sizes[key.replace("_ctl", "")] * width)
        raw, window, ca1_bins, enc1 = self._readout(spikes, stimulus, s, phases, recall, "")
        ov1 = np.stack([overlaps(ca1_bins[c], code1, "binary") for c in range(C)])
        ov1_enc = np.stack([overlaps(ca1_bins[c], enc1, "binary") for c in range(C)])
        states = threshold_readout(raw, "bipolar")
        recon = threshold_readout(window, "bipolar")
        tgt = stimulus.bipolar_patterns()[stimulus.targets.astype(int)]
        if stimulus.coding == "binary":
            states, recon = (states + 1) / 2, (recon + 1) / 2
            tgt = (tgt + 1) / 2
        ds = standard_dataset(stimulus, states, ov3, None, np.full(C, -1, dtype=np.int64), step_values=centres,
                              step_unit="ms",
                              attrs={"overlap_measure": "code_correlation", "brian2_target": p.target,
                                     "rule": "stdp-symmetric (all four pathways)", "plasticity": int(p.plasticity),
                                     "control": int(p.control), "bin_ms": width * 1e3,
                                     "converged_step_meaning": "none: see hipposim.analysis",
                                     "build_s": out.timings.get("build_s", np.nan),
                                     "simulate_s": out.timings.get("run_s", np.nan), "wall_s": wall})
        ds["overlap_ca1"] = (("cue", "step", "pattern"), ov1_enc)
        ds["overlap_ca1_ec_code"] = (("cue", "step", "pattern"), ov1)
        ds["reconstruction_raw"] = (("cue", "step", "unit"), raw)
        ds["readout_accuracy"] = (("cue", "step"), np.mean(states == tgt[:, None, :], axis=2))
        ds["readout_window_accuracy"] = (("cue",), np.mean(recon == tgt, axis=1))
        ds["reconstruction_window"] = (("cue", "unit"), window)
        ds["cue_known"] = (("cue", "unit"), stimulus.known.astype(np.int8))
        if p.control:
            _, window_ctl, _, _ = self._readout(spikes, stimulus, s, phases, recall, "_ctl")
            ds["overlap_control"] = (("cue", "step", "pattern"), ov3_ctl)
            ds["reconstruction_window_control"] = (("cue", "unit"), window_ctl)
        ds["ca3_spike_count"] = (("cue", "step"), spk3)
        for key in spikes:
            ds[f"rate_{key}"] = (("cue", "step"), rate_cue[key], {"units": "Hz"})
        main = [k for k in pop_rates if not k.endswith("_ctl")]
        ds = ds.assign_coords(time=("time", (edges_t[:-1] + rate_bin / 2) * 1e3, {"units": "ms"}),
                              population=("population", main))
        ds["population_rate"] = (("population", "time"), np.stack([pop_rates[k] for k in main]),
                                 {"units": "Hz"})
        for key in ("ca3_e", "ca3_i", "ca1_e", "ca1_i"):
            t, i = spikes[key]
            ds[f"{key}_spike_time"] = ((f"{key}_spike",), t * 1e3, {"units": "ms"})
            ds[f"{key}_spike_index"] = ((f"{key}_spike",), i.astype(np.int64))
        ds = ds.assign_coords(phase=("phase", [nm for nm, _, _ in phases]))
        ds["phase_start"] = (("phase",), np.array([a for _, a, _ in phases], dtype=float), {"units": "ms"})
        ds["phase_end"] = (("phase",), np.array([b for _, _, b in phases], dtype=float), {"units": "ms"})
        ds["recall_start"] = (("cue",), np.array([a for a, _ in recall], dtype=float), {"units": "ms"})
        ds["ca3_code"] = (("pattern", "ca3_unit"), code3)
        ds["ca1_code"] = (("pattern", "ca1_unit"), enc1)
        ds["ca1_ec_code"] = (("pattern", "ca1_unit"), code1)
        sc_pre, sc_post = s["edges"]["sc"]
        ds["schaffer_pre"] = (("sc_synapse",), sc_pre)
        ds["schaffer_post"] = (("sc_synapse",), sc_post)
        ds["schaffer_w_before"] = (("sc_synapse",), s["u0"]["sc"])
        ds["schaffer_w_after"] = (("sc_synapse",), out.u["sc"])
        ds["ca1_field"] = (("ca1_unit", "field_unit"), s["rf1"].astype(np.int64))
        ee_pre, ee_post = s["edges"]["ee"]
        ds["ee_pre"] = (("ee_synapse",), ee_pre)
        ds["ee_post"] = (("ee_synapse",), ee_post)
        ds["ee_w_before"] = (("ee_synapse",), s["u0"]["ee"])
        ds["ee_w_after"] = (("ee_synapse",), out.u["ee"])
        sample, sample_item = weight_sample(code3, p.weight_sample)
        ds = ds.assign_coords(ca3_sample=("ca3_sample", sample), ca3_sample_item=("ca3_sample", sample_item))
        ds["weights_before"] = (("ca3_sample_pre", "ca3_sample"), dense_sample(ee_pre, ee_post, s["u0"]["ee"], sample))
        ds["weights_after"] = (("ca3_sample_pre", "ca3_sample"), dense_sample(ee_pre, ee_post, out.u["ee"], sample))
        # learned perforant path: mean u from an item's active channels onto its code cells, and onto the rest
        pp_pre, pp_post = s["edges"]["pp"]
        on = s["item_ch"][:, pp_pre] > 0                     # (P, synapses)
        in_code = code3[:, pp_post] > 0
        u_pp = out.u["pp"]
        ds["pp_u_code"] = (("pattern",), np.array([u_pp[on[m] & in_code[m]].mean() for m in range(P)]))
        ds["pp_u_noncode"] = (("pattern",), np.array([u_pp[on[m] & ~in_code[m]].mean() for m in range(P)]))
        gs = graph_statistics(ee_pre, ee_post, p.n_e, rng)
        ds["degree_hist_in"] = (("degree",), gs["degree_hist_in"].astype(np.int64))
        ds["degree_hist_out"] = (("degree",), gs["degree_hist_out"].astype(np.int64))
        ds = ds.assign_coords(degree=("degree", np.arange(len(gs["degree_hist_in"]))))
        for key in ("clustering", "mean_shortest_path", "density"):
            if key in gs:
                ds.attrs[f"graph_{key}"] = gs[key]
        return ds
