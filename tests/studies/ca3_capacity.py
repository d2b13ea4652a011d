"""Capacity of ``ca3-spiking-v3`` against the Treves-Rolls estimate (run by hand; minutes per point).

Random +-1 items of 256 pixels are stored online; CA3 stores each as its dentate-gyrus
code, a sparse code at coding level ``a`` (the model's ``coding_level``, 0.07). Eight
stored items, spread over the list, are cued with their left half hidden, and the
fraction recalled is the fraction passing the window criterion
(:func:`hipposim.analysis.completion.completion_scores`). The number of recurrent
inputs per CA3 cell is ``C = p_ee n_e``. The capacity at each ``C`` is the number of
items at which the recalled fraction falls to 0.5, and ``k`` of
``p_max ~ k C / (a ln(1/a))`` (Treves & Rolls 1991) is fitted
(:func:`hipposim.analysis.capacity.fit_treves_rolls`)::

    python tests/studies/ca3_capacity.py --n-e 1000 --p-ee 0.1 0.2 --counts 16 32 64 96 --out ca3_capacity
    python tests/studies/ca3_capacity.py --n-e 4000 --p-ee 0.025 0.05 --counts 16 32 64 96 --out ca3_capacity_4000

writes ``<out>.json`` (every point and the fit) and ``<out>.png``; ``<out>.jsonl`` keeps each finished
point, so a rerun with more counts or seeds computes only the new ones. A network that runs away
(a population above ``max_rate``) counts as recalling nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

CUED = 8


def items_and_cues(n_items: int, seed: int):
    """``n_items`` random +-1 items; ``CUED`` of them, spread over the list, cued with the left half hidden."""
    from hipposim.stimuli import Stimulus, region_mask

    rng = np.random.default_rng([seed, n_items])
    patterns = rng.choice([-1.0, 1.0], size=(n_items, 256))
    hidden = region_mask("left_half", (16, 16)).ravel()
    pick = np.unique(np.linspace(0, n_items - 1, min(CUED, n_items)).astype(int))
    cues = np.where(hidden, 0.0, patterns[pick])
    return Stimulus(patterns=patterns, names=tuple(f"item{m}" for m in range(n_items)), coding="bipolar",
                    cues=cues, targets=pick, known=np.tile(~hidden, (len(pick), 1)), image_shape=(16, 16))


def recalled_fraction(n_e: int, p_ee: float, n_items: int, seed: int, params: dict | None = None) -> dict:
    from hipposim.models.ca3_spiking_v3 import CA3SpikingV3

    from hipposim.analysis.completion import completion_scores
    from hipposim.errors import ModelError

    stim = items_and_cues(n_items, seed)
    t0 = time.perf_counter()
    row = {"n_e": n_e, "p_ee": p_ee, "C": p_ee * n_e, "count": n_items, "seed": seed, "params": params or {}}
    try:
        ds = CA3SpikingV3(n_e=n_e, p_ee=p_ee, **(params or {})).run(stim, np.random.default_rng([seed, n_items, 1]))
    except ModelError as exc:  # an overloaded network that runs away recalls nothing
        if "runaway" not in str(exc):
            raise
        return {**row, "window_pass": 0.0, "best_at_end": 0.0, "runaway": str(exc),
                "wall_s": time.perf_counter() - t0}
    scores = completion_scores(ds)
    return {**row, "targets": [int(t) for t in stim.targets],
            "per_cue_pass": [bool(v) for v in np.asarray(scores["window_pass"])],
            "window_pass": float(np.mean(scores["window_pass"])),
            "best_at_end": float(np.mean(scores["best_at_end"])),
            "window_corr": [round(float(v), 3) for v in np.asarray(scores["window_corr"])],
            "code_rate_hz": [round(float(v), 1) for v in np.asarray(scores["code_rate_hz"])],
            "wall_s": time.perf_counter() - t0}


def fit(points: list[dict], coding_level: float) -> dict:
    from hipposim.analysis.capacity import fit_treves_rolls

    curves = {}
    for c in sorted({p["C"] for p in points}):
        rows = sorted((p for p in points if p["C"] == c), key=lambda p: p["count"])
        counts = sorted({p["count"] for p in rows})
        frac = [np.mean([p["window_pass"] for p in rows if p["count"] == n]) for n in counts]
        curves[c] = (counts, frac)
    out = fit_treves_rolls(curves, coding_level)
    out["curves"] = {str(c): {"counts": list(map(int, n)), "fraction": list(map(float, f))}
                     for c, (n, f) in curves.items()}
    out["capacity"] = {str(c): v for c, v in out["capacity"].items()}
    out["k_per_c"] = {str(c): v for c, v in out["k_per_c"].items()}
    return out


def figure(result: dict, path: str) -> None:
    from hipposim.analysis.capacity import treves_rolls_capacity
    from hipposim.plotting.style import PALETTE, mpl

    plt = mpl()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    a, k = result["coding_level"], result["k"]
    for i, (c, curve) in enumerate(result["curves"].items()):
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(curve["counts"], curve["fraction"], "o-", color=colour, label=f"C = {float(c):g} inputs per cell")
        p_tr = treves_rolls_capacity(float(c), a, k)
        ax.axvline(p_tr, color=colour, ls="--", lw=1,
                   label=f"k C / (a ln 1/a) = {p_tr:.0f} (fitted k = {k:.3f})")
    ax.axhline(result["level"], color="0.6", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("items stored")
    ax.set_ylabel("fraction of cues recalled (window criterion)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(f"ca3-spiking-v3 capacity against Treves-Rolls (a = {a:g})")
    ax.legend(fontsize=8, loc="lower left")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-e", type=int, default=1000)
    ap.add_argument("--p-ee", type=float, nargs="+", default=[0.1, 0.2])
    ap.add_argument("--counts", type=int, nargs="+", default=[16, 32, 64, 96])
    ap.add_argument("--seeds", type=int, nargs="+", default=[501])
    ap.add_argument("--out", default="ca3_capacity")
    ap.add_argument("--params", type=json.loads, default={},
                    help='model parameters other than the defaults, as JSON (e.g. \'{"theta_ee": 0.05}\')')
    args = ap.parse_args(argv)
    from hipposim.models.ca3_spiking_v3 import CA3SpikingV3Params

    a = CA3SpikingV3Params(**args.params).coding_level
    log = args.out + ".jsonl"  # every finished point, one per line: a rerun skips them
    done = {}
    if os.path.exists(log):
        with open(log) as fh:
            for line in fh:
                row = json.loads(line)
                done[(row["n_e"], row["p_ee"], row["count"], row["seed"],
                      json.dumps(row.get("params", {}), sort_keys=True))] = row
    points = []
    for p_ee in args.p_ee:
        for n in args.counts:
            for seed in args.seeds:
                row = done.get((args.n_e, p_ee, n, seed, json.dumps(args.params, sort_keys=True)))
                if row is None:
                    row = recalled_fraction(args.n_e, p_ee, n, seed, args.params)
                    with open(log, "a") as fh:
                        fh.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
                points.append(row)
    result = {"points": points, **fit(points, a)}
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.out)) or ".", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(result, fh, indent=1)
    os.replace(tmp, args.out + ".json")
    figure(result, args.out + ".png")
    print(json.dumps({k: result[k] for k in ("capacity", "k", "ratio")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
