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
import itertools
import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import HipposimError, OutputError, Problem, ScenarioError
from ..scenario import validate_data
from ..scenario.paths import set_path
from .execute import TASKS, execute_task, run_model  # noqa: F401  (execute_task: public here too)
from .executors import (brian2_targets_of, local_dask_client, make_executor, model_ids_of, summary_line,
                        throughput)
from .folder import MANIFEST, RunFolder, open_folder, package_versions, prepare_output, utc_now, write_status
from .signals import interruptible, status_of



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


MAX_WORKERS = 1024


def check_workers(workers: int | None) -> int | None:
    """Refuse a local cluster size that is not a positive number of processes (exit 2)."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise HipposimError(f"--workers {workers!r}: expected a number of worker processes from 1 to "
                            f"{MAX_WORKERS}")
    return workers


SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def check_address(address: str) -> None:
    """Refuse a --scheduler value that is not a network address such as ``tcp://10.0.0.5:8786`` (exit 2)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(str(address))
        host, port = parse_host_port(location)
        if scheme not in SCHEMES or not host or not 1 <= int(port) <= 65535:
            raise ValueError(address)
    except (ValueError, TypeError):
        raise HipposimError(f"--scheduler {address!r} is not a scheduler address; expected e.g. "
                            f"tcp://10.0.0.5:8786 (schemes: {', '.join(SCHEMES)})") from None


def probe_scheduler(address: str, timeout: float) -> dict:
    """Connect to ``address`` and ask it who it is, every step under ``timeout`` seconds.

    Returns the scheduler's identity; raises :class:`HipposimError` for a closed port, a
    server that does not answer, or one that answers something other than a Dask scheduler.
    """
    import asyncio

    async def ask():
        from distributed.comm import connect

        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        try:
            await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), timeout)
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    hint = "Start one with `dask scheduler` or drop --scheduler to run on a local cluster"
    check_address(address)
    try:
        identity = asyncio.run(asyncio.wait_for(ask(), timeout))
    except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
        detail = str(exc) or "no answer"
        raise HipposimError(f"cannot reach the Dask scheduler at '{address}' within {timeout:g} s: "
                            f"{detail}. {hint}") from None
    except Exception as exc:  # the server answered bytes that are not the Dask protocol
        raise HipposimError(f"'{address}' answered, but not as a Dask scheduler ({type(exc).__name__}). "
                            f"{hint}") from None
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        raise HipposimError(f"'{address}' answered, but it is not a Dask scheduler. {hint}")
    return identity


def connect_client(scheduler: str | None, workers: int | None, timeout: float = 10.0):
    """A dask.distributed Client: to ``scheduler`` if given, else a new local cluster.

    Every wait is bounded: the scheduler is first asked for its identity under ``timeout``
    seconds (a closed port, a silent server and a server speaking another protocol are all
    refused), then the client connects with the same timeout.
    """
    from distributed import Client, LocalCluster

    check_workers(workers)
    if scheduler:
        probe_scheduler(scheduler, timeout)
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

    ``executor`` is "serial" (this process), "local" (a pool of worker
    processes, the default of ``hipposim sweep``) or "dask" (a local Dask
    cluster); ``scheduler`` sends the tasks to an existing Dask scheduler.
    Returns the aggregated :class:`xarray.Dataset`.
    """
    from tqdm.auto import tqdm

    if points is None:
        points = sweep_points(scenario)
    check_workers(workers)
    source = source or scenario.source
    root = Path(out)
    client = None
    if scheduler:
        client = connect_client(scheduler, workers)  # fails before anything is written
    elif executor == "dask":
        client = local_dask_client(workers)
    runner = make_executor(executor, workers, client)
    try:
        if resume and (root / MANIFEST).exists():
            folder, manifest = open_folder(root, "sweep")  # locked: one writer at a time
        else:
            folder = prepare_output(root, overwrite)  # locked
            manifest = {}
    except BaseException:
        runner.close()
        if client is not None:
            _close_client(client, scheduler)
        raise
    previous = copy.deepcopy(manifest) if manifest else None
    written = 0  # task records this call stored
    try:
        with interruptible():
            if resume:
                _check_tasks_folder(folder)  # before anything in it is touched
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
                    if leftover.is_symlink() or leftover.is_file():
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
                    written += 1
                    records.append(record)
                    bar.set_postfix_str(f"{runner.busy}/{runner.n_workers} workers busy", refresh=False)
                    bar.update()
                stats = throughput(records, time.perf_counter() - t0, runner.n_workers, runner.startup_s)
                manifest["throughput"] = stats
                bar.set_postfix_str(f"{stats['speedup']:.2f}x on {runner.n_workers} workers", refresh=False)
            bar.close()
            if records and progress:
                print(summary_line(stats), file=sys.stderr)
            runner.close()
            if client is not None:
                _close_client(client, scheduler)
                client = None
            ds = aggregate(folder.root, points)
            ds.attrs["sweep_kind"] = scenario.sweep.kind
            folder.write_dataset("sweep.nc", ds)
            failed = int((ds["status"].values == "failed").sum())
            manifest.update(status="complete" if failed == 0 else "partial", finished=utc_now(),
                            failed_tasks=failed)
            fits = None
            if scenario.sweep.kind == "capacity":
                from ..analysis import clean_json
                from ..analysis.capacity import sweep_fits

                fits = sweep_fits(ds)
                folder.write_json("fits.json", clean_json(fits))
            from ..plotting.sweep import plot_sweep

            manifest["figures"] = plot_sweep(ds, folder, scenario.output.figures, scenario.output.formats,
                                             fits=fits)
            folder.write_json(MANIFEST, manifest)
            return ds
    except BaseException as exc:
        if previous is not None and written == 0:
            write_status(folder, previous)  # a resume that stored nothing new leaves the folder as it was
        elif manifest:
            manifest.update(status=status_of(exc), finished=utc_now(), error=f"{type(exc).__name__}: {exc}")
            write_status(folder, manifest)
        raise
    finally:
        runner.close()
        if client is not None:
            _close_client(client, scheduler)
        folder.release()


def _close_client(client, scheduler: str | None) -> None:
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None and not scheduler:
        cluster.close()


def _check_tasks_folder(folder: RunFolder) -> None:
    """Refuse to resume when ``tasks`` (or anything in it) is a symbolic link: nothing is read,
    deleted or written through a link that could lead out of the sweep folder."""
    tasks = folder.root / TASKS
    if tasks.is_symlink():
        raise OutputError(f"'{tasks}' is a symbolic link; refusing to resume a sweep whose task folder "
                          "may lie outside it")
    if tasks.is_dir():
        for f in tasks.iterdir():
            if f.is_symlink():
                raise OutputError(f"'{f}' is a symbolic link; refusing to resume a sweep whose task records "
                                  "may lie outside it")


def aggregate(root: Path, points: list[SweepPoint]):
    """All task records into one labeled dataset: dims (task, model), coords = swept values and seed."""
    import xarray as xr

    records = []
    for p in points:
        f = Path(root) / TASKS / f"{p.key}.json"
        records.append(json.loads(f.read_text()) if f.exists() else {"status": "missing"})
    labels = sorted({m for r in records for m in r.get("metrics", {})})
    metric_names = ["final_overlap", "success_rate", "peak_overlap", "steps_to_converge", "final_energy",
                    "max_other_overlap", "attention_entropy", "overlap_entropy", "beta_eff",
                    "beta_theory"]
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
