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

5. The sequence phase: learning in order, then replay
-----------------------------------------------------
A stimulus whose ``metadata`` holds ``"sequences"`` (lists of pattern indices in stored
order, ``"cyclic"`` and the ``"cue_positions"`` of the cues) runs this phase instead of the
recall protocol (``CA3SpikingV3._sequence_protocol``); the circuit, its pathways and the
paired control are the same.

*Learning.* Each sequence is presented ``seq_repeats`` times; item j starts at
``j (seq_item_time - seq_overlap)`` and lasts ``seq_item_time``, so successive items OVERLAP
by ``seq_overlap`` (both DG codes and the union of their EC channels are on). The link is
made by the overlap, not by an eligibility trace: the STDP window stays the ordinary
``tau_stdp`` = 40 ms of Bi & Poo (1998). This is how successive place-cell assemblies meet
in CA3: place fields overlap along the track, and theta phase precession compresses the
order of overlapping fields into the tens of milliseconds of the STDP window (Skaggs et al.
1996; Mehta, Lee & Wilson 2002); Levy (1996) and Jahnke et al. (2015) link successive
assemblies the same way. With ``ee_rule: stdp-asymmetric`` the recurrent synapses follow
the asymmetric pair window (:data:`hipposim.backends.brian2.ca3_v2.LEARN_PRE_ASYM`): the
onset of item j+1 while item j fires potentiates j -> j+1 and depresses j+1 -> j, so the
weights store the order. With the default symmetric rule both directions are potentiated.

*Replay.* Per cue: ``replay_reset`` of silence (no input, no recurrent transmission), then a
trigger for ``replay_cue``: ``replay_trigger: item`` shows the cue on EC and drives its DG
code at ``replay_mf_rate``; ``kick`` drives every CA3 cell through the mossy fibres at
``kick_rate`` (an unspecific sharp-wave input). Then ``replay_time`` with no input at all;
recurrent transmission at ``replay_rec_gain`` (sharp waves come in low-acetylcholine
states, which release recurrent transmission; Hasselmo 1999) and no plasticity. The
standard result's steps are bins of ``replay_bin`` from the trigger's onset, and the
overlap is the code correlation. Each cue's replay is measured by
``hipposim.analysis.replay.replay_metrics`` (``replay_*`` variables; ``*_control`` for the
no-plasticity copy, whose recurrent synapses stay at ``u0_ee`` = 0 and replay nothing);
a kick names no item, so each kick trial is measured from the item it ignites
(``hipposim.analysis.replay.kick_replay_table``, ``replay_start_position``).
Ecker et al. (2022) obtain forward replay from asymmetric and bidirectional replay from
symmetric STDP with adaptation. Here, from a middle cue, the asymmetric rule replays forward
only; the symmetric rule with strong adaptation (``b_adapt`` 25 mV) and a 10-ms cue replays one
or two items backward or forward, but in both directions from the same cue only on some cues
(see ``docs/results/replay.md``).
"""
from __future__ import annotations

import json
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from hipposim.circuits.ca3 import covering_receptive_fields, dg_code, ec_channels, tiling_starts
from hipposim.errors import ModelError
from hipposim.functional.ridge import ridge_regression
from hipposim.models.ca3_spiking_v2 import CA3SpikingV2, CA3SpikingV2Params, scale_free_weight
from hipposim.stimuli import Stimulus
from hipposim.units import Rate, Strength, Time

TIMELINE_MS = 10


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

    # recurrent learning rule (both rules: :mod:`hipposim.backends.brian2.ca3_v2`)
    ee_rule: Literal["stdp-symmetric", "stdp-asymmetric"] = Field(
        "stdp-symmetric", description="rule of the CA3 recurrent synapses: symmetric STDP with a depression "
        "offset, or the asymmetric pair window (Bi & Poo 1998) that stores the order of onsets")
    a_minus_ee: float = Field(1.0, ge=0, description="stdp-asymmetric: depression / potentiation ratio")
    # sequence phase: used when the stimulus holds sequences (metadata["sequences"])
    seq_item_time: Time = Field("100 ms", description="sequences: presentation time of each item "
                                "(multiple of 10 ms)")
    seq_overlap: Time = Field("20 ms", description="sequences: successive presentations overlap by this much "
                              "(multiple of 10 ms, under half of seq_item_time)")
    seq_gap: Time = Field("200 ms", description="sequences: silence after each presented sequence "
                          "(multiple of 10 ms)")
    seq_repeats: int = Field(2, ge=1, le=100, description="sequences: presentations of every sequence")
    replay_trigger: Literal["item", "kick"] = Field(
        "item", description="replay start: a brief cue of the cued item (EC cue and its DG code), or an "
        "unspecific sharp-wave kick (mossy fibres onto every CA3 cell)")
    replay_reset: Time = Field("200 ms", description="silence before each trigger, no input and no recurrent "
                               "transmission (long enough for the slow current and adaptation of the previous "
                               "replay to decay; multiple of 10 ms)")
    replay_cue: Time = Field("20 ms", description="duration of the trigger (multiple of 10 ms)")
    replay_time: Time = Field("100 ms", description="replay window after the trigger (multiple of 10 ms)")
    replay_mf_rate: Rate = Field("200 Hz", description="item trigger: mossy-fibre rate onto the DG code of "
                                 "the cue")
    kick_rate: Rate = Field("40 Hz", description="kick trigger: mossy-fibre rate onto every CA3 cell")
    replay_rec_gain: float = Field(2.0, ge=0, le=10, description="recurrent and Schaffer transmission during "
                                   "the trigger and replay (1 at recall; sharp waves come in low-acetylcholine "
                                   "states that release recurrent transmission, Hasselmo 1999)")
    replay_bin: Time = Field("2 ms", description="bin of the replay overlaps")
    replay_level: float = Field(0.3, gt=0, le=1, description="code correlation at which an assembly counts "
                                "as active in a replay bin")

    @model_validator(mode="after")
    def _cover_check(self) -> "CA3SpikingV3Params":
        n1 = self.n_ca1
        k1 = int(round(self.ca1_coding_level * n1))
        if k1 < 1:
            raise ValueError(f"ca1_coding_level {self.ca1_coding_level} leaves no active CA1 cell among {n1}")
        for fld in ("seq_item_time", "seq_overlap", "seq_gap", "replay_reset", "replay_cue", "replay_time"):
            ms = getattr(self, fld).si * 1e3
            if abs(ms / TIMELINE_MS - round(ms / TIMELINE_MS)) > 1e-6:
                raise ValueError(f"{fld} ({getattr(self, fld)}) must be a whole multiple of {TIMELINE_MS} ms")
        if self.seq_item_time.si <= 0:
            raise ValueError("seq_item_time must be positive")
        if not 0 <= self.seq_overlap.si < 0.5 * self.seq_item_time.si:
            raise ValueError(f"seq_overlap ({self.seq_overlap}) must lie in [0, seq_item_time / 2) "
                             f"(seq_item_time = {self.seq_item_time}): at most two items are presented at once")
        if self.replay_cue.si <= 0 or self.replay_time.si <= 0:
            raise ValueError("replay_cue and replay_time must be positive")
        if self.replay_bin.si < self.dt.si or (self.replay_cue.si + self.replay_time.si) < 2 * self.replay_bin.si:
            raise ValueError(f"replay_bin ({self.replay_bin}) must lie between dt and half of replay_cue + "
                             f"replay_time")
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


def _is_sequence(stimulus: Stimulus) -> bool:
    return bool((stimulus.metadata or {}).get("sequences"))


def sequence_info(stimulus: Stimulus) -> tuple[list[list[int]], bool, list[int]]:
    """(sequences, cyclic, cue position of each cue) from a sequence stimulus's metadata, checked.

    Raises :class:`~hipposim.errors.ModelError` naming the metadata key when it does not describe
    the stimulus (an index outside the patterns, a sequence shorter than 2, a cue position that
    does not hold the cue's target).
    """
    meta = stimulus.metadata
    seqs = [[int(m) for m in seq] for seq in meta["sequences"]]
    cyclic = bool(meta.get("cyclic", False))
    positions = meta.get("cue_positions")
    if positions is None:
        raise ModelError("sequence stimulus: metadata['cue_positions'] is missing (the position of each cue "
                         "within its sequence)")
    positions = [int(x) for x in positions]
    P = stimulus.n_patterns
    for k, seq in enumerate(seqs):
        if len(seq) < 2:
            raise ModelError(f"sequence stimulus: metadata['sequences'][{k}] has {len(seq)} item(s); expected "
                             f"at least 2")
        if min(seq) < 0 or max(seq) >= P:
            raise ModelError(f"sequence stimulus: metadata['sequences'][{k}] holds a pattern index outside "
                             f"0..{P - 1}")
    if len(positions) != len(stimulus.cues):
        raise ModelError(f"sequence stimulus: metadata['cue_positions'] has {len(positions)} entries for "
                         f"{len(stimulus.cues)} cues")
    for c, (target, pos) in enumerate(zip(stimulus.targets.astype(int), positions)):
        seq = next((q for q in seqs if int(target) in q), None)
        if seq is None or not 0 <= pos < len(seq) or seq[pos] != int(target):
            raise ModelError(f"sequence stimulus: metadata['cue_positions'][{c}] = {pos} does not hold the "
                             f"cue's target (pattern {int(target)}) in its sequence")
    return seqs, cyclic, positions


class CA3SpikingV3(CA3SpikingV2):
    """Spiking EC -> DG -> CA3 -> CA1 -> cortex (Brian2), v3: learned FFI, recall-time DG pass, slow
    recurrent current, CA1 read from CA3 alone at retrieval, paired no-plasticity control."""

    description = ("Spiking EC->DG->CA3->CA1->cortex in Brian2, v3: v2 plus learned feedforward inhibition "
                   "(covariance-corrected perforant drive), a recall-time DG pass, a slow NMDA-like recurrent "
                   "current and CA1 read from CA3 alone at retrieval; paired no-plasticity control")
    Params = CA3SpikingV3Params
    tiny_params = {**CA3SpikingV2.tiny_params, "ca1_per_ca3": 2.0, "ca1_coding_level": 0.08, "target": "numpy"}
    records = CA3SpikingV2.records + ("ca3_e_ctl_spike_time", "ca3_e_ctl_spike_index", "ec_xbar", "ec_item_mean")
    #: a stimulus with ``metadata["sequences"]`` runs the sequence phase (learning in order, then replay)
    plays_sequences = True
    _sequence_mode = False
    #: per-cue replay measures (sequence stimuli; ``*_control`` for the no-plasticity copy)
    replay_records = ("replay_spearman", "replay_spearman_distance", "replay_fraction", "replay_fraction_backward",
                      "replay_speed", "replay_compression", "replay_n_active", "replay_n_intruders")

    @classmethod
    def memory_estimate(cls, shape) -> dict:
        """v2's estimate (:meth:`CA3SpikingV2.memory_estimate`), over the sequence protocol for sequences.

        The recall protocol lasts ``P (t_encode + t_gap) + C (t_reset + t_recall)``. With sequence
        patterns (``shape.sequence_length`` > 0) the sequence phase lasts at most ``seq_repeats P
        (seq_item_time + seq_gap) + C (replay_reset + replay_cue + replay_time)`` (a gap per item bounds
        the gap per sequence), and each cue records ``(replay_cue + replay_time) / replay_bin``
        bins: the time-proportional parts (timelines, spikes) and the binned traces grow by the
        ratios of these to the recall protocol's.
        """
        from hipposim.scenario.limits import SPIKING_STEPS

        out = CA3SpikingV2.memory_estimate.__func__(cls, shape)
        if not getattr(shape, "sequence_length", 0):
            return out
        p, c = shape.n_items, shape.n_cues
        recall = (p * (shape.seconds("t_encode") + shape.seconds("t_gap"))
                  + c * (shape.seconds("t_reset") + shape.seconds("t_recall")))
        replay_window = shape.seconds("replay_cue") + shape.seconds("replay_time")
        sequence = (shape.num("seq_repeats", 2) * p * (shape.seconds("seq_item_time") + shape.seconds("seq_gap"))
                    + c * (shape.seconds("replay_reset") + replay_window))
        factor = sequence / max(recall, 1e-9)
        for key in ("timelines", "spikes"):
            out[key] *= factor
        bins = replay_window / max(shape.seconds("replay_bin"), 1e-6)
        if bins > SPIKING_STEPS:
            out["traces"] *= bins / SPIKING_STEPS
        return out

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

    def _v3_pathways(self, s: dict) -> dict:
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

    def _pathways(self, s: dict) -> dict:
        ways = self._v3_pathways(s)
        if self.params.ee_rule == "stdp-asymmetric":
            ways["ee"].asymmetric = True
            ways["ee"].a_minus = self.params.a_minus_ee
        return ways

    def _protocol(self, stimulus: Stimulus, s: dict):
        if _is_sequence(stimulus):
            return self._sequence_protocol(stimulus, s)
        p = self.params
        cues = stimulus.bipolar_cues() if stimulus.coding == "binary" else stimulus.cues.astype(float)
        known = stimulus.known.astype(bool) & (cues != 0)
        recall_mossy = dg_code(np.where(known, cues, 0.0), p.n_e, p.coding_level, seed=s["dg_seed"])
        return self._timeline(stimulus, s, recall_mossy=recall_mossy * p.mf_recall.si, ec1_recall=p.ec1_recall)

    def _sequence_protocol(self, stimulus: Stimulus, s: dict):
        """Rate tables and timeline of the sequence phase: learning in order, then replay from each cue.

        Learning: every sequence is presented ``seq_repeats`` times (repeat-major). Item j of a
        sequence starts at ``j (seq_item_time - seq_overlap)`` and lasts ``seq_item_time``: the
        mossy fibres drive its DG code at ``mf_rate`` and EC shows it, so successive items overlap
        by ``seq_overlap`` (both codes and the union of their EC channels are on), as successive
        place-cell assemblies overlap within a theta cycle; ``seq_gap`` of silence follows each
        sequence. Recurrent and Schaffer transmission run at ``ach``, perforant at ``pp_encode``,
        plasticity on.

        Replay, per cue: ``t_reset`` with no input and no recurrent transmission, then the trigger
        for ``replay_cue``: ``item``, the cue on EC (perforant path on) and its DG code
        (:func:`~hipposim.circuits.ca3.dg_code`) at ``replay_mf_rate``; or ``kick``, mossy fibres at
        ``kick_rate`` onto every CA3 cell, EC silent. Then ``replay_time`` with no input at all and
        full recurrent transmission; plasticity off.
        """
        p = self.params
        seqs, _, _ = sequence_info(stimulus)
        if p.readout_settle.si + p.readout_window.si > p.seq_item_time.si + 1e-9:
            raise ModelError(f"readout_settle + readout_window ({p.readout_settle} + {p.readout_window}) exceed "
                             f"seq_item_time ({p.seq_item_time}): the readout is fitted within each item's "
                             f"presentation")
        P, C = stimulus.n_patterns, len(stimulus.cues)
        cues = stimulus.bipolar_cues() if stimulus.coding == "binary" else stimulus.cues.astype(float)
        known = stimulus.known.astype(bool) & (cues != 0)
        cue_ch = ec_channels(cues, known)
        half = cue_ch.shape[1] // 2
        channel_rate = np.r_[np.full(half, p.ec_rate.si), np.full(half, p.ec_off_rate.si)]
        code3, item_ch = s["code3"], s["item_ch"]
        cue_dg = dg_code(np.where(known, cues, 0.0), p.n_e, p.coding_level, seed=s["dg_seed"])
        ec_rows = [item_ch[mu] for mu in range(P)]
        mf_rows = [code3[mu] * p.mf_rate.si for mu in range(P)]
        pairs: dict[tuple[int, int], int] = {}

        def pair_row(a: int, b: int) -> int:
            if (a, b) not in pairs:
                pairs[(a, b)] = len(ec_rows)
                ec_rows.append(np.maximum(item_ch[a], item_ch[b]))
                mf_rows.append(np.maximum(code3[a], code3[b]) * p.mf_rate.si)
            return pairs[(a, b)]

        n = {f: int(round(getattr(p, f).si * 1e3 / TIMELINE_MS))
             for f in ("seq_item_time", "seq_overlap", "seq_gap", "replay_reset", "replay_cue", "replay_time")}
        step = n["seq_item_time"] - n["seq_overlap"]
        # (steps, ec row, mossy row, rec, pp, plastic, ec1): rows indexed later, silence = -1
        rows, phases, t = [], [], 0
        learn = 1.0 if p.plasticity else 0.0
        for rep in range(p.seq_repeats):
            for seq in seqs:
                total = step * (len(seq) - 1) + n["seq_item_time"]
                for j, mu in enumerate(seq):
                    a = t + j * step * TIMELINE_MS
                    tag = "" if rep == 0 else f"_r{rep}"
                    phases.append((f"encode_{stimulus.names[mu]}{tag}", a, a + n["seq_item_time"] * TIMELINE_MS))
                for k in range(total):
                    on = [mu for j, mu in enumerate(seq) if j * step <= k < j * step + n["seq_item_time"]]
                    row = on[0] if len(on) == 1 else pair_row(on[0], on[1])
                    rows.append((1, row, row, p.ach, p.pp_encode, learn, 1.0))
                t += total * TIMELINE_MS
                rows.append((n["seq_gap"], -1, -1, 0.0, 0.0, 0.0, 1.0))
                phases.append((f"gap_{len(phases)}", t, t + n["seq_gap"] * TIMELINE_MS))
                t += n["seq_gap"] * TIMELINE_MS
        base = len(ec_rows)
        ec_table = np.concatenate([np.stack(ec_rows), cue_ch, np.zeros((1, cue_ch.shape[1]))]) * channel_rate
        trigger = (cue_dg * p.replay_mf_rate.si if p.replay_trigger == "item"
                   else np.full((C, p.n_e), p.kick_rate.si))
        mossy_table = np.concatenate([np.stack(mf_rows), trigger, np.zeros((1, p.n_e))])
        silent = base + C
        for c in range(C):
            rows.append((n["replay_reset"], -1, -1, 0.0, 0.0, 0.0, p.ec1_recall))
            phases.append((f"reset_{c}", t, t + n["replay_reset"] * TIMELINE_MS))
            t += n["replay_reset"] * TIMELINE_MS
            ec_cue = base + c if p.replay_trigger == "item" else -1
            g = p.replay_rec_gain
            rows.append((n["replay_cue"], ec_cue, base + c, g, 1.0, 0.0, p.ec1_recall))
            rows.append((n["replay_time"], -1, -1, g, 0.0, 0.0, p.ec1_recall))
            phases.append((f"recall_{c}", t, t + (n["replay_cue"] + n["replay_time"]) * TIMELINE_MS))
            t += (n["replay_cue"] + n["replay_time"]) * TIMELINE_MS
        rows = [(r[0], silent if r[1] < 0 else r[1], silent if r[2] < 0 else r[2], *r[3:]) for r in rows if r[0] > 0]
        steps = [r[0] for r in rows]
        col = lambda j: np.repeat([r[j] for r in rows], steps)  # noqa: E731
        tl = {"ec_row": col(1), "mossy_row": col(2), "rec_gain": col(3).astype(float),
              "pp_gain": col(4).astype(float), "plastic": col(5).astype(float), "ec1_gain": col(6).astype(float)}
        return ec_table, mossy_table, tl, phases, t * 1e-3

    def _recall_seconds(self) -> float:
        p = self.params
        return (p.replay_cue.si + p.replay_time.si) if self._sequence_mode else p.t_recall.si

    def _bin_seconds(self) -> float:
        return self.params.replay_bin.si if self._sequence_mode else self.params.bin.si

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        self._sequence_mode = _is_sequence(stimulus)
        if self._sequence_mode:
            sequence_info(stimulus)   # refuse inconsistent metadata before building anything
        return super().run(stimulus, rng)

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
        ds.attrs["rule"] = (f"{self.params.ee_rule} (CA3 recurrent), stdp-symmetric (perforant, "
                            f"temporoammonic, Schaffer) + learned feedforward inhibition (covariance correction)"
                            if self.params.ee_rule != "stdp-symmetric" else
                            "stdp-symmetric (all four pathways) + learned feedforward inhibition "
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
        if self._sequence_mode:
            ds = self._replay_measures(ds, stimulus)
        return ds

    def _replay_measures(self, ds, stimulus: Stimulus):
        """Per-cue replay measures (:func:`hipposim.analysis.replay.sequence_replay_table`) of the
        plastic network and of the no-plasticity control, as ``replay_*`` variables and their means as attrs.
        A kick names no item: each trial is judged from the item it ignites
        (:func:`hipposim.analysis.replay.kick_replay_table`; ``replay_start_position``, -1 if none)."""
        from hipposim.analysis.replay import kick_replay_table, sequence_replay_table

        p = self.params
        seqs, cyclic, positions = sequence_info(stimulus)
        width = self._bin_seconds()
        start = int(round(p.replay_cue.si / width)) if p.replay_trigger == "kick" else 0
        kw = {"bin_s": width, "presentation_step_s": p.seq_item_time.si - p.seq_overlap.si,
              "level": p.replay_level, "cyclic": cyclic, "start_bin": start}
        copies = [("", "overlap")] + ([("_control", "overlap_control")] if "overlap_control" in ds else [])
        names = {"spearman": "replay_spearman", "spearman_distance": "replay_spearman_distance",
                 "fraction_forward": "replay_fraction", "fraction_backward": "replay_fraction_backward",
                 "speed": "replay_speed", "compression": "replay_compression", "n_active": "replay_n_active",
                 "n_intruders": "replay_n_intruders"}
        if p.replay_trigger == "kick":
            names["start_position"] = "replay_start_position"
        for sfx, var in copies:
            table = (kick_replay_table(ds[var].values, seqs, **kw) if p.replay_trigger == "kick"
                     else sequence_replay_table(ds[var].values, seqs, positions, stimulus.targets, **kw))
            for key, name in names.items():
                ds[name + sfx] = (("cue",), table[key])
                values = table[key][np.isfinite(table[key])]
                ds.attrs[f"{name}{sfx}_mean"] = float(values.mean()) if values.size else float("nan")
        ds.attrs.update({"protocol": "sequence replay", "replay_trigger": p.replay_trigger,
                         "ee_rule": p.ee_rule, "presentation_speed_items_per_s": 1.0 / kw["presentation_step_s"],
                         "replay_level": p.replay_level, "replay_bin_ms": width * 1e3,
                         "sequences": json.dumps(seqs), "cyclic": int(cyclic),
                         "cue_positions": json.dumps(positions)})
        return ds


__all__ = ["CA3SpikingV3", "CA3SpikingV3Params", "check_ca1_can_read"]
