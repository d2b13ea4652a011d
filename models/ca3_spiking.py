"""A spiking CA3 -> CA1 -> cortex model in Brian2 whose recurrent synapses learn online.

Circuit (Marr 1971; Treves & Rolls 1994; the README's spiking CA3 sections):

* **EC** (entorhinal input layer): two Poisson channels per item unit, an "on"
  channel that fires at ``ec_rate`` when the unit is +1 (or 1) and an "off"
  channel that fires when it is known to be -1 (or 0). A masked unit silences
  both, so a cue carries exactly what is known about the item.
* **DG teacher** (numpy): each CA3 cell sees a small local receptive field of
  item units (a ``rf_side`` x ``rf_side`` patch of the image, or a run of
  ``rf_side**2`` consecutive units for non-image items) through fixed random
  weights; the item, centred on the mean of the stored items, is projected
  through them and a k-winners-take-all keeps the ``coding_level`` fraction of
  cells with the largest input. That set is the item's CA3 code. During
  encoding, mossy fibres (one Poisson source per CA3 cell, strong synapses)
  impose the code.
* **CA3**: ``n_e`` LIF pyramidal cells, recurrent collaterals built with
  networkx (``topology``), ``n_i`` basket cells giving feedback inhibition.
* **Perforant path** (EC -> CA3): each CA3 cell receives the EC channels of its
  own receptive field. Its weights follow a one-shot Hebbian covariance rule
  between EC activity and the CA3 code the mossy fibres impose (see
  :func:`perforant_projection`); they are computed in numpy before the
  simulation, which is equivalent to learning them during encoding because
  perforant transmission onto CA3 is switched off until recall, where it
  carries the cue only. Because the receptive fields
  are local, a cue that shows half of an image drives the part of the item's
  code whose receptive fields lie in the visible half, i.e. "the portion of
  the code that the visible part determines"; the recurrent collaterals must
  complete the rest.
* **CA1**: ``n_ca1`` LIF cells plus interneurons. EC -> CA1 (temporoammonic)
  synapses target, for each item, a kWTA set of CA1 cells made the same way as
  CA3's code (own receptive fields); they follow the same covariance rule and
  stay on in both phases. Schaffer collaterals CA3 -> CA1 learn online with the same rule
  as the recurrent synapses.
* **Cortex readout**: ridge regression (scipy) from L2-normalised CA1 spike
  counts, averaged over ``readout_window`` windows during encoding, to the item.
  Applied to every recall bin it gives the reconstruction over time.

Learning rules (``rule``; the same on recurrent and Schaffer synapses, gated by ``plastic(t)``):

* ``stdp-symmetric``: symmetric STDP with a depression offset theta
  (:mod:`hipposim.backends.brian2.network`). For independent Poisson trains its drift is
  ``dw/dt = eta (2 tau_stdp r_pre r_post - theta (r_pre + r_post))``: co-active pairs
  potentiate, a pair with one side active depresses (pre-active/post-silent and
  pre-silent/post-active alike), silent/silent pairs stay. It has no ``a^2`` term, so it is
  not the covariance rule of Tsodyks & Feigel'man (1988).
* ``covariance``: the rate-based covariance rule with a postsynaptic threshold (Sejnowski
  1977; Dayan & Abbott 2001, Sect. 8.2), ``dw/dt = eta_cov (nu_pre / nu_ref) (nu_post /
  nu_ref - a)`` on low-pass rate traces nu. Averaged over the stored items it follows
  ``sum_mu xi_pre^mu (xi_post^mu - a)``: co-active pairs potentiate, pre-active/post-silent
  pairs depress, pairs with a silent presynaptic cell (silent/silent, pre-silent/post-active)
  stay. ``eta_cov`` is a rate (1/s), not the per-pairing step ``eta`` of STDP.

Asymmetric STDP, which stores the order of items presented in sequence, lives in the
sequence phase of ``ca3-spiking-v3`` (``ee_rule: stdp-asymmetric``).

Phases: each item is presented for ``t_encode`` (recurrent transmission scaled
by ``ach_scale``, synapses learn), followed by a silent ``t_gap``. Each cue is
preceded by a ``t_reset`` with no input and no recurrent transmission, then
presented for ``t_recall`` with full recurrent transmission; synapses learn at
recall only if ``plasticity_at_recall``.

Overlap: m_mu(t) is the Pearson correlation between the vector of CA3 spike
counts in a ``bin`` window and the CA3 code of item mu.
CA1's code of an item is CA1's own activity while the item was presented (its
spike counts over the readout samples of encoding): that is the pattern the
Schaffer collaterals learn to evoke and the cortex readout is fitted on.
``overlap_ca1`` is measured against it; ``overlap_ca1_ec_code`` against the
kWTA set that the EC -> CA1 weights were derived from, which encoding
activity only approximates (EC cross-talk adds cells, inhibition drops some).
"""
from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from hipposim.circuits.ca3 import (ec_channels, kwta_codes, perforant_projection, random_projection,
                                   receptive_fields)
from hipposim.circuits.graphs import graph_statistics, recurrent_graph
from hipposim.circuits.recording import check_activity, dense_sample, population_rates, weight_sample
from hipposim.contract import Model, Params, standard_dataset
from hipposim.functional.coding import normalise_rows, threshold_readout
from hipposim.functional.retrieval import overlaps
from hipposim.functional.ridge import fit_ridge
from hipposim.functional.spikes import binned_counts
from hipposim.stimuli import Stimulus
from hipposim.contract import GainFactor, InhibitionFactor
from hipposim.units import Rate, Strength, Time, Voltage

Rule = Literal["stdp-symmetric", "covariance"]
#: rules that were offered once and are refused with the reason
REMOVED_RULES = {
    "stdp-asymmetric": ("rule 'stdp-asymmetric' is not offered by ca3-spiking-v1: it stores the order of items "
                        "only when they are presented in sequence, which v1 does not do (each item is followed "
                        "by a silent gap, so it stored nothing). Use ca3-spiking-v3 with ee_rule: "
                        "stdp-asymmetric and sequence patterns; v1 offers stdp-symmetric and covariance"),
}
Topology = Literal["random", "small_world", "distance"]
TargetName = Literal["numpy", "cython", "cpp_standalone"]
SPIKING_POPULATIONS = ("ca3_e", "ca3_i", "ca1_e", "ca1_i", "ec")


class CA3SpikingParams(Params):
    """Parameters of :class:`CA3Spiking`. Quantities are strings with units."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              validate_default=True)

    # sizes and codes
    n_e: int = Field(1000, ge=10, description="CA3 pyramidal cells")
    n_i: int = Field(200, ge=1, description="CA3 basket cells (feedback inhibition)")
    n_ca1: int = Field(500, ge=10, description="CA1 pyramidal cells")
    n_ca1_i: int = Field(100, ge=1, description="CA1 interneurons")
    coding_level: float = Field(0.1, gt=0, lt=1, description="fraction of CA3 cells in each item's code")
    ca1_coding_level: float = Field(0.1, gt=0, lt=1, description="fraction of CA1 cells in each item's code")
    rf_side: int = Field(3, ge=1, description="side of the local receptive field (patch) of a cell, in units")
    # connectivity
    topology: Topology = Field("random", description="recurrent CA3 graph: random, small_world or distance")
    p_ee: float = Field(0.1, ge=0, le=1, description="CA3 recurrent connection probability")
    rewire: float = Field(0.1, ge=0, le=1, description="small_world: rewiring probability")
    length_scale: float = Field(0.1, gt=0, le=1, description="distance: decay length on the unit ring")
    p_ei: float = Field(0.1, ge=0, le=1, description="pyramidal -> interneuron probability")
    p_ie: float = Field(0.2, ge=0, le=1, description="interneuron -> pyramidal probability")
    p_sc: float = Field(0.1, ge=0, le=1, description="Schaffer collateral (CA3 -> CA1) probability")
    # neurons
    tau_m: Time = Field("20 ms", description="membrane time constant of pyramidal cells")
    tau_m_i: Time = Field("10 ms", description="membrane time constant of interneurons")
    tau_e: Time = Field("5 ms", description="excitatory synaptic time constant")
    tau_i: Time = Field("10 ms", description="inhibitory synaptic time constant")
    t_ref: Time = Field("2 ms", description="refractory period")
    v_rest: Voltage = Field("-65 mV", description="resting (and reset) potential")
    v_th: Voltage = Field("-50 mV", description="firing threshold")
    # synaptic strengths (jump of the synaptic variable per spike)
    w_ee: Strength = Field("18 mV", description="recurrent CA3 synapse at weight 1")
    w_init: float = Field(0.1, ge=0, description="initial recurrent/Schaffer weight (mean, in [0, w_max])")
    w_init_spread: float = Field(0.02, ge=0, description="half-width of the uniform initial weight spread")
    w_mf: Strength = Field("30 mV", description="mossy fibre synapse")
    w_pp: Strength = Field("20 mV", description="mean perforant path (EC -> CA3) synapse of a coding cell")
    w_ec_ca1: Strength = Field("14 mV", description="mean EC -> CA1 synapse of a coding cell")
    w_sc: Strength = Field("20 mV", description="Schaffer synapse at weight 1")
    w_ei: Strength = Field("4 mV", description="pyramidal -> interneuron synapse")
    w_ie: Strength = Field("1.5 mV", description="CA3 interneuron -> pyramidal synapse")
    w_ie_ca1: Strength = Field("8 mV", description="CA1 interneuron -> pyramidal synapse")
    inhibition: InhibitionFactor = 1.0
    gain: GainFactor = 1.0
    # drives
    mf_rate: Rate = Field("200 Hz", description="mossy fibre rate onto code cells during encoding")
    ec_rate: Rate = Field("40 Hz", description="rate of an active EC channel")
    # plasticity
    plasticity: bool = Field(True, description="master switch: synapses learn at all")
    plasticity_at_recall: bool = Field(False, description="keep learning during recall")
    rule: Rule = Field("stdp-symmetric", description="learning rule of recurrent and Schaffer synapses")
    eta: float = Field(0.04, ge=0, description="STDP learning rate (weight change per spike pairing)")
    theta: float = Field(0.5, ge=0, description="depression offset of the symmetric STDP rule")
    eta_cov: Rate = Field("4 Hz", description="covariance rule: rate of weight change, dw/dt at "
                          "nu_pre = nu_post = nu_ref is eta_cov (1 - coding_level)")
    tau_stdp: Time = Field("40 ms", description="STDP trace time constant")
    w_max: float = Field(1.0, gt=0, description="upper weight bound")
    nu_ref: Rate = Field("50 Hz", description="covariance rule: reference rate of an active cell")

    @field_validator("rule", mode="before")
    @classmethod
    def _removed_rule(cls, value):
        if isinstance(value, str) and value in REMOVED_RULES:
            raise ValueError(REMOVED_RULES[value])
        return value
    ach_scale: float = Field(0.3, ge=0, le=1, description="recurrent transmission during encoding "
                                                          "(acetylcholine-like switch)")
    # protocol
    t_encode: Time = Field("200 ms", description="presentation time of each item")
    t_gap: Time = Field("50 ms", description="silence after each item")
    t_reset: Time = Field("50 ms", description="reset before each recall trial")
    t_recall: Time = Field("150 ms", description="duration of each recall trial")
    bin: Time = Field("10 ms", description="bin for rates and overlaps")
    readout_window: Time = Field("20 ms", description="window of the encoding samples fitting the readout")
    readout_settle: Time = Field("40 ms", description="encoding time skipped before readout samples")
    ridge: float = Field(1e-2, gt=0, description="ridge penalty of the cortex readout")
    # numerics
    dt: Time = Field("0.1 ms", description="integration time step")
    target: TargetName = Field("numpy", description="Brian2 code-generation target")
    max_rate: Rate = Field("300 Hz", description="population rate above which the run is stopped as runaway")
    weight_sample: int = Field(300, ge=2, description="CA3 cells kept in the recorded weight matrices")
    record_ec: bool = Field(True, description="record EC spikes")

    @model_validator(mode="after")
    def _cross_checks(self) -> "CA3SpikingParams":
        if self.v_th.si <= self.v_rest.si:
            raise ValueError(f"v_th ({self.v_th}) must lie above v_rest ({self.v_rest}); expected v_th > v_rest")
        for field, n, a in (("coding_level", self.n_e, self.coding_level),
                            ("ca1_coding_level", self.n_ca1, self.ca1_coding_level)):
            if round(a * n) < 1:
                raise ValueError(f"{field} {a} leaves no active unit among {n} cells; expected "
                                 f"{field} >= {1 / n:.3g}")
        taus = {"tau_m": self.tau_m, "tau_m_i": self.tau_m_i, "tau_e": self.tau_e, "tau_i": self.tau_i,
                "tau_stdp": self.tau_stdp}
        shortest = min(taus, key=lambda k: taus[k].si)
        if self.dt.si > taus[shortest].si:
            raise ValueError(f"dt ({self.dt}) is larger than the shortest time constant "
                             f"{shortest} ({taus[shortest]}); expected dt <= {taus[shortest]}")
        for name in ("t_encode", "t_recall", "t_gap", "t_reset", "bin", "readout_window"):
            value = getattr(self, name)
            if value.si < self.dt.si:
                raise ValueError(f"{name} ({value}) is shorter than dt ({self.dt}); expected {name} >= dt")
        for name in ("t_encode", "t_recall", "t_gap", "t_reset"):
            ms = getattr(self, name).si * 1e3
            if abs(ms - round(ms)) > 1e-6:
                raise ValueError(f"{name} ({getattr(self, name)}) must be a whole number of ms")
        if self.t_recall.si < self.bin.si:
            raise ValueError(f"t_recall ({self.t_recall}) is shorter than bin ({self.bin})")
        if self.readout_settle.si + self.readout_window.si > self.t_encode.si:
            raise ValueError(f"readout_settle + readout_window ({self.readout_settle} + {self.readout_window}) "
                             f"exceed t_encode ({self.t_encode})")
        if not 0 <= self.w_init <= self.w_max:
            raise ValueError(f"w_init ({self.w_init}) must lie in [0, w_max={self.w_max}]")
        return self


class CA3Spiking(Model):
    """Spiking CA3 (LIF, STDP-learned recurrent collaterals) -> CA1 -> cortex readout, in Brian2."""

    description = ("Spiking CA3 -> CA1 -> cortex in Brian2: LIF cells, feedback inhibition, "
                   "recurrent synapses learned online by STDP")
    Params = CA3SpikingParams
    step_unit = "ms"
    knobs = {"inhibition": "inhibition", "gain": "gain"}
    #: a small, fast network for tests and smoke runs
    tiny_params = {"n_e": 200, "n_i": 40, "n_ca1": 100, "n_ca1_i": 20, "t_encode": "80 ms", "t_recall": "60 ms",
                   "t_gap": "20 ms", "t_reset": "20 ms", "readout_settle": "30 ms", "weight_sample": 100}
    #: parameter overrides that each scale memory (tests/test_limits.py measures the estimate at each)
    memory_probes = ({"n_e": 500, "p_ee": 0.3},)

    @classmethod
    def memory_estimate(cls, shape) -> dict:
        """Peak bytes of a run (:func:`hipposim.scenario.limits.spiking_estimate`): CA3 and CA1 pyramidal
        cells and interneurons; recurrent, Schaffer, E -> I and I -> E synapses and the EC -> CA3 / CA1
        receptive-field synapses (``2 rf_side^2`` per cell); EC (``2 N``), mossy-fibre and gain timelines
        at every time step over ``P (t_encode + t_gap) + C (t_reset + t_recall)``."""
        from hipposim.scenario.limits import spiking_estimate

        n, p, c = shape.n_units, shape.n_items, shape.n_cues
        n_e, n_i = shape.num("n_e", 1000), shape.num("n_i", 200)
        n_ca1, n_ca1_i = shape.num("n_ca1", 500), shape.num("n_ca1_i", 100)
        prob = lambda key, d: min(shape.num(key, d), 1.0)  # noqa: E731
        rf = 2 * shape.num("rf_side", 3) ** 2
        synapses = (n_e * n_e * prob("p_ee", 0.1) + n_e * n_ca1 * prob("p_sc", 0.1)
                    + (n_e * n_i + n_ca1 * n_ca1_i) * prob("p_ei", 0.1)
                    + (n_i * n_e + n_ca1_i * n_ca1) * prob("p_ie", 0.2) + (n_e + n_ca1) * rf)
        seconds = (p * (shape.seconds("t_encode") + shape.seconds("t_gap"))
                   + c * (shape.seconds("t_reset") + shape.seconds("t_recall")))
        return spiking_estimate(shape, cells=n_e + n_i + n_ca1 + n_ca1_i + 2 * n, synapses=synapses,
                                inputs=n_e + 2 * n + 4, seconds=seconds, dt=shape.seconds("dt"))

    records = ("overlap_ca1", "overlap_ca1_ec_code", "rate_ca3_e", "rate_ca3_i", "rate_ca1_e", "rate_ca1_i", "rate_ec",
               "population_rate", "ca3_e_spike_time", "ca3_e_spike_index", "ca1_e_spike_time", "ca1_e_spike_index",
               "weights_before", "weights_after", "ee_w_before", "ee_w_after", "schaffer_w_before",
               "schaffer_w_after", "ca3_code", "ca1_code", "ca1_ec_code", "phase_start", "phase_end",
               "degree_hist_in", "degree_hist_out", "reconstruction_raw", "readout_accuracy",
               "readout_window_accuracy")

    @classmethod
    def check_scenario(cls, params: CA3SpikingParams, scenario) -> None:
        """Checks that need the scenario: enough CA3 cells per stored item."""
        count = getattr(scenario.patterns, "count", None) or len(getattr(scenario.patterns, "names", []))
        if count and round(params.coding_level * params.n_e) < 2:
            raise ValueError("coding_level * n_e must give at least 2 cells per item code")

    # ------------------------------------------------------------------ structure
    def _structure(self, stimulus: Stimulus, rng: np.random.Generator) -> dict:
        p = self.params
        n_units = stimulus.n_units
        items = stimulus.patterns.astype(float)
        item_known = np.ones_like(items, dtype=bool)
        item_ch = ec_channels(items, item_known)
        rf3 = receptive_fields(p.n_e, n_units, p.rf_side, stimulus.image_shape, rng)
        rf1 = receptive_fields(p.n_ca1, n_units, p.rf_side, stimulus.image_shape, rng)
        code3 = kwta_codes(items, rf3, p.coding_level, rng)
        code1 = kwta_codes(items, rf1, p.ca1_coding_level, rng)
        graph = recurrent_graph(p.n_e, p.p_ee, p.topology, rng, p.rewire, p.length_scale)
        edges = np.array(sorted(graph.edges()), dtype=np.int64).reshape(-1, 2)
        ee_pre, ee_post = edges[:, 0], edges[:, 1]
        ee_w0 = np.clip(p.w_init + p.w_init_spread * rng.uniform(-1, 1, len(ee_pre)), 0, p.w_max)
        sc = np.nonzero(rng.random((p.n_e, p.n_ca1)) < p.p_sc)
        sc_w0 = np.clip(p.w_init + p.w_init_spread * rng.uniform(-1, 1, len(sc[0])), 0, p.w_max)
        return {"rf3": rf3, "rf1": rf1, "code3": code3, "code1": code1, "item_ch": item_ch,
                "ee": (ee_pre, ee_post, ee_w0), "sc": (sc[0], sc[1], sc_w0)}

    @staticmethod
    def lif_constants(p: CA3SpikingParams, kind: str):
        """The backend's LIF constants of pyramidal cells (``kind`` "e") or interneurons ("i"), from ``p``."""
        from hipposim.backends.brian2.lif import LIFConstants

        return LIFConstants(tau_m=(p.tau_m if kind == "e" else p.tau_m_i).si, tau_e=p.tau_e.si, tau_i=p.tau_i.si,
                            v_rest=p.v_rest.si, v_reset=p.v_rest.si, v_th=p.v_th.si, t_ref=p.t_ref.si)

    @staticmethod
    def _random_projection(n_pre: int, n_post: int, prob: float, weight: float, rng):
        from hipposim.backends.brian2.network import Projection

        return Projection(*random_projection(n_pre, n_post, prob, weight, rng))

    # ------------------------------------------------------------------ protocol
    def _timeline(self, stimulus: Stimulus, codes3: np.ndarray, item_ch: np.ndarray):
        p = self.params
        step = 1e-3
        n_ms = {k: int(round(getattr(p, k).si * 1e3)) for k in ("t_encode", "t_gap", "t_reset", "t_recall")}
        known = stimulus.known.astype(bool)
        if stimulus.coding == "bipolar":
            known = known & (stimulus.cues != 0)
        cue_ch = ec_channels(stimulus.cues.astype(float), known)
        phases: list[tuple[str, int, int]] = []
        rows = []  # (length, mossy(n_e), ec(2N), rec_gain, pp_gain, plastic)
        t = 0
        zeros_e, zeros_ec = np.zeros(p.n_e), np.zeros(item_ch.shape[1])
        learn = 1.0 if p.plasticity else 0.0
        for mu, name in enumerate(stimulus.names):
            rows.append((n_ms["t_encode"], codes3[mu] * p.mf_rate.si, item_ch[mu] * p.ec_rate.si,
                         p.ach_scale, 0.0, learn))
            phases.append((f"encode_{name}", t, t + n_ms["t_encode"]))
            t += n_ms["t_encode"]
            rows.append((n_ms["t_gap"], zeros_e, zeros_ec, p.ach_scale, 0.0, 0.0))
            phases.append((f"gap_{mu}", t, t + n_ms["t_gap"]))
            t += n_ms["t_gap"]
        for c in range(len(stimulus.cues)):
            rows.append((n_ms["t_reset"], zeros_e, zeros_ec, 0.0, 0.0, 0.0))
            phases.append((f"reset_{c}", t, t + n_ms["t_reset"]))
            t += n_ms["t_reset"]
            rows.append((n_ms["t_recall"], zeros_e, cue_ch[c] * p.ec_rate.si, 1.0, 1.0,
                         learn if p.plasticity_at_recall else 0.0))
            phases.append((f"recall_{c}", t, t + n_ms["t_recall"]))
            t += n_ms["t_recall"]
        lengths = [r[0] for r in rows]
        tl = {
            "mossy": np.repeat(np.stack([r[1] for r in rows]), lengths, axis=0),
            "ec": np.repeat(np.stack([r[2] for r in rows]), lengths, axis=0),
            "rec_gain": np.repeat([r[3] for r in rows], lengths).astype(float),
            "pp_gain": np.repeat([r[4] for r in rows], lengths).astype(float),
            "plastic": np.repeat([r[5] for r in rows], lengths).astype(float),
        }
        return tl, phases, t * step, step

    # ------------------------------------------------------------------ run
    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        from hipposim.backends.brian2.network import NetworkSpec, Projection, build_and_run

        p = self.params
        t_start = time.perf_counter()
        s = self._structure(stimulus, rng)
        n_units = stimulus.n_units
        pp = perforant_projection(s["rf3"], s["code3"], s["item_ch"], n_units, p.w_pp.si)
        ec1 = perforant_projection(s["rf1"], s["code1"], s["item_ch"], n_units, p.w_ec_ca1.si)
        fixed = {
            "ec__ca3_e__pp": Projection(*pp),
            "ec__ca1_e__ta": Projection(*ec1),
            "ca3_e__ca3_i__fb": self._random_projection(p.n_e, p.n_i, p.p_ei, p.w_ei.si, rng),
            "ca3_i__ca3_e__fb": self._random_projection(p.n_i, p.n_e, p.p_ie, p.inhibition * p.w_ie.si, rng),
            "ca1_e__ca1_i__fb": self._random_projection(p.n_ca1, p.n_ca1_i, p.p_ei, p.w_ei.si, rng),
            "ca1_i__ca1_e__fb": self._random_projection(p.n_ca1_i, p.n_ca1, p.p_ie, p.w_ie_ca1.si, rng),
        }
        tl, phases, duration, tl_dt = self._timeline(stimulus, s["code3"], s["item_ch"])
        lif_e, lif_i = self.lif_constants(p, "e"), self.lif_constants(p, "i")
        ee_pre, ee_post, ee_w0 = s["ee"]
        sc_pre, sc_post, sc_w0 = s["sc"]
        spec = NetworkSpec(
            dt=p.dt.si, duration=duration,
            sizes={"ca3_e": p.n_e, "ca3_i": p.n_i, "ca1_e": p.n_ca1, "ca1_i": p.n_ca1_i, "ec": 2 * n_units},
            lif_e=lif_e, lif_i=lif_i, timeline_dt=tl_dt,
            mossy_rates=tl["mossy"], ec_rates=tl["ec"], rec_gain=tl["rec_gain"], pp_gain=tl["pp_gain"],
            plastic=tl["plastic"],
            ee=Projection(ee_pre, ee_post, ee_w0), schaffer=Projection(sc_pre, sc_post, sc_w0), fixed=fixed,
            w_ee=p.gain * p.w_ee.si, w_sc=p.w_sc.si, w_mf=p.w_mf.si, rule=p.rule, eta=p.eta, theta=p.theta,
            eta_cov=p.eta_cov.si, tau_stdp=p.tau_stdp.si, w_max=p.w_max, nu_ref=p.nu_ref.si,
            coding_level=p.coding_level, seed=int(rng.integers(2**31)), target=p.target,
            record_ec=p.record_ec)
        out = build_and_run(spec)
        self.weights_ = out.ee_w
        self.codes_ = s["code3"]
        return self._result(stimulus, rng, s, out, phases, duration, time.perf_counter() - t_start)

    # ------------------------------------------------------------------ result
    def _result(self, stimulus, rng, s, out, phases, duration, wall):

        p = self.params
        width = p.bin.si
        sizes = {"ca3_e": p.n_e, "ca3_i": p.n_i, "ca1_e": p.n_ca1, "ca1_i": p.n_ca1_i, "ec": 2 * stimulus.n_units}
        spikes = out.spikes
        # runaway / NaN checks
        edges_t, pop_rates = population_rates(spikes, sizes, duration, width)
        check_activity(pop_rates, edges_t, p.max_rate.si, str(p.max_rate), out.final_v, duration)

        recall = [(a, b) for name, a, b in phases if name.startswith("recall_")]
        n_bins = int(round(p.t_recall.si / width))
        centres = (np.arange(n_bins) + 0.5) * width * 1e3
        code3, code1 = s["code3"], s["code1"]
        n_cues = len(recall)
        ov3 = np.zeros((n_cues, n_bins, stimulus.n_patterns))
        ov1 = np.zeros_like(ov3)
        ca1_bins = np.zeros((n_cues, n_bins, p.n_ca1))
        rate_cue = {pop: np.zeros((n_cues, n_bins)) for pop in spikes}
        spikes_ca3_bin = np.zeros((n_cues, n_bins))
        for c, (a, b) in enumerate(recall):
            t0 = a * 1e-3
            c3 = binned_counts(*spikes["ca3_e"], p.n_e, t0, t0 + p.t_recall.si, width)
            c1 = binned_counts(*spikes["ca1_e"], p.n_ca1, t0, t0 + p.t_recall.si, width)
            ov3[c] = overlaps(c3, code3, "binary")
            ov1[c] = overlaps(c1, code1, "binary")
            ca1_bins[c] = c1
            spikes_ca3_bin[c] = c3.sum(axis=1)
            for pop, (t, i) in spikes.items():
                counts = np.histogram(t, bins=t0 + np.arange(n_bins + 1) * width)[0]
                rate_cue[pop][c] = counts / (sizes[pop] * width)

        # cortex readout: ridge from normalised CA1 counts in encoding windows to the items
        xs, ys = [], []
        win, settle = p.readout_window.si, p.readout_settle.si
        for mu, name in enumerate(stimulus.names):
            a, b = next((a, b) for nm, a, b in phases if nm == f"encode_{name}")
            start = a * 1e-3 + settle
            n_win = int((b * 1e-3 - start) // win)
            cts = binned_counts(*spikes["ca1_e"], p.n_ca1, start, start + n_win * win, win)
            xs.append(normalise_rows(cts))
            ys.append(np.repeat(stimulus.patterns[mu][None, :].astype(float), n_win, axis=0))
        w_ro, b_ro = fit_ridge(np.concatenate(xs), np.concatenate(ys), p.ridge)
        # CA1's own representation of each item: its spike counts while the item was presented
        ca1_encoding = np.stack([x.sum(axis=0) for x in xs])
        ov1_enc = np.stack([overlaps(ca1_bins[c], ca1_encoding, "binary") for c in range(n_cues)])
        raw = normalise_rows(ca1_bins) @ w_ro + b_ro                     # (cue, step, unit)
        states = threshold_readout(raw, stimulus.coding)
        window_avg = normalise_rows(ca1_bins.sum(axis=1)) @ w_ro + b_ro  # recall-window average
        recon = threshold_readout(window_avg, stimulus.coding)
        targets = stimulus.targets.astype(int)
        tgt = stimulus.patterns[targets]
        accuracy = np.mean(recon == tgt, axis=1)
        per_bin_acc = np.mean(states == tgt[:, None, :], axis=2)

        converged = np.full(n_cues, -1, dtype=np.int64)  # no fixed point; analysis judges the overlap

        ds = standard_dataset(stimulus, states, ov3, None, converged, step_values=centres, step_unit="ms",
                              attrs={"overlap_measure": "code_correlation",
                                     "brian2_target": p.target, "rule": p.rule,
                                     "plasticity": int(p.plasticity),
                                     "plasticity_at_recall": int(p.plasticity_at_recall),
                                     "topology": p.topology, "bin_ms": width * 1e3,
                                     "converged_step_meaning": "none: see hipposim.analysis (first bin at "
                                                               "the code success level)",
                                     "build_s": out.timings.get("build_s", np.nan),
                                     "simulate_s": out.timings.get("run_s", np.nan),
                                     "wall_s": wall})
        ds["overlap_ca1"] = (("cue", "step", "pattern"), ov1_enc)
        ds["overlap_ca1_ec_code"] = (("cue", "step", "pattern"), ov1)
        ds["reconstruction_raw"] = (("cue", "step", "unit"), raw)
        ds["readout_accuracy"] = (("cue", "step"), per_bin_acc)
        ds["readout_window_accuracy"] = (("cue",), accuracy)
        ds["ca3_spike_count"] = (("cue", "step"), spikes_ca3_bin)
        for pop in spikes:
            ds[f"rate_{pop}"] = (("cue", "step"), rate_cue[pop], {"units": "Hz"})
        ds = ds.assign_coords(time=("time", (edges_t[:-1] + width / 2) * 1e3, {"units": "ms"}),
                              population=("population", list(pop_rates)))
        ds["population_rate"] = (("population", "time"), np.stack([pop_rates[k] for k in pop_rates]),
                                 {"units": "Hz"})
        for pop, (t, i) in spikes.items():
            ds[f"{pop}_spike_time"] = ((f"{pop}_spike",), t * 1e3, {"units": "ms"})
            ds[f"{pop}_spike_index"] = ((f"{pop}_spike",), i.astype(np.int64))
        ds = ds.assign_coords(phase=("phase", [nm for nm, _, _ in phases]))
        ds["phase_start"] = (("phase",), np.array([a for _, a, _ in phases], dtype=float), {"units": "ms"})
        ds["phase_end"] = (("phase",), np.array([b for _, _, b in phases], dtype=float), {"units": "ms"})
        ds["recall_start"] = (("cue",), np.array([a for a, _ in recall], dtype=float), {"units": "ms"})
        ds["ca3_code"] = (("pattern", "ca3_unit"), code3)
        ds["ca1_code"] = (("pattern", "ca1_unit"), ca1_encoding)
        ds["ca1_ec_code"] = (("pattern", "ca1_unit"), code1)
        # recurrent weights: all synapses, and a dense matrix of cells sorted by item
        ee_pre, ee_post, ee_w0 = s["ee"]
        ds["ee_pre"] = (("ee_synapse",), ee_pre.astype(np.int64))
        ds["ee_post"] = (("ee_synapse",), ee_post.astype(np.int64))
        ds["ee_w_before"] = (("ee_synapse",), ee_w0)
        ds["ee_w_after"] = (("ee_synapse",), out.ee_w)
        sample, sample_item = weight_sample(code3, p.weight_sample)
        ds = ds.assign_coords(ca3_sample=("ca3_sample", sample),
                              ca3_sample_item=("ca3_sample", sample_item))
        ds["weights_before"] = (("ca3_sample_pre", "ca3_sample"), dense_sample(ee_pre, ee_post, ee_w0, sample))
        ds["weights_after"] = (("ca3_sample_pre", "ca3_sample"), dense_sample(ee_pre, ee_post, out.ee_w, sample))
        sc_pre, sc_post, sc_w0 = s["sc"]
        ds["schaffer_pre"] = (("sc_synapse",), sc_pre.astype(np.int64))
        ds["schaffer_post"] = (("sc_synapse",), sc_post.astype(np.int64))
        ds["schaffer_w_before"] = (("sc_synapse",), sc_w0)
        ds["schaffer_w_after"] = (("sc_synapse",), out.schaffer_w)
        gs = graph_statistics(ee_pre, ee_post, p.n_e, rng)
        ds["degree_hist_in"] = (("degree",), gs["degree_hist_in"].astype(np.int64))
        ds["degree_hist_out"] = (("degree",), gs["degree_hist_out"].astype(np.int64))
        ds = ds.assign_coords(degree=("degree", np.arange(len(gs["degree_hist_in"]))))
        for key in ("clustering", "mean_shortest_path", "largest_component", "n_components", "density"):
            ds.attrs[f"graph_{key}"] = gs[key]
        return ds
