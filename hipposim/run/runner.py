"""Run a scenario: build the shared stimulus, run every model, write the run folder.

The runner sees models only through the :class:`~hipposim.contract.Model`
contract and results only as labeled datasets.
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any


from .._version import __version__
from ..analysis import model_metrics
from ..errors import HipposimError, RunFailed  # noqa: F401
from ..scenario import Scenario
from ..stimuli import build_stimulus
from .execute import run_models
from .folder import check_outputs, kept  # noqa: F401  (public here too)
from .sweep import run_sweep
from .folder import MANIFEST, RunData, package_versions, prepare_output, utc_now, write_status
from .signals import interruptible, status_of


def run_scenario(scenario: Scenario, out: str | Path, overwrite: bool = False, seed: int | None = None,
                 progress: bool = True, figures: bool = True, source: str | None = None) -> RunData:
    """Run ``scenario`` and write a complete run folder at ``out``.

    The manifest is written first with status "running" and rewritten last with
    "complete" or "failed"; a failure is re-raised as :class:`~hipposim.errors.RunFailed`.

    Parameters
    ----------
    scenario : hipposim.Scenario
        A validated scenario (:func:`hipposim.load_scenario`). One with a ``sweep`` section
        runs its points serially, as :func:`hipposim.run.sweep.run_sweep`.
    out : str or pathlib.Path
        The run folder to write.
    overwrite : bool
        Replace an existing hipposim run folder at ``out`` (any other folder is refused).
    seed : int, optional
        Run with this seed instead of the scenario's.
    progress : bool
        Show progress bars.
    figures : bool
        Draw the run's figures into ``figures/``.
    source : str, optional
        The scenario's file name, for messages.

    Returns
    -------
    RunData or xarray.Dataset
        The finished run (results, metrics, stimulus), or a sweep's aggregated dataset.
    """
    if seed is not None:
        scenario = scenario.with_seed(seed)
    if scenario.sweep is not None:
        return run_sweep(scenario, out, overwrite=overwrite, progress=progress, source=source)
    check_outputs(run_outputs(scenario), scenario.source or source)
    folder = prepare_output(out, overwrite)
    try:
        with interruptible():
            try:
                run = _run_into(scenario, folder, progress, figures, source)
            except BaseException as exc:
                if folder.staging:
                    kept(exc, folder)
                raise
            folder.commit()
            run.root = folder.root
            return run
    finally:
        folder.release()


def run_outputs(scenario: Scenario) -> tuple[list[str], list[str]]:
    """The files and folders a run of ``scenario`` writes, relative to its folder."""
    traces = scenario.output.traces
    files = [MANIFEST, "metrics.json", "stimulus.nc"] + [f"{traces}/{spec.name}.nc" for spec in scenario.models]
    return files, [traces, scenario.output.figures]


def _run_into(scenario: Scenario, folder, progress: bool, figures: bool, source: str | None) -> RunData:
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
    t0 = time.perf_counter()
    try:
        folder.write_json(MANIFEST, manifest)
        folder.reserve()
        stimulus = build_stimulus(scenario)
        folder.write_dataset("stimulus.nc", stimulus.to_dataset())
        _, results = run_models(scenario, progress=progress, stimulus=stimulus)
        metrics = {}
        for spec in scenario.models:
            ds = results[spec.name]
            trace = f"{scenario.output.traces}/{spec.name}.nc"
            folder.write_dataset(trace, ds)
            manifest["models"].append({"label": spec.name, "id": spec.id, "trace": trace})
            metrics[spec.name] = {"model_id": spec.id, **model_metrics(ds, scenario.analysis, stimulus)}
        folder.write_json("metrics.json", metrics)
        run = RunData(root=folder.root, manifest=manifest, metrics=metrics, stimulus=stimulus, results=results)
        if figures:
            from ..plotting import plot_run

            manifest["figures"] = plot_run(run, folder, scenario.output.figures, scenario.output.formats)
    except BaseException as exc:
        manifest.update(status=status_of(exc), finished=utc_now(), error=f"{type(exc).__name__}: {exc}",
                        traceback=traceback.format_exc(), elapsed_s=time.perf_counter() - t0)
        write_status(folder, manifest)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, HipposimError) and not isinstance(exc, RunFailed):
            raise
        if isinstance(exc, RunFailed):
            raise RunFailed(f"{exc} (see {folder.root / MANIFEST})") from exc
        raise RunFailed(f"run failed: {type(exc).__name__}: {exc} (see {folder.root / MANIFEST})") from exc
    manifest.update(status="complete", finished=utc_now(), elapsed_s=time.perf_counter() - t0)
    folder.drop_reserve()
    folder.write_json(MANIFEST, manifest)
    return run
