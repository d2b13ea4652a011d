"""Wall time per biological second of the CA3 benchmark network against its size (run by hand).

The network of :mod:`bench_ca3` (LIF cells, symmetric STDP on recurrent synapses of
fixed in-degree K = 80, each cell driven by its own Poisson train) at n_e = 1,000 to
40,000, in hipposim's Brian2 backend on the numpy, cython and cpp_standalone targets,
beside NEST 3 (one thread) on the same network and sizes. Reported per size and target:

* ``build_s``: creating the objects and synapses;
* ``compile_s``: one-off code generation and compilation (cython: cold run minus warm
  run with the cache filled; cpp_standalone: the 1-s run minus the simulated part,
  measured from a 2-s run as ``t(1 s) - (t(2 s) - t(1 s))``);
* ``wall_per_bio_s``: simulation wall time per biological second (warm);
* ``over_nest``: that time over NEST's in the same run.

    python tests/benchmarks/bench_ca3_scaling.py --sizes 1000 4000 10000 40000
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_ca3 as base  # noqa: E402


def hipposim_run(n_e: int, target: str, duration: float, seed: int = 1) -> dict:
    from hipposim.backends.brian2.network import NetworkSpec, Projection, build_and_run
    from hipposim.models.ca3_spiking import CA3Spiking, CA3SpikingParams

    pre, post = base.edges(n_e=n_e)
    empty = Projection(np.zeros(0, int), np.zeros(0, int), np.zeros(0))
    spec = NetworkSpec(
        dt=base.DT, duration=duration, sizes={"ca3_e": n_e, "ca3_i": 0, "ca1_e": 0, "ca1_i": 0, "ec": 0},
        lif_e=CA3Spiking.lif_constants(CA3SpikingParams(), "e"),
        lif_i=CA3Spiking.lif_constants(CA3SpikingParams(), "i"), timeline_dt=duration,
        mossy_rates=np.full((1, n_e), base.DRIVE_HZ * base.DRIVE_INPUTS), ec_rates=np.zeros((1, 1)),
        rec_gain=np.ones(1), pp_gain=np.zeros(1), plastic=np.ones(1),
        ee=Projection(pre, post, np.full(len(pre), base.W_INIT)), schaffer=empty, fixed={},
        w_ee=base.W_EE, w_sc=0.0, w_mf=base.W_DRIVE, rule="stdp-symmetric", eta=base.ETA, theta=base.THETA,
        eta_cov=0.0, tau_stdp=base.TAU_STDP, w_max=1.0, nu_ref=50.0, coding_level=0.1, seed=seed,
        target=target, record_ec=False)
    out = build_and_run(spec)
    return {"build_s": out.timings["build_s"], "run_s": out.timings["run_s"],
            "rate_hz": len(out.spikes["ca3_e"][0]) / n_e / duration}


def nest_run(n_e: int, duration: float) -> dict:
    saved = base.N_E, base.DURATION, base.edges
    try:
        base.N_E, base.DURATION = n_e, duration
        edges = saved[2]
        base.edges = lambda seed=0, n_e=n_e: edges(seed, n_e=n_e) if n_e != 4000 else edges(seed)
        return base.run_nest()
    finally:
        base.N_E, base.DURATION, base.edges = saved


def measure(n_e: int, target: str) -> dict:
    if target == "cython":
        hipposim_run(n_e, target, 1.0)             # cold: compiles into the (fresh) cache
        cold = hipposim_run(n_e, target, 1.0)      # Brian2 renames a few objects on a second build
        warm = hipposim_run(n_e, target, 1.0)
        return {"build_s": warm["build_s"], "compile_s": max(0.0, cold["run_s"] - warm["run_s"]),
                "wall_per_bio_s": warm["run_s"], "rate_hz": warm["rate_hz"]}
    if target == "cpp_standalone":
        one = hipposim_run(n_e, target, 1.0)
        two = hipposim_run(n_e, target, 2.0)
        sim = max(two["run_s"] - one["run_s"], 1e-9)
        return {"build_s": one["build_s"], "compile_s": max(0.0, one["run_s"] - sim), "wall_per_bio_s": sim,
                "rate_hz": one["rate_hz"]}
    warm = hipposim_run(n_e, target, 1.0)
    return {"build_s": warm["build_s"], "compile_s": 0.0, "wall_per_bio_s": warm["run_s"],
            "rate_hz": warm["rate_hz"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 10000, 40000])
    parser.add_argument("--targets", nargs="+", default=["numpy", "cython", "cpp_standalone"])
    parser.add_argument("--out", type=Path, default=None, help="write the results here as JSON")
    args = parser.parse_args()
    os.environ["HIPPOSIM_CACHE"] = tempfile.mkdtemp(prefix="bench-scaling-")
    rows = []
    for n_e in args.sizes:
        try:
            nest = nest_run(n_e, 1.0)
            nest_s = nest["run_s"]
        except ImportError as exc:
            nest, nest_s = {"error": f"NEST not available: {exc}"}, None
        row = {"n_e": n_e, "nest": nest}
        print(json.dumps({"n_e": n_e, "nest_run_s": nest_s}), flush=True)
        for target in args.targets:
            r = measure(n_e, target)
            if nest_s:
                r["over_nest"] = r["wall_per_bio_s"] / nest_s
            row[target] = r
            print(json.dumps({"n_e": n_e, "target": target, **r}), flush=True)
        rows.append(row)
    text = json.dumps(rows, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    time.sleep(0)
    main()
