"""Speed benchmark of the spiking attention circuit (run by hand, never in CI).

Workload (the issue's yardstick): N = 256 feature units, P = 16 stored key -> value pairs learned in one
presentation each, then 10 cues recalled (5 with a quarter of the units flipped, 5 with half masked), on
the default target (numpy) and default parameters. Reported: wall time of the whole run, of learning and
of recall (the backend's own timings), the process CPU time (less sensitive to other load on the machine),
and, as the baseline measured in the same process, a plain Brian2
network with the same neuron counts (Poisson groups, no synapses) run for the same biological time; the
ratio says how much the synapses and the learning cost over bare neuron updates.

    python tests/benchmarks/bench_attention_spiking.py [--target numpy] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

N, P, N_CUES = 256, 16, 10


def stimulus(seed: int = 3):
    from hipposim.stimuli import Stimulus, masked_cue, noisy_cue

    rng = np.random.default_rng(seed)
    keys = rng.choice([-1.0, 1.0], size=(P, N))
    targets = np.arange(N_CUES)
    cues = np.array([noisy_cue(keys[t], 0.25, "bipolar", rng) for t in targets[:5]] +
                    [masked_cue(keys[t], np.arange(N) < N // 2) for t in targets[5:]])
    return Stimulus(patterns=keys, names=tuple(f"p{i}" for i in range(P)), coding="bipolar", cues=cues,
                    targets=targets, known=cues != 0)


def run_circuit(target: str) -> dict:
    from hipposim.models.attention_spiking import AttentionSpiking

    model = AttentionSpiking({"values": "random", "target": target})
    t0, c0 = time.perf_counter(), time.process_time()
    ds = model.run(stimulus(), np.random.default_rng(1))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    p = model.params
    bio = P * p.t_learn.si + N_CUES * (p.t_settle.si + p.t_measure.si)
    return {"wall_s": wall, "cpu_s": cpu, "learn_s": ds.attrs["learn_s"], "recall_s": ds.attrs["recall_s"],
            "build_s": ds.attrs["build_s"], "biological_s": bio,
            "n_neurons": 4 * N + P * p.m + p.n_inh, "m": p.m, "n_inh": p.n_inh}


def run_baseline(target: str, n_neurons: int, biological_s: float) -> tuple[float, float]:
    """Bare Brian2: the same number of neurons as Poisson groups, no synapses, same biological time."""
    from hipposim.backends.brian2 import import_brian2
    from hipposim.backends.brian2.codegen import configure_target

    b2 = import_brian2()
    with configure_target(target):
        group = b2.PoissonGroup(n_neurons, rates=20 * b2.Hz, name="bench_baseline")
        mon = b2.SpikeMonitor(group, name="bench_baseline_spikes")
        net = b2.Network(group, mon, name="bench_baseline_net")
        t0, c0 = time.perf_counter(), time.process_time()
        net.run(biological_s * b2.second, namespace={})
        return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="numpy", choices=["numpy", "cython"])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    rows = []
    for _ in range(args.repeats):
        circuit = run_circuit(args.target)
        base, base_cpu = run_baseline(args.target, circuit["n_neurons"], circuit["biological_s"])
        rows.append({**circuit, "baseline_s": base, "baseline_cpu_s": base_cpu,
                     "ratio_to_baseline": circuit["wall_s"] / base, "cpu_ratio_to_baseline": circuit["cpu_s"] / base_cpu})
        print(json.dumps(rows[-1]), flush=True)
    best = min(rows, key=lambda r: r["wall_s"])
    print(f"best of {args.repeats}: {best['wall_s']:.1f} s wall ({best['cpu_s']:.1f} s CPU) for learning {P} pairs and "
          f"recalling {N_CUES} cues (recall {best['recall_s']:.1f} s, learning {best['learn_s']:.1f} s wall) at N = {N}, "
          f"P = {P}, target {args.target}; bare-neuron baseline {best['baseline_s']:.1f} s wall "
          f"({best['baseline_cpu_s']:.1f} s CPU), ratio {best['ratio_to_baseline']:.1f} (CPU {best['cpu_ratio_to_baseline']:.1f})")


if __name__ == "__main__":
    main()
