"""``ca3-spiking-v3``: the v2 circuit with covariance-corrected perforant drive, a recall-time DG pass,
a slow recurrent current, and CA1 read from CA3 alone at retrieval.

v3 keeps every part of :mod:`hipposim.models.ca3_spiking_v2` (EC on/off channels, the
item-local DG code, LIF CA3 and CA1 with basket cells, every excitatory pathway learned
online by one local spike rule, scale-free strengths ``w = J / (K a nu tau)``, the paired
no-plasticity control) and adds four things.

1. Learned feedforward inhibition (the covariance correction of the perforant path)
-----------------------------------------------------------------------------------
With post-gated Hebbian weights u_ij (EC channel j -> CA3 cell i), a cue c drives cell i
by ``h_i = sum_j u_ij c_j``. Competitor codes share many active channels with the target
(images share background pixels), so a half cue drives them almost as much as the
target. The covariance rule (Sejnowski 1977; Treves & Rolls 1994) replaces the
presynaptic activity by its deviation from its mean, ``u_ij ~ sum_mu xi_i^mu (x_j^mu -
xbar_j)``, and its drive is::

    h_i^cov = sum_j u_ij c_j - sum_j xbar_j c_j        (up to the normalisation of u)

The subtracted term ``sum_j xbar_j c_j`` is the same for every CA3 cell. v3 builds it as
feedforward inhibition: each EC spike of channel j inhibits its CA3 contacts by a jump
``w_ffl xbar_j``, where xbar_j is the channel's running mean activity (presynaptic trace
x_j, jump 1 per spike, decay ``tau_stdp``) over encoding, learned online at the channel::

    dT/dt = plastic(t),   dxbar_j/dt = plastic(t) (x_j - xbar_j) / (T + tau_bar0)

with the prior ``xbar_prior nu_EC tau_stdp`` weighted as ``tau_bar0`` of encoding. The
mean inhibition of a full item with every active channel at xbar = nu_EC tau_stdp is
``J_ffl``: ``w_ffl = J_ffl / (K_pp a_EC nu_EC tau_i nu_EC tau_stdp)``. The no-plasticity
control keeps the prior.

2. A recall-time DG pass
------------------------
During each recall trial the mossy fibres fire at ``mf_recall`` onto the DG code of the
cue itself (the same fixed expansion + kWTA of :func:`hipposim.circuits.ca3.dg_code`,
hidden pixels at 0). A half cue's DG code overlaps the target's code far more than any
competitor's, which selects the right attractor (the DG's role in pattern separation
at encoding, Treves & Rolls 1992; here it also biases retrieval).

3. A slow (NMDA-like) recurrent current
---------------------------------------
Each recurrent CA3 -> CA3 spike also adds ``w_slow u`` to a slow current ``gs``
(decay ``tau_slow``, 100 ms), with ``w_slow = J_slow / (K_ee a nu_e tau_slow)`` (the
same scale-free rule): persistence without merging attractors (Wang 1999; Lisman,
Fellous & Wang 1998). Stronger slow or recurrent excitation merges them.

4. CA1 reads CA3 at retrieval (Hasselmo, Bodelon & Wyble 2002)
--------------------------------------------------------------
Theta separates encoding from retrieval: EC drives CA1 while an item is encoded; at
retrieval the EC -> CA1 (temporoammonic) transmission is scaled by ``ec1_recall``
(0 by default), so CA1 carries only what the learned Schaffer collaterals bring from
CA3. The cortex readout is a population ridge readout from all CA1 cells, fitted on
encoding activity without centring the activity::

    W = argmin |(Y - <Y>) - X W|^2 + ridge |W|^2,   y_hat = x W + <Y>

so a silent CA1 reads as the mean item. Since EC does not reach CA1 at retrieval, the
readout cannot copy the cue: with plasticity off it stays at the mean image's level.

Completion is judged by :func:`hipposim.analysis.completion.completion_scores`
(windows of spike counts, not 10-ms bins).
"""
from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from hipposim.circuits.ca3 import covering_receptive_fields, dg_code, tiling_starts
from hipposim.errors import ModelError
from hipposim.functional.ridge import ridge_regression
from hipposim.models.ca3_spiking_v2 import CA3SpikingV2, CA3SpikingV2Params, scale_free_weight
from hipposim.stimuli import Stimulus
from hipposim.units import Rate, Strength, Time


class CA3SpikingV3Params(CA3SpikingV2Params):
    """Parameters of :class:`CA3SpikingV3`: those of v2 (some defaults changed) and the v3 mechanisms."""

    J_pp: Strength = Field("120 mV", description="EC -> CA3 at u = 1, full item on EC")
    J_ee: Strength = Field("30 mV", description="CA3 -> CA3 (fast part) at u = 1, code active at nu_e")
    J_ffl: Strength = Field("120 mV", description="learned feedforward inhibition EC -> CA3 pyramidal cells: "
                            "mean inhibition of a full item with every active channel at xbar = nu_EC tau_stdp")
    xbar_prior: float = Field(0.5, ge=0, le=1, description="prior of each EC channel's mean trace xbar, as a "
                              "fraction of nu_EC tau_stdp")
    tau_bar0: Time = Field("200 ms", description="weight of the prior in the running mean xbar "
                           "(as this much encoding time)")
    mf_recall: Rate = Field("50 Hz", description="recall-time DG pass: mossy-fibre rate onto the DG code of "
                            "the cue during recall")
    J_slow: Strength = Field("15 mV", description="slow (NMDA-like) part of CA3 -> CA3 at u = 1, code at nu_e")
    tau_slow: Time = Field("100 ms", description="decay of the slow recurrent current")
    ec1_recall: float = Field(0.0, ge=0, le=1, description="EC -> CA1 transmission during retrieval "
                              "(1 during encoding; 0: CA1 reads CA3 alone, Hasselmo et al. 2002)")

    @model_validator(mode="after")
    def _cover_check(self) -> "CA3SpikingV3Params":
        n1 = self.n_ca1
        k1 = int(round(self.ca1_coding_level * n1))
        if k1 < 1:
            raise ValueError(f"ca1_coding_level {self.ca1_coding_level} leaves no active CA1 cell among {n1}")
        return self


def check_ca1_can_read(n_ca1: int, k1: int, side: int, n_units: int, n_tiles: int) -> None:
    """Refuse a CA1 that leaves an item pixel with no CA1 cell able to read it.

    Every pixel needs a CA1 cell whose receptive field covers it (``n_ca1`` at least the
    ``n_tiles`` patches that tile the item), and an item's ``k1`` active CA1 cells must be
    able to reach every pixel (``k1 side^2 >= n_units``).
    """
    if n_ca1 < n_tiles:
        missing = n_units - n_ca1 * side * side if n_ca1 * side * side < n_units else "some"
        raise ModelError(f"ca1_per_ca3: {n_ca1} CA1 cells with {side}x{side} receptive fields leave {missing} "
                         f"of {n_units} pixels with no CA1 cell able to read them; expected at least {n_tiles} "
                         f"CA1 cells")
    if k1 * side * side < n_units:
        raise ModelError(f"ca1_coding_level: an item's {k1} active CA1 cells with {side}x{side} receptive fields "
                         f"reach at most {k1 * side * side} of {n_units} pixels, leaving "
                         f"{n_units - k1 * side * side} pixels with no CA1 cell able to read them; expected "
                         f"at least {int(np.ceil(n_units / side**2))} active CA1 cells "
                         f"(ca1_coding_level x ca1_per_ca3 x n_e)")


class CA3SpikingV3(CA3SpikingV2):
    """Spiking EC -> DG -> CA3 -> CA1 -> cortex (Brian2), v3: learned FFI, recall-time DG pass, slow
    recurrent current, CA1 read from CA3 alone at retrieval, paired no-plasticity control."""

    description = ("Spiking EC->DG->CA3->CA1->cortex in Brian2, v3: v2 plus learned feedforward inhibition "
                   "(covariance-corrected perforant drive), a recall-time DG pass, a slow NMDA-like recurrent "
                   "current and CA1 read from CA3 alone at retrieval; paired no-plasticity control")
    Params = CA3SpikingV3Params
    tiny_params = {**CA3SpikingV2.tiny_params, "ca1_per_ca3": 2.0, "ca1_coding_level": 0.08, "target": "numpy"}
    records = CA3SpikingV2.records + ("ca3_e_ctl_spike_time", "ca3_e_ctl_spike_index", "ec_xbar", "ec_item_mean")

    def _structure(self, stimulus: Stimulus, rng: np.random.Generator) -> dict:
        p = self.params
        n_tiles = len(tiling_starts(stimulus.n_units, p.rf_side, stimulus.image_shape))
        check_ca1_can_read(p.n_ca1, int(round(p.ca1_coding_level * p.n_ca1)), p.rf_side, stimulus.n_units,
                           n_tiles)
        return super()._structure(stimulus, rng)

    def _ca1_fields(self, n_units: int, image_shape, rng: np.random.Generator) -> np.ndarray:
        """CA1 receptive fields that cover every pixel (:func:`~hipposim.circuits.ca3.covering_receptive_fields`)."""
        p = self.params
        return covering_receptive_fields(p.n_ca1, n_units, p.rf_side, image_shape, rng)

    def _nu_ec(self) -> float:
        p = self.params
        return 0.5 * (p.ec_rate.si + p.ec_off_rate.si)

    def _pathways(self, s: dict) -> dict:
        from hipposim.backends.brian2.ca3_v2 import Pathway

        ways = super()._pathways(s)
        p = self.params
        k, e = s["k"], s["edges"]
        nu_ec, x_ref = self._nu_ec(), self._nu_ec() * p.tau_stdp.si
        ways["ee"].w_slow = p.gain * scale_free_weight(p.J_slow.si, k["ee"], p.coding_level, p.nu_e.si,
                                                       p.tau_slow.si)
        ways["ec1"].gate = "ec1"
        if p.J_ffl.si > 0:
            w_ffl = scale_free_weight(p.J_ffl.si, k["pp"], 0.5, nu_ec, p.tau_i.si) / x_ref
            ways["ffl"] = Pathway("ec", "ca3_e", *e["pp"], w_ffl, gate="pp", learned_ffi=True)
        return ways

    def _protocol(self, stimulus: Stimulus, s: dict):
        p = self.params
        cues = stimulus.bipolar_cues() if stimulus.coding == "binary" else stimulus.cues.astype(float)
        known = stimulus.known.astype(bool) & (cues != 0)
        recall_mossy = dg_code(np.where(known, cues, 0.0), p.n_e, p.coding_level, seed=s["dg_seed"])
        return self._timeline(stimulus, s, recall_mossy=recall_mossy * p.mf_recall.si, ec1_recall=p.ec1_recall)

    def _spec_extras(self, s: dict, tl: dict) -> dict:
        p = self.params
        x_ref = self._nu_ec() * p.tau_stdp.si
        return {"ec_mean": p.J_ffl.si > 0, "xbar0": p.xbar_prior * x_ref, "tau_bar0": p.tau_bar0.si,
                "tau_slow": p.tau_slow.si, "ec1_gain": tl["ec1_gain"]}

    def _readout_fit(self, x: np.ndarray, y: np.ndarray, s: dict) -> tuple[np.ndarray, np.ndarray]:
        """Population readout: ``W = argmin |(Y - <Y>) - X W|^2 + ridge |W|^2`` over all CA1 cells."""
        mean = y.mean(axis=0)
        return ridge_regression(x, y - mean, self.params.ridge), mean

    def _result(self, stimulus, rng, s, out, phases, duration, wall):
        ds = super()._result(stimulus, rng, s, out, phases, duration, wall)
        ds.attrs["rule"] = ("stdp-symmetric (all four pathways) + learned feedforward inhibition "
                            "(covariance correction)")
        if "ca3_e_ctl" in out.spikes:
            t, i = out.spikes["ca3_e_ctl"]
            ds["ca3_e_ctl_spike_time"] = (("ca3_e_ctl_spike",), t * 1e3, {"units": "ms"})
            ds["ca3_e_ctl_spike_index"] = (("ca3_e_ctl_spike",), i.astype(np.int64))
        if "xbar" in out.u:
            item_ch = s["item_ch"]
            ds["ec_xbar"] = (("ec_channel",), out.u["xbar"])
            ds["ec_item_mean"] = (("ec_channel",), item_ch.mean(axis=0) * self._nu_ec()
                                  * self.params.tau_stdp.si)
        return ds


__all__ = ["CA3SpikingV3", "CA3SpikingV3Params", "check_ca1_can_read"]
