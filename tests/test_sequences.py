"""Sequences: stimuli and cues, the sequence kernels against independent computations, the sequence
models, the analysis of how far a sequence is played, capacity against theory, and bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
import yaml

from hipposim.analysis.sequence import (SEQUENCE_ALPHA_C, capacity_exponent, correct_steps,
                                        dense_sequence_capacity, fit_sequence_capacity, position_profile,
                                        sequence_metrics)
from hipposim.cli import main
from hipposim.contract import standard_dataset
from hipposim.functional.retrieval import (induction_attention, play_sequences, previous_token_mask,
                                           sequence_field, sequence_transitions, softmax_retrieval)
from hipposim.run.execute import run_models
from hipposim.scenario import loads_scenario
from hipposim.stimuli import Stimulus, build_stimulus

SEQUENCE_MODELS = ("sequence-classical-v1", "sequence-dense-v1", "attention-causal-v1", "attention-induction-v1")


def scenario(patterns: dict, cues: dict | None = None, models: list | None = None, seed: int = 11, **extra) -> dict:
    return {"version": 1, "name": "seq", "seed": seed, "patterns": patterns,
            "cues": cues or {"kind": "noisy", "fraction": 0.1},
            "models": models or [{"id": "sequence-classical-v1", "label": "classical"}], **extra}


def validate_exit(doc: dict, write_yaml, capsys) -> tuple[int, str]:
    code = main(["validate", str(write_yaml(yaml.safe_dump(doc, sort_keys=False)))])
    return code, capsys.readouterr().err


# --------------------------------------------------------------------------- stimuli

def test_sequence_stimulus_holds_items_sequence_major_with_the_contract_metadata():
    doc = scenario({"kind": "sequences", "count": 3, "length": 5, "size": 64},
                   {"kind": "noisy", "fraction": 0.25, "targets": [2, 0], "position": [0, 3]})
    st = build_stimulus(loads_scenario(yaml.safe_dump(doc)))
    assert st.patterns.shape == (15, 64) and set(np.unique(st.patterns)) == {-1.0, 1.0}
    assert st.metadata["sequences"] == [list(range(5)), list(range(5, 10)), list(range(10, 15))]
    assert st.sequences.shape == (3, 5) and st.sequences.dtype.kind == "i"
    assert st.metadata["cyclic"] is False
    assert st.metadata["cue_sequences"] == [2, 2, 0, 0] and st.metadata["cue_positions"] == [0, 3, 0, 3]
    assert st.targets.tolist() == [10, 13, 0, 3]
    for cue, t in zip(st.cues, st.targets):  # each cue is its target with exactly 25% of the units flipped
        assert np.sum(cue != st.patterns[t]) == 16
    again = Stimulus.from_dataset(st.to_dataset())
    assert again.sequences.tolist() == st.sequences.tolist() and again.metadata == st.metadata


def test_sparse_and_image_items_and_cycles():
    sparse = build_stimulus(loads_scenario(yaml.safe_dump(scenario(
        {"kind": "sequences", "count": 2, "length": 3, "items": "sparse", "size": 100, "coding_level": 0.1,
         "cyclic": True}))))
    assert sparse.coding == "binary" and np.all(sparse.patterns.sum(axis=1) == 10) and sparse.cyclic
    names = ["apple", "cup", "heart", "house"]
    images = build_stimulus(loads_scenario(yaml.safe_dump(scenario(
        {"kind": "sequences", "count": 2, "length": 2, "items": "images", "names": names},
        {"kind": "masked", "region": "left_half", "position": 1}))))
    assert images.names == tuple(names) and images.image_shape == (16, 16)
    assert images.targets.tolist() == [1, 3] and not images.known[0].reshape(16, 16)[:, :8].any()


@pytest.mark.parametrize("patterns, cues, field, words", [
    ({"kind": "sequences", "count": 2, "length": 1, "size": 32}, None, "patterns.length", "at least 2"),
    ({"kind": "sequences", "count": 2, "length": 4, "size": 32}, {"position": 4}, "cues",
     "beyond the sequence length 4"),
    ({"kind": "sequences", "count": 2, "length": 4, "size": 32}, {"position": [0, 7]}, "cues", "beyond"),
    ({"kind": "sequences", "count": 2, "length": 4, "size": 32}, {"targets": [2]}, "cues", "sequence index"),
    ({"kind": "random", "count": 4, "size": 32}, {"position": 1}, "cues", "sequence patterns"),
    ({"kind": "sequences", "count": 2, "length": 2, "items": "images", "names": ["apple", "cup"]}, None,
     "patterns", "need 4"),
    ({"kind": "sequences", "count": 2, "length": 3}, None, "patterns", "size"),
])
def test_bad_sequence_input_exits_2_naming_the_field(patterns, cues, field, words, write_yaml, capsys):
    code, err = validate_exit(scenario(patterns, cues), write_yaml, capsys)
    assert code == 2, err
    assert field in err and words in err and "line" in err


def test_a_one_shot_model_on_sequences_and_a_sequence_model_on_items_exit_2(write_yaml, capsys):
    doc = scenario({"kind": "sequences", "count": 2, "length": 4, "size": 32},
                   models=[{"id": "sequence-dense-v1", "label": "dense"},
                           {"id": "hopfield-classical-v1", "label": "hop"}])
    code, err = validate_exit(doc, write_yaml, capsys)
    assert code == 2 and "models[1].id" in err and "'hop'" in err and "cannot play sequences" in err
    assert "models[0]" not in err
    doc = scenario({"kind": "random", "count": 4, "size": 32},
                   models=[{"id": "attention-causal-v1", "label": "att"}])
    code, err = validate_exit(doc, write_yaml, capsys)
    assert code == 2 and "models[0].id" in err and "'att'" in err and "patterns.kind" in err


def test_a_replay_longer_than_the_memory_limit_is_refused_before_it_runs(write_yaml, capsys):
    doc = scenario({"kind": "sequences", "count": 20, "length": 50, "size": 1000},
                   models=[{"id": "sequence-classical-v1", "label": "classical"},
                           {"id": "attention-causal-v1", "label": "long", "params": {"max_steps": 100000}}])
    code, err = validate_exit(doc, write_yaml, capsys)
    assert code == 2 and "models[1]" in err and "memory" in err and "--max-memory" in err
    doc["models"][1]["params"]["max_steps"] = 49
    assert validate_exit(doc, write_yaml, capsys)[0] == 0


# --------------------------------------------------------------------------- kernels

@pytest.mark.parametrize("seed", [3, 17, 29])
def test_classical_and_dense_fields_equal_their_formulas(seed):
    rng = np.random.default_rng(seed)
    n, s, length = 48, 3, 5
    x = rng.choice([-1.0, 1.0], size=(s * length, n))
    keys, values = sequence_transitions(np.arange(s * length).reshape(s, length), cyclic=False)
    assert len(keys) == s * (length - 1) and np.all(values == keys + 1)
    states = rng.choice([-1.0, 0.0, 1.0], size=(4, n))
    j = sum(np.outer(x[v], x[k]) for k, v in zip(keys, values)) / n  # Sompolinsky & Kanter's J, built by hand
    js = sum(np.outer(x[m], x[m]) for m in range(s * length)) / n
    h, _ = sequence_field(states, x[keys], x[values], "identity", symmetric=0.7, items=x)
    np.testing.assert_allclose(h, states @ (j + 0.7 * js).T, atol=1e-12)
    for d in (2, 3):
        want = np.stack([sum(x[v] * (x[k] @ st / n) ** d for k, v in zip(keys, values)) for st in states])
        np.testing.assert_allclose(sequence_field(states, x[keys], x[values], "polynomial", degree=d)[0], want,
                                   atol=1e-12)
    beta = 3.0  # moderate: exp(beta m) does not overflow, so the exact formula can be evaluated
    exact = np.stack([sum(x[v] * np.exp(beta * (x[k] @ st / n)) for k, v in zip(keys, values)) for st in states])
    h, _ = sequence_field(states, x[keys], x[values], "exponential", beta=beta)
    ratio = exact / h  # one positive factor per cue
    assert np.all(ratio > 0) and np.allclose(ratio, ratio[:, :1], rtol=1e-10)


@pytest.mark.parametrize("seed", [5, 41, 77, 90])
def test_causal_attention_is_the_exponential_dense_network_up_to_its_positive_normaliser(seed):
    """V^T softmax(beta K x / N) times sum_mu f_mu equals sum_mu xi^(mu+1) f_mu with f = exp-weights, to 1e-12,
    before the sign; the attention side is computed by softmax_retrieval, the dense side by the kernel."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    x = rng.choice([-1.0, 1.0], size=(int(rng.integers(6, 40)), n))
    keys, values = sequence_transitions(np.arange(len(x)).reshape(1, -1), cyclic=bool(seed % 2))
    states = np.where(rng.random((5, n)) < 0.2, 0.0, x[rng.integers(0, len(x), 5)])
    beta = float(rng.uniform(1, 60))
    dense, f = sequence_field(states, x[keys], x[values], "exponential", beta=beta)
    attention, w = softmax_retrieval(states, x[keys], x[values], beta / n)
    np.testing.assert_allclose(attention * f.sum(axis=1, keepdims=True), dense, rtol=0,
                               atol=1e-12 * np.abs(dense).max())
    np.testing.assert_allclose(w, f / f.sum(axis=1, keepdims=True), atol=1e-12)
    causal, _ = sequence_field(states, x[keys], x[values], "softmax", beta=beta)
    np.testing.assert_allclose(causal, attention, atol=1e-12)


def test_induction_attention_is_masked_attention_over_the_past_within_segments():
    rng = np.random.default_rng(8)
    n, t = 32, 11
    tokens = rng.choice([-1.0, 1.0], size=(t, n))
    segments = np.array([0] * 4 + [1] * 5 + [2] * 2)
    out, w = induction_attention(tokens, segments, beta=5.0)
    for q in range(t):  # by hand: pairs (x_(j-1), x_j), 1 <= j <= q, within one segment
        pairs = [j for j in range(1, q + 1) if segments[j] == segments[j - 1]]
        if not pairs:
            assert np.all(out[q] == 0)
            continue
        s = np.array([5.0 * tokens[q] @ tokens[j - 1] / n for j in pairs])
        p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        np.testing.assert_allclose(out[q], p @ tokens[pairs], atol=1e-12)
        assert np.all(w[q][[j for j in range(t) if j not in pairs]] == 0)
    mask = previous_token_mask(segments)
    assert not mask[:, 0].any() and not mask[:, 4].any() and not mask[:, 9].any()  # segment starts
    assert np.array_equal(mask, np.tril(mask))  # never the future


# --------------------------------------------------------------------------- models

@pytest.mark.parametrize("seed", [21, 22])
def test_every_sequence_model_plays_every_cued_sequence_to_the_end(seed):
    models = [{"id": m, "label": m.split("-")[1]} for m in SEQUENCE_MODELS]
    doc = scenario({"kind": "sequences", "count": 4, "length": 9, "size": 240, "cyclic": bool(seed % 2)},
                   {"kind": "noisy", "fraction": 0.15}, models, seed=seed)
    sc = loads_scenario(yaml.safe_dump(doc))
    st, results = run_models(sc)
    for label, ds in results.items():
        m = sequence_metrics(ds, None, st)
        assert m["sequence_recalled"] == 1.0, (label, m)
        assert m["sequence_correct_steps"] == m["sequence_possible_steps"] == (9 if st.cyclic else 8)
        assert m["mean_sequence_overlap"] > 0.85
        last = ds["overlap"].values[np.arange(4), -1]  # (cue, pattern) at the last step
        due = st.sequences[:, 0] if st.cyclic else st.sequences[:, -1]
        assert np.all(np.argmax(last, axis=1) == due)


def test_the_classical_network_fails_far_above_its_capacity_where_attention_plays_on():
    doc = scenario({"kind": "sequences", "count": 2, "length": 40, "size": 100, "cyclic": True},
                   {"kind": "noisy", "fraction": 0.0}, [{"id": "sequence-classical-v1", "label": "c"},
                                                        {"id": "attention-causal-v1", "label": "a"}], seed=33)
    sc = loads_scenario(yaml.safe_dump(doc))  # load P/N = 0.8, three times alpha_c
    st, res = run_models(sc)
    assert sequence_metrics(res["c"], None, st)["sequence_recalled"] == 0.0
    assert sequence_metrics(res["a"], None, st)["sequence_recalled"] == 1.0


# --------------------------------------------------------------------------- analysis

def _stimulus(length: int, positions: list[int], cyclic: bool = False) -> Stimulus:
    rng = np.random.default_rng(1)
    x = rng.choice([-1.0, 1.0], size=(length, 16))
    return Stimulus(patterns=x, names=tuple(f"i{k}" for k in range(length)), coding="bipolar",
                    cues=x[positions], targets=np.array(positions), known=np.ones((len(positions), 16), bool),
                    metadata={"sequences": [list(range(length))], "cyclic": cyclic,
                              "cue_positions": positions, "cue_sequences": [0] * len(positions)})


def _result(stimulus, overlap: np.ndarray, unit: str):
    n_cues, n_steps = overlap.shape[:2]
    return standard_dataset(stimulus, np.zeros((n_cues, n_steps, 16)), overlap, None, np.full(n_cues, -1),
                            step_values=np.arange(n_steps) * (10.0 if unit == "ms" else 1.0), step_unit=unit)


def test_update_steps_count_correct_steps_to_the_first_error():
    st = _stimulus(6, [0, 2])
    ov = np.zeros((2, 6, 6))
    for t in range(6):
        ov[0, t, t] = 0.9  # cue 0 plays 0, 1, 2, then 4 instead of 3
        if 2 + t < 6:
            ov[1, t, 2 + t] = 1.0  # cue 1 plays 2..5 correctly
    ov[0, 3] = 0
    ov[0, 3, 4] = 0.95
    ds = _result(st, ov, "update")
    assert correct_steps(ds, st).tolist() == [2, 3]
    m = sequence_metrics(ds, None, st)
    assert m["sequence_recalled"] == 0.5 and m["sequence_possible_steps"] == 4.0
    prof = position_profile(ds, st)
    assert prof[0, 3] == 0 and prof[0, 1] == 0.9 and np.isnan(prof[1, :2]).all()


def test_time_bins_are_mapped_onto_positions_by_the_assemblies_peaks():
    """A replay that dwells 3 bins per item, with a silent gap, is played once per item in order; bins
    below the minimum overlap play nothing; a skipped item is an error."""
    st = _stimulus(5, [0, 0])
    ov = np.full((2, 20, 5), 0.05)
    for p in range(5):
        ov[0, 1 + 3 * p: 4 + 3 * p, p] = [0.6, 0.9, 0.7]  # bins 1..15: items 0..4, peak in the middle
    ov[0, 16:, :] = 0.3  # below the minimum: nothing played
    for k, p in enumerate([0, 1, 3, 4]):  # cue 1 skips item 2
        ov[1, 1 + 3 * k: 4 + 3 * k, p] = 0.8
    ds = _result(st, ov, "ms")
    assert correct_steps(ds, st, 0.5).tolist() == [4, 1]
    prof = position_profile(ds, st, 0.5)
    np.testing.assert_allclose(prof[0], 0.9)
    assert np.isnan(prof[1, 2])
    assert correct_steps(ds, st, 0.95).tolist() == [0, 0]  # nothing reaches the minimum


# --------------------------------------------------------------------------- capacity

def _play_cycle(n: int, length: int, seed: int, separation: str, **kw) -> float:
    """1.0 when a cyclic sequence of ``length`` random items, cued with its clean first item, is played
    once round with the item due having the largest overlap (at least 0.5) at every step."""
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(length, n))
    keys, values = sequence_transitions(np.arange(length).reshape(1, -1), cyclic=True)
    states, _ = play_sequences(x[:1], x[keys], x[values], length, separation, **kw)
    ov = states[0] @ x.T / n
    due = np.arange(length + 1) % length
    return float(np.all(np.argmax(ov, axis=1) == due) and np.all(ov[np.arange(length + 1), due] >= 0.5))


def test_classical_critical_load_at_n_1000_is_within_25_percent_of_during_et_al():
    n = 1000
    lengths = np.array([150, 200, 230, 250, 270, 290, 310, 350, 400])
    seeds = np.arange(101, 105)
    stored, ok, seed_of = [], [], []
    for s in seeds:
        for length in lengths:
            stored.append(length), seed_of.append(s)
            ok.append(_play_cycle(n, int(length), int(s) * 1000 + int(length), "identity"))
    fit = fit_sequence_capacity(np.array(stored), np.array(ok), np.array(seed_of))
    alpha = fit["capacity"] / n
    assert abs(alpha - SEQUENCE_ALPHA_C) <= 0.25 * SEQUENCE_ALPHA_C, alpha


def test_dense_polynomial_capacity_exponent_is_within_25_percent_of_chaudhry_et_al():
    d, sizes = 2, (48, 96)
    caps = {}
    for n in sizes:
        theory = dense_sequence_capacity(n, d)
        lengths = np.unique((theory * np.array([0.5, 1, 2, 3, 4, 5, 6, 8, 10])).astype(int))
        stored, ok, seed_of = [], [], []
        for s in range(201, 204):
            for length in lengths:
                stored.append(length), seed_of.append(s)
                ok.append(_play_cycle(n, int(length), s * 7919 + int(length), "polynomial", degree=d))
        caps[n] = fit_sequence_capacity(np.array(stored), np.array(ok), np.array(seed_of))["capacity"]
    measured = capacity_exponent(sizes[0], caps[sizes[0]], sizes[1], caps[sizes[1]])
    theirs = capacity_exponent(sizes[0], dense_sequence_capacity(sizes[0], d), sizes[1],
                               dense_sequence_capacity(sizes[1], d))
    assert 1.5 < theirs < d  # N^d / ln(N P): a little below d
    assert abs(measured - theirs) <= 0.25 * theirs, (measured, theirs, caps)


@pytest.mark.parametrize("seed", [61, 62, 63])
def test_causal_attention_plays_a_sequence_longer_than_2n_to_the_end(seed):
    """N = 64, a sequence of 2N + 6 = 134 items: at a beta where every key meets the separation bound of
    Ramsauer et al. (Theorem 3), causal attention plays it to the end; the classical network at the same
    load (2.1, eight times alpha_c) does not."""
    from hipposim.models.hopfield_modern import separated_fraction

    n, length = 64, 134
    doc = scenario({"kind": "sequences", "count": 1, "length": length, "size": n},
                   {"kind": "noisy", "fraction": 0.0},
                   [{"id": "attention-causal-v1", "label": "a", "params": {"beta": 40.0}},
                    {"id": "sequence-classical-v1", "label": "c"}], seed=seed)
    sc = loads_scenario(yaml.safe_dump(doc))
    st, res = run_models(sc)
    assert res["a"].attrs["separated_fraction"] == 1.0
    assert separated_fraction(st.patterns[:-1] / np.sqrt(n), 4.0) < 1.0  # the bound is not met at any beta
    m = sequence_metrics(res["a"], None, st)
    assert m["sequence_correct_steps"] == length - 1 and m["sequence_recalled"] == 1.0
    assert sequence_metrics(res["c"], None, st)["sequence_recalled"] == 0.0


def test_dense_theory_grows_faster_than_n():
    for d in (2, 3):
        p = [dense_sequence_capacity(n, d) for n in (100, 200, 400)]
        assert p[1] / p[0] > 2 ** (d - 0.5) and p[2] / p[1] > 2 ** (d - 0.5)


# --------------------------------------------------------------------------- runs, sweeps, comparison

def test_a_sequence_capacity_sweep_writes_capacities_and_its_figure(tmp_path):
    from hipposim.run import run_sweep

    doc = scenario({"kind": "sequences", "count": 1, "length": 4, "size": 40, "cyclic": True},
                   {"kind": "noisy", "fraction": 0.0},
                   [{"id": "sequence-classical-v1", "label": "classical"}],
                   sweep={"kind": "sequence_capacity", "seeds": [0, 1],
                          "zip": {"patterns.size": [40] * 6 + [80] * 6,
                                  "patterns.length": [4, 8, 12, 16, 24, 40, 8, 16, 24, 32, 48, 80]}})
    ds = run_sweep(loads_scenario(yaml.safe_dump(doc)), tmp_path / "sw", progress=False)
    assert ds["n_patterns"].values.tolist()[:12:2] == [4, 8, 12, 16, 24, 40]  # each length at two seeds
    fits = json.loads((tmp_path / "sw" / "fits.json").read_text())
    for n in ("40", "80"):
        cap = fits["classical"]["by_size"][n]["capacity"]
        assert cap is not None and 0.1 * int(n) < cap < 0.5 * int(n)
    assert (tmp_path / "sw" / "figures" / "sequence_capacity.png").is_file()


def test_compare_reports_sequence_metrics_and_draws_the_sequence_figures(tmp_path, write_yaml, capsys):
    doc = scenario({"kind": "sequences", "count": 2, "length": 4, "items": "images",
                    "names": ["apple", "cup", "heart", "house", "letter_a", "letter_t", "smiley", "star"]},
                   {"kind": "masked", "region": "left_half"},
                   [{"id": "attention-causal-v1", "label": "attention"},
                    {"id": "sequence-classical-v1", "label": "classical"}])
    code = main(["compare", str(write_yaml(yaml.safe_dump(doc))), "--out", str(tmp_path / "cmp")])
    out = capsys.readouterr().out
    assert code == 0 and "correct steps before the first error" in out
    table = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    assert table["attention"]["sequence_correct_steps"] == 3.0
    assert 0 <= table["classical"]["mean_sequence_overlap"] <= 1
    figures = {p.name for p in (tmp_path / "cmp" / "figures").iterdir()}
    assert {"sequence_positions.png", "sequence_recall.png"} <= figures
    report = (tmp_path / "cmp" / "report.html").read_text()
    assert "sequence_correct_steps" in report
    saved = xr.open_dataset(tmp_path / "cmp" / "runs" / "seq" / "stimulus.nc")
    assert saved["sequences"].values.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
