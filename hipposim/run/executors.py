"""Where the tasks of a sweep run: in this process, in a local process pool, or on Dask.

Every executor runs :func:`run_task` on each point and yields the records as
they complete; the sweep loop stores them. Executors:

* ``serial``: in this process, one task after the other (debugging, tests).
* ``processes``: a :class:`concurrent.futures.ProcessPoolExecutor` of spawned
  worker processes (the local default). Each worker starts with
  :data:`WORKER_ENV` (one BLAS/OpenMP thread: the parallelism is across
  tasks), without ``MALLOC_TRIM_THRESHOLD_``, imports everything the sweep's
  models need once (:func:`warm_worker`) and then only runs tasks.
* ``dask``: a dask.distributed cluster, either a local one configured the
  same way (:func:`local_dask_client`) or an existing scheduler
  (``--scheduler``).

Start-up (spawning the workers and warming them) is timed apart from the
tasks, so the sweep can report its throughput without it.

Why a task ran slower in a Dask worker than alone, measured with
``tests/benchmarks/bench_sweep_causes.py``: Dask's nanny sets
``MALLOC_TRIM_THRESHOLD_=65536`` (+20-25 % CPU per numpy-heavy task); the
first task in a fresh process paid about 0.5 s of first-use imports; and on
Linux with scheduler autogroups, all workers started from one session share
that session's slice of a busy machine (see :class:`ProcessPool`). With the
first two removed a task costs the same CPU in a worker of either executor as
serially. The process pool is the local default because it starts sooner and
dispatches a task in a few milliseconds instead of about 15.
"""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

#: Environment of every worker process: one BLAS/OpenMP thread per worker (the
#: sweep parallelises over tasks; more threads only oversubscribe the cores).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
#: Variables removed from a worker's environment. Dask's nanny sets
#: ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc return freed memory to the
#: system eagerly; numpy's large temporaries are then unmapped and mapped again
#: on every operation, which slowed matrix-heavy tasks.
UNSET_ENV = ("MALLOC_TRIM_THRESHOLD_",)

#: dask.config for a local cluster running CPU-bound numpy and Brian2 tasks.
DASK_CONFIG = {
    # the nanny exports these before it spawns a worker (no MALLOC_TRIM_THRESHOLD_)
    "distributed.nanny.pre-spawn-environ": dict(WORKER_ENV),
    "distributed.nanny.environ": {},
    # the statistical profiler takes the GIL every 10 ms to walk every thread's stack
    "distributed.worker.profile.enabled": False,
    "distributed.worker.profile.interval": "1s",
    "distributed.worker.profile.cycle": "10s",
}

#: Executor names accepted by :func:`make_executor`. ``local`` is the local default.
EXECUTORS = ("serial", "local", "processes", "dask")
LOCAL_DEFAULT = "processes"


def run_task(point_scenario: dict, key: str) -> dict:
    """Run one sweep point (:func:`hipposim.run.execute.execute_task`) and add where and how it ran.

    Adds ``cpu_s`` (CPU time of the whole worker process during the task, so a
    busy event loop beside the task shows up), ``worker`` (process id) and, for
    spiking models on the Cython target, ``compiled_modules`` (modules newly
    compiled during the task; 0 when compiled code was reused).
    """
    from . import execute

    cython = "cython" in brian2_targets_of([point_scenario])
    if cython:
        from ..backends.brian2.codegen import count_compiled

        before = count_compiled("cython")
    c0 = time.process_time()
    record = execute.execute_task(point_scenario, key)
    record["cpu_s"] = time.process_time() - c0
    record["worker"] = os.getpid()
    if cython:
        record["compiled_modules"] = count_compiled("cython") - before
    return record


def warm_worker(model_ids: Iterable[str] = (), brian2_targets: Iterable[str] = ()) -> float:
    """Import what the tasks of a sweep need, once per worker; return the seconds it took.

    Imports the sweep machinery, xarray (building one small Dataset, which
    imports more on first use), the analysis, and the class of every model in
    ``model_ids``; if ``brian2_targets`` is not empty (a spiking model is in
    the sweep) runs a tiny Brian2 network (:func:`hipposim.backends.brian2.warmup.warm`).
    """
    t0 = time.perf_counter()
    import numpy as np
    import xarray as xr

    # the first Dataset a process builds imports pandas and probes the duck-array modules
    # (dask.array among them): about 0.5 s of CPU that would otherwise land in the first task
    xr.Dataset({"x": (("t",), np.zeros(3))}, coords={"t": np.arange(3)}).mean()
    from ..analysis import model_metrics  # noqa: F401
    from ..registry import registry
    from ..stimuli import build_stimulus  # noqa: F401
    from . import execute  # noqa: F401

    for model_id in model_ids:
        registry.get(model_id)
    targets = list(brian2_targets)
    if targets:
        from ..backends.brian2.warmup import warm

        warm(targets[0])
    return time.perf_counter() - t0


def model_ids_of(points) -> list[str]:
    """The distinct model ids used by sweep points (or point scenarios), in order of appearance."""
    ids: list[str] = []
    for p in points:
        for m in getattr(p, "scenario", p).get("models", []):
            if m["id"] not in ids:
                ids.append(m["id"])
    return ids


def brian2_targets_of(points) -> list[str]:
    """The distinct Brian2 targets of the spiking models of sweep points (or point scenarios)."""
    targets: list[str] = []
    for p in points:
        for m in getattr(p, "scenario", p).get("models", []):
            if m["id"].startswith("ca3-spiking"):
                t = (m.get("params") or {}).get("target", "numpy")
                if t not in targets:
                    targets.append(t)
    return targets


@contextlib.contextmanager
def worker_environment() -> Iterator[None]:
    """Set :data:`WORKER_ENV` and remove :data:`UNSET_ENV` in ``os.environ`` for the block.

    Processes spawned inside the block inherit it; this process's own BLAS and
    allocator are already initialised and do not change.
    """
    saved = {k: os.environ.get(k) for k in (*WORKER_ENV, *UNSET_ENV)}
    try:
        os.environ.update(WORKER_ENV)
        for k in UNSET_ENV:
            os.environ.pop(k, None)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _env_report() -> dict[str, str | None]:
    """The threading and allocator variables of this process."""
    return {k: os.environ.get(k) for k in (*WORKER_ENV, *UNSET_ENV)}


def worker_report() -> dict[str, Any]:
    """What a worker runs with: its threading and allocator variables and, if threadpoolctl is
    installed, the number of threads each loaded BLAS library uses; its process and session ids."""
    import numpy  # noqa: F401  (loads the BLAS library)

    report: dict[str, Any] = {"env": _env_report(), "pid": os.getpid(),
                              "sid": os.getsid(0) if hasattr(os, "getsid") else None}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return report
    report["blas_threads"] = sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
    return report


class Executor:
    """Runs sweep tasks; ``run`` yields their records as they complete.

    Attributes: ``name``, ``n_workers``, ``startup_s`` (spawning and warming the
    workers, not counted as task time), ``busy`` (tasks running now).
    """

    name = "serial"

    def __init__(self) -> None:
        self.n_workers = 1
        self.startup_s = 0.0
        self.busy = 0

    def start(self, model_ids: Iterable[str] = (), brian2_targets: Iterable[str] = ()) -> Executor:
        """Start and warm the workers (:func:`warm_worker`); the time goes to ``startup_s``."""
        t0 = time.perf_counter()
        warm_worker(model_ids, brian2_targets)
        self.startup_s = time.perf_counter() - t0
        return self

    def run(self, points) -> Iterator[dict]:
        for p in points:
            self.busy = 1
            record = run_task(p.scenario, p.key)
            self.busy = 0
            yield record

    def finished(self) -> list[dict]:
        """Records of tasks that finished but were not yet handed back (after an interruption)."""
        return []

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _pool_init(model_ids: list[str], brian2_targets: list[str], barrier, own_session: bool = False) -> None:
    import signal

    # Ctrl-C reaches the whole process group: the sweep decides, and stops the workers itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if own_session and hasattr(os, "setsid"):
        _new_session()
    warm_worker(model_ids, brian2_targets)
    barrier.wait(timeout=300)  # every worker is up and warm before the first task is timed


def _new_session() -> int:
    """Start a session (and so a scheduler autogroup) of its own for this process; return its id."""
    try:
        return os.setsid()
    except OSError:  # already a session or group leader
        return os.getsid(0)


def _own_sessions_default() -> bool:
    return os.environ.get("HIPPOSIM_WORKER_SESSIONS", "") == "1"


def _pool_ready() -> int:
    return os.getpid()


class ProcessPool(Executor):
    """A pool of ``n`` spawned worker processes, each warmed once, with :data:`WORKER_ENV`.

    At most ``n`` tasks are in flight, so ``busy`` is the number of workers
    running a task.

    ``own_sessions`` (default: the environment variable
    ``HIPPOSIM_WORKER_SESSIONS=1``) starts each worker in a session of its own.
    Linux with ``kernel.sched_autogroup_enabled = 1`` (the default on most
    desktops) shares the CPU fairly between sessions, not between processes:
    while other sessions keep the cores busy, all workers of a sweep share the
    one slice of the session that started it, and more workers give no more
    throughput. In sessions of their own, each worker gets a slice, like
    separate shells would. This takes more of a shared machine from its other
    users, so it is not the default. On a machine with free cores it makes no
    difference.
    """

    name = "processes"

    def __init__(self, n: int, start_method: str = "spawn", own_sessions: bool | None = None) -> None:
        super().__init__()
        self._running: set = set()
        self.n_workers = n
        self.start_method = start_method
        self.own_sessions = _own_sessions_default() if own_sessions is None else own_sessions
        self.pool = None

    def start(self, model_ids: Iterable[str] = (), brian2_targets: Iterable[str] = ()) -> ProcessPool:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, wait

        t0 = time.perf_counter()
        ctx = multiprocessing.get_context(self.start_method)
        barrier = ctx.Barrier(self.n_workers)
        with worker_environment():
            self.pool = ProcessPoolExecutor(self.n_workers, mp_context=ctx, initializer=_pool_init,
                                            initargs=(list(model_ids), list(brian2_targets), barrier,
                                                      self.own_sessions))
            # one submit per worker spawns all of them now (inside worker_environment)
            ready = [self.pool.submit(_pool_ready) for _ in range(self.n_workers)]
        wait(ready)
        for f in ready:
            f.result()  # a worker that failed to start raises here
        self.startup_s = time.perf_counter() - t0
        return self

    def run(self, points) -> Iterator[dict]:
        from concurrent.futures import FIRST_COMPLETED, wait

        todo = list(points)[::-1]
        running = self._running = set()
        while todo or running:
            while todo and len(running) < self.n_workers:
                p = todo.pop()
                running.add(self.pool.submit(run_task, p.scenario, p.key))
            self.busy = len(running)
            done, running = wait(running, return_when=FIRST_COMPLETED)
            self._running = running | done
            # refill before handing records back, so workers do not wait for the store
            while todo and len(running) < self.n_workers:
                p = todo.pop()
                running.add(self.pool.submit(run_task, p.scenario, p.key))
            self.busy = len(running)
            self._running = running | done
            for f in done:
                self._running.discard(f)
                yield f.result()
            self._running = running

    def finished(self) -> list[dict]:
        out = []
        for f in list(getattr(self, "_running", ())):
            if f.done() and not f.cancelled() and f.exception() is None:
                out.append(f.result())
        self._running = set()
        return out

    def close(self) -> None:
        """Stop the pool at once: tasks still running are abandoned (their workers are terminated), so
        a signal ends the sweep in a moment instead of after the longest running task."""
        if self.pool is not None:
            pool, self.pool = self.pool, None
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                if proc.is_alive():
                    proc.terminate()
            for proc in processes:
                proc.join(timeout=5)


class DaskExecutor(Executor):
    """Tasks on a dask.distributed ``client`` (a local cluster or a scheduler's workers).

    With ``HIPPOSIM_WORKER_SESSIONS=1`` every worker moves to a session of its
    own before warming up (see :class:`ProcessPool`).
    """

    name = "dask"

    def __init__(self, client) -> None:
        super().__init__()
        self.client = client

    def start(self, model_ids: Iterable[str] = (), brian2_targets: Iterable[str] = ()) -> DaskExecutor:
        t0 = time.perf_counter()
        if _own_sessions_default() and hasattr(os, "setsid"):
            self.client.run(_new_session)  # see ProcessPool: one scheduler autogroup per worker
        self.client.run(warm_worker, list(model_ids), list(brian2_targets))
        self.n_workers = max(1, sum(w.get("nthreads", 1) for w in
                                    self.client.scheduler_info().get("workers", {}).values()))
        self.startup_s = time.perf_counter() - t0
        return self

    def run(self, points) -> Iterator[dict]:
        from distributed import as_completed

        futures = [self.client.submit(run_task, p.scenario, p.key, key=f"task-{p.key}", pure=False)
                   for p in points]
        outstanding = len(futures)
        self.busy = min(self.n_workers, outstanding)
        for future in as_completed(futures):
            record = future.result()
            future.release()
            outstanding -= 1
            self.busy = min(self.n_workers, outstanding)
            yield record


def local_dask_client(workers: int | None = None, config: dict | None = None):
    """A Client on a new local cluster of ``workers`` single-threaded worker processes.

    Configured by :data:`DASK_CONFIG` (or ``config``): one BLAS thread per
    worker, no ``MALLOC_TRIM_THRESHOLD_``, no statistical profiler.
    """
    import dask
    from distributed import Client, LocalCluster

    n = workers or os.cpu_count() or 1
    with dask.config.set(DASK_CONFIG if config is None else config), worker_environment():
        # the scheduler's HTTP server binds a free port (":0"), not 8787, which others may use
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               scheduler_kwargs={"dashboard": False}, silence_logs=40)
    return Client(cluster)


def make_executor(executor: str, workers: int | None = None, client=None) -> Executor:
    """The executor named ``executor`` (one of :data:`EXECUTORS`), not yet started.

    ``local`` is :data:`LOCAL_DEFAULT`; ``dask`` needs ``client``.
    """
    if client is not None:
        return DaskExecutor(client)
    if executor == "local":
        executor = LOCAL_DEFAULT
    if executor == "serial":
        return Executor()
    if executor == "processes":
        return ProcessPool(workers or os.cpu_count() or 1)
    if executor == "dask":
        raise ValueError("the dask executor needs a client")
    raise ValueError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")


def throughput(records: list[dict], wall_s: float, n_workers: int, startup_s: float) -> dict[str, Any]:
    """Throughput of a sweep: tasks per second and speed-up against the summed task time.

    ``speedup = sum(elapsed_s) / wall_s``: how many tasks ran at once on
    average (at most ``n_workers``, if a task in a worker is as fast as alone).
    """
    task_s = float(sum(r.get("elapsed_s", 0.0) for r in records))
    n = len(records)
    return {"tasks": n, "wall_s": wall_s, "task_s": task_s, "workers": n_workers, "startup_s": startup_s,
            "cpu_s": float(sum(r.get("cpu_s", 0.0) for r in records)),
            "tasks_per_s": n / wall_s if wall_s > 0 else float("nan"),
            "speedup": task_s / wall_s if wall_s > 0 else float("nan")}


def summary_line(t: dict[str, Any]) -> str:
    """One line for the user: tasks, wall time, workers, speed-up against the summed task time."""
    return (f"{t['tasks']} tasks in {t['wall_s']:.1f} s on {t['workers']} worker"
            f"{'s' if t['workers'] != 1 else ''} ({t['tasks_per_s']:.2f} tasks/s; start-up "
            f"{t['startup_s']:.1f} s not included); summed task time {t['task_s']:.1f} s, "
            f"speed-up {t['speedup']:.2f}x of {t['workers']} possible")
