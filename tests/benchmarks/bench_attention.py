"""Attention throughput against the machine's own matmul, and peak memory of streamed retrieval.

Run by hand::

    python tests/benchmarks/bench_attention.py            # full size (1e5 and 1e6 memories)
    python tests/benchmarks/bench_attention.py --memories 20000 --big 100000   # quick

1. Throughput: 256 queries against 1e5 memories of width 256, float32. The
   reference is the two matmuls attention cannot avoid, ``Q K^T`` then
   ``W V`` with the same shapes, timed in the same process; the ratio
   ``matmul time / attention time`` is printed (goal >= 0.5), for the dense
   :func:`~hipposim.attention.scaled_dot_product_attention` and the streamed
   :func:`~hipposim.retrieval.chunked_softmax_retrieval`.
2. Peak memory: with 1e6 memories (keys = values, the Hopfield/Transformer
   memory mode) the streamed path runs in a fresh subprocess and reports its
   peak resident set size (``resource.getrusage``) and the peak of allocations
   made during the retrieval itself (``tracemalloc``). Goal: under 2 GiB.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

GIB = 2**30


def best_times(funcs: dict, repeats: int) -> dict:
    """Best wall time of each function, run in interleaved rounds.

    Interleaving keeps a burst of load from other processes from landing on
    one contender only, which matters on a shared machine.
    """
    for func in funcs.values():
        func()  # warm up (page faults, thread pool start)
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def throughput(n_memories: int, width: int, n_queries: int, repeats: int) -> dict:
    from hipposim.functional.attention import scaled_dot_product_attention
    from hipposim.functional.retrieval import chunked_softmax_retrieval

    rng = np.random.default_rng(0)
    q = rng.standard_normal((n_queries, width), dtype=np.float32)
    k = rng.standard_normal((n_memories, width), dtype=np.float32)
    v = rng.standard_normal((n_memories, width), dtype=np.float32)
    beta = 1.0 / np.sqrt(width)
    weights = np.empty((n_queries, n_memories), dtype=np.float32)

    def matmuls():
        np.matmul(q, k.T, out=weights)
        return weights @ v

    best = best_times({"matmul": matmuls,
                       "dense": lambda: scaled_dot_product_attention(q, k, v),
                       "chunked": lambda: chunked_softmax_retrieval(q, k, v, beta)}, repeats)
    t_matmul, t_dense, t_chunked = best["matmul"], best["dense"], best["chunked"]
    flops = 2 * 2 * n_queries * n_memories * width
    return {"memories": n_memories, "width": width, "queries": n_queries,
            "matmul_s": t_matmul, "matmul_gflops": flops / t_matmul / 1e9,
            "dense_attention_s": t_dense, "dense_ratio": t_matmul / t_dense,
            "chunked_attention_s": t_chunked, "chunked_ratio": t_matmul / t_chunked}


def peak_memory_child(n_memories: int, width: int, n_queries: int) -> None:
    """Runs in a fresh process: prints peak memory of one streamed retrieval as JSON."""
    import resource
    import tracemalloc

    from hipposim.functional.retrieval import chunked_softmax_retrieval

    rng = np.random.default_rng(0)
    memories = np.empty((n_memories, width), dtype=np.float32)
    for start in range(0, n_memories, 100_000):  # fill in blocks: no float64 temporary of full size
        block = memories[start:start + 100_000]
        block[...] = rng.standard_normal(block.shape, dtype=np.float32)
    queries = memories[:n_queries] + 0.1 * rng.standard_normal((n_queries, width), dtype=np.float32)
    tracemalloc.start()
    start = time.perf_counter()
    out, _ = chunked_softmax_retrieval(queries, memories, memories, 1.0 / np.sqrt(width))
    elapsed = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"memories": n_memories, "width": width, "queries": n_queries,
                      "input_gib": memories.nbytes / GIB, "retrieval_s": elapsed,
                      "retrieval_extra_peak_gib": traced_peak / GIB,
                      "process_peak_rss_gib": maxrss_kib * 1024 / GIB,
                      "finite": bool(np.all(np.isfinite(out)))}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000, help="memories for the peak-memory run")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--queries", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        peak_memory_child(args.big, args.width, args.queries)
        return 0

    result = throughput(args.memories, args.width, args.queries, args.repeats)
    print(f"throughput: {result['queries']} queries x {result['memories']} memories x {result['width']} dims, "
          "float32")
    print(f"  two matmuls (Q K^T, W V): {result['matmul_s'] * 1e3:8.1f} ms "
          f"({result['matmul_gflops']:.1f} GFLOP/s)")
    print(f"  dense attention:          {result['dense_attention_s'] * 1e3:8.1f} ms   "
          f"ratio {result['dense_ratio']:.2f}")
    print(f"  chunked attention:        {result['chunked_attention_s'] * 1e3:8.1f} ms   "
          f"ratio {result['chunked_ratio']:.2f}   (goal >= 0.5)")

    child = subprocess.run([sys.executable, __file__, "--child", "--big", str(args.big),
                            "--width", str(args.width), "--queries", str(args.queries)],
                           capture_output=True, text=True, check=True)
    peak = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"peak memory: {peak['memories']} memories x {peak['width']} dims float32 "
          f"(keys = values, {peak['input_gib']:.2f} GiB of input)")
    print(f"  streamed retrieval took {peak['retrieval_s']:.1f} s; extra allocations peak "
          f"{peak['retrieval_extra_peak_gib'] * 1024:.0f} MiB (tracemalloc)")
    print(f"  process peak RSS {peak['process_peak_rss_gib']:.2f} GiB   (goal < 2 GiB)   "
          f"finite={peak['finite']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
