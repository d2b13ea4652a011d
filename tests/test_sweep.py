"""Sweeps: keys, failures, kill-and-resume, Dask execution, and capacity against theory."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import xarray as xr
import yaml

from hipposim.analysis.capacity import fit_critical_load
from hipposim.cli import main
from hipposim.contract import Model
from hipposim.registry import registry
from hipposim.run.sweep import run_sweep, sweep_points
from hipposim.scenario import load_scenario, loads_scenario

from .conftest import SCENARIOS

SMOKE = SCENARIOS / "sweep_smoke.yaml"


def points_of(path):
    return sweep_points(load_scenario(path))


def test_task_keys_are_stable_across_processes():
    keys = [p.key for p in points_of(SMOKE)]
    code = ("import sys; from hipposim.run.sweep import sweep_points; from hipposim.scenario import load_scenario;"
            "print(' '.join(p.key for p in sweep_points(load_scenario(sys.argv[1]))))")
    # run outside the source tree, so the installed package is the one imported
    other = subprocess.run([sys.executable, "-c", code, str(SMOKE)], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": "123"}, cwd=tempfile.gettempdir()
                           ).stdout.split()
    assert other == keys and len(set(keys)) == 8


def test_sweep_path_that_does_not_exist_is_named(write_yaml, capsys):
    text = SMOKE.read_text().replace("patterns.count:", "patterns.cuont:")
    code = main(["validate", str(write_yaml(text))])
    err = capsys.readouterr().err
    assert code == 2 and "sweep.grid.patterns.cuont" in err and "did you mean 'count'" in err


def test_sweep_on_a_local_dask_cluster_matches_serial(tmp_path):
    scenario = load_scenario(SMOKE)
    serial = run_sweep(scenario, tmp_path / "serial", progress=False, source=str(SMOKE))
    dask = run_sweep(scenario, tmp_path / "dask", executor="dask", workers=2, progress=False, source=str(SMOKE))
    assert (dask["status"].values == "ok").all()
    xr.testing.assert_identical(serial["final_overlap"], dask["final_overlap"])
    assert (tmp_path / "dask" / "figures" / "capacity.png").exists()
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["n_tasks"] == 8


class Fragile(Model):
    """Fails for large pattern sets (test double)."""

    description = "fails when more than 10 patterns are stored"

    def run(self, stimulus, rng):
        if stimulus.n_patterns > 10:
            raise FloatingPointError("synthetic failure")
        return registry.make("hopfield-modern-v1").run(stimulus, rng)


def test_a_failing_task_is_recorded_and_others_complete(tmp_path, monkeypatch, capsys, write_yaml):
    monkeypatch.setitem(registry._table, "fragile-v1", "tests:Fragile")
    monkeypatch.setitem(registry._loaded, "fragile-v1", Fragile)
    data = yaml.safe_load(SMOKE.read_text())
    data["models"] = [{"id": "fragile-v1", "label": "fragile"}]
    path = write_yaml(yaml.safe_dump(data))
    code = main(["sweep", str(path), "--serial", "--out", str(tmp_path / "s"), "--quiet"])
    assert code == 3
    ds = xr.open_dataset(tmp_path / "s" / "sweep.nc", engine="h5netcdf")
    failed = ds["status"].values == "failed"
    assert failed.sum() == 4 and (ds["n_patterns"].values[failed] > 10).all()
    assert np.isfinite(ds["final_overlap"].values[~failed]).all()
    record = json.loads(next((tmp_path / "s" / "tasks").glob("*.json")).read_text())
    assert record["status"] in ("ok", "failed")
    failures = [json.loads(f.read_text()) for f in (tmp_path / "s" / "tasks").glob("*.json")]
    assert any("synthetic failure" in r.get("traceback", "") for r in failures)


def test_kill_and_resume_loses_nothing_and_duplicates_nothing(tmp_path, write_yaml):
    data = yaml.safe_load(SMOKE.read_text())
    data["sweep"]["seeds"] = {"start": 0, "count": 6}  # 24 tasks
    path = write_yaml(yaml.safe_dump(data))
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "hipposim.cli", "sweep", str(path), "--serial", "--out",
                             str(out), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "tasks").glob("*.json"))) < 5:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(list((out / "tasks").glob("*.json")))
    assert 5 <= partial < 24, "the sweep must be killed midway"
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    assert main(["sweep", str(path), "--serial", "--out", str(out), "--resume", "--quiet"]) == 0
    records = sorted((out / "tasks").glob("*.json"))
    assert len(records) == 24 and not list((out / "tasks").glob("*.partial"))
    reference = tmp_path / "reference"
    assert main(["sweep", str(path), "--serial", "--out", str(reference), "--quiet"]) == 0
    a = xr.open_dataset(out / "sweep.nc", engine="h5netcdf")
    b = xr.open_dataset(reference / "sweep.nc", engine="h5netcdf")
    xr.testing.assert_identical(a["final_overlap"], b["final_overlap"])


def test_unreachable_scheduler_fails_clearly_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    t0 = time.time()
    code = main(["sweep", str(SMOKE), "--scheduler", "tcp://127.0.0.1:9", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Dask scheduler" in err
    assert time.time() - t0 < 30 and not out.exists()


CAPACITY_1000 = """
version: 1
name: capacity_1000
seed: 0
patterns: {kind: random, size: 1000, count: 100}
cues: {kind: noisy, fraction: 0.1, targets: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]}
models:
  - {id: hopfield-classical-v1, label: classical, params: {update: async, max_steps: 30}}
analysis: {success_overlap: 0.95}
sweep:
  kind: capacity
  grid: {patterns.count: [100, 120, 130, 140, 150, 160, 170, 180, 200]}
  seeds: [0, 1, 2]
"""


def test_fitted_classical_critical_load_at_n_1000(tmp_path, write_yaml):
    """The fitted critical load lies in [0.12, 0.16] (alpha_c ~ 0.138 with finite-size effects)."""
    path = write_yaml(CAPACITY_1000)
    assert main(["sweep", str(path), "--workers", "2", "--out", str(tmp_path / "c"), "--quiet"]) == 0
    fits = json.loads((tmp_path / "c" / "fits.json").read_text())
    assert 0.12 <= fits["classical"]["alpha_c"] <= 0.16, fits


SPARSE_1000 = """
version: 1
name: sparse_capacity_1000
seed: 0
patterns: {kind: sparse, size: 1000, count: 500, coding_level: COD}
cues: {kind: noisy, fraction: 0.02, targets: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}
models:
  - {id: hopfield-sparse-v1, label: sparse}
analysis: {success_overlap: 0.9}
sweep:
  kind: capacity
  grid: {patterns.count: COUNTS}
  seeds: [31, 32, 33]
"""


@pytest.mark.parametrize("coding, counts", [(0.05, [600, 800, 900, 1000, 1100, 1200, 1400, 1700]),
                                            (0.1, [300, 400, 450, 500, 550, 600, 700, 850])])
def test_fitted_sparse_critical_load_is_the_finite_a_prediction(tmp_path, write_yaml, coding, counts):
    """The sparse memory's fitted critical load lies within 25 % of the signal-to-noise prediction at the
    sweep's a and success level, and far below the a -> 0 asymptote 1/(2a|ln a|) that holds only as a -> 0."""
    from hipposim.analysis.capacity import sparse_capacity_load, sparse_critical_load

    text = SPARSE_1000.replace("COD", str(coding)).replace("COUNTS", str(counts))
    ds = run_sweep(loads_scenario(text), tmp_path / "s", progress=False, source=str(write_yaml(text)))
    fit = fit_critical_load(ds["load"].values, ds["success_rate"].sel(model="sparse").values, ds["seed"].values)
    predicted = sparse_critical_load(coding, 0.9)
    assert abs(fit["alpha_c"] / predicted - 1) < 0.25, (fit, predicted)
    assert fit["alpha_c"] < 0.6 * sparse_capacity_load(coding)


def test_modern_retrieves_where_classical_has_failed(tmp_path, write_yaml):
    text = """
version: 1
name: modern_vs_classical
seed: 0
patterns: {kind: random, size: 64, count: 32}
cues: {kind: noisy, fraction: 0.1, targets: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}
models:
  - {id: hopfield-classical-v1, label: classical}
  - {id: hopfield-modern-v1, label: modern, params: {beta: 8}}
analysis: {success_overlap: 0.95}
sweep:
  kind: capacity
  grid: {patterns.count: [32, 64, 128]}
  seeds: [0, 1]
"""
    ds = run_sweep(loads_scenario(text), tmp_path / "m", progress=False, source=str(write_yaml(text)))
    classical = ds["success_rate"].sel(model="classical").values
    modern = ds["success_rate"].sel(model="modern").values
    assert classical.max() <= 0.2  # loads 0.5 .. 2 are far above alpha_c
    assert modern.min() == 1.0


# --- executors -----------------------------------------------------------------------------------------

from hipposim.run import executors

VOLATILE = ("elapsed_s", "cpu_s", "worker")  # where and how long; everything else must match serial


def test_process_pool_records_equal_serial_and_keep_every_worker_busy():
    points = points_of(SMOKE)
    serial = {r["key"]: r for r in executors.Executor().start().run(points)}
    pool = executors.make_executor("local", workers=2)
    assert isinstance(pool, executors.ProcessPool)
    busy, records = [], {}
    with pool.start(executors.model_ids_of(points)):
        assert pool.startup_s > 0
        for r in pool.run(points):
            records[r["key"]] = r
            busy.append(pool.busy)
    assert records.keys() == serial.keys() and len(records) == 8
    for key, r in records.items():
        assert r["status"] == "ok"
        assert {k: v for k, v in r.items() if k not in VOLATILE} == \
               {k: v for k, v in serial[key].items() if k not in VOLATILE}
    workers = {r["worker"] for r in records.values()}
    assert len(workers) == 2 and os.getpid() not in workers
    # two tasks in flight until the last one is handed out, then the pool drains
    assert busy == sorted(busy, reverse=True) and busy[0] == 2 and busy.count(2) >= 5 and busy[-1] == 0


def test_workers_run_with_one_blas_thread_and_no_malloc_trim(monkeypatch):
    # the parent has Dask's allocator setting and no thread limits: the workers must not inherit either
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    for k in executors.WORKER_ENV:
        monkeypatch.delenv(k, raising=False)
    with executors.ProcessPool(1).start() as pool:
        pool_env = pool.pool.submit(executors.worker_report).result()
    client = executors.local_dask_client(1)
    try:
        (dask_env,) = client.run(executors.worker_report).values()
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    for got in (pool_env, dask_env):
        assert got["env"]["MALLOC_TRIM_THRESHOLD_"] is None
        assert got["env"]["OPENBLAS_NUM_THREADS"] == "1" and got["env"]["OMP_NUM_THREADS"] == "1"
        assert got["blas_threads"] == [1]  # what OpenBLAS itself reports, not only the variable
    # this process's environment is left as it was
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536" and "OPENBLAS_NUM_THREADS" not in os.environ


def test_throughput_is_summed_task_time_over_wall_time():
    records = [{"elapsed_s": 1.5}, {"elapsed_s": 0.5}, {"elapsed_s": 1.0}, {"elapsed_s": 1.0}]
    t = executors.throughput(records, wall_s=2.0, n_workers=2, startup_s=0.7)
    assert t["speedup"] == 2.0 and t["tasks_per_s"] == 2.0 and t["task_s"] == 4.0
    line = executors.summary_line(t)
    assert "4 tasks in 2.0 s on 2 workers" in line and "speed-up 2.00x of 2 possible" in line
    assert "start-up 0.7 s not included" in line


def test_sweep_prints_its_speedup_and_records_it(tmp_path, capsys):
    import re

    scenario = load_scenario(SMOKE)
    run_sweep(scenario, tmp_path / "s", executor="serial", progress=True, source=str(SMOKE))
    err = capsys.readouterr().err
    m = re.search(r"8 tasks in ([\d.]+) s on 1 worker .* summed task time ([\d.]+) s, speed-up ([\d.]+)x", err)
    assert m, err
    t = json.loads((tmp_path / "s" / "manifest.json").read_text())["throughput"]
    summed = sum(json.loads(f.read_text())["elapsed_s"] for f in (tmp_path / "s" / "tasks").glob("*.json"))
    assert abs(t["task_s"] - summed) < 1e-9 and abs(t["speedup"] - summed / t["wall_s"]) < 1e-9
    assert abs(float(m.group(3)) - t["speedup"]) <= 0.005 + 1e-9
    # one task at a time: the summed task time cannot exceed the wall time
    assert 0 < t["speedup"] <= 1.0
    assert "1/1 workers busy" in err or "on 1 workers" in err


def test_pool_workers_get_sessions_of_their_own_only_when_asked(monkeypatch):
    monkeypatch.delenv("HIPPOSIM_WORKER_SESSIONS", raising=False)
    with executors.ProcessPool(1).start() as pool:
        shared = pool.pool.submit(executors.worker_report).result()
    monkeypatch.setenv("HIPPOSIM_WORKER_SESSIONS", "1")
    with executors.ProcessPool(1).start() as pool:
        own = pool.pool.submit(executors.worker_report).result()
    assert shared["sid"] == os.getsid(0)
    assert own["sid"] == own["pid"] != os.getsid(0)  # the worker leads a new session


@pytest.mark.brian2
def test_brian2_warm_up_leaves_the_target_as_it_was_and_compile_counts(tmp_path, monkeypatch):
    from hipposim.backends.brian2 import codegen, import_brian2
    from hipposim.backends.brian2.warmup import warm

    b2 = import_brian2()
    before = b2.prefs.codegen.target
    assert warm("numpy") > 0
    assert b2.prefs.codegen.target == before and type(b2.get_device()).__name__ == "RuntimeDevice"
    monkeypatch.setenv("HIPPOSIM_CACHE", str(tmp_path))
    assert codegen.count_compiled("numpy") is None and codegen.count_compiled("cython") == 0
    (tmp_path / "cython").mkdir()
    for name in ("a.so", "b.so", "a.pyx", "lock"):
        (tmp_path / "cython" / name).write_text("")
    assert codegen.count_compiled("cython") == 2


def test_capacity_plot_draws_only_the_theories_of_its_models():
    """alpha_c and N/(4 ln N) belong to the classical network on dense items; 1/(2a|ln a|) to the
    sparse covariance memory; a spiking CA3 sweep gets neither (its load is per item unit)."""
    import json

    import xarray as xr

    from hipposim.plotting.sweep import plot_capacity

    def sweep_ds(ids: dict, coding: float):
        n = 6
        load = np.linspace(0.02, 0.3, n)
        models = list(ids)
        return xr.Dataset(
            {"success_rate": (("model", "point"), np.tile(np.linspace(1, 0, n), (len(models), 1))),
             "final_overlap": (("model", "point"), np.tile(np.linspace(1, 0.2, n), (len(models), 1))),
             "load": (("point",), load), "seed": (("point",), np.zeros(n)),
             "n_units": (("point",), np.full(n, 500)), "coding_level": (("point",), np.full(n, coding))},
            coords={"model": models}, attrs={"model_ids": json.dumps(ids)})

    def texts(fig):
        return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)

    classical = texts(plot_capacity(sweep_ds({"classical": "hopfield-classical-v1"}, 1.0)))
    assert "0.138" in classical and "4 ln N" in classical and "2a|ln a|" not in classical
    sparse = texts(plot_capacity(sweep_ds({"sparse": "hopfield-sparse-v1"}, 0.05)))
    assert "0.138" not in sparse and "2a|ln a|" in sparse
    spiking = plot_capacity(sweep_ds({"ca3": "ca3-spiking-v3"}, 1.0))
    assert "0.138" not in texts(spiking) and "4 ln N" not in texts(spiking)
    assert "not CA3 cells" in spiking.axes[0].get_xlabel()
    # the load per CA3 cell and per recurrent input, where the sweep recorded the network's size
    sized = sweep_ds({"ca3": "ca3-spiking-v3"}, 1.0)
    sized.attrs["ca3_sizes"] = json.dumps({"ca3": {"n_e": 1000, "C": 100.0}})
    main_ax = plot_capacity(sized).axes[0]
    top = [a for a in main_ax.child_axes if "per CA3 cell" in a.get_xlabel()]
    assert top and "P / C = 10 x" in top[0].get_xlabel()
    forward, _ = top[0]._functions
    assert forward(0.2) == pytest.approx(0.2 * 500 / 1000)   # P / n_e = (P / N) N / n_e
    # noisy cues shrink the error-free bound by (1 - 2 rho)^2
    noisy = sweep_ds({"classical": "hopfield-classical-v1"}, 1.0)
    noisy.attrs["cue_flip_fraction"] = 0.1
    text = texts(plot_capacity(noisy))
    bound = 0.8 ** 2 / (4 * np.log(500))
    assert f"{bound:.3g}" in text and "\u03c1=0.1" in text
