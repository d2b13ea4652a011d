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

from .analysis import clean_json
from .analysis.weights import comparison_metrics
from .errors import HipposimError, RunFailed
from .plotting.compare import plot_fixed_vs_dynamic, plot_graphs, plot_trajectories
from .plotting.run import plot_image_recall
from .plotting.style import mpl as _mpl
from .run.folder import MANIFEST, RunData, RunFolder, load_run, package_versions, prepare_output, utc_now


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
    from .scenario import AnalysisSpec

    analysis = AnalysisSpec(**base.scenario.get("analysis", {}))
    table = {label: comparison_metrics(ds, analysis) for label, ds in results.items()}
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
    for p in inputs:  # an input is never cleared nor written into
        here, there = out.resolve(), p.resolve()
        if here == there or here in there.parents or there in here.parents:
            raise HipposimError(f"the comparison folder '{out}' overlaps the input '{p}'; choose an --out "
                                "outside every input")
    folder = prepare_output(out, args.overwrite)
    from .run import run_scenario

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
