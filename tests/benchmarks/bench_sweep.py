"""Sweep throughput: serial against 2 workers on real work, in one run (by hand; not collected by pytest).

    python tests/benchmarks/bench_sweep.py [--rounds 2] [--executors processes,dask] [--only hopfield|ca3]

Two sweeps:

* ``hopfield``: ``scenarios/capacity_sweep.yaml`` as shipped (100 tasks of
  0.1-1 s: classical and modern Hopfield and attention at N = 500 and 1000);
* ``ca3``: 20 points of the spiking CA3 model (Brian2 numpy target; small
  network, three images), ``ec_rate`` from 20 to 60 Hz.

Each sweep runs serially and on 2 workers of each executor, interleaved in
rounds (the order reversed every other round), each into a fresh temporary
folder with ``run_sweep(..., progress=False)``. For each run it reports

* ``start``: spawning and warming the workers (not in the throughput);
* ``wall``: from the first task submitted to the last record stored;
* ``tasks``: the summed ``elapsed_s`` measured inside the workers;
* ``cpu``: the summed CPU time of the worker processes during the tasks (less
  sensitive than wall time to other load on the machine);
* ``total``: the whole ``run_sweep`` call (start, tasks, aggregation, figures).

and, against serial in the same round: the speed-up in throughput (serial wall
/ parallel wall; goals >= 1.8x for hopfield and >= 1.7x for ca3 on 2 workers),
the speed-up including start-up, and the per-task time inside a worker against
serial (summed task time ratio; goal within 10%, i.e. <= 1.10) and the same
ratio of CPU time.

The machine's load average is printed before and after each run; on a machine
with fewer free cores than workers no executor can reach the goals, and the
figures then show the load, not the executor. Two figures do not depend on
the load as much: the speed-up against the summed task time (how much of the
time every worker was busy; at most the number of workers) and the per-task
CPU time against serial. Their quotient is printed as the speed-up "projected
for free cores" (what the run would give if each busy worker had a core of its
own); it is a projection, not a measurement.
"""
from __future__ import annotations

import os

if __name__ == "__main__":  # serial runs in this process: one BLAS thread, like the workers
    os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from hipposim.run.sweep import run_sweep, sweep_points  # noqa: E402
from hipposim.scenario import load_scenario, loads_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CA3_PARAMS = {"n_e": 200, "n_i": 40, "n_ca1": 100, "n_ca1_i": 20, "t_encode": "80 ms", "t_recall": "60 ms",
              "t_gap": "20 ms", "t_reset": "20 ms", "readout_settle": "30 ms", "weight_sample": 100,
              "target": "numpy"}
CA3_RATES = [f"{v:g} Hz" for v in np.round(np.linspace(20.0, 60.0, 20), 1)]
CA3_SWEEP = f"""
version: 1
name: bench_sweep_ca3
seed: 0
patterns: {{kind: images, names: [apple, heart, house]}}
cues: {{kind: masked, region: left_half}}
models:
  - {{id: ca3-spiking-v1, label: ca3, params: {json.dumps(CA3_PARAMS)}}}
sweep:
  zip:
    models[0].params.ec_rate: {json.dumps(CA3_RATES)}
"""


def sweeps(only: str | None) -> dict:
    out = {}
    if only in (None, "hopfield"):
        out["hopfield"] = load_scenario(ROOT / "scenarios" / "capacity_sweep.yaml")
    if only in (None, "ca3"):
        out["ca3"] = loads_scenario(CA3_SWEEP)
    return out


def measure(scenario, executor: str, workers: int | None) -> dict:
    points = sweep_points(scenario)
    os.environ.pop("HIPPOSIM_WORKER_SESSIONS", None)
    if executor == "sessions":  # the process pool with each worker in a session of its own
        os.environ["HIPPOSIM_WORKER_SESSIONS"] = "1"
        executor = "processes"
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        t0 = time.perf_counter()
        ds = run_sweep(scenario, Path(tmp) / "s", executor=executor, workers=workers, progress=False,
                       points=points, source="bench")
        total = time.perf_counter() - t0
        manifest = json.loads((Path(tmp) / "s" / "manifest.json").read_text())
        records = {p.key: json.loads((Path(tmp) / "s" / "tasks" / f"{p.key}.json").read_text()) for p in points}
    failed = int((ds["status"].values != "ok").sum())
    t = manifest["throughput"]
    return {"wall": t["wall_s"], "start": t["startup_s"], "tasks": t["task_s"], "total": total, "cpu": t["cpu_s"],
            "per_task": {k: r["elapsed_s"] for k, r in records.items()}, "failed": failed,
            "workers": len({r["worker"] for r in records.values()}), "load": (load0, os.getloadavg()[0])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executors", default="processes,dask",
                    help="parallel executors to compare with serial: processes, dask, sessions (processes, "
                         "each worker in a session of its own; see executors.ProcessPool)")
    ap.add_argument("--only", choices=["hopfield", "ca3"])
    args = ap.parse_args()
    contenders = [("serial", None)] + [(e, args.workers) for e in args.executors.split(",")]
    print(f"load average at start: {os.getloadavg()}, cores: {os.cpu_count()}", flush=True)
    for name, scenario in sweeps(args.only).items():
        n = len(sweep_points(scenario))
        print(f"\n== {name}: {n} tasks ==", flush=True)
        results: dict[str, list[dict]] = {c: [] for c, _ in contenders}
        for r in range(args.rounds):
            order = contenders if r % 2 == 0 else contenders[::-1]
            for executor, workers in order:
                res = measure(scenario, executor, workers)
                results[executor].append(res)
                print(f"  round {r} {executor:9s} start {res['start']:5.1f} s  wall {res['wall']:6.1f} s  "
                      f"tasks {res['tasks']:6.1f} s  cpu {res['cpu']:6.1f} s  total {res['total']:6.1f} s  workers used {res['workers']}  "
                      f"failed {res['failed']}  load {res['load'][0]:.1f}->{res['load'][1]:.1f}", flush=True)
        goal = {"hopfield": 1.8, "ca3": 1.7}[name]
        for executor, _ in contenders[1:]:
            for r in range(args.rounds):
                s, p = results["serial"][r], results[executor][r]
                keys = list(s["per_task"])
                ratio = sum(p["per_task"][k] for k in keys) / sum(s["per_task"][k] for k in keys)
                cpu_ratio = p["cpu"] / s["cpu"]
                print(f"  {executor} round {r}: throughput speed-up {s['wall'] / p['wall']:.2f}x (goal >= {goal}), "
                      f"with start-up {s['wall'] / (p['wall'] + p['start']):.2f}x, whole call "
                      f"{s['total'] / p['total']:.2f}x; per-task time in a worker / serial {ratio:.3f} "
                      f"(goal <= 1.10), per-task CPU time {cpu_ratio:.3f}; speed-up against summed task time "
                      f"{p['tasks'] / p['wall']:.2f}x; projected for free cores "
                      f"{p['tasks'] / p['wall'] / cpu_ratio:.2f}x")
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
