"""Speed benchmark of the CA3 network (run by hand, never in CI).

Network: N_E = 4000 LIF cells, recurrent p = 0.02 with symmetric STDP, each cell
driven by its own 10 Hz Poisson train through a strong synapse, 1 s of
biological time. Three implementations of the same network:

1. hipposim's Brian2 backend (:func:`hipposim.backends.brian2.network.build_and_run`);
2. the same network written by hand in plain Brian2, same target;
3. the same network written by hand in NEST 3 (one thread), if ``nest`` imports.

Reported separately: build time (creating objects and synapses), the first
(cold) run, whose excess over the warm run is the one-off compile time, and
the warm simulation time (third run in the process; see ``main``).

    python tests/benchmarks/bench_ca3.py --target cython
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

N_E = 4000
P_EE = 0.02
DRIVE_HZ = 10.0     # each cell: DRIVE_INPUTS independent Poisson inputs at this rate,
DRIVE_INPUTS = 100  # pooled into one Poisson train of DRIVE_INPUTS * DRIVE_HZ
DURATION = 1.0
DT = 0.1e-3
W_DRIVE = 3.0e-3    # volts, drive synapse (jump of ge)
W_EE = 1e-3         # volts at weight 1
W_INIT = 0.2
ETA, THETA, TAU_STDP = 0.01, 1.0, 40e-3


def edges(seed: int = 0, n_e: int | None = None):
    """Recurrent edges: Bernoulli(P_EE) at the default size; at other sizes the same in-degree
    K = P_EE * 4000 (fixed in-degree), so the synapse count grows like n_e, not n_e**2."""
    rng = np.random.default_rng(seed)
    if n_e is not None and n_e != N_E:
        from hipposim.circuits.ca3 import fixed_indegree

        return fixed_indegree(n_e, n_e, int(round(P_EE * N_E)), rng, no_self=True)
    n_syn = rng.binomial(N_E * (N_E - 1), P_EE)
    flat = rng.choice(N_E * N_E, size=int(n_syn * 1.01) + 10, replace=False)
    pre, post = np.divmod(flat, N_E)
    keep = pre != post
    return pre[keep][:n_syn], post[keep][:n_syn]


def run_hipposim(target: str, seed: int = 1) -> dict:
    from hipposim.backends.brian2.network import NetworkSpec, Projection, build_and_run
    from hipposim.models.ca3_spiking import CA3Spiking, CA3SpikingParams

    pre, post = edges()
    steps = int(round(DURATION / 1e-3))
    empty = Projection(np.zeros(0, int), np.zeros(0, int), np.zeros(0))
    spec = NetworkSpec(
        dt=DT, duration=DURATION, sizes={"ca3_e": N_E, "ca3_i": 0, "ca1_e": 0, "ca1_i": 0, "ec": 0},
        lif_e=CA3Spiking.lif_constants(CA3SpikingParams(), "e"),
        lif_i=CA3Spiking.lif_constants(CA3SpikingParams(), "i"), timeline_dt=DURATION,
        mossy_rates=np.full((1, N_E), DRIVE_HZ * DRIVE_INPUTS), ec_rates=np.zeros((1, 1)), rec_gain=np.ones(1),
        pp_gain=np.zeros(1), plastic=np.ones(1),
        ee=Projection(pre, post, np.full(len(pre), W_INIT)), schaffer=empty, fixed={},
        w_ee=W_EE, w_sc=0.0, w_mf=W_DRIVE, rule="stdp-symmetric", eta=ETA, theta=THETA, eta_cov=0.0,
        tau_stdp=TAU_STDP, w_max=1.0, nu_ref=50.0, coding_level=0.1, seed=seed, target=target, record_ec=False)
    del steps
    t0 = time.perf_counter()
    out = build_and_run(spec)
    total = time.perf_counter() - t0
    n_spikes = len(out.spikes["ca3_e"][0])
    return {"build_s": out.timings["build_s"], "run_s": out.timings["run_s"], "total_s": total,
            "rate_hz": n_spikes / N_E / DURATION}


def run_brian2_by_hand(target: str, seed: int = 1) -> dict:
    import brian2 as b2

    b2.prefs.codegen.target = target
    b2.seed(seed)
    pre, post = edges()
    t0 = time.perf_counter()
    ns = {"tau_m": 20 * b2.ms, "tau_e": 5 * b2.ms, "tau_i": 10 * b2.ms, "v_rest": -65 * b2.mV,
          "v_reset": -65 * b2.mV, "v_th": -50 * b2.mV}
    g = b2.NeuronGroup(N_E, """dv/dt = (v_rest - v + ge - gi)/tau_m : volt (unless refractory)
                               dge/dt = -ge/tau_e : volt
                               dgi/dt = -gi/tau_i : volt""",
                       threshold="v > v_th", reset="v = v_reset", refractory=2 * b2.ms,
                       method="exponential_euler", namespace=ns, name="hand_e", dt=DT * b2.second)
    g.v = -65 * b2.mV
    drive = b2.PoissonGroup(N_E, DRIVE_HZ * DRIVE_INPUTS * b2.Hz, name="hand_drive", dt=DT * b2.second)
    sd = b2.Synapses(drive, g, on_pre="ge_post += w_drive", namespace={"w_drive": W_DRIVE * b2.volt},
                     name="hand_drive_syn", dt=DT * b2.second)
    sd.connect(j="i")
    see = b2.Synapses(g, g, """w : 1
                               dapre/dt = -apre/tau_stdp : 1 (event-driven)
                               dapost/dt = -apost/tau_stdp : 1 (event-driven)""",
                      on_pre="""ge_post += w_ee*w
                                apre += 1
                                w = clip(w + eta*(apost - theta), 0, 1)""",
                      on_post="""apost += 1
                                 w = clip(w + eta*(apre - theta), 0, 1)""",
                      namespace={"w_ee": W_EE * b2.volt, "eta": ETA, "theta": THETA,
                                 "tau_stdp": TAU_STDP * b2.second},
                      name="hand_ee", dt=DT * b2.second)
    see.connect(i=pre, j=post)
    see.w = W_INIT
    mon = b2.SpikeMonitor(g, name="hand_spikes")
    net = b2.Network(g, drive, sd, see, mon, name="hand_net")
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.run(DURATION * b2.second)
    run = time.perf_counter() - t0
    return {"build_s": build, "run_s": run, "total_s": build + run, "rate_hz": mon.num_spikes / N_E / DURATION}


def run_nest(seed: int = 1) -> dict:
    import nest

    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": DT * 1e3, "local_num_threads": 1, "rng_seed": seed})
    pre, post = edges()
    t0 = time.perf_counter()
    # iaf_psc_exp: current-based exponential synapses; weights in pA chosen so the
    # voltage jump of ge matches (J = w * C_m / tau_m with C_m = 250 pF, tau_m = 20 ms)
    params = {"tau_m": 20.0, "E_L": -65.0, "V_reset": -65.0, "V_th": -50.0, "t_ref": 2.0,
              "tau_syn_ex": 5.0, "tau_syn_in": 10.0, "C_m": 250.0, "V_m": -65.0}
    pop = nest.Create("iaf_psc_exp", N_E, params=params)
    to_pa = 250.0 / 20.0  # pA per mV of ge jump (C_m / tau_m)
    drive = nest.Create("poisson_generator", N_E, params={"rate": DRIVE_HZ * DRIVE_INPUTS})
    nest.Connect(drive, pop, "one_to_one", {"weight": W_DRIVE * 1e3 * to_pa})
    nest.CopyModel("stdp_synapse", "sym_stdp", {"alpha": 1.0, "mu_plus": 0.0, "mu_minus": 0.0,
                                                "tau_plus": TAU_STDP * 1e3, "lambda": ETA,
                                                "Wmax": W_EE * 1e3 * to_pa})
    first = pop[0].global_id
    nest.Connect(np.asarray(pre + first, dtype=np.int64), np.asarray(post + first, dtype=np.int64), "one_to_one",
                 {"synapse_model": "sym_stdp", "weight": np.full(len(pre), W_INIT * W_EE * 1e3 * to_pa),
                  "delay": np.full(len(pre), DT * 1e3)})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    nest.Simulate(DURATION * 1e3)
    run = time.perf_counter() - t0
    n = rec.get("n_events")
    return {"build_s": build, "run_s": run, "total_s": build + run, "rate_hz": n / N_E / DURATION,
            "note": "NEST's stdp_synapse is the classic pair-based (asymmetric) window; "
                    "NEST has no built-in symmetric-with-offset rule"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="cython", choices=["numpy", "cython"])
    args = parser.parse_args()
    results: dict = {"target": args.target, "n_e": N_E, "p": P_EE, "duration_s": DURATION}
    cache = tempfile.mkdtemp(prefix="bench-cython-")
    os.environ["HIPPOSIM_CACHE"] = cache  # a cold cache for the first hipposim run
    for label, fn in (("hipposim", run_hipposim), ("brian2_by_hand", run_brian2_by_hand)):
        if label == "brian2_by_hand" and args.target == "cython":
            import brian2 as b2

            b2.prefs.codegen.runtime.cython.cache_dir = os.path.join(cache, "hand")
        cold = fn(args.target)
        # Brian2 names some code objects per build (e.g. clocks get a suffix on the
        # second build in a process), so the second build still compiles a few;
        # from the third on everything comes from the cache.
        fn(args.target)
        warm = fn(args.target)
        results[label] = {"build_s": warm["build_s"], "compile_s": max(0.0, cold["run_s"] - warm["run_s"]),
                          "simulate_s": warm["run_s"], "cold_run_s": cold["run_s"], "rate_hz": warm["rate_hz"]}
        print(label, json.dumps(results[label]), flush=True)
    try:
        results["nest"] = run_nest()
    except ImportError as exc:
        results["nest"] = {"error": f"NEST not available: {exc}"}
    print("nest", json.dumps(results["nest"]), flush=True)
    h, b = results["hipposim"], results["brian2_by_hand"]
    results["hipposim_over_brian2_simulate"] = h["simulate_s"] / b["simulate_s"]
    if "run_s" in results["nest"]:
        results["hipposim_over_nest_simulate"] = h["simulate_s"] / results["nest"]["run_s"]
    # goal: a warm run spends < 10% of the cold run's time (i.e. compiled code is reused)
    results["warm_run_over_cold_run"] = h["simulate_s"] / max(h["cold_run_s"], 1e-9)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
