"""Why did a sweep task run slower in a Dask worker than alone? One cause at a time.

Run by hand (not collected by pytest)::

    python tests/benchmarks/bench_sweep_causes.py [--tasks 6] [--rounds 2]

The same few tasks of ``scenarios/capacity_sweep.yaml`` (N = 500, seed 0;
Hopfield classical, modern and attention) run in each configuration below on
ONE worker, so the two cores are not shared between our own workers and the
per-task time shows only what the worker adds. The configurations run in
rounds, interleaved, so that a change of machine load hits all of them alike.

* ``serial``       this process (started with one BLAS thread, no MALLOC_TRIM_THRESHOLD_)
* ``pool``         a spawned, warmed worker process with executors.WORKER_ENV (the local default)
* ``pool+trim``    the same with MALLOC_TRIM_THRESHOLD_=65536 (Dask's nanny value)
* ``pool+blas``    the same without the one-thread BLAS/OpenMP variables
* ``dask-default`` a LocalCluster with Dask's defaults (nanny sets MALLOC_TRIM_THRESHOLD_=65536, BLAS
                   threads 1, statistical profiler on)
* ``dask-notrim``  Dask's defaults without MALLOC_TRIM_THRESHOLD_
* ``dask-noprof``  Dask's defaults with the profiler off
* ``dask-tuned``   executors.DASK_CONFIG (both off)

Printed per configuration: the wall time of the tasks inside the worker
(``elapsed_s``; per task the best of the rounds, summed, and the median of the
rounds' sums) and its ratio to serial, the summed CPU time of the worker
process during the tasks (``cpu_s``: it includes the event loop and profiler
threads), the time from submit to result not spent in the task (dispatch and
serialisation), and the worker's start-up (spawn, imports, warm-up).
Also the pickled sizes of a point scenario and a record.
"""
from __future__ import annotations

import os

if __name__ == "__main__":  # not in spawned workers, which re-import this module and inherit their own env
    os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import pickle  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from hipposim.run import executors as ex  # noqa: E402
from hipposim.run.sweep import sweep_points  # noqa: E402
from hipposim.scenario import load_scenario  # noqa: E402

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "capacity_sweep.yaml"
DASK_DEFAULT_ENV = {"MALLOC_TRIM_THRESHOLD_": 65536, "OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1,
                    "OPENBLAS_NUM_THREADS": 1}


@contextlib.contextmanager
def environ():
    """Restore os.environ after the block (the nanny writes its pre-spawn-environ into it)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def patched(obj, **attrs):
    old = {k: getattr(obj, k) for k in attrs}
    try:
        for k, v in attrs.items():
            setattr(obj, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(obj, k, v)


def dask_config(trim: bool, profile: bool) -> dict:
    env = dict(DASK_DEFAULT_ENV)
    if not trim:
        env.pop("MALLOC_TRIM_THRESHOLD_")
    return {"distributed.nanny.pre-spawn-environ": env, "distributed.nanny.environ": {},
            "distributed.worker.profile.enabled": profile}


def timed(executor, points, env_probe) -> dict:
    """Run ``points`` on a started executor one at a time; per-task inside and round-trip times."""
    out = {"elapsed": [], "cpu": [], "roundtrip": [], "env": env_probe()}
    for p in points:
        t0 = time.perf_counter()
        (record,) = list(executor.run([p]))
        out["roundtrip"].append(time.perf_counter() - t0)
        assert record["status"] == "ok", record.get("error")
        out["elapsed"].append(record["elapsed_s"])
        out["cpu"].append(record["cpu_s"])
    return out


def run_config(name: str, points, model_ids) -> dict:
    with environ():
        if name == "serial":
            e = ex.Executor().start(model_ids)
            return {**timed(e, points, ex._env_report), "startup": e.startup_s}
        if name.startswith("pool"):
            env, unset = dict(ex.WORKER_ENV), ex.UNSET_ENV
            if name == "pool+trim":
                os.environ["MALLOC_TRIM_THRESHOLD_"] = "65536"
                unset = ()
            if name == "pool+blas":
                for k in env:
                    os.environ.pop(k, None)
                env = {}
            with patched(ex, WORKER_ENV=env, UNSET_ENV=unset):
                e = ex.ProcessPool(1).start(model_ids)
            try:
                return {**timed(e, points, lambda: e.pool.submit(ex._env_report).result()),
                        "startup": e.startup_s}
            finally:
                e.close()
        config = {"dask-default": dask_config(True, True), "dask-notrim": dask_config(False, True),
                  "dask-noprof": dask_config(True, False), "dask-tuned": ex.DASK_CONFIG}[name]
        t0 = time.perf_counter()
        # worker_environment() inside local_dask_client only touches this process; the nanny
        # exports its pre-spawn-environ on top of it, which is what each variant sets
        client = ex.local_dask_client(1, config=config)
        try:
            e = ex.DaskExecutor(client).start(model_ids)
            startup = time.perf_counter() - t0
            res = timed(e, points, lambda: next(iter(client.run(ex._env_report).values())))
            return {**res, "startup": startup}
        finally:
            cluster = client.cluster
            client.close()
            cluster.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--autogroup", action="store_true", help="only the scheduler-autogroup experiment")
    ap.add_argument("--configs", default="serial,pool,pool+trim,pool+blas,dask-default,dask-notrim,"
                                         "dask-noprof,dask-tuned")
    args = ap.parse_args()
    names = args.configs.split(",")
    points = [p for p in sweep_points(load_scenario(SCENARIO)) if p.seed == 0 and p.values["patterns.size"] == 500]
    points = points[:args.tasks]
    model_ids = ex.model_ids_of(points)
    if args.autogroup:
        autogroup(points, model_ids, args.rounds)
        return
    print(f"load at start: {os.getloadavg()}")
    print(f"{len(points)} tasks (capacity_sweep.yaml, N=500, seed 0), {args.rounds} rounds, one worker each")
    print(f"pickled point scenario {len(pickle.dumps(points[0].scenario))} B; "
          f"pickle+unpickle {1e6 * timeit_pickle(points[0].scenario):.0f} us")
    results: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            res = run_config(name, points, model_ids)
            results[name].append(res)
            print(f"  round {r} {name:13s} tasks {sum(res['elapsed']):6.2f} s  cpu {sum(res['cpu']):6.2f} s  "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"load at end: {os.getloadavg()}")
    print()
    # per task, the best of the rounds (the run least disturbed by other load), summed over tasks;
    # the median of the rounds' sums beside it
    def best(name, field):
        return float(np.sum(np.min([r[field] for r in results[name]], axis=0)))

    def median(name, field):
        return float(np.median([sum(r[field]) for r in results[name]]))

    b_el, b_cpu, m_el = best("serial", "elapsed"), best("serial", "cpu"), median("serial", "elapsed")
    print(f"{'config':13s} {'best s':>7s} {'/serial':>8s} {'median s':>8s} {'/serial':>8s} {'cpu s':>6s} "
          f"{'/serial':>8s} {'dispatch ms':>11s} {'start s':>7s}  worker env")
    for name in names:
        rs = results[name]
        el, cpu, med = best(name, "elapsed"), best(name, "cpu"), median(name, "elapsed")
        disp = 1e3 * np.median([np.median(np.subtract(r["roundtrip"], r["elapsed"])) for r in rs])
        env = rs[0]["env"]
        print(f"{name:13s} {el:7.2f} {el / b_el:8.3f} {med:8.2f} {med / m_el:8.3f} {cpu:6.2f} {cpu / b_cpu:8.3f} "
              f"{disp:11.1f} {np.median([r['startup'] for r in rs]):7.2f}  "
              f"trim={env.get('MALLOC_TRIM_THRESHOLD_')} blas={env.get('OPENBLAS_NUM_THREADS')}")


def timeit_pickle(obj, n: int = 200) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        pickle.loads(pickle.dumps(obj))
    return (time.perf_counter() - t0) / n


# --- autogroup: does the kernel give our workers a core each? -----------------------------------------

def autogroup(points, model_ids, rounds: int) -> None:
    """Serial against 2 pool workers in our session and 2 in sessions of their own, interleaved.

    With ``kernel.sched_autogroup_enabled = 1`` the scheduler shares the CPU
    fairly between sessions, not processes: on a machine busy with other
    sessions, two workers in our session share our session's slice, and two
    cores give no speed-up. Run: ``python tests/benchmarks/bench_sweep_causes.py --autogroup``.
    """
    try:
        enabled = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        enabled = "unknown"
    print(f"kernel.sched_autogroup_enabled = {enabled}; load {os.getloadavg()}")

    def pool_run(own_sessions: bool) -> tuple[float, float, float]:
        with ex.ProcessPool(2, own_sessions=own_sessions).start(model_ids) as pool:
            t0 = time.perf_counter()
            recs = list(pool.run(points))
            wall = time.perf_counter() - t0
        return wall, sum(r["elapsed_s"] for r in recs), sum(r["cpu_s"] for r in recs)

    def serial_run() -> tuple[float, float, float]:
        e = ex.Executor().start(model_ids)
        t0 = time.perf_counter()
        recs = list(e.run(points))
        return time.perf_counter() - t0, sum(r["elapsed_s"] for r in recs), sum(r["cpu_s"] for r in recs)

    runs = {"serial": serial_run, "2 workers, our session": lambda: pool_run(False),
            "2 workers, own sessions": lambda: pool_run(True)}
    for r in range(rounds):
        res = {}
        for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            res[name] = runs[name]()
        s = res["serial"][0]
        for name, (wall, task, cpu) in res.items():
            print(f"  round {r} {name:24s} wall {wall:6.2f} s  tasks {task:6.2f} s  cpu {cpu:6.2f} s  "
                  f"speed-up {s / wall:.2f}x  load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
