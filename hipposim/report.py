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
    for i, run in enumerate(runs):
        for label, ds in run.results.items():
            key = label if label not in results else f"{run.root.name}/{label}"
            if key in results:  # runs of one name in different folders: number them, never drop one
                key = f"run{i + 1}/{label}"
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
    if stimulus.sequences is not None:
        from .plotting.sequence import plot_sequence_positions, plot_sequence_recall

        save(plot_sequence_positions(results, stimulus, analysis.sequence_overlap), "sequence_positions")
        save(plot_sequence_recall(results, stimulus, 0, analysis.sequence_overlap), "sequence_recall")
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
    """``hipposim compare`` (see ``hipposim compare --help``).

    Everything that can be refused is refused before any work (exit 2): a scenario with a sweep, two
    scenarios of one name (their runs would share a folder), a name read back from a manifest that
    is not a scenario name. The comparison folder's manifest says "running" from the start and
    "failed" or "interrupted" if the comparison does not finish; an ``--overwrite`` that does not
    finish leaves the old comparison as it was.
    """
    import traceback

    from .errors import OutputError
    from .run.folder import Incomplete, checked_name, write_status
    from .run.signals import interruptible, status_of
    from .scenario import load_scenario

    inputs = [Path(p) for p in args.inputs]
    runs: list[RunData] = []
    scenarios = []
    for p in inputs:
        if p.is_dir():
            try:
                runs.append(load_run(p))
            except (RunFailed, Incomplete) as exc:
                raise OutputError(f"{exc}; compare needs finished runs") from None
        else:
            scenario = load_scenario(p)  # validated before anything is written
            if scenario.sweep is not None:
                raise HipposimError(f"{p}: the scenario has a 'sweep' section; compare runs one scenario "
                                    "(or finished run folders): drop the sweep, or use `hipposim sweep`")
            scenarios.append((p, scenario))
    names = [s.name for _, s in scenarios]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise HipposimError(f"two scenarios are named {dupes[0]!r}; their runs would share the folder "
                            f"runs/{dupes[0]}: give each scenario its own name")
    if runs:
        check_comparable(runs)
    if args.out is not None and not str(args.out).strip():
        raise OutputError("--out is empty; name the folder to write, or leave --out out for the default")
    if args.out:
        out = Path(args.out)
    else:
        name = (scenarios[0][1].name if scenarios
                else checked_name(runs[0].scenario.get("name", "comparison"), str(runs[0].root / MANIFEST)))
        out = Path("comparisons") / name
    for p in inputs:  # an input is never cleared nor written into
        here, there = out.resolve(), p.resolve()
        if here == there or here in there.parents or there in here.parents:
            raise HipposimError(f"the comparison folder '{out}' overlaps the input '{p}'; choose an --out "
                                "outside every input")
    folder = prepare_output(out, args.overwrite)
    from .run import run_scenario

    manifest = {"kind": "comparison", "status": "running", "inputs": [str(p) for p in inputs],
                "versions": package_versions(), "started": utc_now()}
    try:
        with interruptible():
            try:
                folder.write_json(MANIFEST, manifest)
                for path, scenario in scenarios:
                    run = run_scenario(scenario, folder.root / "runs" / scenario.name, progress=not args.quiet,
                                       source=str(path))
                    run.root = folder.final / "runs" / scenario.name  # where it is once the folder is done
                    runs.append(run)
                table = compare_runs(runs, folder)
            except BaseException as exc:
                if folder.staging:
                    from .run.runner import kept

                    kept(exc, folder)
                else:
                    manifest.update(status=status_of(exc), finished=utc_now(),
                                    error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
                    write_status(folder, manifest)
                raise
            folder.commit()
    finally:
        folder.release()
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for label, m in table.items():
        if "sequence_correct_steps" in m:
            print(f"{label:<24} correct steps before the first error {m['sequence_correct_steps']:.2f} of "
                  f"{m['sequence_possible_steps']:.2f}  played to the end {m['sequence_recalled']:.2f}  "
                  f"mean overlap over the sequence {fmt(m.get('mean_sequence_overlap'), '.3f')}")
            continue
        print(f"{label:<24} item overlap {m['final_overlap']:.3f}  success {m['success']!s:<5}  "
              f"probed accuracy {fmt(m.get('probed_accuracy'), '.3f')}  "
              f"stored numbers {fmt(m.get('stored_numbers'), '.3g')}  "
              f"Jacobian variability {fmt(m.get('jacobian_variability'), '.3f')}")
    print(f"report: {out / 'report.html'}")
    return 0
