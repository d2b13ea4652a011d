"""Sequence figures: how far and how well every model plays its cued sequence, from results only.

:func:`plot_sequence_positions` is the sequence counterpart of the comparison's ``trajectories``:
every model's overlap with the item due at each position, on one position axis (time bins of a
spiking model are mapped onto positions by its assemblies' peaks,
:func:`hipposim.analysis.sequence.position_profile`). :func:`plot_sequence_recall` is the counterpart
of ``recall.png``: what each model plays, item by item. :func:`plot_sequence_capacity` draws a
``sequence_capacity`` sweep against theory.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..analysis.sequence import (SEQUENCE_ALPHA_C, cue_sequences, dense_sequence_capacity, is_time_axis,
                                 play_steps, position_profile)
from .style import LAYOUT, MUTED, PALETTE, mpl as _mpl


def plot_sequence_positions(results: Mapping[str, Any], stimulus, min_overlap: float = 0.5):
    """Overlap with the item due at each sequence position, every model on one position axis.

    Lines are the mean over cues of the positions each cue reaches; the shaded band spans the cues'
    smallest and largest values. A position a model never plays counts as overlap 0 (drawn open).
    """
    plt = _mpl()
    seqs, _, pos = cue_sequences(stimulus)
    length = seqs.shape[1]
    fig, ax = plt.subplots(figsize=(8.5, 4.4), layout=LAYOUT)
    x = np.arange(length)
    markers = "osD^v<>p"
    for k, (label, ds) in enumerate(results.items()):
        prof = position_profile(ds, stimulus, min_overlap)  # (cue, position)
        due = np.ones_like(prof, dtype=bool) if stimulus.cyclic else x[None, :] >= pos[:, None]
        filled = np.where(due, np.nan_to_num(prof, nan=0.0), np.nan)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(filled, axis=0)
                lo, hi = np.nanmin(filled, axis=0), np.nanmax(filled, axis=0)
        colour = PALETTE[k % len(PALETTE)]
        how = "time bins mapped by peaks" if is_time_axis(ds) else "one update per item"
        ax.plot(x, mean, ["-", "--", "-.", ":"][k % 4], marker=markers[k % len(markers)], color=colour, lw=2,
                ms=5, alpha=0.9, label=f"{label} ({how})")
        ax.fill_between(x, lo, hi, color=colour, alpha=0.12, lw=0)
    ax.axhline(min_overlap, color=MUTED, ls=":", lw=1)
    ax.text(0.99, min_overlap + 0.01, f"minimum overlap to count a step: {min_overlap:g}", fontsize=8,
            color="0.4", ha="right", va="bottom", transform=ax.get_yaxis_transform())
    cued = sorted(set(int(p) for p in pos))
    ax.set_xticks(x, [f"{p}\ncue" if p in cued else str(p) for p in x])
    ax.set_xlabel("position in the sequence")
    ax.set_ylabel("overlap with the item due there\n(mean over cues; band: min to max)")
    ax.set_ylim(-0.05, 1.08)
    ax.set_xlim(-0.3, length - 0.7)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    ax.set_title(f"Sequence replay: {len(pos)} cue(s), {seqs.shape[0]} stored sequence(s) of {length} items"
                 + (" (cyclic)" if stimulus.cyclic else ""), fontsize=10)
    return fig


def _image(vec: np.ndarray, shape, coding: str) -> np.ndarray:
    img = np.asarray(vec, dtype=float).reshape(shape)
    return np.clip((img + 1) / 2 if coding == "bipolar" else img, 0, 1)


def plot_sequence_recall(results: Mapping[str, Any], stimulus, cue: int = 0, min_overlap: float = 0.5):
    """What each model plays from one cue, item by item: the stored sequence on top, a row per model.

    Each column is a position of the cued sequence. For image items the model's state at the step
    that plays the position best is drawn (:func:`hipposim.analysis.sequence.play_steps`); for other
    items a tile names the stored item closest to that state and its overlap, green when it is the
    item due, red otherwise. A position the model never plays stays blank.
    """
    plt = _mpl()
    seqs, cue_seq, pos = cue_sequences(stimulus)
    order = seqs[cue_seq[cue]]
    length = len(order)
    labels = list(results)
    images = stimulus.image_shape is not None
    fig, axes = plt.subplots(len(labels) + 1, length, figsize=(max(1.05 * length, 5.5), 1.15 * (len(labels) + 1) + 0.6),
                             squeeze=False, layout=LAYOUT)
    right, wrong = PALETTE[2], PALETTE[1]
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
        ax.grid(False)
        for s in ax.spines.values():
            s.set_visible(False)
    for p, item in enumerate(order):
        ax = axes[0, p]
        if images:
            ax.imshow(_image(stimulus.patterns[item], stimulus.image_shape, stimulus.coding), cmap="gray_r",
                      vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.text(0.5, 0.5, stimulus.names[item], ha="center", va="center", fontsize=8)
            ax.set_xlim(0, 1), ax.set_ylim(0, 1)
        ax.set_title("cue" if p == pos[cue] else f"{p}", fontsize=8, fontweight="normal")
    axes[0, 0].set_ylabel("stored", rotation=0, ha="right", va="center", fontsize=9, fontweight="bold")
    for r, label in enumerate(labels, start=1):
        ds = results[label]
        at = play_steps(ds, stimulus, min_overlap)[cue]
        ov = ds["overlap"].values[cue]  # (step, pattern)
        for p in range(length):
            ax = axes[r, p]
            t = at[p]
            if t < 0:
                continue
            best = int(np.argmax(ov[t]))
            ok = best == order[p] and ov[t, best] >= min_overlap
            if images:
                ax.imshow(_image(ds["state"].values[cue, t], stimulus.image_shape, stimulus.coding),
                          cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
                for s in ax.spines.values():
                    s.set_visible(True), s.set_color(right if ok else wrong), s.set_linewidth(2)
            else:
                ax.set_xlim(0, 1), ax.set_ylim(0, 1)
                ax.add_patch(plt.Rectangle((0.05, 0.05), 0.9, 0.9, color=right if ok else wrong, alpha=0.25))
                ax.text(0.5, 0.5, f"{stimulus.names[best]}\n{ov[t, best]:.2f}", ha="center", va="center",
                        fontsize=7)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9, fontweight="bold")
    fig.suptitle(f"Sequence recall from cue {cue}: what each model plays "
                 f"(green: the item due, red: another; m = overlap)", fontsize=10)
    return fig


def plot_sequence_capacity(ds, fits: dict | None = None):
    """A ``sequence_capacity`` sweep: the fraction of cues played to the end against the load P/N (left,
    one line per model and N) and the fitted capacity, in stored items, against N (right, log-log) with
    theory: alpha_c N, alpha_c = 0.269, for the classical network (During, Coolen & Sherrington 1998)
    and N^d / (2 (2d-1)!! ln(N P)) for the polynomial dense network (Chaudhry et al. 2023)."""
    import json

    from ..analysis.sequence import sequence_capacity_fits

    plt = _mpl()
    fits = sequence_capacity_fits(ds) if fits is None else fits
    fig, (ax_s, ax_c) = plt.subplots(1, 2, figsize=(12, 5.6), layout=LAYOUT)
    models = [str(m) for m in ds["model"].values]
    sizes = np.unique(ds["n_units"].values)
    styles = ["-", "--", "-.", ":"]
    for k, model in enumerate(models):
        colour = PALETTE[k % len(PALETTE)]
        for j, n in enumerate(sizes):
            sel = ds["n_units"].values == n
            load = ds["load"].values[sel]
            vals = ds["sequence_recalled"].sel(model=model).values[sel]
            xs = np.unique(load)
            mean = [np.nanmean(vals[load == x]) if np.isfinite(vals[load == x]).any() else np.nan for x in xs]
            ax_s.plot(xs, mean, styles[j % 4], marker="o", ms=3, color=colour, label=f"{model}, N={n}")
        by = {int(n): f for n, f in fits.get(model, {}).get("by_size", {}).items()}
        ns = sorted(by)
        cap = np.array([by[n]["capacity"] if by[n]["capacity"] is not None else np.nan for n in ns], dtype=float)
        expo = fits.get(model, {}).get("exponent")
        if np.isfinite(cap).any():
            ax_c.plot(ns, cap, "o-", color=colour, lw=2,
                      label=f"{model}: measured" + (f" (exponent {expo:.2f})" if expo is not None else ""))
        beyond = [n for n, c in zip(ns, cap) if not np.isfinite(c)
                  and np.nanmin(ds["sequence_recalled"].sel(model=model).values[ds["n_units"].values == n]) >= 0.5]
        if beyond:  # every swept length played to the end: the capacity lies above the longest one
            top = [float(ds["n_patterns"].values[ds["n_units"].values == n].max()) for n in beyond]
            ax_c.plot(beyond, top, "^", color=colour, ms=9, ls="none",
                      label=f"{model}: beyond the longest length swept")
    raw = ds.attrs.get("model_ids")
    ids = json.loads(raw) if isinstance(raw, str) else {}
    params = json.loads(ds.attrs.get("model_params", "{}")) if isinstance(ds.attrs.get("model_params"), str) else {}
    grid = np.geomspace(float(sizes.min()), float(sizes.max()), 20) if len(sizes) > 1 else sizes.astype(float)
    for k, model in enumerate(models):
        mid = str(ids.get(model, ""))
        prm = params.get(model, {})
        colour = PALETTE[k % len(PALETTE)]
        if mid.startswith("sequence-classical") and not prm.get("symmetric"):
            ax_c.plot(grid, SEQUENCE_ALPHA_C * grid, ":", color=colour, lw=1.5,
                      label=f"{model} theory: 0.269 N (During et al. 1998)")
        if mid.startswith("sequence-dense") and prm.get("separation", "polynomial") == "polynomial":
            d = int(prm.get("degree", 3))
            ax_c.plot(grid, [dense_sequence_capacity(n, d) for n in grid], "--", color=colour, lw=1.5,
                      label=f"{model} theory, no unit ever wrong: N^{d} / (2·{2 * d - 1}!!·ln NP) "
                            f"(Chaudhry et al. 2023)")
    from matplotlib.ticker import NullFormatter, NullLocator

    loads = ds["load"].values[np.isfinite(ds["load"].values)]
    wide = loads.size and loads.min() > 0 and loads.max() / loads.min() > 20
    if wide:
        ax_s.set_xscale("log")
        ax_s.xaxis.set_minor_formatter(NullFormatter())
    ax_s.set_xlabel("load  P / N  (P: every stored item" + ("; log scale)" if wide else ")"))
    ax_s.set_ylabel("fraction of cues played to the end")
    ax_s.set_ylim(-0.03, 1.03)
    ax_s.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncols=2)
    ax_c.set_xscale("log")
    drawn = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax_c.get_lines()] or [np.ones(1)])
    drawn = drawn[np.isfinite(drawn) & (drawn > 0)]
    if drawn.size and drawn.max() / drawn.min() > 10:
        ax_c.set_yscale("log")
        ax_c.yaxis.set_minor_formatter(NullFormatter())
    ax_c.xaxis.set_major_locator(NullLocator()), ax_c.xaxis.set_minor_locator(NullLocator())
    ax_c.xaxis.set_minor_formatter(NullFormatter())
    ax_c.set_xticks([float(n) for n in sizes], [str(int(n)) for n in sizes])
    ax_c.set_xlim(float(sizes.min()) / 1.15, float(sizes.max()) * 1.15)
    ax_c.set_xlabel("units N")
    ax_c.set_ylabel("capacity: stored items at the fitted\ncritical load (fraction 0.5)")
    ax_c.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16))
    fig.suptitle("Sequence capacity: the longest total stored length played to the end, against N")
    return fig
