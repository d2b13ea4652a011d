"""Figures of a sweep, drawn from its aggregated dataset (``sweep.nc``)."""
from __future__ import annotations

import math

import numpy as np

from ..analysis.capacity import (
    ALPHA_C,
    mceliece_load,
    sparse_capacity_load,
    sparse_critical_load,
    sweep_fits,
)
from ..analysis.regimes import classify_regime
from .style import LAYOUT, MUTED, PALETTE, THEORY, mark_line
from .style import mpl as _mpl


def _by_load(ds, model: str, metric: str):
    load = ds["load"].values
    values = ds[metric].sel(model=model).values
    xs = np.unique(load)
    mean, half = [], []
    for x in xs:
        v = values[(load == x) & np.isfinite(values)]
        mean.append(v.mean() if v.size else np.nan)
        half.append(1.96 * v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else 0.0)
    return xs, np.array(mean), np.array(half)


def _model_ids(ds) -> dict | None:
    """{label: model id} recorded by the sweep, or None for an older sweep that did not record them."""
    import json

    raw = ds.attrs.get("model_ids")
    try:
        ids = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return ids if isinstance(ids, dict) else None


def plot_capacity(ds, fits: dict | None = None):
    """Success rate and final overlap against load P/N, with confidence bands and theory.

    Theory is drawn only for the models it describes: alpha_c = 0.138 (Amit, Gutfreund &
    Sompolinsky 1985) and N/(4 ln N) (all items error-free, McEliece et al. 1987) for the
    classical network on dense items; for the sparse covariance memory, the finite-a signal-to-noise
    prediction at the sweep's success level (:func:`hipposim.analysis.capacity.sparse_critical_load`)
    beside 1/(2a|ln a|) (Tsodyks & Feigel'man 1988, an a -> 0 asymptote). A spiking CA3's load is per item pixel, not
    per cell or connection: its theory is :func:`hipposim.analysis.capacity.treves_rolls_capacity`.

    ``fits`` ({model: critical-load fit}, see :func:`hipposim.analysis.capacity.sweep_fits`)
    is computed when not given.
    """
    plt = _mpl()
    fig, (ax_s, ax_m) = plt.subplots(1, 2, figsize=(11, 4.6), layout=LAYOUT)
    models = list(ds["model"].values)
    fits = sweep_fits(ds) if fits is None else fits
    for k, model in enumerate(models):
        colour = PALETTE[k % len(PALETTE)]
        for ax, metric in ((ax_s, "success_rate"), (ax_m, "final_overlap")):
            xs, mean, half = _by_load(ds, model, metric)
            ax.plot(xs, mean, "o-", color=colour, lw=2, ms=4, label=model)
            ax.fill_between(xs, mean - half, mean + half, color=colour, alpha=0.2, lw=0)
        fit = fits[str(model)]
        if np.isfinite(fit["alpha_c"]):
            ax_s.axvline(fit["alpha_c"], color=colour, lw=1, ls="--",
                         label=f"{model}: fitted critical load {fit['alpha_c']:.3f}")
        else:
            ax_s.plot([], [], color=colour, lw=1, ls="--", label=f"{model}: no critical load in range")
    loads = ds["load"].values
    span = float(np.nanmax(loads) - np.nanmin(loads)) or 1.0
    for ax in (ax_s, ax_m):
        ax.set_xlim(float(np.nanmin(loads)) - 0.04 * span, float(np.nanmax(loads)) + 0.04 * span)
        ax.set_ylim(-0.03, 1.03)
        marks = []
        ids = _model_ids(ds)
        dense = [a for a in np.unique(ds["coding_level"].values) if a >= 0.5]
        if dense and (ids is None or any(i.startswith("hopfield-classical") for i in ids.values())):
            # theories of the Hebb rule on dense +-1 items only: not for sparse or spiking memories
            marks.append((ALPHA_C, r"$\alpha_c$ = 0.138", THEORY, ":"))
            rho = float(ds.attrs.get("cue_flip_fraction", 0.0))
            for n in np.unique(ds["n_units"].values):
                bound = mceliece_load(n, all_items=True)
                if rho > 0:
                    # a cue with a fraction rho flipped starts with overlap 1 - 2 rho: the error-free basin
                    # bound shrinks by about (1 - 2 rho)^2
                    marks.append(((1 - 2 * rho) ** 2 * bound,
                                  f"(1-2\u03c1)\u00b2 N/(4 ln N) = {(1 - 2 * rho) ** 2 * bound:.3g}, \u03c1={rho:g}", "0.35",
                                  "-."))
                else:
                    marks.append((bound, f"N/(4 ln N) = {bound:.3g}, N={n}", "0.35", "-."))
        if ids is None or any(i.startswith("hopfield-sparse") for i in ids.values()):
            level = float(ds.attrs.get("success_overlap", 0.9))
            for a in np.unique(ds["coding_level"].values):
                if a < 0.5:
                    snr = sparse_critical_load(a, level)
                    marks.append((snr, f"signal-to-noise = {snr:.3g}, a={a:g}, m>={level:g}", THEORY, ":"))
                    asym = sparse_capacity_load(a)
                    marks.append((asym, f"1/(2a|ln a|) = {asym:.3g}, a={a:g} (a -> 0)", PALETTE[4], (0, (4, 2))))
        # labels of lines inside the axis stand vertically at staggered heights; off-axis values get an
        # arrow at the edge, stacked from the top so that two of them never share a height
        inside_pos, edge_pos = iter([0.22, 0.72, 0.47, 0.9, 0.1]), {True: iter([0.9, 0.78, 0.66, 0.54]),
                                                                     False: iter([0.9, 0.78, 0.66, 0.54])}
        lo, hi = ax.get_xlim()
        for value, label, colour, ls in marks:
            inside = lo <= value <= hi
            pos = next(inside_pos, 0.5) if inside else next(edge_pos[value > hi], 0.4)
            mark_line(ax, value, label, "x", color=colour, ls=ls, text_pos=pos)
        spiking = ids is not None and any(i.startswith("ca3-spiking") for i in ids.values())
        ax.set_xlabel("load  P / N  (N: units of an item, not CA3 cells)" if spiking else "load  P / N")
        _ca3_load_axis(ax, ds)
    ax_s.set_ylabel("retrieval success rate")
    ax_m.set_ylabel("final overlap with target")
    handles, names = ax_s.get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(4, len(names)), frameon=False, fontsize=8)
    fig.suptitle("Capacity: recall against load (bands: 95% CI over seeds)")
    return fig


def _ca3_load_axis(ax, ds) -> None:
    """A top axis with the load per CA3 cell (P / n_e) and, in its label, per recurrent input (P / C) of the
    first spiking CA3 model whose size the sweep recorded (``ca3_sizes``), when every point has one N."""
    import json

    try:
        sizes = json.loads(ds.attrs.get("ca3_sizes", "{}"))
    except ValueError:
        return
    n_units = np.unique(ds["n_units"].values)
    if not sizes or len(n_units) != 1:
        return
    label, size = next(iter(sizes.items()))
    n, n_e, c = float(n_units[0]), float(size["n_e"]), float(size["C"])
    top = ax.secondary_xaxis("top", functions=(lambda x: x * n / n_e, lambda y: y * n_e / n))
    top.set_xlabel(f"{label}: items per CA3 cell, P / n_e (n_e = {n_e:g})\n"
                   f"items per recurrent input, P / C = {n_e / c:.3g} x P / n_e (C = {c:g})", fontsize=8)


def _models_for(ds, x_name: str) -> list[str]:
    """Models a swept field speaks to: beta -> models that attend; inhibition, gain -> those that do not."""
    models = [str(m) for m in ds["model"].values]
    attends = {m: bool(np.isfinite(ds["attention_entropy"].sel(model=m).values).any()) for m in models}
    if x_name.endswith(".beta"):
        return [m for m in models if attends[m]]
    if x_name.endswith(".inhibition") or x_name.endswith(".gain"):
        return [m for m in models if not attends[m]]
    return models


def plot_generic(ds):
    """Final overlap and retrieval entropy against each swept field, for the models it concerns.

    The entropy is the attention entropy for models that attend and the entropy
    of the final overlaps for the others; both are ln P for an average over all
    P items and 0 for a single item.
    """
    plt = _mpl()
    swept = [c for c in ds.coords if c not in ("task", "model", "seed", "n_units", "n_patterns", "load",
                                               "coding_level")]
    swept = [c for c in swept if len(np.unique(ds[c].values)) > 1] or ["load"]
    rows = [(x, _models_for(ds, x)) for x in swept]
    rows = [(x, ms) for x, ms in rows if ms] or [(swept[0], [str(m) for m in ds["model"].values])]
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 3.8 * len(rows)), squeeze=False, layout=LAYOUT)
    colour = {str(m): PALETTE[k % len(PALETTE)] for k, m in enumerate(ds["model"].values)}
    n_max = float(np.nanmax(ds["n_patterns"].values))
    for (x_name, models), (ax_o, ax_h) in zip(rows, axes):
        x = ds[x_name].values
        numeric = np.issubdtype(np.asarray(x).dtype, np.number)
        xs = np.unique(x)
        for model in models:
            att = np.isfinite(ds["attention_entropy"].sel(model=model).values).any()
            for ax, metric in ((ax_o, "final_overlap"), (ax_h, "attention_entropy" if att else "overlap_entropy")):
                v = ds[metric].sel(model=model).values
                means = np.array([np.nanmean(v[x == u]) if np.isfinite(v[x == u]).any() else np.nan for u in xs])
                ax.plot(xs if numeric else np.arange(len(xs)), means, "o-", color=colour[model],
                        label=f"{model} ({'attention' if att and metric != 'final_overlap' else 'overlaps'})"
                        if metric != "final_overlap" else model)
        for ax in (ax_o, ax_h):
            if numeric and xs.min() > 0 and xs.max() / xs.min() > 20:
                ax.set_xscale("log")
            if not numeric:
                ax.set_xticks(np.arange(len(xs)), [str(u) for u in xs])
            ax.set_xlabel(x_name)
            ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
        ax_o.set_ylabel("final overlap with target")
        ax_h.set_ylabel("retrieval entropy (nats)")
        ax_h.axhline(np.log(n_max), color=MUTED, ls=":", lw=1)
        ax_h.axhline(0, color=MUTED, ls=":", lw=1)
        ax_h.annotate("ln P: average over all items", (0.02, np.log(n_max)), xycoords=("axes fraction", "data"),
                      fontsize=8, color="0.4", va="bottom")
        ax_h.annotate("single item", (0.02, 0), xycoords=("axes fraction", "data"), fontsize=8, color="0.4",
                      va="bottom")
    return fig


def _regime_grid(ds, model, x_name):
    """(loads, xs, grid) with each cell the rounded mean regime over seeds."""
    xs = np.unique(ds[x_name].values)
    loads = np.unique(ds["load"].values)
    entropy = ds["attention_entropy"].sel(model=model).values
    from_overlaps = not np.isfinite(entropy).any()
    if from_overlaps:
        entropy = ds["overlap_entropy"].sel(model=model).values
    regime = classify_regime(entropy, ds["n_patterns"].values, from_overlaps)
    grid = np.full((len(loads), len(xs)), np.nan)
    for i, l in enumerate(loads):
        for j, b in enumerate(xs):
            sel = (ds["load"].values == l) & (ds[x_name].values == b)
            if sel.any() and np.isfinite(regime[sel]).any():
                grid[i, j] = np.round(np.nanmean(regime[sel]))
    return loads, xs, grid


def plot_phase(ds):
    """Regime maps: beta x load for models that attend, inhibition x load for CA3.

    Regimes come from the attention entropy (or, for models that do not
    attend, the entropy of the final overlaps): single item, metastable
    (a cluster or mixture), average of all.
    """
    plt = _mpl()
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    knob = [c for c in ds.coords if c.startswith("knobs.")]
    panels = []
    for model in ds["model"].values:
        for x_name in knob:
            if len(np.unique(ds[x_name].values)) > 1:
                has_att = np.isfinite(ds["attention_entropy"].sel(model=model).values).any()
                # a spiking circuit that attends gets its beta from a biological knob (it records a fitted beta_eff)
                biological = not has_att or ("beta_eff" in ds and np.isfinite(ds["beta_eff"].sel(model=model).values).any())
                if (x_name.endswith("beta") and has_att and not biological) or (not x_name.endswith("beta")
                                                                                and biological):
                    panels.append((model, x_name))
    if not panels:
        return plot_generic(ds)
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False, layout=LAYOUT)
    cmap = ListedColormap([PALETTE[2], PALETTE[3], PALETTE[0]])
    for ax, (model, x_name) in zip(axes[0], panels):
        loads, xs, grid = _regime_grid(ds, model, x_name)
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=2, origin="lower", aspect="auto")
        ax.set_xticks(range(len(xs)), [f"{b:g}" for b in xs], rotation=45)
        ax.set_yticks(range(len(loads)), [f"{l:.3g}" for l in loads])
        ax.set_xlabel(x_name.split(".")[-1])
        ax.set_ylabel("load P / N")
        ax.grid(False)
        basis = ("attention" if np.isfinite(ds["attention_entropy"].sel(model=model).values).any()
                 else "final overlaps")
        ax.set_title(f"{model}: regimes over {x_name.split('.')[-1]} x load\n(from the entropy of its {basis})",
                     fontsize=10)
    axes[0][-1].legend(handles=[Patch(color=c, label=t) for c, t in zip(cmap.colors, ["single item", "metastable",
                                                                                     "average of all"])],
                       loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return fig


def plot_sweep(ds, folder, subdir: str = "figures", formats=("png",), fits: dict | None = None) -> list[str]:
    """Draw a sweep's figures into ``folder``; returns the written paths (relative to it)."""
    plt = _mpl()
    written = []
    if ds.attrs.get("sweep_kind") == "capacity":
        fig, name = plot_capacity(ds, fits), "capacity"
    elif ds.attrs.get("sweep_kind") == "sequence_capacity":
        from .sequence import plot_sequence_capacity

        fig, name = plot_sequence_capacity(ds, fits), "sequence_capacity"
    elif ds.attrs.get("sweep_kind") == "phase":
        fig, name = plot_phase(ds), "phase"
    else:
        fig, name = plot_generic(ds), "sweep"
    figures = [(fig, name)]
    if ("beta_eff" in ds and "knobs.inhibition" in ds.coords and np.isfinite(ds["beta_eff"].values).any()
            and len(np.unique(ds["knobs.inhibition"].values)) > 1):
        from .attention_spiking import plot_beta_vs_inhibition

        figures.append((plot_beta_vs_inhibition(ds), "beta_eff_vs_inhibition"))
    for fig, name in figures:
        for fmt in formats:
            rel = f"{subdir}/{name}.{fmt}"
            folder.save_figure(fig, rel)
            written.append(rel)
        plt.close(fig)
    return written
