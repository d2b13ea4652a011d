"""Sweep benchmark of the spiking CA3 model: is compiled code reused across points?

Run by hand (not collected by pytest)::

    python tests/benchmarks/bench_sweep_ca3.py [--target cython|numpy]

Everything happens in one process (the 2-worker sweep apart), on the Cython
target (or ``--target numpy``, which compiles nothing), with a fresh
compiled-code cache (``HIPPOSIM_CACHE`` points at a new temporary folder
before Brian2 is imported), on a small network (``n_e`` = 200, ``n_i`` = 40,
``n_ca1`` = 100, ``n_ca1_i`` = 20, three images, short phases):

1. **Compile**: one direct run of the model, on the cold cache. Its time is
   reported as the compile cost (compilation plus one run).
2. **20 direct runs**: ``registry.make("ca3-spiking-v1", params).run(stimulus,
   rng)`` for 20 values of ``ec_rate`` from 20 Hz to 60 Hz. The input rate
   leaves the network's structure, and so the generated code, unchanged.
3. **Sweep**: the same 20 points as a hipposim sweep (``sweep: {zip:
   {models[0].params.ec_rate: [...]}}``), run with ``run_sweep(...,
   executor="serial")`` into a temporary folder. The time includes expanding
   and validating the points, the metrics of every task, storing them,
   aggregating ``sweep.nc`` and drawing the sweep figures.

For each step the number of newly compiled Cython modules is counted (the
new ``.so`` files in the cache; a sweep also records ``compiled_modules`` per
task). Zero during steps 2 and 3 means the compiled
code is reused across points. Printed: compile time, the 20 direct runs, the
sweep, the ratios sweep / (compile + 20 runs) (the goal in the issue, at most
1.15) and sweep / (20 direct runs), and the sweep's overhead per point.

Because the sweep runs after the direct runs in the same process, it finds
the compiled code already in place. A sweep in a fresh process would pay the
compile once, on its first point; the script also prints that estimate,
(compile + sweep) / (compile + 20 runs).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

N_POINTS = 20
EC_RATES_HZ = [round(float(v), 1) for v in np.linspace(20.0, 60.0, N_POINTS)]
COMPILE_RATE_HZ = 40.0
PARAMS = {"n_e": 200, "n_i": 40, "n_ca1": 100, "n_ca1_i": 20, "t_encode": "80 ms", "t_recall": "60 ms",
          "t_gap": "20 ms", "t_reset": "20 ms", "readout_settle": "30 ms", "weight_sample": 100,
          "target": "cython"}
SCENARIO = """
version: 1
name: bench_sweep_ca3
seed: 0
patterns: {{kind: images, names: [apple, heart, house]}}
cues: {{kind: masked, region: left_half}}
models:
  - id: ca3-spiking-v1
    label: ca3
    params: {params}
"""
SWEEP = """sweep:
  zip:
    models[0].params.ec_rate: {rates}
"""


def rate(hz: float) -> str:
    return f"{hz:g} Hz"


def compiled_modules(cache: Path) -> int:
    """Number of compiled Cython modules in the cache."""
    folder = cache / "cython"
    return len(list(folder.glob("*.so")) + list(folder.glob("*.pyd"))) if folder.is_dir() else 0


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--target", choices=["cython", "numpy"], default="cython")
    PARAMS["target"] = ap.parse_args().target
    print(f"target {PARAMS['target']}; load average {os.getloadavg()}", flush=True)
    cache = Path(tempfile.mkdtemp(prefix="bench-sweep-ca3-cache-"))
    os.environ["HIPPOSIM_CACHE"] = str(cache)  # before anything imports brian2: the first run is cold

    from hipposim.errors import ModelError
    from hipposim.registry import registry
    from hipposim.scenario import loads_scenario
    from hipposim.seeding import model_rng
    from hipposim.stimuli import build_stimulus
    from hipposim.run.sweep import run_sweep, sweep_points

    base = SCENARIO.format(params=json.dumps(PARAMS))
    text = base + SWEEP.format(rates=json.dumps([rate(v) for v in EC_RATES_HZ]))
    scenario = loads_scenario(text)
    # the stimulus and the model's generator are those a sweep point with seed 0 gets
    stimulus = build_stimulus(loads_scenario(base))

    direct_failures: list[str] = []

    def direct_run(hz: float) -> float:
        model = registry.make("ca3-spiking-v1", dict(PARAMS, ec_rate=rate(hz)))
        t0 = time.perf_counter()
        try:
            model.run(stimulus, model_rng(0, 0))
        except ModelError as exc:  # e.g. runaway activity: timed like a sweep's failed task
            direct_failures.append(f"ec_rate {hz:g} Hz: {exc}")
        return time.perf_counter() - t0

    # 1. compile: the first run on a cold cache
    t_compile = direct_run(COMPILE_RATE_HZ)
    n_compile = compiled_modules(cache)
    print(f"compile (first run, cold cache): {t_compile:.1f} s, {n_compile} Cython modules compiled", flush=True)

    # 2. 20 direct runs over ec_rate
    before = compiled_modules(cache)
    per_run = [direct_run(hz) for hz in EC_RATES_HZ]
    t_runs = float(np.sum(per_run))
    n_runs = compiled_modules(cache) - before
    print(f"{N_POINTS} direct runs (ec_rate {EC_RATES_HZ[0]:g}..{EC_RATES_HZ[-1]:g} Hz): {t_runs:.1f} s "
          f"(per run: mean {np.mean(per_run):.2f} s, first {per_run[0]:.2f} s, min {min(per_run):.2f} s, "
          f"max {max(per_run):.2f} s), {n_runs} modules compiled, {len(direct_failures)} failed", flush=True)
    for failure in direct_failures:
        print("  failed:", failure)

    # 3. the same 20 points as a sweep, serially and on 2 worker processes
    def sweep(executor: str, workers: int | None):
        before = compiled_modules(cache)
        with tempfile.TemporaryDirectory(prefix="bench-sweep-ca3-out-") as tmp:
            t0 = time.perf_counter()
            points = sweep_points(scenario)
            ds = run_sweep(scenario, Path(tmp) / "sweep", executor=executor, workers=workers, progress=False,
                           points=points, source="bench")
            t_total = time.perf_counter() - t0
            root = Path(tmp) / "sweep"
            stats = json.loads((root / "manifest.json").read_text())["throughput"]
            records = [json.loads((root / "tasks" / f"{p.key}.json").read_text()) for p in points]
        failed = int((ds["status"].values != "ok").sum())
        recompiled = sum(r.get("compiled_modules", 0) for r in records)
        task_s = [r["elapsed_s"] for r in records]
        print(f"sweep of {len(points)} points ({executor}{f', {workers} workers' if workers else ''}): "
              f"{t_total:.1f} s in all, start-up {stats['startup_s']:.1f} s, tasks {stats['wall_s']:.1f} s wall "
              f"(per task: sum {sum(task_s):.1f} s, first {task_s[0]:.2f} s, max {max(task_s):.2f} s), "
              f"recompilations counted in the tasks {recompiled}, new modules in the cache "
              f"{compiled_modules(cache) - before} (the workers' warm-up network included), {failed} failed tasks",
              flush=True)
        if failed:
            print("first failure:", next(r["error"] for r in records if r["status"] != "ok"))
        return t_total, stats, recompiled  # the warm-up's tiny network compiles apart from the tasks

    t_sweep, stats, n_sweep = sweep("serial", None)
    t_sweep2, stats2, n_sweep2 = sweep("processes", 2)
    n_sweep += n_sweep2
    print(f"2 workers against serial: {t_sweep / t_sweep2:.2f}x in all, {stats['wall_s'] / stats2['wall_s']:.2f}x "
          f"in throughput (start-up {stats2['startup_s']:.1f} s apart)")
    overhead = (t_sweep - t_runs) / N_POINTS
    print()
    print(f"sweep / (compile + {N_POINTS} runs) = {t_sweep:.1f} / {t_compile + t_runs:.1f} = "
          f"{t_sweep / (t_compile + t_runs):.3f} (goal <= 1.15)")
    print(f"sweep / {N_POINTS} direct runs      = {t_sweep:.1f} / {t_runs:.1f} = {t_sweep / t_runs:.3f} (goal <= 1.15)")
    print(f"fresh-process estimate, (compile + sweep) / (compile + {N_POINTS} runs) = "
          f"{(t_compile + t_sweep) / (t_compile + t_runs):.3f}")
    print(f"sweep overhead per point: {1e3 * overhead:.0f} ms "
          f"({100 * overhead / np.mean(per_run):.1f}% of a direct run)")
    print(f"compiled code reused across points: {'yes' if n_runs == 0 and n_sweep == 0 else 'NO'} "
          f"({n_compile} modules at the first run, {n_runs} during the direct runs, {n_sweep} during the sweep)")
    print(f"cache: {cache} (delete it when done)")


if __name__ == "__main__":
    main()
