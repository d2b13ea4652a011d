"""Benchmark of the abstract memories (run by hand; not collected by pytest).

    python tests/benchmarks/bench_hopfield.py

Prints two ratios, each against a baseline measured in the same run:

1. batched modern-Hopfield retrieval throughput / the machine's own matmul
   throughput for the same shapes (goal >= 0.5);
2. the same classical-Hopfield sweep run by hipposim and by neurodynex3's
   ``HopfieldNetwork`` (goal >= 50x faster). neurodynex3 pins old versions of
   its dependencies; install it with ``pip install --no-deps neurodynex3``.
"""
from __future__ import annotations

import time

import numpy as np

from hipposim.models.hopfield_classical import ClassicalHopfield
from hipposim.functional.retrieval import softmax_retrieval
from hipposim.stimuli import Stimulus, noisy_cue, random_bipolar


def best_of(fn, repeats=5):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def retrieval_vs_matmul(n_queries=1024, n_patterns=4096, dim=256):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((n_queries, dim))
    x = rng.standard_normal((n_patterns, dim))
    w = rng.random((n_queries, n_patterns))

    def matmuls():
        q @ x.T
        w @ x

    t_mm = best_of(matmuls)
    t_ret = best_of(lambda: softmax_retrieval(q, x, x, 0.1))
    return t_mm, t_ret


def sweep_points(n, loads, seeds, n_cues):
    """The same patterns and 10%-flipped cues for both contenders, point by point."""
    for seed in seeds:
        for load in loads:
            rng = np.random.default_rng(seed)
            x = random_bipolar(int(load * n), n, rng)
            cues = np.array([noisy_cue(x[i], 0.1, "bipolar", rng) for i in range(n_cues)])
            yield x, cues, rng


def classical_sweep_hipposim(n, loads, seeds, n_cues, steps):
    for x, cues, rng in sweep_points(n, loads, seeds, n_cues):
        stim = Stimulus(x, tuple(map(str, range(len(x)))), "bipolar", cues, np.arange(n_cues),
                        np.ones_like(cues, bool))
        ClassicalHopfield(update="sync", max_steps=steps).run(stim, rng)


def classical_sweep_neurodynex(n, loads, seeds, n_cues, steps):
    from neurodynex3.hopfield_network import network

    for x, cues, _ in sweep_points(n, loads, seeds, n_cues):
        net = network.HopfieldNetwork(n)
        net.store_patterns(list(x.astype(int)))
        net.set_dynamics_sign_sync()
        for c in cues:
            net.set_state_from_pattern(c.astype(int))
            net.run(nr_steps=steps)


if __name__ == "__main__":
    t_mm, t_ret = retrieval_vs_matmul()
    print("batched retrieval: 1024 queries x 4096 patterns x 256 dims (float64)")
    print(f"  two bare matmuls {t_mm * 1e3:.1f} ms, softmax_retrieval {t_ret * 1e3:.1f} ms"
          f" -> throughput ratio {t_mm / t_ret:.2f} (goal >= 0.5)")
    cfg = dict(n=500, loads=(0.05, 0.1, 0.15, 0.2), seeds=(0, 1), n_cues=20, steps=10)
    t_h = best_of(lambda: classical_sweep_hipposim(**cfg), repeats=3)
    try:
        t_n = best_of(lambda: classical_sweep_neurodynex(**cfg), repeats=1)
    except ImportError:
        print("neurodynex3 is not installed: pip install --no-deps neurodynex3")
    else:
        print("classical sweep N=500, 4 loads x 2 seeds x 20 cues x 10 sync steps:")
        print(f"  hipposim {t_h:.3f} s, neurodynex3 HopfieldNetwork {t_n:.3f} s -> {t_n / t_h:.0f}x faster "
              f"(goal >= 50x)")
