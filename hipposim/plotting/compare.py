"""Comparison figures: every model's retrieval on shared axes, fixed against input-dependent weights, graphs."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..analysis.recall import item_overlap_trajectory, target_overlap
from .run import plot_image_recall
from .style import PALETTE, mpl as _mpl


def plot_trajectories(results: dict[str, Any], stimulus=None, success_overlap: float = 0.9):
    """Item-space overlap m = xi.s/N of every model's reconstruction on one shared 'processing step' axis.

    With the stimulus, every model is drawn on the same measure (left panel),
    with the scenario's success level. Models whose own overlap is another
    measure (spiking CA3's code correlation) get a second, labelled panel.
    Without the stimulus, each model's own ``overlap`` is drawn and the y-axis
    says so.
    """
    plt = _mpl()
    internal = {label: ds for label, ds in results.items()
                if ds.attrs.get("overlap_measure", "item") != "item"}
    ncols = 2 if (stimulus is not None and internal) else 1
    fig, axes = plt.subplots(1, ncols, figsize=(8 + 4.5 * (ncols - 1), 4.4), squeeze=False,
                             gridspec_kw={"width_ratios": [1.6, 1][:ncols]})
    ax = axes[0, 0]

    def what_of(ds, n):
        unit = str(ds["step"].attrs.get("units", "update"))
        return {"ms": f"{np.diff(ds['step'].values[:2])[0]:.0f}-ms bins" if n > 1 else "ms",
                "update": "updates", "layer": "layers"}.get(unit, unit)

    for k, (label, ds) in enumerate(results.items()):
        traj = (item_overlap_trajectory(ds, stimulus) if stimulus is not None else target_overlap(ds)).mean(axis=0)
        x = np.arange(len(traj))
        ax.plot(x, traj, ["-", "--", "-.", ":"][k % 4], marker="osD^v<>"[k % 7] if len(x) < 30 else None,
                color=PALETTE[k % len(PALETTE)], lw=2, ms=5, alpha=0.85, label=f"{label} ({what_of(ds, len(x))})")
    ax.axhline(success_overlap, color="0.5", ls=":", lw=1)
    ax.text(0.99, success_overlap - 0.01, f"success level {success_overlap:g}", fontsize=8, color="0.4", va="top",
            ha="right", transform=ax.get_yaxis_transform())
    ax.set_xlabel("processing step (time bin, update or layer; each model in its own unit)")
    if stimulus is not None:
        ax.set_ylabel("item-space overlap m = xi.s/N\nof the reconstruction with the target (mean over cues)")
        ax.set_title("Recall in item space: every model on one measure")
    else:
        ax.set_ylabel("each model's own overlap measure with the target")
        ax.set_title("Retrieval over processing steps (own measures)")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(frameon=False, loc="lower right", fontsize=8)
    if ncols == 2:
        ax2 = axes[0, 1]
        for k, (label, ds) in enumerate(results.items()):
            if label not in internal:
                continue
            traj = target_overlap(ds).mean(axis=0)
            ax2.plot(np.arange(len(traj)), traj, color=PALETTE[k % len(PALETTE)], lw=2,
                     label=f"{label}: {ds.attrs.get('overlap_measure')}")
        ax2.set_ylim(-0.05, 1.05)
        ax2.set_xlabel("processing step (each model in its own unit)")
        ax2.set_ylabel("model-internal overlap (not item space)")
        ax2.set_title("Model-internal measure (e.g. CA3 code correlation)", fontsize=10)
        ax2.legend(frameon=False, fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_memory_and_input_dependence(table: dict[str, dict]):
    """Two panels from the comparison table: recall against memory size, and the measured Jacobian variability.

    Left: item-space overlap against the numbers each model stores (log
    scale; entries, synapses or parameters). Right: the variability across
    cues of the Jacobian d reconstruction / d cue, with mean |J_ij| written
    on each bar (a variability of a near-zero map means little).
    """
    plt = _mpl()
    labels = [k for k, m in table.items() if m.get("item_overlap") is not None]
    if not labels:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.25, 1]})
    markers = "osD^v<>p*h"
    for k, label in enumerate(labels):
        m = table[label]
        if m.get("stored_numbers"):
            a1.scatter(m["stored_numbers"], m["item_overlap"], s=80, color=PALETTE[k % len(PALETTE)], zorder=3,
                       alpha=0.75, marker=markers[k % len(markers)], edgecolor="white",
                       label=f"{label}: {m['stored_numbers']:.3g} = {m.get('memory', '')}")
    a1.legend(frameon=False, fontsize=7, loc="lower left")
    a1.set_xscale("log")
    a1.set_xlabel("stored numbers (entries, synapses or parameters; log scale)")
    a1.set_ylabel("item-space overlap m (mean over cues)")
    a1.set_ylim(-0.05, 1.05)
    a1.set_title("Recall against memory size", fontsize=10)
    vals = [table[label].get("jacobian_variability") for label in labels]
    x = np.arange(len(labels))
    a2.bar(x, [0 if v is None else v for v in vals], color=[PALETTE[k % len(PALETTE)] for k in range(len(labels))])
    for xi, label, v in zip(x, labels, vals):
        m = table[label]
        method = str(m.get("jacobian_method", ""))
        txt = (f"mean|J| {m.get('jacobian_mean_abs', 0):.1e}" if v is not None
               else "flat map (J ~ 0)" if "flat" in method else "not measured")
        a2.text(xi, (v or 0) + 0.02, txt, ha="center", fontsize=7, rotation=90, va="bottom")
    a2.set_xticks(x, labels, rotation=30, fontsize=8)
    a2.set_ylabel("Jacobian variability across cues\nmean std_c J_ij / mean |J_ij|")
    a2.set_ylim(0, max([1.0] + [v + 0.6 for v in vals if v is not None]))
    a2.set_title("Input dependence, measured: d reconstruction / d cue", fontsize=10)
    fig.tight_layout()
    return fig


def _attention_source(results: dict[str, Any]):
    """The result whose attention is shown: the Transformer's if there is one, else any that attends."""
    attending = [(label, ds) for label, ds in results.items() if "attention" in ds]
    attending.sort(key=lambda item: "head" not in item[1].dims)  # a Transformer's heads first
    return attending[0] if attending else (None, None)


def _first_read(ds, cue: int) -> np.ndarray:
    """(read, pattern) attention weights of one cue, first head; reads are layers or updates."""
    a = ds["attention"].values[cue, 1:]
    return a[:, 0] if a.ndim == 3 else a


def plot_fixed_vs_dynamic(results: dict[str, Any], n_cues: int = 3):
    """CA3's learned recurrent weights and the feed-forward weights beside attention for three cues."""
    plt = _mpl()
    fixed = []
    for label, ds in results.items():
        if "weights_after" in ds:
            fixed.append((f"{label}: CA3 recurrent weights\n(learned; fixed at recall)", ds["weights_after"].values,
                          "CA3 cell (sorted by item)"))
        if "head" in ds.dims and "ff_weights" in ds:
            w = ds["ff_weights"].values
            fixed.append((f"{label}: feed-forward W_1\n(fixed)", w[: min(64, w.shape[0]), : min(64, w.shape[1])],
                          "unit"))
    label, source = _attention_source(results)
    dynamic = []
    if source is not None:
        names = list(source["pattern"].values)
        unit = source["step"].attrs.get("units", "update")
        for c in range(min(n_cues, source.sizes["cue"])):
            target = names[int(source["target"].values[c])]
            a = _first_read(source, c)
            dynamic.append((f"{label}: attention, cue {c}\n(target '{target}')", a, names,
                            [f"{unit} {j + 1}" for j in range(a.shape[0])]))
    for other, ds in results.items():
        if "memory_rate" in ds and "scores" in ds and other != label:  # a spiking attention circuit's weights
            rates = ds["memory_rate"].values[:n_cues]
            names = list(ds["pattern"].values)
            dynamic.append((f"{other}: memory-layer rates\n(normalised, one row per cue)",
                            rates / rates.sum(axis=1, keepdims=True), names,
                            [f"cue {c} ('{names[int(t)]}')" for c, t in enumerate(ds["target"].values[:n_cues])]))
    ncols = max(1, len(fixed) + len(dynamic))
    fig, axes = plt.subplots(1, ncols, figsize=(3.4 * ncols, 3.8), squeeze=False)
    axes = axes[0]
    for ax, (title, w, axis_label) in zip(axes, fixed):
        im = ax.imshow(w, cmap="viridis", aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        ax.set_xlabel(axis_label, fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
    for ax, (title, a, names, rows) in zip(axes[len(fixed):], dynamic):
        im = ax.imshow(a, cmap="magma", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_yticks(range(a.shape[0]), rows, fontsize=7)
        ax.set_xlabel("stored item (memory)", fontsize=8)
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle("Effective weights by definition (not a measurement): stored weights (left), attention "
                 "probabilities recomputed for each cue (right)", y=1.03)
    fig.tight_layout()
    return fig


def plot_graphs(results: dict[str, Any], per_item: int = 8):
    """networkx drawings: CA3's synaptic graph beside the attention graphs of two cues.

    CA3: ``per_item`` sampled cells of each item's code, coloured by item, with
    the strongest learned synapses (top fifth) as edges; the learned assemblies
    show up as dense same-colour clusters. Attention: the cue linked to every
    stored item, edge width proportional to its weight.
    """
    import networkx as nx

    plt = _mpl()
    panels = []
    for label, ds in results.items():
        if "weights_after" in ds and "ca3_sample_item" in ds.coords:
            items = ds["ca3_sample_item"].values
            keep = np.concatenate([np.nonzero(items == it)[0][:per_item] for it in np.unique(items) if it >= 0])
            w = np.nan_to_num(ds["weights_after"].values[np.ix_(keep, keep)])
            g = nx.Graph()
            for n, k in enumerate(keep):
                g.add_node(n, item=int(items[k]))
            thr = np.percentile(w[w > 0], 80) if np.any(w > 0) else np.inf
            for i, j in zip(*np.nonzero(w >= thr)):
                if i < j:
                    g.add_edge(int(i), int(j), weight=float(w[i, j]))
            panels.append(("ca3", f"{label}: strongest learned CA3 synapses\n(colour = item of the cell; fixed)", g,
                           list(ds["pattern"].values)))
            break
    label, source = _attention_source(results)
    if source is not None:
        names = list(source["pattern"].values)
        for c in range(min(2, source.sizes["cue"])):
            a = _first_read(source, c)[0]
            g = nx.Graph()
            g.add_node("cue")
            for n, wgt in zip(names, a):
                g.add_edge("cue", str(n), weight=float(wgt))
            target = names[int(source["target"].values[c])]
            panels.append(("att", f"{label}: attention of cue {c}\n(target '{target}'; recomputed per cue)", g, names))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 4.2), squeeze=False)
    for ax, (kind, title, g, names) in zip(axes[0], panels):
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        if kind == "ca3":
            pos = nx.circular_layout(g)
            colours = [PALETTE[g.nodes[n]["item"] % len(PALETTE)] for n in g.nodes]
            nx.draw_networkx_edges(g, pos, ax=ax, width=0.7, alpha=0.45)
            nx.draw_networkx_nodes(g, pos, ax=ax, node_size=40, node_color=colours)
            from matplotlib.lines import Line2D

            items = sorted({g.nodes[n]["item"] for n in g.nodes})
            ax.legend(handles=[Line2D([], [], marker="o", ls="", color=PALETTE[i % len(PALETTE)],
                                      label=names[i] if i < len(names) else str(i)) for i in items],
                      loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=len(items), frameon=False, fontsize=7)
        else:
            pos = nx.shell_layout(g, [["cue"], [n for n in g.nodes if n != "cue"]])
            widths = [0.5 + 10 * g[u][v]["weight"] for u, v in g.edges]
            nx.draw_networkx_edges(g, pos, ax=ax, width=widths, alpha=0.6, edge_color="0.3")
            nx.draw_networkx_nodes(g, pos, ax=ax, node_size=700, node_color=["#edae49"] +
                                   [PALETTE[1]] * (g.number_of_nodes() - 1))
            nx.draw_networkx_labels(g, pos, ax=ax, font_size=7)
    fig.tight_layout()
    return fig


def plot_capacity_against_memory(ds, models: list[dict]):
    """A capacity sweep drawn against memory size instead of load: success rate against stored numbers.

    ``ds`` is a capacity sweep dataset (``sweep.nc``: success_rate(task, model)
    with coords n_units, n_patterns); ``models`` the scenario's model entries
    (id, label, params), from which
    :func:`hipposim.analysis.weights.stored_numbers_formula` gives each model's
    stored numbers at every point. One line per model and network size.
    """
    from ..analysis.weights import stored_numbers_formula

    plt = _mpl()
    fig, ax = plt.subplots(figsize=(8, 4.6))
    sizes = np.unique(ds["n_units"].values)
    for k, spec in enumerate(models):
        label = spec.get("label") or spec["id"]
        if label not in list(ds["model"].values):
            continue
        for j, n in enumerate(sizes):
            sel = ds["n_units"].values == n
            counts = np.unique(ds["n_patterns"].values[sel])
            xs, ys = [], []
            for p in counts:
                pick = sel & (ds["n_patterns"].values == p)
                v = ds["success_rate"].sel(model=label).values[pick]
                size = stored_numbers_formula(spec["id"], spec.get("params") or {}, int(n), int(p))
                if size is None or not np.isfinite(v).any():
                    continue
                xs.append(size)
                ys.append(np.nanmean(v))
            if xs:
                ax.plot(xs, ys, ["-", "--"][j % 2], marker="osD^v<>"[k % 7], color=PALETTE[k % len(PALETTE)],
                        label=f"{label}, N = {n}")
    ax.set_xscale("log")
    ax.set_xlabel("stored numbers (entries, synapses or parameters; log scale)")
    ax.set_ylabel("success rate (final m >= success level)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Capacity against memory size (each point: one load P/N;\n"
                 "a Hebbian memory keeps N^2 synapses at every load, a vertical line)", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
