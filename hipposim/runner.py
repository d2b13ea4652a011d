"""Run a scenario: build the shared stimulus, run every model, write the run folder.

The runner sees models only through the :class:`~hipposim.model.Model`
contract and results only as labeled datasets.
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any


from . import __version__
from .analysis import recall_metrics
from .errors import HipposimError, RunFailed
from .registry import registry
from .results import MANIFEST, RunData, package_versions, prepare_output, utc_now
from .scenario import Scenario, build_stimulus, model_rng


def run_model(scenario: Scenario, index: int, stimulus):
    """Run the ``index``-th model of ``scenario`` on ``stimulus`` with its own seeded generator."""
    spec = scenario.models[index]
    ds = registry.make(spec.id, spec.params).run(stimulus, model_rng(scenario.seed, index))
    ds.attrs.update({"model_id": spec.id, "label": spec.name, "seed": scenario.seed,
                     "hipposim_version": __version__})
    return ds


def run_models(scenario: Scenario, progress: bool = False, stimulus=None) -> tuple[Any, dict[str, Any]]:
    """Run every model of ``scenario`` in memory. Returns (stimulus, {label: dataset})."""
    from tqdm.auto import tqdm

    stimulus = build_stimulus(scenario) if stimulus is None else stimulus
    results = {}
    bar = tqdm(scenario.models, desc=scenario.name, unit="model", disable=not progress, leave=False)
    for index, spec in enumerate(bar):
        bar.set_postfix_str(spec.name)
        results[spec.name] = run_model(scenario, index, stimulus)
    return stimulus, results


def run_scenario(scenario: Scenario, out: str | Path, overwrite: bool = False, seed: int | None = None,
                 progress: bool = True, figures: bool = True, source: str | None = None) -> RunData:
    """Run ``scenario`` and write a complete run folder at ``out``.

    The manifest is written first with status "running" and rewritten last with
    "complete" or "failed"; a failure is re-raised as :class:`RunFailed`.
    """
    if seed is not None:
        scenario = scenario.with_seed(seed)
    if scenario.sweep is not None:
        from .sweep import run_sweep

        return run_sweep(scenario, out, overwrite=overwrite, progress=progress, source=source)
    folder = prepare_output(out, overwrite)
    manifest: dict[str, Any] = {
        "hipposim": __version__,
        "kind": "run",
        "status": "running",
        "scenario_file": source,
        "seed": scenario.seed,
        "scenario": scenario.model_dump(mode="json"),
        "versions": package_versions(),
        "started": utc_now(),
        "models": [],
    }
    folder.write_json(MANIFEST, manifest)
    t0 = time.perf_counter()
    try:
        stimulus = build_stimulus(scenario)
        folder.write_dataset("stimulus.nc", stimulus.to_dataset())
        _, results = run_models(scenario, progress=progress, stimulus=stimulus)
        metrics = {}
        for spec in scenario.models:
            ds = results[spec.name]
            trace = f"{scenario.output.traces}/{spec.name}.nc"
            folder.write_dataset(trace, ds)
            manifest["models"].append({"label": spec.name, "id": spec.id, "trace": trace})
            metrics[spec.name] = {"model_id": spec.id,
                                  **recall_metrics(ds, scenario.analysis.success_overlap)}
        folder.write_json("metrics.json", metrics)
        run = RunData(root=folder.root, manifest=manifest, metrics=metrics, stimulus=stimulus, results=results)
        if figures:
            from .plotting import plot_run

            manifest["figures"] = plot_run(run, folder, scenario.output.figures, scenario.output.formats)
    except BaseException as exc:
        manifest.update(status="failed", finished=utc_now(), error=f"{type(exc).__name__}: {exc}",
                        traceback=traceback.format_exc(), elapsed_s=time.perf_counter() - t0)
        folder.write_json(MANIFEST, manifest)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, HipposimError) and not isinstance(exc, RunFailed):
            raise
        raise RunFailed(f"run failed: {type(exc).__name__}: {exc} (see {folder.root / MANIFEST})") from exc
    manifest.update(status="complete", finished=utc_now(), elapsed_s=time.perf_counter() - t0)
    folder.write_json(MANIFEST, manifest)
    return run
