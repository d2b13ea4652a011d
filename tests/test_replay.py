"""Sequence replay in the spiking CA3 (the sequence phase of ca3-spiking-v3) and its measures.

The replay configuration below (asymmetric recurrent STDP, 400 CA3 cells, 20 per item) was set on
seeds 1 and 2; these tests draw other seeds (CI: 31; slow: 32-34). Replay is judged only on items
the cue did not contain: the cued item is excluded from every measure.
"""
from __future__ import annotations

import numpy as np
import pytest
from hipposim.models.ca3_spiking_v3 import CA3SpikingV3, CA3SpikingV3Params
from pydantic import ValidationError

from hipposim.analysis.replay import (
    activation_bins,
    replay_chain,
    replay_metrics,
    replay_speed,
    sequence_replay_table,
    spearman,
)
from hipposim.errors import ModelError
from hipposim.stimuli import Stimulus

REPLAY = {"n_e": 400, "coding_level": 0.05, "p_ee": 0.5, "ca1_per_ca3": 0.5, "ca1_coding_level": 0.1,
          "b_adapt": "3 mV", "ee_rule": "stdp-asymmetric", "a_minus_ee": 0.5, "eta_ee": 0.1, "target": "numpy"}
#: symmetric STDP with strong spike-frequency adaptation and a 10-ms cue (set on seeds 1-8, middle cues)
SYMMETRIC = {"ee_rule": "stdp-symmetric", "eta_ee": 0.05, "b_adapt": "25 mV", "replay_rec_gain": 2.0,
             "replay_cue": "10 ms"}
#: a middle cue in each sequence (positions 2 and 3 of six)
MIDDLE = (2, 3)


def sequence_stimulus(seed: int, cue_positions=(0, 2), n_seq: int = 2, length: int = 6, n_units: int = 100,
                      cyclic: bool = False) -> Stimulus:
    """``n_seq`` sequences of random +-1 items (sequence-major), one clean cue per sequence."""
    rng = np.random.default_rng([seed, 77])
    patterns = rng.choice([-1.0, 1.0], size=(n_seq * length, n_units))
    seqs = [list(range(k * length, (k + 1) * length)) for k in range(n_seq)]
    targets = [seq[pos] for seq, pos in zip(seqs, cue_positions)]
    return Stimulus(patterns=patterns, names=tuple(f"s{m // length}i{m % length}" for m in range(n_seq * length)),
                    coding="bipolar", cues=patterns[targets].copy(), targets=np.array(targets),
                    known=np.ones((len(targets), n_units), dtype=bool),
                    metadata={"sequences": seqs, "cyclic": cyclic, "cue_positions": list(cue_positions)})


# --------------------------------------------------------------------------- the measures (pure)

def test_spearman_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(8)
    for _ in range(20):
        x, y = rng.integers(0, 5, 9).astype(float), rng.normal(size=9)
        expected = spearmanr(x, y).statistic
        assert spearman(x, y) == pytest.approx(expected, abs=1e-12) or np.isnan(expected)
    assert np.isnan(spearman([1.0], [2.0])) and np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def synthetic_replay(order, n_items=8, bins_per_item=3, lead=2, level=0.8):
    """Overlaps (S, P) in which the items of ``order`` win one after the other for ``bins_per_item`` bins."""
    ov = np.zeros((lead + bins_per_item * len(order) + 4, n_items))
    for j, mu in enumerate(order):
        ov[lead + j * bins_per_item: lead + (j + 1) * bins_per_item, mu] = level
    return ov


def test_a_perfect_forward_replay_scores_one_and_its_speed_is_the_bin_rate():
    seq = [0, 1, 2, 3, 4]
    ov = synthetic_replay(seq)
    m = replay_metrics(ov, seq, 0, bin_s=0.002, presentation_step_s=0.08, level=0.3)
    assert m["spearman"] == pytest.approx(1.0) and m["fraction_forward"] == 1.0 and m["n_active"] == 4
    # 3 bins of 2 ms per item: 1 / 6 ms = 166.7 items/s, against 12.5 items/s at presentation
    assert m["speed"] == pytest.approx(1 / 0.006) and m["compression"] == pytest.approx(0.08 / 0.006)


def test_a_copy_of_the_cue_replays_nothing():
    seq = [0, 1, 2, 3, 4]
    ov = synthetic_replay([2])           # only the cued item (position 2) is ever active
    m = replay_metrics(ov, seq, 2, bin_s=0.002, presentation_step_s=0.08, level=0.3)
    assert m["n_active"] == 0 and m["fraction_forward"] == 0 and m["fraction_backward"] == 0
    assert np.isnan(m["spearman"]) and np.isnan(m["speed"])


def test_the_chain_stops_at_a_skip_an_intrusion_or_a_gap():
    seq = [0, 1, 2, 3, 4, 5]
    first = activation_bins(synthetic_replay([0, 1, 3, 2, 4]), 0.3)
    assert replay_chain(first, seq, 0, False) == 1                # 3 before 2: stops after 1
    first = activation_bins(synthetic_replay([0, 1, 2, 7, 3, 4], n_items=8), 0.3)
    assert replay_chain(first, seq, 0, False) == 2                # item 7 (other sequence) intrudes
    first = activation_bins(synthetic_replay([0, 1, 2], n_items=8), 0.3)
    assert replay_chain(first, seq, 0, False) == 2                # stops: 3 never active
    # backward replay from the middle, and a cyclic sequence wraps around
    first = activation_bins(synthetic_replay([3, 2, 1, 0]), 0.3)
    assert replay_chain(first, seq, 3, False, -1) == 3 and replay_chain(first, seq, 3, False, +1) == 0
    first = activation_bins(synthetic_replay([4, 5, 0, 1, 2, 3]), 0.3)
    assert replay_chain(first, seq, 4, True, +1) == 5
    m = replay_metrics(synthetic_replay([3, 2, 1, 0]), seq, 3, bin_s=0.002, presentation_step_s=0.08, level=0.3)
    assert m["spearman"] == pytest.approx(-1.0) and m["fraction_backward"] == 1.0


def test_a_kick_is_judged_from_the_item_it_ignites():
    from hipposim.analysis.replay import ignition, kick_replay_table

    seqs = [[0, 1, 2, 3], [4, 5, 6, 7]]
    kw = {"bin_s": 0.002, "presentation_step_s": 0.08, "level": 0.3, "start_bin": 0}
    fwd = synthetic_replay([5, 6, 7])                 # ignites item 5 (position 1 of sequence 1), runs to the end
    back = synthetic_replay([2, 1, 0])                # ignites item 2, replays backward
    nothing = np.full_like(fwd, 0.1)                  # no assembly reaches the level
    assert ignition(fwd, 0.3) == 5 and ignition(nothing, 0.3) == -1
    # the kick's own bins are not judged: from bin 5 on, item 6 is the first active
    assert ignition(fwd, 0.3, start_bin=5) == 6
    t = kick_replay_table(np.stack([fwd, back, nothing]), seqs, **kw)
    assert t["start_item"].tolist() == [5, 2, -1] and t["start_position"].tolist() == [1, 2, -1]
    assert t["fraction_forward"].tolist() == [1.0, 0.0, 0.0]
    assert t["fraction_backward"].tolist() == [0.0, 1.0, 0.0]
    assert t["n_active"].tolist() == [2, 2, 0] and np.isnan(t["speed"][2])
    # a copy of whatever ignites replays nothing beyond it
    assert kick_replay_table(synthetic_replay([6])[None], seqs, **kw)["fraction_forward"][0] == 0
    # kicks that ignite nothing, judged after the kick's bins
    silent = kick_replay_table(np.stack([nothing, nothing]), seqs, **{**kw, "start_bin": 4})
    assert silent["fraction_forward"].tolist() == [0.0, 0.0] and silent["start_position"].tolist() == [-1, -1]


def test_speed_is_the_inverse_slope_of_activation_time():
    seq = list(range(6))
    first = np.array([0, 5, 10, 15, -1, -1])
    assert replay_speed(first, seq, 0, 3, bin_s=0.001) == pytest.approx(200.0)


def test_replay_table_refuses_a_cue_position_that_does_not_hold_the_target():
    ov = np.zeros((1, 10, 6))
    with pytest.raises(ValueError, match="cue_positions"):
        sequence_replay_table(ov, [[0, 1, 2], [3, 4, 5]], [1], np.array([3]), bin_s=0.002,
                              presentation_step_s=0.08, level=0.3)


# --------------------------------------------------------------------------- validation (fast)

@pytest.mark.parametrize("field, value", [("seq_overlap", "60 ms"), ("replay_time", "15 ms"),
                                          ("replay_trigger", "shout"), ("ee_rule", "hebb"),
                                          ("replay_level", 1.5)])
def test_bad_sequence_parameters_name_the_field(field, value):
    with pytest.raises(ValidationError) as err:
        CA3SpikingV3Params(**{field: value})
    assert field in str(err.value)


def test_sequence_metadata_that_does_not_describe_the_stimulus_is_refused():
    stim = sequence_stimulus(1)
    bad = Stimulus(**{**stim.__dict__, "metadata": {**stim.metadata, "cue_positions": [1, 2]}})
    with pytest.raises(ModelError, match="cue_positions"):
        CA3SpikingV3(**REPLAY).run(bad, np.random.default_rng(0))


def test_v3_declares_that_it_plays_sequences():
    assert CA3SpikingV3.plays_sequences is True


def test_a_replay_protocol_beyond_the_memory_limit_is_refused_before_it_runs():
    from hipposim.errors import ScenarioError
    from hipposim.scenario.limits import check, estimate_memory

    doc = {"version": 1, "name": "replay", "seed": 1,
           "patterns": {"kind": "sequences", "count": 2, "length": 6, "size": 100},
           "cues": {"kind": "clean"}, "models": [{"id": "ca3-spiking-v3", "label": "ca3", "params": dict(REPLAY)}]}
    base = sum(estimate_memory(doc).values())
    longer = {**doc, "models": [{**doc["models"][0], "params": {**REPLAY, "replay_time": "1000000 ms"}}]}
    assert sum(estimate_memory(longer).values()) > 20 * base
    check(doc)                                   # the tested protocol fits
    with pytest.raises(ScenarioError, match="memory"):
        check(longer)
    # the same parameters on one-shot patterns do not run the sequence protocol
    oneshot = {**longer, "patterns": {"kind": "random", "count": 12, "size": 100}}
    assert sum(estimate_memory(oneshot).values()) < 2 * base


# --------------------------------------------------------------------------- Brian2 runs

def replay_run(seed: int, cue_positions=(0, 2), **extra):
    stim = sequence_stimulus(seed, cue_positions=cue_positions)
    ds = CA3SpikingV3(**{**REPLAY, **extra}).run(stim, np.random.default_rng(seed))
    print({k: np.round(ds[k].values, 2).tolist() for k in CA3SpikingV3.replay_records})
    return stim, ds


def check_forward_replay(ds):
    """What one run shows, cue 0 at the first item and cue 1 at the middle (position 2) of its sequence."""
    fraction = ds["replay_fraction"].values
    # at least one cue sets off its successors in the stored order, well faster than presentation
    assert fraction.max() >= 0.2
    assert np.all(ds["replay_compression"].values[fraction > 0] > 2)
    # the paired no-plasticity control replays nothing, and activates fewer items than the plastic copy
    assert np.all(ds["replay_fraction_control"].values == 0)
    assert ds["replay_n_active"].values.sum() > ds["replay_n_active_control"].values.sum()


def link_weights(ds, stim):
    """Mean learned u from each item's code to the next one's (forward), the reverse, and across sequences."""
    code, pre, post, u = (ds["ca3_code"].values, ds["ee_pre"].values, ds["ee_post"].values,
                          ds["ee_w_after"].values)

    def mean_u(a, b):
        only_a, only_b = code[a] * (1 - code[b]), code[b] * (1 - code[a])
        return u[(only_a[pre] > 0) & (only_b[post] > 0)].mean()

    seqs = stim.metadata["sequences"]
    fwd = np.mean([mean_u(s[j], s[j + 1]) for s in seqs for j in range(len(s) - 1)])
    bwd = np.mean([mean_u(s[j + 1], s[j]) for s in seqs for j in range(len(s) - 1)])
    across = np.mean([mean_u(seqs[0][j], seqs[1][j + 1]) for j in range(len(seqs[0]) - 1)])
    return fwd, bwd, across


@pytest.mark.brian2
def test_asymmetric_stdp_stores_the_order_and_replays_forward():
    stim, ds = replay_run(31)
    check_forward_replay(ds)
    fwd, bwd, across = link_weights(ds, stim)
    print(f"mean u forward {fwd:.3f} backward {bwd:.3f} across sequences {across:.3f}")
    assert fwd >= bwd + 0.3 and fwd >= across + 0.3
    assert ds.attrs["protocol"] == "sequence replay" and ds["overlap"].dims == ("cue", "step", "pattern")


@pytest.mark.slow
@pytest.mark.brian2
def test_asymmetric_replay_on_more_seeds_runs_forward_in_order():
    """Pooled over seeds 32-34 (6 cues): the replayed order follows the stored one, forward only."""
    runs = [replay_run(seed)[1] for seed in (32, 33, 34)]
    for ds in runs:
        check_forward_replay(ds)
    rho = np.concatenate([ds["replay_spearman"].values for ds in runs])
    assert np.nanmean(rho) >= 0.5
    # from the middle cue: more of the sequence ahead of the cue than behind it
    ahead = np.mean([ds["replay_fraction"].values[1] for ds in runs])
    behind = np.mean([ds["replay_fraction_backward"].values[1] for ds in runs])
    assert ahead > behind


@pytest.mark.slow
@pytest.mark.brian2
@pytest.mark.parametrize("seed", (32, 33))
def test_symmetric_stdp_links_successive_items_in_both_directions(seed):
    stim, ds = replay_run(seed, **SYMMETRIC)
    fwd, bwd, across = link_weights(ds, stim)
    assert abs(fwd - bwd) <= 0.1 * max(fwd, bwd)
    assert min(fwd, bwd) >= across + 0.15


def middle_cue_runs(seed: int):
    """Asymmetric (the replay configuration) and symmetric STDP with strong adaptation (``SYMMETRIC``), both
    cued at a middle item of each sequence; no control copy."""
    asym = replay_run(seed, cue_positions=MIDDLE, control=False)[1]
    sym = replay_run(seed, cue_positions=MIDDLE, control=False, **SYMMETRIC)[1]
    return asym, sym


@pytest.mark.brian2
def test_from_a_middle_cue_symmetric_stdp_replays_backward_and_asymmetric_does_not():
    """Seed 31. The cued item is excluded from both fractions, so a copy of the cue scores 0 on both."""
    asym, sym = middle_cue_runs(31)
    # asymmetric: forward from the middle, never backward
    assert asym["replay_fraction"].values.max() > 0
    assert np.all(asym["replay_fraction_backward"].values == 0)
    # symmetric with adaptation: the activity leaves the cued item backward as well as forward
    assert sym["replay_fraction_backward"].values.max() > 0
    assert sym["replay_fraction"].values.max() > 0


@pytest.mark.slow
@pytest.mark.brian2
def test_middle_cue_replay_direction_on_more_seeds():
    """Pooled over seeds 32-34 (6 middle cues per rule)."""
    runs = [middle_cue_runs(seed) for seed in (32, 33, 34)]
    asym_b = np.concatenate([a["replay_fraction_backward"].values for a, _ in runs])
    asym_f = np.concatenate([a["replay_fraction"].values for a, _ in runs])
    sym_b = np.concatenate([s["replay_fraction_backward"].values for _, s in runs])
    sym_f = np.concatenate([s["replay_fraction"].values for _, s in runs])
    print("asymmetric", asym_f, asym_b, "symmetric", sym_f, sym_b)
    assert np.mean(asym_b) <= 0.1 and np.mean(asym_f) >= 0.4
    assert np.sum(sym_b > 0) >= 2 and np.sum(sym_f > 0) >= 2
    assert np.mean(sym_b) >= np.mean(asym_b) + 0.1
