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
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import _clean, first_crossing, other_overlap, recall_metrics, target_overlap
from .errors import HipposimError, RunFailed
from .plotting import PALETTE, _mpl, plot_image_recall
from .results import MANIFEST, RunData, RunFolder, load_run, package_versions, prepare_output, utc_now

STEP_NAMES = {"ms": "time bins", "update": "updates", "layer": "layers"}


# --------------------------------------------------------------------------- metrics

def weight_variability(per_cue: np.ndarray) -> float:
    """mean_ij std_c(W_ij) / mean_ij |W_ij| over a stack (cue, ...) of effective weights."""
    per_cue = np.asarray(per_cue, dtype=float)
    scale = np.mean(np.abs(per_cue))
    if per_cue.shape[0] < 2 or scale == 0:
        return 0.0
    return float(np.mean(np.std(per_cue, axis=0)) / scale)


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
    traj = target_overlap(ds)
    steps = ds["step"].values
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


def plot_fixed_vs_dynamic(results: dict[str, Any], n_cues: int = 3):
    """Fixed weights (CA3, feed-forward) beside attention matrices for three cues."""
    plt = _mpl()
    fixed = []
    dynamic = []
    for label, ds in results.items():
        if ds.attrs.get("family") == "spiking" and "weights_after" in ds:
            fixed.append((f"{label}: CA3 recurrent weights\n(learned, fixed at recall)", ds["weights_after"].values))
        if "weights" in ds and ds.attrs.get("family") == "hopfield":
            fixed.append((f"{label}: Hebbian weights\n(fixed)", ds["weights"].values))
        if "ff_weights" in ds:
            w = ds["ff_weights"].values
            fixed.append((f"{label}: feed-forward W_1\n(fixed)", w[: min(64, w.shape[0]), : min(64, w.shape[1])]))
        if "attention" in ds and not dynamic:
            att = ds["attention"].values  # (cue, step, [head,] pattern)
            names = list(ds["pattern"].values)
            for c in range(min(n_cues, ds.sizes["cue"])):
                a = att[c, 1:]
                a = a.reshape(a.shape[0], -1, a.shape[-1])[:, 0] if a.ndim == 3 else a
                target = names[int(ds["target"].values[c])]
                dynamic.append((f"{label}: attention, cue {c}\n(target '{target}')", a, names))
    ncols = max(1, len(fixed) + len(dynamic))
    fig, axes = plt.subplots(1, ncols, figsize=(3.3 * ncols, 3.6), squeeze=False)
    axes = axes[0]
    i = 0
    for title, w in fixed:
        ax = axes[i]
        im = ax.imshow(w, cmap="viridis", aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046)
        i += 1
    for title, a, names in dynamic:
        ax = axes[i]
        im = ax.imshow(a, cmap="magma", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_yticks(range(a.shape[0]), [f"read {j + 1}" for j in range(a.shape[0])], fontsize=7)
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046)
        i += 1
    fig.suptitle("Fixed weights (left) against attention weights recomputed for each cue (right)", y=1.03)
    fig.tight_layout()
    return fig


def plot_graphs(results: dict[str, Any], max_nodes: int = 40):
    """networkx drawings: CA3's synaptic graph beside the attention graphs of two cues."""
    import networkx as nx

    plt = _mpl()
    panels = []
    for label, ds in results.items():
        if ds.attrs.get("family") == "spiking" and "weights_after" in ds and "ca3_code" not in panels:
            w = ds["weights_after"].values[:max_nodes, :max_nodes]
            g = nx.DiGraph()
            g.add_nodes_from(range(w.shape[0]))
            thr = np.percentile(w[w > 0], 80) if np.any(w > 0) else np.inf
            for i, j in zip(*np.nonzero(w >= thr)):
                if i != j:
                    g.add_edge(int(i), int(j), weight=float(w[i, j]))
            panels.append(("ca3", f"{label}: strongest CA3 synapses\n({g.number_of_edges()} edges, fixed)", g))
    for label, ds in results.items():
        if "attention" not in ds:
            continue
        names = list(ds["pattern"].values)
        for c in range(min(2, ds.sizes["cue"])):
            a = ds["attention"].values[c, 1]
            a = a.reshape(-1, a.shape[-1]).mean(axis=0)
            g = nx.DiGraph()
            g.add_node("cue")
            for n, wgt in zip(names, a):
                g.add_edge("cue", str(n), weight=float(wgt))
            target = names[int(ds["target"].values[c])]
            panels.append(("att", f"{label}: attention of cue {c}\n(target '{target}')", g))
        break
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (kind, title, g) in zip(axes[0], panels):
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        if kind == "ca3":
            pos = nx.circular_layout(g)
            nx.draw_networkx_nodes(g, pos, ax=ax, node_size=30, node_color=PALETTE[0])
            nx.draw_networkx_edges(g, pos, ax=ax, width=0.6, alpha=0.5, arrows=False)
        else:
            pos = nx.shell_layout(g, [["cue"], [n for n in g.nodes if n != "cue"]])
            widths = [1 + 8 * g[u][v]["weight"] for u, v in g.edges]
            nx.draw_networkx_nodes(g, pos, ax=ax, node_size=500, node_color=["#edae49"] +
                                   [PALETTE[1]] * (g.number_of_nodes() - 1))
            nx.draw_networkx_labels(g, pos, ax=ax, font_size=7)
            nx.draw_networkx_edges(g, pos, ax=ax, width=widths, alpha=0.7, arrows=False)
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
