"""Sweep benchmark (run by hand; not collected by pytest).

    python tests/benchmarks/bench_sweep.py

1. The same 200-task sweep serially and on 2 local Dask workers, in one go
   (goal: speed-up >= 1.7x on 2 cores).
2. Per-task overhead for trivial tasks (goal: < 20 ms).
3. Memory of the aggregated dataset for 10^5 tasks.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from hipposim.scenario import loads_scenario
from hipposim.run.sweep import run_sweep, sweep_points

SCENARIO = """
version: 1
name: bench
seed: 0
patterns: {{kind: random, size: {size}, count: 20}}
cues: {{kind: noisy, fraction: 0.1, targets: [0, 1, 2, 3, 4, 5, 6, 7]}}
models:
  - {{id: hopfield-classical-v1, label: classical, params: {{update: async, max_steps: 10}}}}
sweep:
  grid: {{patterns.count: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]}}
  seeds: {{start: 0, count: {seeds}}}
"""


def timed_sweep(text: str, executor: str, workers: int | None = None) -> tuple[float, int]:
    import yaml

    scenario = loads_scenario(text)
    points = sweep_points(scenario, yaml.safe_load(text))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_sweep(scenario, Path(tmp) / "s", executor=executor, workers=workers, progress=False, points=points)
        return time.perf_counter() - t0, len(points)


if __name__ == "__main__":
    work = SCENARIO.format(size=400, seeds=20)  # 200 tasks
    t_serial, n = timed_sweep(work, "serial")
    t_dask, _ = timed_sweep(work, "dask", workers=2)
    print(f"{n} tasks: serial {t_serial:.1f} s, 2 Dask workers {t_dask:.1f} s (cluster start included)"
          f" -> speed-up {t_serial / t_dask:.2f}x (goal >= 1.7x)")
    trivial = SCENARIO.format(size=8, seeds=20).replace("[10, 20, 30, 40, 50, 60, 70, 80, 90, 100]", "[1, 2, 3, 4, 5, 6, 7, 8]")
    trivial = trivial.replace("targets: [0, 1, 2, 3, 4, 5, 6, 7]", "targets: [0]")
    t_triv, n_triv = timed_sweep(trivial, "serial")
    print(f"trivial tasks: {1e3 * t_triv / n_triv:.1f} ms per task including validation, run, "
          f"atomic store and aggregation ({n_triv} tasks, serial) (goal < 20 ms)")
    # memory of the aggregated dataset for 1e5 tasks
    import xarray as xr

    n_big = 100_000
    ds = xr.Dataset({m: (("task", "model"), np.zeros((n_big, 2))) for m in
                     ["final_overlap", "success_rate", "peak_overlap", "steps_to_converge", "final_energy",
                      "max_other_overlap", "attention_entropy"]},
                    coords={"task": [f"{i:020x}" for i in range(n_big)], "model": ["a", "b"],
                            "seed": ("task", np.zeros(n_big, int)), "load": ("task", np.zeros(n_big))})
    print(f"aggregated dataset for 1e5 tasks x 2 models x 7 metrics: {ds.nbytes / 2**20:.1f} MiB")
