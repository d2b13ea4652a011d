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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import HipposimError, OutputError, Problem, ScenarioError
from ..scenario import validate_data
from ..scenario.paths import set_path
from .execute import TASKS, execute_task, point_hash, run_model  # noqa: F401  (execute_task: public here too)
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
            # the value each swept field has once validated (a count given as 4.0 is the integer 4)
            typed = {path: _typed_value(normal, path, value) for path, value in values.items()}
            points.append(SweepPoint(task_key(normal), typed, int(seed), normal))
    keys = [p.key for p in points]
    if len(set(keys)) != len(keys):
        raise ScenarioError(Problem("two sweep points are the same scenario; remove the duplicate values",
                                    "sweep", lines.get("sweep")), source)
    return points


def _typed_value(document: dict, path: str, value: Any) -> Any:
    """The swept value as the validated scenario holds it (``value`` if the path cannot be read back)."""
    import re

    node: Any = document
    for tok in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if tok.startswith("[") and isinstance(node, list) and int(tok[1:-1]) < len(node):
            node = node[int(tok[1:-1])]
        elif not tok.startswith("[") and isinstance(node, dict) and tok in node:
            node = node[tok]
        else:
            return value
    return node


def coordinate(path: str, values: list) -> tuple[np.ndarray, dict]:
    """One sweep field's values as a coordinate of a single type: integers, numbers, booleans or
    names as they are; anything else (null beside names, 'all' beside lists, whole mappings) as the
    canonical JSON text of every value, marked by the attribute ``encoding: json``."""
    def kind(v):
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, int):
            return "int"
        if isinstance(v, float):
            return "float"
        if isinstance(v, str):
            return "str"
        return "other"

    kinds = {kind(v) for v in values}
    if kinds == {"bool"}:
        return np.array(values, dtype=bool), {}
    if kinds == {"int"} and all(-2**63 <= v < 2**63 for v in values):
        return np.array(values, dtype=np.int64), {}
    if kinds <= {"int", "float"}:
        return np.array(values, dtype=float), {}
    if kinds == {"str"}:
        return np.array(values, dtype=str), {}
    return np.array([json.dumps(v, sort_keys=True) for v in values], dtype=str), {"encoding": "json",
                                                                                   "field": path}


def scenario_hash(scenario) -> str:
    """The SHA-256 of a sweep's normalised scenario: a resume of another scenario is refused."""
    blob = json.dumps({"scenario": scenario.model_dump(mode="json"), "hipposim": __version__},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


RECORD_STATUSES = ("ok", "failed")


def read_record(path: Path, point: SweepPoint | None = None) -> dict | None:
    """A task record stored by this sweep, or None for anything else: a missing, oversized,
    unreadable or non-JSON file, a JSON value that is not a record, a record whose ``key`` is not its
    file name, or (given ``point``) one made from another scenario than ``point``'s."""
    from .folder import MAX_JSON_BYTES

    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
            return None
        rec = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(rec, dict) or rec.get("key") != path.stem or rec.get("status") not in RECORD_STATUSES:
        return None
    metrics = rec.get("metrics", {})
    if not isinstance(metrics, dict) or not all(isinstance(m, dict) for m in metrics.values()):
        return None
    if not isinstance(rec.get("error", ""), str):
        return None
    if point is not None and (rec["key"] != point.key or rec.get("scenario_sha256") != point_hash(point.scenario)):
        return None
    return rec


def _done_keys(root: Path, points: list[SweepPoint] | None = None) -> set[str]:
    """Keys of the points whose stored record checks out (:func:`read_record`); others run again."""
    folder = root / TASKS
    if not folder.is_dir():
        return set()
    if points is None:
        return {f.stem for f in folder.glob("*.json") if read_record(f) is not None}
    return {p.key for p in points if read_record(folder / f"{p.key}.json", p) is not None}


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


#: memory a worker process needs beside its task (the interpreter, numpy, xarray, Brian2)
WORKER_BASE = 256 * 2 ** 20


def available_memory() -> float:
    """Bytes of memory available to new processes (MemAvailable; infinite where it cannot be read)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return float("inf")


def worker_count(requested: int | None, n_tasks: int, task_memory: float) -> tuple[int, str]:
    """How many local worker processes to start: the request (default: one per core), capped by the
    number of tasks to run and by the memory available for ``task_memory`` bytes per task (plus
    :data:`WORKER_BASE`); at least 1. Returns the count and why it is lower than asked ("" if not)."""
    import os

    wanted = requested or os.cpu_count() or 1
    by_memory = int(available_memory() // (max(task_memory, 0) + WORKER_BASE))
    n = max(1, min(wanted, max(n_tasks, 1), max(by_memory, 1)))
    why = []
    if n < wanted and n == max(n_tasks, 1):
        why.append(f"{n_tasks} task{'s' if n_tasks != 1 else ''} to run")
    if n < wanted and n == max(by_memory, 1) and by_memory < wanted:
        why.append(f"memory for {max(by_memory, 1)} at about {(task_memory + WORKER_BASE) / 2**20:.0f} MiB each")
    return n, "; ".join(why)


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
    from .folder import check_outputs

    check_outputs(([MANIFEST, "points.json", "sweep.nc", "fits.json"], [TASKS, scenario.output.figures]),
                  source)
    client = connect_client(scheduler, workers) if scheduler else None  # fails before anything is written
    resuming = resume and (root / MANIFEST).exists()
    try:
        if resuming:
            folder, manifest = open_folder(root, "sweep")  # locked: one writer at a time
            try:
                _check_resume(folder, manifest, scenario)  # before any work or any worker starts
            except BaseException:
                folder.release()
                raise
        else:
            folder = prepare_output(root, overwrite)  # locked
            manifest = {}
    except BaseException:
        if client is not None:
            _close_client(client, scheduler)
        raise
    try:
        done = _done_keys(folder.root, points) if resuming else set()
        todo = [p for p in points if p.key not in done]
        if executor != "serial" and not scheduler:
            from ..scenario.limits import total_memory

            workers, why = worker_count(workers, len(todo), total_memory(scenario.document))
            if why and progress:
                print(f"starting {workers} worker{'s' if workers != 1 else ''} ({why})", file=sys.stderr)
        if executor == "dask" and not scheduler:
            client = local_dask_client(workers)
        runner = make_executor(executor, workers, client)
    except BaseException:
        if client is not None:
            _close_client(client, scheduler)
        folder.release()
        raise
    previous = copy.deepcopy(manifest) if manifest else None
    written = 0  # task records this call stored
    try:
        with interruptible():
            manifest.update({
                "hipposim": __version__, "kind": "sweep", "status": "running", "scenario_file": source,
                "seed": scenario.seed, "scenario": scenario.model_dump(mode="json"),
                "versions": package_versions(), "started": manifest.get("started", utc_now()),
                "n_tasks": len(points), "executor": scheduler or executor,
                "scenario_sha256": scenario_hash(scenario),
            })
            folder.write_json(MANIFEST, manifest)
            folder.reserve()
            folder.write_json("points.json", [{"key": p.key, "seed": p.seed, "values": p.values} for p in points])
            if resume:
                # temporary files of writes that a killed sweep never finished; their tasks run again
                from .folder import PARTIAL_SUFFIX

                for leftover in (folder.root / TASKS).glob(f".*{PARTIAL_SUFFIX}"):
                    if leftover.is_symlink() or leftover.is_file():
                        leftover.unlink(missing_ok=True)
            for p in todo:  # records that did not check out are replaced, never read again
                stale = folder.root / TASKS / f"{p.key}.json"
                if stale.is_file() and not stale.is_symlink():
                    stale.unlink()
            hashes = {p.key: point_hash(p.scenario) for p in todo}
            bar = tqdm(total=len(points), initial=len(points) - len(todo), desc=f"sweep {scenario.name}",
                       unit="task", disable=not progress)
            records = []
            if todo:
                bar.set_postfix_str(f"starting {runner.name} workers", refresh=True)
                runner.start(model_ids_of(todo), brian2_targets_of(todo))
                bar.unpause()  # tasks/s without the start-up
                t0 = time.perf_counter()
                def store(record):
                    nonlocal written
                    record["scenario_sha256"] = hashes[record["key"]]
                    folder.write_json(f"{TASKS}/{record['key']}.json", record)
                    written += 1
                    records.append(record)

                try:
                    for record in runner.run(todo):
                        store(record)
                        bar.set_postfix_str(f"{runner.busy}/{runner.n_workers} workers busy", refresh=False)
                        bar.update()
                except BaseException:
                    for record in runner.finished():  # tasks that finished while the signal arrived
                        if record.get("key") in hashes:
                            store(record)
                    raise
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
            ds.attrs["scenario_sha256"] = scenario_hash(scenario)
            ds.attrs["model_ids"] = json.dumps({m.name: m.id for m in scenario.models})
            ds.attrs["success_overlap"] = float(scenario.analysis.success_overlap)
            ds.attrs.update(capacity_context(scenario))
            ds.attrs["model_params"] = json.dumps({m.name: m.params for m in scenario.models}, sort_keys=True)
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
            elif scenario.sweep.kind == "sequence_capacity":
                from ..analysis import clean_json
                from ..analysis.sequence import sequence_capacity_fits

                fits = sequence_capacity_fits(ds)
                folder.write_json("fits.json", clean_json(fits))
            from ..plotting.sweep import plot_sweep

            manifest["figures"] = plot_sweep(ds, folder, scenario.output.figures, scenario.output.formats,
                                             fits=fits)
            folder.drop_reserve()
            folder.write_json(MANIFEST, manifest)
            folder.commit()
            return ds
    except BaseException as exc:
        if folder.staging:
            from .folder import kept

            kept(exc, folder)  # the replacement is discarded; the old sweep stays as it was
        elif previous is not None and written == 0:
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


def _check_resume(folder: RunFolder, manifest: dict, scenario) -> None:
    """Refuse (exit 2, before any work) a resume of another scenario, or into a folder where a symbolic
    link was planted in place of the task folder, a task record, the figure folder or a result file."""
    stored = manifest.get("scenario_sha256")
    if stored is None:  # a sweep folder of an earlier version: compare the scenarios themselves
        same = manifest.get("scenario") == scenario.model_dump(mode="json")
    else:
        same = stored == scenario_hash(scenario)
    if not same:
        raise OutputError(f"'{folder.root}' holds a sweep of another scenario (or another hipposim version); "
                          "--resume continues the same sweep only: pass --overwrite to replace it or choose "
                          "another --out")
    _check_tasks_folder(folder)
    for name in (scenario.output.figures, "sweep.nc", "points.json", "fits.json", TASKS):
        folder.path(name)  # a symbolic link on the way is refused here, not after sweep.nc is rewritten


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


def capacity_context(scenario) -> dict:
    """What a capacity plot needs beside the load: the cue's flip fraction rho (noisy cues) and, for each
    spiking CA3 model, its cell count n_e and recurrent inputs per cell C = p_ee n_e (JSON, by label).
    Values that the sweep itself varies are left out (one number would be wrong for some points)."""
    from ..registry import registry

    swept = set(scenario.sweep.grid) | set(scenario.sweep.zip)
    out: dict = {}
    cues = scenario.cues
    if cues.kind == "noisy" and not any(k.startswith("cues.") for k in swept):
        out["cue_flip_fraction"] = float(cues.fraction)
    sizes = {}
    for m in scenario.models:
        if not m.id.startswith("ca3-spiking") or any(k.startswith(f"models.{m.name}.") for k in swept):
            continue
        params = registry.get(m.id).Params(**m.params)
        sizes[m.name] = {"n_e": int(params.n_e), "C": float(params.p_ee * params.n_e)}
    if sizes:
        out["ca3_sizes"] = json.dumps(sizes)
    return out


def aggregate(root: Path, points: list[SweepPoint]):
    """All task records into one labeled dataset: dims (task, model), coords = swept values and seed."""
    import xarray as xr

    records = []
    for p in points:
        rec = read_record(Path(root) / TASKS / f"{p.key}.json", p)
        records.append(rec if rec is not None else {"status": "missing"})
    labels = sorted({m for r in records for m in r.get("metrics", {})})
    metric_names = ["final_overlap", "success_rate", "peak_overlap", "steps_to_converge", "final_energy",
                    "max_other_overlap", "attention_entropy", "overlap_entropy", "beta_eff",
                    "beta_theory", "beta_pred", "sequence_correct_steps", "sequence_possible_steps",
                    "sequence_fraction", "sequence_recalled", "mean_sequence_overlap"]
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
        values, attrs = coordinate(path, [p.values[path] for p in points])
        coords[path] = ("task", values, attrs)
    # loads and sizes, for capacity curves
    sizes = [_pattern_size(p.scenario) for p in points]
    counts = [_pattern_count(p.scenario) for p in points]
    coords["n_units"] = ("task", sizes)
    coords["n_patterns"] = ("task", counts)
    coords["load"] = ("task", [c / s for c, s in zip(counts, sizes)])
    coords["coding_level"] = ("task", [float(p.scenario["patterns"].get("coding_level") or 0.5) for p in points])
    ds = xr.Dataset({name: (("task", "model"), arr) for name, arr in data.items()}, coords=coords)
    ds["status"] = ("task", np.array([r.get("status", "missing") for r in records], dtype=str))
    ds["error"] = ("task", np.array([r.get("error", "") for r in records], dtype=str))
    return ds


def _pattern_size(s: dict) -> int:
    pat = s["patterns"]
    return int(pat.get("size") or 256)


def _pattern_count(s: dict) -> int:
    """Stored items P of a point: count, the image list, or count x length of sequences."""
    pat = s["patterns"]
    if pat.get("kind") == "sequences":
        return int(pat["count"]) * int(pat["length"])
    return pat.get("count") or len(pat.get("names") or [])
