"""Figures of a spiking result (a dataset with the variables in :data:`REQUIRES`): pure functions of the dataset.

Every ``plot_*`` takes the result :class:`xarray.Dataset` (and, where needed,
the :class:`~hipposim.stimuli.Stimulus`) plus an optional ``ax``/``axes``, draws,
and returns the figure. None of them runs a simulation. :func:`plot_all` draws
them all and hands each figure to a ``save(fig, name)`` callback.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: variables a result must have for these figures
REQUIRES = ("population_rate", "phase_start", "phase_end", "weights_after", "ca3_code")
PHASE_COLOURS = {"encode": "#cfe3f5", "recall": "#fde2c4"}
POP_COLOURS = {"ec": "#7f7f7f", "ca3_e": "#d62728", "ca3_i": "#1f77b4", "ca1_e": "#2ca02c", "ca1_i": "#9467bd"}
POP_LABELS = {"ec": "EC", "ca3_e": "CA3 pyr", "ca3_i": "CA3 basket", "ca1_e": "CA1 pyr", "ca1_i": "CA1 int"}


def _axes(ax, n=1, figsize=(8, 4), **kw):
    import matplotlib.pyplot as plt

    if ax is not None:
        fig = np.atleast_1d(ax)[0].figure
        return fig, ax
    fig, ax = plt.subplots(1, n, figsize=figsize, **kw)
    return fig, ax


def _shade_phases(ds, ax, labels: bool = True) -> None:
    names = [str(x) for x in ds["phase"].values]
    starts, ends = ds["phase_start"].values, ds["phase_end"].values
    texts, kinds = [], []
    for name, a, b in zip(names, starts, ends):
        kind = name.split("_")[0]
        if kind in PHASE_COLOURS:
            ax.axvspan(a, b, color=PHASE_COLOURS[kind], zorder=0, lw=0)
            if labels:
                label = name.split("_", 1)[1]
                if kind == "recall":
                    label = f"cue {label}"
                texts.append(ax.text((a + b) / 2, 1.0, label, transform=ax.get_xaxis_transform(), ha="center",
                                     va="bottom", fontsize=7, color="0.3", clip_on=False))
                kinds.append(kind)
    _thin_labels(ax, texts, kinds)


def _thin_labels(ax, texts: list, kinds: list, gap_px: float = 6.0) -> None:
    """Drop the phase labels that would collide; the first label of each phase kind always stays.

    With many cues the phases are narrower than their labels; the shading still
    marks every phase, and the kept labels (every k-th) name where they are.
    """
    if not texts:
        return
    ax.get_xlim()  # settles autoscaled limits, so text positions are final in display space
    renderer = ax.figure.canvas.get_renderer()
    first = {k: i for i, k in reversed(list(enumerate(kinds)))}
    order = sorted(first.values()) + [i for i in range(len(texts)) if i not in first.values()]
    kept: list[tuple[float, float]] = []
    for i in order:
        box = texts[i].get_window_extent(renderer)
        pad = gap_px + 0.25 * box.width  # room for the layout engine to shrink the axes later
        lo, hi = box.x0 - pad, box.x1 + pad
        if any(lo < b and a < hi for a, b in kept):
            texts[i].remove()
        else:
            kept.append((box.x0, box.x1))


def _populations(ds) -> list[str]:
    return [p for p in ("ec", "ca3_e", "ca3_i", "ca1_e", "ca1_i") if f"{p}_spike_time" in ds]


def plot_raster(ds, ax=None, cells_per_population: int = 120):
    """Spike raster of a subsample of every population; encoding (blue) and recall (orange) shaded.

    CA3 pyramidal cells are taken from the recorded weight sample, grouped by
    the item whose code holds them, so item assemblies show as bands.
    """
    fig, ax = _axes(ax, figsize=(11, 6))
    offset = 0
    ticks, ticklabels = [], []
    for pop in reversed(_populations(ds)):
        t = ds[f"{pop}_spike_time"].values
        i = ds[f"{pop}_spike_index"].values
        n = int(i.max()) + 1 if i.size else 1
        if pop == "ca3_e" and "ca3_sample" in ds.coords:
            chosen = ds["ca3_sample"].values[: cells_per_population * 2]
            if len(chosen) > cells_per_population:
                chosen = chosen[np.linspace(0, len(chosen) - 1, cells_per_population).astype(int)]
        else:
            size = max(n, int(ds.sizes.get(f"{pop}_unit", n)))
            chosen = np.unique(np.linspace(0, size - 1, min(cells_per_population, size)).astype(int))
        row = np.full(int(max(n, chosen.max() + 1)), -1)
        row[chosen] = np.arange(len(chosen))
        keep = (i < len(row))
        keep[keep] = row[i[keep]] >= 0
        ax.scatter(t[keep], row[i[keep]] + offset, s=0.6, marker="|", color=POP_COLOURS[pop], lw=0.6)
        ticks.append(offset + len(chosen) / 2)
        ticklabels.append(POP_LABELS[pop])
        offset += len(chosen) + 10
    _shade_phases(ds, ax)
    ax.set_yticks(ticks, ticklabels)
    ax.set_ylim(-5, offset)
    ax.set_xlim(0, float(ds["phase_end"].values.max()))
    ax.set_xlabel("time (ms)")
    ax.set_title("Spikes (subsample); encoding shaded blue, recall orange", pad=14)
    fig.tight_layout()
    return fig


def plot_population_rates(ds, ax=None):
    """Population firing rates (10 ms bins) over the whole simulation."""
    fig, ax = _axes(ax, figsize=(11, 3.5))
    time = ds["time"].values
    for pop in [str(p) for p in ds["population"].values]:
        ax.plot(time, ds["population_rate"].sel(population=pop).values, lw=1, color=POP_COLOURS.get(pop),
                label=POP_LABELS.get(pop, pop))
    _shade_phases(ds, ax)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    ax.set_xlim(time[0], time[-1])
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title("Population rates", pad=14)
    fig.tight_layout()
    return fig


def plot_overlaps(ds, axes=None, level: float = 0.8):
    """CA3 and CA1 overlap m_mu(t) with every item during each recall trial (target bold)."""
    import matplotlib.pyplot as plt

    n_cues = ds.sizes["cue"]
    if axes is None:
        fig, axes = plt.subplots(2, n_cues, figsize=(3.2 * n_cues + 1, 5.2), sharex=True, sharey=True,
                                 squeeze=False)
    else:
        axes = np.atleast_2d(axes)
        fig = axes.flat[0].figure
    steps = ds["step"].values
    names = [str(p) for p in ds["pattern"].values]
    colours = plt.get_cmap("tab10")
    for c in range(n_cues):
        target = int(ds["target"].values[c])
        for row, (var, area) in enumerate((("overlap", "CA3"), ("overlap_ca1", "CA1"))):
            ax = axes[row, c]
            for mu, name in enumerate(names):
                ax.plot(steps, ds[var].values[c, :, mu], color=colours(mu % 10),
                        lw=2.2 if mu == target else 0.9, alpha=1 if mu == target else 0.7,
                        label=name)
            ax.axhline(level, color="0.5", ls="--", lw=0.8)
            ax.set_ylim(-0.3, 1.0)
            if c == 0:
                ax.set_ylabel(f"{area} overlap")
            if row == 0:
                ax.set_title(f"cue {c}: {names[target]}", fontsize=10)
            if row == 1:
                ax.set_xlabel("time since cue onset (ms)")
    handles, labels = axes[0, -1].get_legend_handles_labels()
    fig.suptitle("Overlap with each stored item (Pearson, 10 ms bins; target bold)")
    fig.tight_layout(rect=(0, 0, 1 - 0.9 / fig.get_figwidth(), 1))
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    return fig


def plot_weights(ds, axes=None):
    """Recurrent CA3 weights of the sampled cells before and after learning, sorted by item."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), constrained_layout=True)
    else:
        fig = axes[0].figure
    items = ds["ca3_sample_item"].values
    names = [str(p) for p in ds["pattern"].values]
    vmax = float(np.nanmax(ds["weights_after"].values)) if np.isfinite(ds["weights_after"].values).any() else 1
    for ax, var, title in ((axes[0], "weights_before", "before learning"),
                           (axes[1], "weights_after", "after learning")):
        mat = np.ma.masked_invalid(ds[var].values)
        cmap = plt.get_cmap("viridis").with_extremes(bad="white")  # white: no synapse
        im = ax.imshow(mat, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        bounds = np.flatnonzero(np.diff(items)) + 0.5
        for b in bounds:
            ax.axhline(b, color="0.3", lw=0.6)
            ax.axvline(b, color="0.3", lw=0.6)
        blocks = sorted((float(np.mean(np.flatnonzero(items == k))), names[k] if k >= 0 else "none")
                        for k in np.unique(items))
        gap = 0.0 if len(blocks) <= 12 else len(items) / 14   # many items: label blocks a label's width apart
        centres, labels = [], []
        for centre, label in blocks:  # in axis order
            if not centres or centre - centres[-1] >= gap:
                centres.append(centre)
                labels.append(label)
        ax.set_xticks(centres, labels, rotation=45, fontsize=8)
        ax.set_yticks(centres, labels, fontsize=8)
        ax.set_xlabel("postsynaptic cell (by item)")
        if var == "weights_before":
            ax.set_ylabel("presynaptic cell (by item)")
        ax.set_title(f"CA3 recurrent weights, {title}")
    fig.colorbar(im, ax=list(np.atleast_1d(axes)), shrink=0.8, label="weight w (white: no synapse)")
    return fig


def plot_reconstruction(ds, stimulus, cue: int = 0, frames: int = 8, axes=None):
    """Cue, cortex reconstruction at evenly spaced recall times, and the target item."""
    import matplotlib.pyplot as plt

    if stimulus.image_shape is None:
        shape = (1, stimulus.n_units)
    else:
        shape = stimulus.image_shape
    steps = ds["step"].values
    pick = np.unique(np.linspace(0, len(steps) - 1, min(frames, len(steps))).astype(int))
    n = len(pick) + 2
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(1.6 * n, 2.3))
    else:
        fig = axes[0].figure
    target = int(ds["target"].values[cue])
    show = dict(cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
    cue_img = np.where(stimulus.known[cue], stimulus.cues[cue], 0.0)
    if stimulus.coding == "binary":
        cue_img = np.where(stimulus.known[cue], 2 * stimulus.cues[cue] - 1, 0.0)
    axes[0].imshow(cue_img.reshape(shape), **show)
    axes[0].set_title("cue", fontsize=9)
    raw = ds["reconstruction_raw"].values[cue]
    acc = ds["readout_accuracy"].values[cue]
    for ax, k in zip(axes[1:-1], pick):
        img = raw[k] if stimulus.coding == "bipolar" else 2 * raw[k] - 1
        ax.imshow(np.clip(img, -1, 1).reshape(shape), **show)
        ax.set_title(f"{steps[k]:.0f} ms\n{100 * acc[k]:.0f}% px", fontsize=8)
    tgt = stimulus.bipolar_patterns()[target]
    axes[-1].imshow(tgt.reshape(shape), **show)
    axes[-1].set_title(f"stored: {stimulus.names[target]}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Cortex readout of CA1 over recall time", fontsize=10)
    fig.tight_layout()
    return fig


def plot_graph_stats(ds, axes=None):
    """Degree distributions of the recurrent CA3 graph, with clustering and path length."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 1, figsize=(6, 3.8))
    else:
        fig = np.atleast_1d(axes)[0].figure
    ax = np.atleast_1d(axes)[0]
    deg = ds["degree"].values
    ax.bar(deg, ds["degree_hist_in"].values, width=1.0, alpha=0.6, label="in-degree", color="#d62728")
    ax.step(deg, ds["degree_hist_out"].values, where="mid", color="k", lw=1, label="out-degree")
    nz = np.flatnonzero(ds["degree_hist_in"].values + ds["degree_hist_out"].values)
    if nz.size:
        ax.set_xlim(deg[nz[0]] - 2, deg[nz[-1]] + 2)
    a = ds.attrs
    text = (f"topology: {a.get('topology', '?')}\n"
            f"clustering: {a.get('graph_clustering', float('nan')):.3f}\n"
            f"mean path: {a.get('graph_mean_shortest_path', float('nan')):.2f}\n"
            f"density: {a.get('graph_density', float('nan')):.3f}")
    ax.text(0.98, 0.95, text, transform=ax.transAxes, ha="right", va="top", fontsize=8,
            bbox=dict(boxstyle="round", fc="w", ec="0.8"))
    ax.set_xlabel("degree")
    ax.set_ylabel("cells")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_title("CA3 recurrent graph")
    fig.tight_layout()
    return fig


def plot_completion(ds, stimulus, level: float = 0.7, examples: int = 4):
    """Completion judged where the cue cannot help, the network beside its no-plasticity control.

    Left: per cue, the correlation of CA3 spike counts over the second half of recall
    with the target's code (:func:`hipposim.analysis.completion.completion_scores`),
    plastic network and paired control, with the criterion level. Middle: accuracy on
    the hidden pixels per stored item (mean over its cues): readout, control, mean image.
    Right: cue, readout of the network, readout of the control and the stored item for
    the first cue of up to ``examples`` items.
    """
    import matplotlib.pyplot as plt

    from ..analysis.completion import completion_scores
    from ..analysis.spiking import hidden_pixel_accuracy

    sc = completion_scores(ds, level=level)
    has_ctl = "ca3_e_ctl_spike_time" in ds
    ctl = completion_scores(ds, level=level, population="ca3_e_ctl", overlap="overlap_control") if has_ctl else None
    hid = hidden_pixel_accuracy(ds, stimulus)
    targets = ds["target"].values.astype(int)
    names = list(stimulus.names)
    items = list(dict.fromkeys(targets.tolist()))
    firsts = [int(np.flatnonzero(targets == m)[0]) for m in items][:examples]
    fig = plt.figure(figsize=(13.5, 4.4))
    grid = fig.add_gridspec(len(firsts) or 1, 8, width_ratios=[3.2, 0.3, 2.6, 0.15, 0.75, 0.75, 0.75, 0.75])
    ax = fig.add_subplot(grid[:, 0])
    x = np.arange(len(targets))
    ax.axhline(level, color="0.4", ls="--", lw=0.9)
    ax.text(0.99, level, f"criterion {level:g}", va="bottom", ha="right", fontsize=7, color="0.3",
            transform=ax.get_yaxis_transform())
    if ctl is not None:
        ax.plot(x, ctl["window_corr"], "o", ms=4, color="0.6", label="no-plasticity control")
    ok = sc["window_pass"]
    ax.plot(x[ok], sc["window_corr"][ok], "o", ms=5, color=POP_COLOURS["ca3_e"], label="CA3 (passes)")
    ax.plot(x[~ok], sc["window_corr"][~ok], "o", ms=5, mfc="white", color=POP_COLOURS["ca3_e"],
            label="CA3 (fails)")
    for m in items[1:]:
        ax.axvline(np.flatnonzero(targets == m)[0] - 0.5, color="0.9", lw=0.8, zorder=0)
    ax.set_xticks([np.flatnonzero(targets == m).mean() for m in items])
    ax.set_xticklabels([names[m] for m in items], rotation=45, ha="right", fontsize=7)
    ax.set_ylim(-0.1, 1.0)
    ax.set_ylabel("corr. of CA3 counts with target code\n(second half of recall)")
    ax.set_title(f"CA3 state: {100 * ok.mean():.0f}% of cues pass, target best at end "
                 f"{100 * sc['best_at_end'].mean():.0f}%", fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="lower left")
    ax = fig.add_subplot(grid[:, 2])
    xi = np.arange(len(items))
    per = lambda key: np.array([np.nanmean(hid[key][targets == m]) for m in items])  # noqa: E731
    ax.bar(xi - 0.27, per("readout"), width=0.27, color=POP_COLOURS["ca1_e"], label="readout")
    if "control" in hid:
        ax.bar(xi, per("control"), width=0.27, color="0.6", label="control")
    ax.bar(xi + 0.27, per("mean_image"), width=0.27, color="0.85", label="mean image")
    ax.set_xticks(xi)
    ax.set_xticklabels([names[m] for m in items], rotation=45, ha="right", fontsize=7)
    ax.set_ylim(0.4, 1.12)
    ax.set_yticks(np.arange(0.4, 1.01, 0.1))
    ax.axhline(1.0, color="0.8", lw=0.8)
    ax.set_ylabel("accuracy on hidden pixels")
    ctl_text = f", control {np.nanmean(hid['control']):.2f}" if "control" in hid else ""
    ax.set_title(f"Readout {np.nanmean(hid['readout']):.2f}{ctl_text}, mean image "
                 f"{np.nanmean(hid['mean_image']):.2f}", fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="upper left", ncol=3)
    shape = stimulus.image_shape or (1, stimulus.n_units)
    show = dict(cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
    bip_cues = stimulus.bipolar_cues() if stimulus.coding == "binary" else stimulus.cues
    for row, c in enumerate(firsts):
        panels = [("cue", np.where(stimulus.known[c], bip_cues[c], 0.0)),
                  ("CA3 -> CA1\nreadout", np.sign(ds["reconstruction_window"].values[c]))]
        if "reconstruction_window_control" in ds:
            panels.append(("control\nreadout", np.sign(ds["reconstruction_window_control"].values[c])))
        panels.append(("stored", stimulus.bipolar_patterns()[targets[c]]))
        for col, (title, img) in enumerate(panels):
            a = fig.add_subplot(grid[row, 4 + col])
            a.imshow(np.asarray(img, dtype=float).reshape(shape), **show)
            a.set_xticks([])
            a.set_yticks([])
            if row == 0:
                a.set_title(title, fontsize=8)
    fig.suptitle("Completion of what the cue hides (counts over windows; hidden pixels only)", fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.995, bottom=0.2, top=0.86, wspace=0.12, hspace=0.12)
    return fig


def plot_all(ds, stimulus, save: Callable, level: float = 0.8) -> None:
    """Draw every spiking figure and pass each to ``save(fig, name)``."""
    import matplotlib.pyplot as plt

    figures = [("ca3_raster", lambda: plot_raster(ds)),
               ("ca3_population_rates", lambda: plot_population_rates(ds)),
               ("ca3_overlaps", lambda: plot_overlaps(ds, level=level)),
               ("ca3_weights", lambda: plot_weights(ds)),
               ("ca3_graph", lambda: plot_graph_stats(ds))]
    if "reconstruction_window" in ds and "cue_known" in ds and "recall_start" in ds:
        figures.insert(0, ("ca3_completion", lambda: plot_completion(ds, stimulus)))
    for c in range(ds.sizes["cue"]):
        figures.append((f"ca3_reconstruction_cue{c}", lambda c=c: plot_reconstruction(ds, stimulus, cue=c)))
    for name, draw in figures:
        fig = draw()
        save(fig, name)
        plt.close(fig)


def plot_pattern_separation(input_corr, code_corr, theory=None, ca3_corr=None, coding_level: float | None = None,
                            ax=None):
    """The pattern-separation curve: code correlation against input correlation, with the diagonal.

    ``input_corr``/``code_corr`` come from :func:`hipposim.circuits.ca3.pattern_separation`;
    ``theory`` (optional) is :func:`hipposim.circuits.ca3.separation_theory` at the same inputs;
    ``ca3_corr`` (optional) the correlation of CA3's encoding activity for the same pairs.
    """
    fig, ax = _axes(ax, figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="no separation (identity)")
    ax.plot([0, 1], [0, 0.5], color="0.8", ls=":", lw=1, label="half the input correlation")
    if theory is not None:
        ax.plot(input_corr, theory, color="0.3", lw=1.2, label="theory (Gaussian orthant)")
    ax.plot(input_corr, code_corr, "o-", color=POP_COLOURS["ca3_e"], ms=4, label="DG code (kWTA)")
    if ca3_corr is not None:
        ax.plot(input_corr, ca3_corr, "s-", color=POP_COLOURS["ca1_e"], ms=4, label="CA3 encoding activity")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("input correlation (Pearson of the two items)")
    ax.set_ylabel("code correlation (Pearson of the two codes)")
    title = "Pattern separation" + (f" (coding level a = {coding_level:g})" if coding_level else "")
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def plot_hidden_accuracy(readout, control, mean_image, labels=None, ax=None):
    """Per-cue accuracy on the hidden pixels: readout of the plastic network, no-plasticity control, mean image."""
    fig, ax = _axes(ax, figsize=(max(5.0, 0.22 * len(readout) + 2), 3.6))
    x = np.arange(len(readout))
    ax.bar(x - 0.27, readout, width=0.27, color=POP_COLOURS["ca3_e"], label="readout (plastic)")
    ax.bar(x, control, width=0.27, color="0.55", label="no-plasticity control")
    ax.bar(x + 0.27, mean_image, width=0.27, color="0.85", label="mean image")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy on hidden pixels")
    ax.set_xticks(x)
    ax.set_xticklabels(labels if labels is not None else x, rotation=90, fontsize=6)
    ax.set_title("Completion the cue cannot fool: accuracy on the hidden pixels only", pad=22)
    ax.legend(fontsize=7, frameon=False, loc="lower left", ncol=3, bbox_to_anchor=(0.0, 1.0))
    fig.tight_layout()
    return fig
