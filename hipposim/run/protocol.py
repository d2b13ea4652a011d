"""The comparison protocols behind the documented numbers: baselines trained alike, held-out cue types,
one-shot storage, the hyper-parameter search and basin switching.

Every trained model (``mlp-baseline-v2``, ``autoencoder-v1`` and the
feed-forward layer of ``transformer-block-v1``) draws its training cues from
one corruption mixture (:func:`hipposim.stimuli.corruption_copies`), the
``training`` section of a scenario. Held-out cue types are cue types that no
component of that mixture produces. Numbers are reported per seed and as the
mean with a 95 % bootstrap interval over seeds (:func:`seed_bootstrap_ci`,
whole seeds resampled).

Run from the command line (each prints a JSON table)::

    python -m hipposim.run.protocol held-out --seeds 10 11 12 13 14
    python -m hipposim.run.protocol one-shot --seeds 10 11 12 13 14
    python -m hipposim.run.protocol search --seeds 100 101 102 > search.json
    python -m hipposim.run.protocol held-out --seeds 10 11 12 13 14 --baseline search.json
    python -m hipposim.run.protocol basins --seeds 10 11 12 13 14
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Callable

import numpy as np

IMAGES = ["apple", "cup", "heart", "house", "letter_a", "letter_t", "smiley", "star"]

#: the mixture of the held-out protocol: random masks, left/right halves, flips; top halves are never seen
MIXTURE_TOP_HELD_OUT = {"copies": 16, "mixture": [
    {"kind": "random_mask", "weight": 0.4, "max_hidden": 0.6},
    {"kind": "region", "weight": 0.3, "regions": ["left_half", "right_half"]},
    {"kind": "flip", "weight": 0.3, "max_fraction": 0.3}]}
#: the same without flips, with all four halves: flipped units are never seen
MIXTURE_FLIPS_HELD_OUT = {"copies": 16, "mixture": [
    {"kind": "random_mask", "weight": 0.4, "max_hidden": 0.6},
    {"kind": "region", "weight": 0.6, "regions": ["left_half", "right_half", "top_half", "bottom_half"]}]}

HELD_OUT = {"top_half": ("{kind: masked, region: top_half}", MIXTURE_TOP_HELD_OUT),
            "flips_20": ("{kind: noisy, fraction: 0.2}", MIXTURE_FLIPS_HELD_OUT),
            # in distribution, for reference: left halves are a component of the first mixture
            "left_half_seen": ("{kind: masked, region: left_half}", MIXTURE_TOP_HELD_OUT)}


def image_stimulus(cues: str, seed: int, training: dict | None, names=IMAGES):
    """The 8 built-in images, the given cues, and the training mixture every trained model draws from."""
    import hipposim

    scenario = hipposim.loads_scenario(f"name: protocol\nseed: {seed}\npatterns: {{kind: images, names: "
                                       f"{list(names)}}}\ncues: {cues}\nmodels: [{{id: hopfield-classical-v1}}]\n")
    stim = hipposim.build_stimulus(scenario)
    return dataclasses.replace(stim, training=training)


def models(beta: float = 20.0, fit_items: int | None = None, **baseline) -> dict[str, Callable]:
    """The compared models at single-item retrieval (beta on cosine scores); baselines at their defaults."""
    from hipposim.models.denoising_autoencoder import DenoisingAutoencoder
    from hipposim.models.hopfield_classical import ClassicalHopfield
    from hipposim.models.hopfield_modern import ModernHopfield
    from hipposim.models.mlp_baseline import MLPBaseline
    from hipposim.models.transformer_block import TransformerBlock

    fit = {} if fit_items is None else {"fit_items": fit_items}
    ff_fit = {} if fit_items is None else {"ff_fit_items": fit_items}
    return {"classical": lambda: ClassicalHopfield(update="async", max_steps=10),
            "modern": lambda: ModernHopfield(beta=beta, normalize=True, max_steps=5),
            "transformer": lambda: TransformerBlock(n_layers=2, beta=beta, score_scale="unit", **ff_fit),
            "mlp": lambda: MLPBaseline(**fit, **baseline.get("mlp", {})),
            "autoencoder": lambda: DenoisingAutoencoder(**fit, **baseline.get("autoencoder", {}))}


def score(ds, stim) -> dict[str, np.ndarray]:
    """Per-cue measures: raw m (penalises amplitude), m of the sign-thresholded state, probed accuracy."""
    from ..analysis.recall import item_space_metrics

    out = item_space_metrics(ds, stim)
    return {"m_raw": np.array(out["per_cue_item_overlap"]),
            "m_sign": np.array(out["per_cue_sign_item_overlap"]),
            "probed_accuracy": np.array(out["per_cue_probed_accuracy"])}


def seed_bootstrap_ci(per_seed: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over seeds and its 95 % percentile interval from resampling whole seeds with replacement.

    ``per_seed`` holds one value per seed (cues averaged within a seed first),
    so the interval reflects variation between seeds (patterns' noise, masks,
    trained weights), not between cues of one seed (Efron & Tibshirani 1993,
    the percentile bootstrap). Fewer than 5 seeds give no interval (NaN).
    """
    v = np.asarray(per_seed, dtype=float)
    if v.size < 5:
        return float(np.mean(v)), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    boots = rng.choice(v, size=(n_boot, v.size), replace=True).mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(np.mean(v)), float(lo), float(hi)


def _sig(v: float) -> float | None:
    """Three significant figures (None for NaN, so the JSON stays valid)."""
    return None if not np.isfinite(v) else float(f"{float(v):.3g}")


def _table(per_seed: dict) -> dict:
    """{model: {measure: {mean, ci, per_seed}}} from {model: {measure: [per-seed means]}}."""
    out = {}
    for name, measures in per_seed.items():
        out[name] = {}
        for k, vals in measures.items():
            mean, lo, hi = seed_bootstrap_ci(np.array(vals))
            out[name][k] = {"mean": _sig(mean), "ci95": [_sig(lo), _sig(hi)],
                            "per_seed": [_sig(v) for v in vals]}
    return out


def held_out(seeds, which=("top_half", "flips_20", "left_half_seen"), baseline: dict | None = None) -> dict:
    """Every model trained (where it is trained) on one mixture, cued with a type none of them saw."""
    result = {}
    for key in which:
        cue, mixture = HELD_OUT[key]
        per_seed: dict = {}
        for seed in seeds:
            stim = image_stimulus(cue, seed, mixture)
            for name, make in models(**(baseline or {})).items():
                s = score(make().run(stim, np.random.default_rng(seed)), stim)
                for k, v in s.items():
                    per_seed.setdefault(name, {}).setdefault(k, []).append(float(np.mean(v)))
        result[key] = _table(per_seed)
    return result


def one_shot(seeds, baseline: dict | None = None) -> dict:
    """Seven images trained on, the eighth stored after training; left-half cues of the new and an old item.

    Returns per model the measures on the new item and on the old one.
    """
    per_seed: dict = {}
    for seed in seeds:
        new = IMAGES[seed % len(IMAGES)]
        names = [n for n in IMAGES if n != new] + [new]
        stim = image_stimulus(f"{{kind: masked, region: left_half, targets: [{new}, {names[0]}]}}", seed,
                              MIXTURE_TOP_HELD_OUT, names)
        for name, make in models(fit_items=7, **(baseline or {})).items():
            s = score(make().run(stim, np.random.default_rng(seed)), stim)
            for k, v in s.items():
                per_seed.setdefault(f"{name}:new", {}).setdefault(k, []).append(float(v[0]))
                per_seed.setdefault(f"{name}:old", {}).setdefault(k, []).append(float(v[1]))
    return _table(per_seed)


#: the documented search: every combination is scored on validation cues of other seeds
SEARCH = {"mlp": {"hidden": [256, 512, 1024], "ridge_alpha": [1e-3, 1e-2, 1e-1, 1.0]},
          "autoencoder": {"hidden": [128, 256, 512], "alpha": [1e-4, 1e-2], "learning_rate": [3e-3, 1e-2]}}
#: the validation cues: drawn from the training mixture itself (random masks, left/right halves, flips)
VALIDATION_CUES = ("{kind: masked, fraction: 0.4}", "{kind: masked, region: right_half}",
                   "{kind: noisy, fraction: 0.15}")


def search(seeds, grids: dict | None = None) -> dict:
    """Grid search of each baseline's hyper-parameters on validation cues (probed accuracy, then m_sign).

    The cues are in the training distribution (:data:`VALIDATION_CUES`) and
    drawn with ``seeds`` that no reported number uses, so the choice is not
    tuned to the held-out cue types nor to the seeds of the results.
    Returns, per baseline, the score of every combination and the chosen one.
    """
    import itertools

    from hipposim.models.denoising_autoencoder import DenoisingAutoencoder
    from hipposim.models.mlp_baseline import MLPBaseline

    classes = {"mlp": MLPBaseline, "autoencoder": DenoisingAutoencoder}
    out = {}
    for name, grid in (grids or SEARCH).items():
        rows = []
        keys = list(grid)
        for values in itertools.product(*(grid[k] for k in keys)):
            params = dict(zip(keys, values))
            acc, msign = [], []
            for seed in seeds:
                for cue in VALIDATION_CUES:
                    stim = image_stimulus(cue, seed, MIXTURE_TOP_HELD_OUT)
                    s = score(classes[name](**params).run(stim, np.random.default_rng(seed)), stim)
                    acc.append(np.mean(s["probed_accuracy"]))
                    msign.append(np.mean(s["m_sign"]))
            rows.append({"params": params, "probed_accuracy": round(float(np.mean(acc)), 4),
                         "m_sign": round(float(np.mean(msign)), 4)})
        best = max(rows, key=lambda r: (r["probed_accuracy"], r["m_sign"]))
        out[name] = {"grid": rows, "chosen": best["params"]}
    return out


def basins(seeds, betas=(20.0, 3.0), names=("apple", "cup", "letter_t", "smiley")) -> dict:
    """Basin switching: the smallest mixture weight toward another item that changes the recalled item.

    See :func:`hipposim.analysis.jacobian.basin_switch_weight`. Reported per
    model and beta: the mean switch weight over ordered item pairs and seeds.
    """
    from hipposim.models.transformer_block import TransformerBlock

    from ..analysis.jacobian import attention_sublayer_jacobian, basin_switching, jacobian_summary

    out = {}
    for beta in betas:
        per_seed: dict = {}
        for seed in seeds:
            stim = image_stimulus("{kind: masked, region: left_half}", seed, MIXTURE_TOP_HELD_OUT, list(names))
            off = ~np.eye(len(names), dtype=bool)[np.asarray(stim.targets)]
            for name, make in models(beta=beta).items():
                b = basin_switching(make(), stim, seed)
                row = per_seed.setdefault(name, {})
                row.setdefault("switch_weight", []).append(float(np.nanmean(b["switch_weight"])))
                row.setdefault("purity_at_switch", []).append(float(np.nanmean(b["purity"])))
                row.setdefault("no_switch_fraction", []).append(float(np.mean(~np.isfinite(b["switch_weight"][off]))))
            jac, att = attention_sublayer_jacobian(TransformerBlock(n_layers=2, beta=beta, score_scale="unit"),
                                                   stim, seed)
            summary = jacobian_summary(jac, "")
            row = per_seed.setdefault("transformer_attention_sublayer", {})
            row.setdefault("jacobian_mean_abs", []).append(summary["jacobian_mean_abs"])
            row.setdefault("jacobian_frobenius", []).append(summary["jacobian_frobenius"])
            row.setdefault("one_minus_max_attention", []).append(float(np.mean(1 - att.max(axis=-1))))
        out[f"beta={beta:g}"] = _table(per_seed)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hipposim.run.protocol", description=__doc__.split("\n")[0])
    parser.add_argument("protocol", choices=["held-out", "one-shot", "search", "basins"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12, 13, 14])
    parser.add_argument("--baseline", metavar="SEARCH_JSON",
                        help="held-out and one-shot: train the baselines with the hyper-parameters a 'search' run "
                             "chose (its JSON output, run on other seeds) instead of their defaults")
    args = parser.parse_args(argv)
    if args.protocol in ("held-out", "one-shot") and args.baseline:
        with open(args.baseline, encoding="utf-8") as f:
            chosen = {name: entry["chosen"] for name, entry in json.load(f).items()}
        fn = {"held-out": held_out, "one-shot": one_shot}[args.protocol]
        print(json.dumps({"baseline": chosen, **fn(args.seeds, baseline=chosen)}, indent=1))
        return
    fn = {"held-out": held_out, "one-shot": one_shot, "search": search, "basins": basins}[args.protocol]
    print(json.dumps(fn(args.seeds), indent=1))


if __name__ == "__main__":
    main()
