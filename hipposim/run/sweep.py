"""Sweeps: many runs of one scenario over a grid of fields and seeds.

Each point of a sweep is the scenario with some fields replaced, validated like
any scenario. Its task key is a content hash of the normalised point scenario,
its seed and the hipposim version, so the same point always has the same key,
in any process. Each finished task is stored atomically as
``tasks/<key>.json``; a resumed sweep skips the keys already there.

Executors (:mod:`.executors`): ``serial`` (in this process, for debugging),
``local`` (a pool of worker processes, the default of ``hipposim sweep``), a
local dask.distributed cluster (``dask``), or an existing Dask scheduler at an
address.
"""
from __future__ import annotations

import copy
import hashlib
import re
import itertools
import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import HipposimError, OutputError, Problem, ScenarioError
from ..scenario import validate_data
from .execute import run_model
from .executors import (brian2_targets_of, local_dask_client, make_executor, model_ids_of, summary_line,
                        throughput)
from .folder import MANIFEST, RunFolder, package_versions, prepare_output, utc_now

TASKS = "tasks"


@dataclass(frozen=True)
class SweepPoint:
    """One task of a sweep."""

    key: str
    values: dict[str, Any]  # field path -> value
    seed: int
    scenario: dict  # normalised point scenario (json-able, no sweep section)


def task_key(scenario_json: dict) -> str:
    """Content hash of a normalised point scenario (its seed included) and the hipposim version."""
    blob = json.dumps({"scenario": scenario_json, "hipposim": __version__}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def sweep_points(scenario) -> list[SweepPoint]:
    """Expand the sweep of a validated ``scenario`` into validated points, in memory.

    Each point is the scenario as written (``scenario.document``) with the swept
    fields replaced and its seed set, validated like any scenario. Errors name
    the sweep entry and its line in the scenario's file.
    """
    spec = scenario.sweep
    if spec is None:
        raise ValueError("the scenario has no sweep section")
    lines = scenario.lines
    source = scenario.source
    base = scenario.document
    base.pop("sweep", None)
    grid_keys = list(spec.grid)
    zip_keys = list(spec.zip)
    zip_len = len(next(iter(spec.zip.values()))) if spec.zip else 1
    combos = []
    for grid_values in itertools.product(*(spec.grid[k] for k in grid_keys)):
        for z in range(zip_len):
            values = dict(zip(grid_keys, grid_values))
            values.update({k: spec.zip[k][z] for k in zip_keys})
            combos.append(values)
    points, problems = [], []
    for values in combos:
        for seed in spec.seed_list():
            point = copy.deepcopy(base)
            bad = False
            for path, value in values.items():
                section = "grid" if path in spec.grid else "zip"
                try:
                    set_path(point, path, value)
                except KeyError as exc:
                    problems.append(Problem(f"{exc.args[0]}; the sweep names a field that does not exist",
                                            f"sweep.{section}.{path}", lines.get(f"sweep.{section}.{path}")))
                    bad = True
            if bad:
                raise ScenarioError(problems, source)
            point["seed"] = int(seed)
            try:
                validated = validate_data(point, {}, source)
            except ScenarioError as exc:
                for p in exc.problems:
                    swept = [k for k in values if p.path == k or p.path.startswith(k + ".")
                             or p.path.startswith(k + "[") or k.startswith(p.path + ".")]
                    where = swept[0] if swept else None
                    section = "grid" if where in spec.grid else "zip"
                    label = (f"sweep.{section}.{where}" if where else p.path)
                    line = lines.get(f"sweep.{section}.{where}") if where else p.line
                    problems.append(Problem(f"at sweep value {values[where]!r}: {p.message}" if where
                                            else f"at sweep point {values}: {p.message}", label, line))
                raise ScenarioError(problems, source) from None
            normal = validated.model_dump(mode="json")
            normal.pop("sweep", None)
            points.append(SweepPoint(task_key(normal), values, int(seed), normal))
    keys = [p.key for p in points]
    if len(set(keys)) != len(keys):
        raise ScenarioError(Problem("two sweep points are the same scenario; remove the duplicate values",
                                    "sweep", lines.get("sweep")), source)
    return points


def execute_task(point_scenario: dict, key: str, root: str | None = None) -> dict:
    """Run one sweep point; return its record (and store it under ``tasks/<key>.json`` if ``root``).

    Never raises for a model failure: the exception and its traceback are
    recorded, and the sweep goes on. On Dask the record travels back to the
    client, which stores it, so workers need no shared file system.
    """
    from ..analysis import model_metrics
    from ..stimuli import build_stimulus

    t0 = time.perf_counter()
    record: dict[str, Any] = {"key": key, "seed": point_scenario["seed"]}
    try:
        scenario = validate_data(point_scenario)
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
        RunFolder(root).write_json(f"{TASKS}/{key}.json", record)
    return record


def _done_keys(root: Path) -> set[str]:
    folder = root / TASKS
    if not folder.is_dir():
        return set()
    done = set()
    for f in folder.glob("*.json"):
        try:
            rec = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # unreadable leftovers are recomputed
        if rec.get("status") in ("ok", "failed"):
            done.add(f.stem)
    return done


def connect_client(scheduler: str | None, workers: int | None, timeout: float = 10.0):
    """A dask.distributed Client: to ``scheduler`` if given, else a new local cluster."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise HipposimError(f"cannot reach the Dask scheduler at '{scheduler}' within {timeout:g} s: "
                                f"{exc}. Start one with `dask scheduler` or drop --scheduler to run "
                                "on a local cluster") from None
    import os

    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=40)
    return Client(cluster)


def run_sweep(scenario, out: str | Path, overwrite: bool = False, resume: bool = False,
              executor: str = "serial", workers: int | None = None, scheduler: str | None = None,
              progress: bool = True, source: str | None = None, points: list[SweepPoint] | None = None):
    """Run every point of a sweep and aggregate the results into ``sweep.nc``.

    Returns the aggregated :class:`xarray.Dataset`.
    """
    from tqdm.auto import tqdm

    if points is None:
        points = sweep_points(scenario)
    source = source or scenario.source
    client = None
    if scheduler:
        client = connect_client(scheduler, workers)  # fails before anything is written
    elif executor == "dask":
        client = local_dask_client(workers)
    runner = make_executor(executor, workers, client)
    root = Path(out)
    try:
        if resume and (root / MANIFEST).exists():
            folder = RunFolder(root)
            manifest = json.loads((root / MANIFEST).read_text())
            if manifest.get("kind") != "sweep":
                raise OutputError(f"'{root}' is not a sweep folder; cannot --resume it")
        else:
            folder = prepare_output(root, overwrite)
            manifest = {}
        manifest.update({
            "hipposim": __version__, "kind": "sweep", "status": "running", "scenario_file": source,
            "seed": scenario.seed, "scenario": scenario.model_dump(mode="json"),
            "versions": package_versions(), "started": manifest.get("started", utc_now()),
            "n_tasks": len(points), "executor": scheduler or executor,
        })
        folder.write_json(MANIFEST, manifest)
        folder.write_json("points.json", [{"key": p.key, "seed": p.seed, "values": p.values} for p in points])
        if resume:
            # temporary files of writes that a killed sweep never finished; their tasks run again
            from .folder import PARTIAL_SUFFIX

            for leftover in (folder.root / TASKS).glob(f".*{PARTIAL_SUFFIX}"):
                leftover.unlink(missing_ok=True)
        done = _done_keys(folder.root) if resume else set()
        todo = [p for p in points if p.key not in done]
        bar = tqdm(total=len(points), initial=len(points) - len(todo), desc=f"sweep {scenario.name}",
                   unit="task", disable=not progress)
        records = []
        if todo:
            bar.set_postfix_str(f"starting {runner.name} workers", refresh=True)
            runner.start(model_ids_of(todo), brian2_targets_of(todo))
            bar.unpause()  # tasks/s without the start-up
            t0 = time.perf_counter()
            for record in runner.run(todo):
                folder.write_json(f"{TASKS}/{record['key']}.json", record)
                records.append(record)
                bar.set_postfix_str(f"{runner.busy}/{runner.n_workers} workers busy", refresh=False)
                bar.update()
            stats = throughput(records, time.perf_counter() - t0, runner.n_workers, runner.startup_s)
            manifest["throughput"] = stats
            bar.set_postfix_str(f"{stats['speedup']:.2f}x on {runner.n_workers} workers", refresh=False)
        bar.close()
        if records and progress:
            print(summary_line(stats), file=sys.stderr)
    finally:
        runner.close()
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None and not scheduler:
                cluster.close()
    ds = aggregate(folder.root, points)
    ds.attrs["sweep_kind"] = scenario.sweep.kind
    folder.write_dataset("sweep.nc", ds)
    failed = int((ds["status"].values == "failed").sum())
    manifest.update(status="complete" if failed == 0 else "partial", finished=utc_now(), failed_tasks=failed)
    fits = None
    if scenario.sweep.kind == "capacity":
        from ..analysis import clean_json
        from ..analysis.capacity import sweep_fits

        fits = sweep_fits(ds)
        folder.write_json("fits.json", clean_json(fits))
    from ..plotting.sweep import plot_sweep

    manifest["figures"] = plot_sweep(ds, folder, scenario.output.figures, scenario.output.formats, fits=fits)
    folder.write_json(MANIFEST, manifest)
    return ds


def aggregate(root: Path, points: list[SweepPoint]):
    """All task records into one labeled dataset: dims (task, model), coords = swept values and seed."""
    import xarray as xr

    records = []
    for p in points:
        f = Path(root) / TASKS / f"{p.key}.json"
        records.append(json.loads(f.read_text()) if f.exists() else {"status": "missing"})
    labels = sorted({m for r in records for m in r.get("metrics", {})})
    metric_names = ["final_overlap", "success_rate", "peak_overlap", "steps_to_converge", "final_energy",
                    "max_other_overlap", "attention_entropy", "overlap_entropy"]
    data = {name: np.full((len(points), len(labels)), np.nan) for name in metric_names}
    for i, r in enumerate(records):
        for j, label in enumerate(labels):
            m = r.get("metrics", {}).get(label, {})
            for name in metric_names:
                v = m.get(name)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    data[name][i, j] = float(v)
    coords: dict[str, Any] = {"task": [p.key for p in points], "model": labels,
                              "seed": ("task", [p.seed for p in points])}
    for path in (points[0].values if points else {}):
        coords[path] = ("task", [p.values[path] for p in points])
    # loads and sizes, for capacity curves
    sizes = [_pattern_size(p.scenario) for p in points]
    counts = [p.scenario["patterns"].get("count") or len(p.scenario["patterns"].get("names", [])) for p in points]
    coords["n_units"] = ("task", sizes)
    coords["n_patterns"] = ("task", counts)
    coords["load"] = ("task", [c / s for c, s in zip(counts, sizes)])
    coords["coding_level"] = ("task", [float(p.scenario["patterns"].get("coding_level", 0.5)) for p in points])
    ds = xr.Dataset({name: (("task", "model"), arr) for name, arr in data.items()}, coords=coords)
    ds["status"] = ("task", np.array([r.get("status", "missing") for r in records], dtype=str))
    ds["error"] = ("task", np.array([r.get("error", "") for r in records], dtype=str))
    return ds


def _pattern_size(s: dict) -> int:
    pat = s["patterns"]
    return int(pat.get("size") or 256)


def set_path(data: dict, path: str, value: Any) -> None:
    """Set ``value`` at a dotted path such as ``models[0].params.beta`` (in place).

    Raises ``KeyError`` naming the part of the path that does not exist.
    The last key may be absent only if its parent is a mapping (a field left at
    its default), which validation then checks.
    """
    tokens = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    if not tokens or "".join(t if t.startswith("[") else "." + t for t in tokens).lstrip(".") != path:
        raise KeyError(f"'{path}' is not a field path; expected e.g. 'patterns.count' or 'models[0].params.beta'")
    node: Any = data
    for i, tok in enumerate(tokens):
        last = i == len(tokens) - 1
        if tok.startswith("["):
            idx = int(tok[1:-1])
            if not isinstance(node, list) or idx >= len(node):
                raise KeyError(f"'{path}': there is no item {idx} here")
            if last:
                node[idx] = value
            else:
                node = node[idx]
        else:
            if not isinstance(node, dict):
                raise KeyError(f"'{path}': '{tok}' is not inside a mapping")
            if last:
                node[tok] = value
            else:
                if tok not in node:
                    node[tok] = {}
                node = node[tok]
