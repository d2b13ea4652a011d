"""Brain against Transformer: side-by-side figures, a metrics table and report.html.

``hipposim compare`` takes a scenario (it is run first) or finished run folders
that share one pattern set. It never simulates for a run folder: everything is
drawn from saved results.

Fixed against input-dependent weights. A model's *effective weights* are the
matrix that maps its input to its output at recall. For CA3 these are the
learned recurrent synapses, for the feed-forward "cortex" the fitted W_1, W_2;
both are the same for every cue. For attention (and the modern Hopfield
update) they are softmax(beta Q K^T), recomputed from each cue. The number
reported is the *weight variability across cues*,

    v = mean_ij std_c(W_ij^(c)) / mean_ij |W_ij|,

which is 0 for weights that do not depend on the input.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import _clean, recall_metrics, target_overlap
from .errors import HipposimError, RunFailed
from .plotting import PALETTE, _mpl, plot_image_recall
from .results import MANIFEST, RunData, RunFolder, load_run, package_versions, prepare_output, utc_now

STEP_NAMES = {"ms": "time bins", "update": "updates", "layer": "layers"}


# --------------------------------------------------------------------------- metrics

def weight_variability(per_cue: np.ndarray) -> float:
    """mean_ij std_c(W_ij) / mean_ij |W_ij| over a stack (cue, ...) of effective weights."""
    per_cue = np.asarray(per_cue, dtype=float)  # NaN marks absent synapses
    scale = np.nanmean(np.abs(per_cue))
    if per_cue.shape[0] < 2 or not scale > 0:
        return 0.0
    present = np.isfinite(per_cue).all(axis=0)
    return float(np.mean(np.std(per_cue[:, present], axis=0)) / scale)


def effective_weights(ds) -> tuple[np.ndarray | None, str]:
    """Per-cue effective weights of a result, stacked on the first axis, and what they are."""
    family = ds.attrs.get("family", "")
    n_cues = ds.sizes["cue"]
    if "attention" in ds:
        att = ds["attention"].values  # (cue, step, [head,] pattern); step 0 has none
        att = att[:, 1]
        return att.reshape(n_cues, -1), "attention weights softmax(beta q K^T), first read"
    if family == "spiking" and "weights_after" in ds:
        w = ds["weights_after"].values
        return np.broadcast_to(w, (n_cues,) + w.shape), "CA3 recurrent synapses at recall (plasticity frozen)"
    if "ff_weights" in ds:
        w = ds["ff_weights"].values
        return np.broadcast_to(w, (n_cues,) + w.shape), "feed-forward weights"
    if "weights" in ds:
        w = ds["weights"].values
        return np.broadcast_to(w, (n_cues,) + w.shape), "Hebbian weights"
    return None, ""


def comparison_metrics(ds, success_overlap: float = 0.9) -> dict[str, Any]:
    """The comparison table's entry of one model (keys documented in the README)."""
    m = recall_metrics(ds, success_overlap)
    final = ds["overlap"].values[:, -1, :]
    wrong = np.argmax(final, axis=1) != ds["target"].values.astype(int)
    weights, what = effective_weights(ds)
    entry = {
        "final_overlap": m["final_overlap"],
        "success": m["success"],
        "success_rate": m["success_rate"],
        "steps_to_09": m["steps_to_09"],
        "step_unit": m["step_unit"],
        "energy_descent": m["energy_descent"],
        "max_other_overlap": m["max_other_overlap"],
        "non_target_recalls": int(wrong.sum()),
        "weight_variability": None if weights is None else weight_variability(weights),
        "weights": what,
    }
    if m["step_unit"] == "ms":
        entry["ms_to_09"] = m["steps_to_09"]
    return _clean(entry)


# --------------------------------------------------------------------------- figures

def plot_trajectories(results: dict[str, Any]):
    """Target overlap of every model on one shared 'processing step' axis."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for k, (label, ds) in enumerate(results.items()):
        traj = target_overlap(ds).mean(axis=0)
        unit = str(ds["step"].attrs.get("units", "update"))
        x = np.arange(len(traj))
        what = {"ms": f"{np.diff(ds['step'].values[:2])[0]:.0f}-ms bins" if len(traj) > 1 else "ms",
                "update": "updates", "layer": "layers"}.get(unit, unit)
        ax.plot(x, traj, ["-", "--", "-.", ":"][k % 4], marker="osD^v<>"[k % 7] if len(x) < 30 else None,
                color=PALETTE[k % len(PALETTE)], lw=2, ms=5, alpha=0.85, label=f"{label} ({what})")
    ax.axhline(0.9, color="0.5", ls=":", lw=1)
    ax.set_xlabel("processing step (time bin, update or layer; each model in its own unit)")
    ax.set_ylabel("overlap with target (mean over cues)")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(frameon=False, loc="lower right", fontsize=9)
    ax.set_title("Retrieval over processing steps")
    return fig


def _attention_source(results: dict[str, Any]):
    """The result whose attention is shown: the Transformer's if there is one, else any that attends."""
    attending = [(label, ds) for label, ds in results.items() if "attention" in ds]
    attending.sort(key=lambda item: item[1].attrs.get("family") != "transformer")
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
        if ds.attrs.get("family") == "spiking" and "weights_after" in ds:
            fixed.append((f"{label}: CA3 recurrent weights\n(learned; fixed at recall)", ds["weights_after"].values,
                          "CA3 cell (sorted by item)"))
        if ds.attrs.get("family") == "transformer" and "ff_weights" in ds:
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
            dynamic.append((f"{label}: attention, cue {c}\n(target '{target}')", _first_read(source, c), names, unit))
    ncols = max(1, len(fixed) + len(dynamic))
    fig, axes = plt.subplots(1, ncols, figsize=(3.4 * ncols, 3.8), squeeze=False)
    axes = axes[0]
    for ax, (title, w, axis_label) in zip(axes, fixed):
        im = ax.imshow(w, cmap="viridis", aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        ax.set_xlabel(axis_label, fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
    for ax, (title, a, names, unit) in zip(axes[len(fixed):], dynamic):
        im = ax.imshow(a, cmap="magma", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_yticks(range(a.shape[0]), [f"{unit} {j + 1}" for j in range(a.shape[0])], fontsize=7)
        ax.set_xlabel("stored item (memory)", fontsize=8)
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle("Fixed weights (left) against attention weights recomputed for each cue (right)", y=1.03)
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
        if ds.attrs.get("family") == "spiking" and "weights_after" in ds and "ca3_sample_item" in ds.coords:
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


# --------------------------------------------------------------------------- report

def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def write_report(folder: RunFolder, title: str, table: dict, figures: list[str], scenario: dict,
                 versions: dict) -> None:
    """A self-contained report.html: figures embedded as data URIs, no external files."""
    cols = ["final_overlap", "success", "steps_to_09", "step_unit", "energy_descent", "max_other_overlap",
            "non_target_recalls", "weight_variability"]
    fmt = lambda v: "–" if v is None else (f"{v:.3g}" if isinstance(v, float) else html.escape(str(v)))  # noqa
    rows = "".join("<tr><th>" + html.escape(label) + "</th>" + "".join(f"<td>{fmt(m.get(c))}</td>" for c in cols)
                   + "</tr>" for label, m in table.items())
    imgs = "".join(f'<figure><img src="{_png_data_uri(folder.path(f))}" alt="{html.escape(f)}">'
                   f"<figcaption>{html.escape(Path(f).stem.replace('_', ' '))}</figcaption></figure>"
                   for f in figures if f.endswith(".png"))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f4f4f4}}figure{{margin:1.5em 0}}img{{max-width:100%}}pre{{background:#f7f7f7;padding:1em;overflow:auto}}</style>
</head><body><h1>{html.escape(title)}</h1>
<p>Generated {utc_now()} by hipposim {html.escape(versions.get('hipposim', ''))}.
Weight variability: mean over entries of the std across cues of the effective weights, over their mean magnitude
(0 for fixed weights).</p>
<h2>Metrics</h2><table><tr><th>model</th>{''.join(f'<th>{c}</th>' for c in cols)}</tr>{rows}</table>
<h2>Figures</h2>{imgs}
<h2>Scenario</h2><pre>{html.escape(json.dumps(scenario, indent=2))}</pre>
<h2>Versions</h2><pre>{html.escape(json.dumps(versions, indent=2))}</pre></body></html>"""
    with folder.atomic("report.html", "w") as fh:
        fh.write(page)


def check_comparable(runs: list[RunData]) -> None:
    """Refuse to compare runs made from different patterns or cues."""
    base = runs[0]
    for run in runs[1:]:
        same = (run.stimulus.patterns.shape == base.stimulus.patterns.shape
                and np.array_equal(run.stimulus.patterns, base.stimulus.patterns)
                and run.stimulus.cues.shape == base.stimulus.cues.shape
                and np.array_equal(run.stimulus.cues, base.stimulus.cues))
        if not same:
            raise HipposimError(f"cannot compare '{run.root}' with '{base.root}': they used different pattern "
                                "sets or cues; compare runs of the same patterns, cues and seed")


def compare_runs(runs: list[RunData], folder: RunFolder, title: str | None = None) -> dict:
    """Write the comparison of finished, comparable runs into ``folder``; returns the metrics table."""
    check_comparable(runs)
    base = runs[0]
    results: dict[str, Any] = {}
    for run in runs:
        for label, ds in run.results.items():
            key = label if label not in results else f"{run.root.name}/{label}"
            results[key] = ds
    success = base.scenario.get("analysis", {}).get("success_overlap", 0.9)
    table = {label: comparison_metrics(ds, success) for label, ds in results.items()}
    manifest = {"kind": "comparison", "status": "running", "inputs": [str(r.root) for r in runs],
                "versions": package_versions(), "started": utc_now()}
    folder.write_json(MANIFEST, manifest)
    plt = _mpl()
    figures = []

    def save(fig, name):
        if fig is not None:
            folder.save_figure(fig, f"figures/{name}.png")
            figures.append(f"figures/{name}.png")
            plt.close(fig)

    save(plot_trajectories(results), "trajectories")
    if base.stimulus.image_shape is not None:
        save(plot_image_recall(results, base.stimulus, cue=0), "recall")
    save(plot_fixed_vs_dynamic(results), "fixed_vs_input_dependent")
    save(plot_graphs(results), "graphs")
    folder.write_json("metrics.json", table)
    write_report(folder, title or f"hipposim comparison: {base.scenario.get('name', '')}", table, figures,
                 base.scenario, package_versions())
    manifest.update(status="complete", finished=utc_now(), figures=figures)
    folder.write_json(MANIFEST, manifest)
    return table


def compare_main(args) -> int:
    """``hipposim compare`` (see ``hipposim compare --help``)."""
    from .scenario import load_scenario

    inputs = [Path(p) for p in args.inputs]
    runs: list[RunData] = []
    scenarios = []
    for p in inputs:
        if p.is_dir():
            try:
                runs.append(load_run(p))
            except RunFailed as exc:
                raise HipposimError(f"{exc}; compare needs finished runs") from None
        else:
            scenarios.append((p, load_scenario(p)))  # validated before anything is written
    if runs:
        check_comparable(runs)
    name = scenarios[0][1].name if scenarios else runs[0].scenario.get("name", "comparison")
    out = Path(args.out) if args.out else Path("comparisons") / name
    folder = prepare_output(out, args.overwrite)
    from .runner import run_scenario

    for path, scenario in scenarios:
        runs.append(run_scenario(scenario, out / "runs" / scenario.name, progress=not args.quiet,
                                 source=str(path)))
    table = compare_runs(runs, folder)
    for label, m in table.items():
        wv = m.get("weight_variability")
        print(f"{label:<24} final_overlap {m['final_overlap']:.3f}  success {m['success']!s:<5}  "
              f"weight variability {'-' if wv is None else f'{wv:.3f}'}")
    print(f"report: {out / 'report.html'}")
    return 0
