"""Brain against Transformer: side-by-side figures, a metrics table and report.html.

``hipposim compare`` takes a scenario (it is run first) or finished run folders
that share one pattern set. It never simulates for a run folder: everything is
drawn from saved results, except the finite-difference probes of the
Jacobian (see :func:`compare_runs`).

What the table's columns mean, and why the effective-weight variability is a
definition rather than a measurement, is in :mod:`hipposim.analysis.weights`.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
from typing import Any

import numpy as np

from .analysis import clean_json
from .analysis.weights import comparison_metrics
from .errors import HipposimError, RunFailed
from .plotting.compare import (plot_fixed_vs_dynamic, plot_graphs, plot_memory_and_input_dependence,
                               plot_trajectories)
from .plotting.run import plot_image_recall
from .plotting.style import mpl as _mpl
from .run.folder import MANIFEST, RunData, RunFolder, load_run, package_versions, prepare_output, utc_now


def write_report(folder: RunFolder, title: str, table: dict, figures: list[str], scenario: dict,
                 versions: dict, results: dict | None = None, stimulus=None) -> None:
    """A self-contained, offline report.html (see :mod:`hipposim.report_page`).

    ``figures`` are paths inside ``folder``; SVG files are embedded (PNG only
    where no SVG of the same figure exists). With ``results`` and ``stimulus``
    the page gets the recall player: a slider and play/pause over the shared
    step axis showing every model's recalled item and overlap.
    """
    from .export.nwb import scenario_yaml
    from .plotting.style import PALETTE
    from .report_page import recall_frames, render_page, svg_uri
    from .results import metrics_table_html

    from .analysis.weights import COLUMNS

    cols = tuple(c for c in COLUMNS if any(c in m for m in table.values()))
    svgs = {Path(f).with_suffix("") for f in figures if f.endswith(".svg")}
    embedded = []
    for f in figures:
        p = folder.path(f)
        if f.endswith(".svg"):
            embedded.append((Path(f).stem.replace("_", " "), svg_uri(p)))
        elif f.endswith(".png") and Path(f).with_suffix("") not in svgs:
            embedded.append((Path(f).stem.replace("_", " "), "data:image/png;base64," + base64.b64encode(
                p.read_bytes()).decode()))
    frames = recall_frames(results, stimulus, PALETTE) if results and stimulus is not None else None
    intro = ("Headline columns are measured on each model's reconstruction in item space, with the "
             "scenario's one success level: " + "; ".join(f"{c}: {COLUMNS[c]}" for c in cols[:4]) + ". "
             "own_overlap is the model's internal measure (CA3: correlation with its CA3 code). "
             "jacobian_variability is measured (d reconstruction / d cue, across cues); "
             "weight_variability_by_definition is true by construction and is shown as a definition.")
    page = render_page(title, utc_now(), versions.get("hipposim", ""),
                       metrics_table_html(table, cols, table_id="metrics").replace("<table", '<table class="sortable"', 1),
                       html.escape(intro), frames, embedded, scenario_yaml(scenario), versions)
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


def _rerun(run: RunData, label: str):
    """A closure rebuilding the model behind ``label`` of ``run`` and its seed (for finite differences)."""
    from .registry import registry
    from .seeding import seed_streams

    specs = run.scenario.get("models", [])
    names = [m.get("label") or m.get("id") for m in specs]
    if label not in names:
        return None
    index = names.index(label)
    spec = specs[index]

    def rebuild():
        seed = seed_streams(int(run.scenario.get("seed", 0)))["models"].spawn(index + 1)[index]
        return registry.make(spec["id"], spec.get("params") or {}), seed

    return rebuild


def compare_runs(runs: list[RunData], folder: RunFolder, title: str | None = None,
                 spiking_jacobian: bool = False) -> dict:
    """Write the comparison of finished, comparable runs into ``folder``; returns the metrics table.

    Every model is judged on its reconstruction in item space with the
    scenario's one success level (:data:`hipposim.analysis.weights.COLUMNS`).
    The input dependence of each model's cue -> reconstruction map is measured
    (:mod:`hipposim.analysis.jacobian`): from the saved result where a closed
    form exists, else by finite differences, which rebuild the non-spiking
    models from the saved scenario and seed and evaluate them on perturbed cues
    (seconds). Spiking models are probed only with ``spiking_jacobian`` (two
    full simulations per probe direction).
    """
    from .analysis.jacobian import result_jacobian

    check_comparable(runs)
    base = runs[0]
    results: dict[str, Any] = {}
    reruns: dict[str, Any] = {}
    for run in runs:
        for label, ds in run.results.items():
            key = label if label not in results else f"{run.root.name}/{label}"
            results[key] = ds
            reruns[key] = _rerun(run, label)
    from .scenario import AnalysisSpec

    analysis = AnalysisSpec(**base.scenario.get("analysis", {}))
    stimulus = base.stimulus
    table = {label: comparison_metrics(ds, analysis, stimulus,
                                       jacobian=result_jacobian(ds, stimulus, reruns[label], spiking_jacobian))
             for label, ds in results.items()}
    manifest = {"kind": "comparison", "status": "running", "inputs": [str(r.root) for r in runs],
                "versions": package_versions(), "started": utc_now()}
    folder.write_json(MANIFEST, manifest)
    plt = _mpl()
    figures = []

    def save(fig, name):
        if fig is not None:
            for fmt in ("png", "svg"):
                folder.save_figure(fig, f"figures/{name}.{fmt}")
                figures.append(f"figures/{name}.{fmt}")
            plt.close(fig)

    save(plot_trajectories(results, stimulus, analysis.success_overlap), "trajectories")
    if stimulus.image_shape is not None:
        save(plot_image_recall(results, stimulus, cue=0), "recall")
    save(plot_memory_and_input_dependence(table), "memory_and_input_dependence")
    save(plot_fixed_vs_dynamic(results), "effective_weights_by_definition")
    save(plot_graphs(results), "graphs")
    folder.write_json("metrics.json", table)
    write_report(folder, title or f"hipposim comparison: {base.scenario.get('name', '')}", table, figures,
                 base.scenario, package_versions(), results=results, stimulus=base.stimulus)
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
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for label, m in table.items():
        print(f"{label:<24} item overlap {m['final_overlap']:.3f}  success {m['success']!s:<5}  "
              f"probed accuracy {fmt(m.get('probed_accuracy'), '.3f')}  "
              f"stored numbers {fmt(m.get('stored_numbers'), '.3g')}  "
              f"Jacobian variability {fmt(m.get('jacobian_variability'), '.3f')}")
    print(f"report: {out / 'report.html'}")
    return 0
