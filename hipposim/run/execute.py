"""Run the models of a scenario on one shared stimulus, each with its own seeded generator."""
from __future__ import annotations

import hashlib
import json
import time
import traceback
from typing import Any

from .._version import __version__
from ..registry import registry
from ..scenario import Scenario, validate_data
from ..seeding import model_rng
from ..stimuli import build_stimulus
from .folder import RunFolder

#: sub-folder of a sweep folder holding one record per task
TASKS = "tasks"


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


def execute_task(point_scenario: dict, key: str, root: str | None = None) -> dict:
    """Run one sweep point; return its record (and store it under ``tasks/<key>.json`` if ``root``).

    Never raises for a model failure: the exception and its traceback are
    recorded, and the sweep goes on. On Dask the record travels back to the
    client, which stores it, so workers need no shared file system.
    """
    from ..analysis import model_metrics

    t0 = time.perf_counter()
    record: dict[str, Any] = {"key": key, "seed": point_scenario["seed"]}
    try:
        scenario = validate_data(point_scenario, check_limits=False)  # limits were checked by the client
        stimulus = build_stimulus(scenario)
    except Exception as exc:  # recorded, not raised: one bad point must not stop a sweep
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        scenario = None
    if scenario is not None:
        metrics, errors = {}, {}
        # each model separately: one model failing (e.g. runaway activity) keeps the others' results
        for index, spec in enumerate(scenario.models):
            try:
                ds = run_model(scenario, index, stimulus)
                m = model_metrics(ds, scenario.analysis, stimulus)
                m.pop("per_cue", None)
                if m.get("final_overlap") is None:
                    raise FloatingPointError(f"model '{spec.name}' produced NaN for final_overlap")
                metrics[spec.name] = m
            except Exception as exc:
                errors[spec.name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        record.update(status="failed" if errors else "ok", metrics=metrics)
        if errors:
            record["model_errors"] = errors
            record["error"] = "; ".join(f"{label}: {e['error']}" for label, e in errors.items())
            record["traceback"] = "\n".join(e["traceback"] for e in errors.values())
    record["elapsed_s"] = time.perf_counter() - t0
    if root is not None:
        record["scenario_sha256"] = point_hash(point_scenario)
        RunFolder(root).write_json(f"{TASKS}/{key}.json", record)
    return record


def point_hash(point_scenario: dict) -> str:
    """The full SHA-256 of a normalised point scenario (a task record carries it; a resume checks it)."""
    blob = json.dumps(point_scenario, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
