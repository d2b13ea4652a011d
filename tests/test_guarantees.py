"""Regression tests for the guarantees of a run folder, each for a class of inputs, not one example.

Nothing trusted that a folder says (a manifest's scenario name, a task record), nothing destroyed
before its replacement exists (``--overwrite`` killed at any write), no output path that collides,
no limit that a sweep slips past (workers, file sizes), every command marks a folder it was
interrupted in, sweep grids typed per field, files that follow the umask.

Subprocess tests fork their children from one helper interpreter (:data:`FORKER`) that imports
hipposim once, so each kill point or file-size limit costs a tiny run, not an interpreter start;
they poll for marker files instead of sleeping a fixed time.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hipposim.run.folder import MANIFEST, load_run, manifest_problem, read_manifest

from .conftest import SWEEP, TINY, run_cli

# subprocesses start outside the source tree, so they import the installed package, not ./hipposim
OUTSIDE = tempfile.gettempdir()
FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def manifest_of(root: Path) -> dict:
    return json.loads((root / MANIFEST).read_text())


def snapshot(root: Path) -> dict:
    """Every file under ``root`` (lock and reserve files aside) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".hipposim.")}


def tree(root: Path) -> set[str]:
    """Every path under ``root`` (lock files aside)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.name.startswith(".hipposim.")}


def no_traceback(err: str) -> None:
    assert "Traceback" not in err, err


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A finished tiny run and a finished 4-task sweep (serial), made once for the module."""
    root = tmp_path_factory.mktemp("base")
    (root / "tiny.yaml").write_text(TINY)
    (root / "sweep.yaml").write_text(SWEEP)
    code, _, err = run_cli(["run", root / "tiny.yaml", "--out", root / "run", "--quiet", "--no-figures"])
    assert code == 0, err
    code, _, err = run_cli(["sweep", root / "sweep.yaml", "--out", root / "sweep", "--serial", "--quiet"])
    assert code == 0, err
    return root


# --------------------------------------------------------------------------- forked children

FORKER = r'''
import json, os, resource, signal, sys, time
from hipposim.run import folder
import hipposim.run.runner as runner
import hipposim.report, hipposim.analysis, hipposim.stimuli, xarray, h5netcdf  # imported once, before forking
from hipposim.cli import main

def hook(name, marker):
    """Make the child stop where the test wants it: a SIGKILL at the k-th write, or a marker and a long wait."""
    if name == "slow_models":
        def slow(*a, **k):
            open(marker, "w").close()
            time.sleep(300)
        runner.run_models = slow
    elif name == "slow_nwb":
        import pynwb
        def slow(self, *a, **k):
            open(marker, "w").close()
            time.sleep(300)
        pynwb.NWBHDF5IO.write = slow

def killer(where, k):
    n = [0]
    def tick():
        n[0] += 1
        if n[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
    if where == "replace":          # before the k-th rename of a finished file into place
        real_replace = os.replace
        def replace(*a, **kw):
            tick()
            return real_replace(*a, **kw)
        os.replace = replace
    elif where == "after_swap":     # the new result swapped in, the old one not yet removed
        real_swap = folder._swap
        def swap(*a):
            real_swap(*a)
            tick()
        folder._swap = swap
    elif where == "mid_remove":     # part of the old result removed
        real_remove = folder._remove_tree
        def remove(path):
            for name in ("metrics.json", "traces"):
                p = path / name
                if p.is_file():
                    p.unlink()
                elif p.is_dir():
                    import shutil; shutil.rmtree(p)
            tick()
            real_remove(path)
        folder._remove_tree = remove

for job in json.loads(sys.argv[1]):
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            fd = os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 2)
            if job.get("cwd"):
                os.chdir(job["cwd"])
            if job.get("fsize"):
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize"], job["fsize"]))
            if job.get("kill"):
                killer(*job["kill"])
            if job.get("hook"):
                hook(job["hook"], job["marker"])
            code = main(job["argv"])
        except BaseException as exc:
            sys.stderr.write(f"Traceback: {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        os._exit(code)
    if job.get("signal"):
        deadline = time.time() + 300
        while not os.path.exists(job["marker"]) and time.time() < deadline:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                break
            time.sleep(0.05)
        os.kill(pid, job["signal"])
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"id": job["id"], "killed": os.WIFSIGNALED(status) and os.WTERMSIG(status),
                      "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}), flush=True)
'''


def fork_jobs(jobs: list[dict], timeout: float = 600) -> dict:
    """Run ``jobs`` (argv, err file, optional fsize / kill / hook / signal) in children forked from one
    interpreter; returns {id: {"killed": signal number or False, "code": exit code or None}}."""
    proc = subprocess.run([sys.executable, "-c", FORKER, json.dumps(jobs)], check=False, capture_output=True, text=True,
                          timeout=timeout, cwd=OUTSIDE)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        out[row["id"]] = row
    assert set(out) == {j["id"] for j in jobs}, proc.stdout
    return out


# --------------------------------------------------------------------------- 1. paths derived from a file

def _hostile_names(outside: Path):
    """Scenario names read back from a manifest that must never become part of a path."""
    return st.one_of(
        st.just(str(outside / "evil")),                                               # absolute
        st.integers(1, 6).map(lambda n: "/".join([".."] * n)),                        # ../../..
        st.integers(1, 4).map(lambda n: "/".join([".."] * n) + "/evil"),
        st.tuples(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.sampled_from("/\\"),
                  st.from_regex(r"[a-z]{1,6}", fullmatch=True)).map("".join),         # separators
        st.from_regex(r"[a-z]{1,8}", fullmatch=True).map(lambda s: s + "\n"),         # a newline
        st.sampled_from([".", "..", "", " ", "-x", "a" * 65, "tiny\x00", "~/x"]),
        st.one_of(st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)),  # not a string
    )


@pytest.mark.parametrize("command", ["export", "compare"])
def test_a_hostile_scenario_name_in_a_manifest_never_becomes_an_output_path(command, base, tmp_path, monkeypatch):
    """export RUN / compare RUN build their default output from manifest.json's scenario.name:
    any name that is not a scenario name is refused (exit 2, naming the manifest and the field),
    and nothing is written anywhere, inside the run folder or out of it."""
    run = tmp_path / "area" / "deep" / "run"
    shutil.copytree(base / "run", run)
    work = tmp_path / "area" / "deep" / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    original = manifest_of(run)
    before = tree(tmp_path)
    seen = []

    @settings(max_examples=15, deadline=None, suppress_health_check=FIXTURES, database=None)
    @given(name=_hostile_names(tmp_path))
    @example(name=str(tmp_path / "evil"))  # the cases of the report, always tried
    @example(name="../../..")
    @example(name="a/b")
    @example(name="tiny\n")
    def check(name):
        m = json.loads(json.dumps(original))
        m["scenario"]["name"] = name
        (run / MANIFEST).write_text(json.dumps(m))
        code, _, err = run_cli([command, run, "--quiet"])
        seen.append(name)
        assert code == 2, (name, err)
        assert "not a scenario name" in err and "manifest.json" in err, err
        no_traceback(err)
        assert tree(tmp_path) == before, f"{name!r}: something was written"
        assert not Path(str(tmp_path / "evil")).exists()

    check()
    assert len(seen) >= 10
    # the control: the name as hipposim wrote it gives the file inside the run folder (export) or the
    # folder under comparisons/ (compare)
    (run / MANIFEST).write_text(json.dumps(original))
    code, _, err = run_cli([command, run, "--quiet"])
    assert code == 0, err
    if command == "export":
        assert (run / "tiny.nwb").is_file()
    else:
        assert manifest_of(work / "comparisons" / "tiny")["status"] == "complete"


# --------------------------------------------------------------------------- 2. a failed status write

@pytest.mark.parametrize("fail_from", [1, 2])
@pytest.mark.parametrize("err_no", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO])
def test_a_failed_manifest_write_never_leaves_a_truncated_manifest(fail_from, err_no, tmp_path, monkeypatch):
    """Every manifest write from the ``fail_from``-th on fails as a full disk would: the manifest on
    disk is a whole, valid manifest (or there is none), never half a file, and never "complete"."""
    from hipposim.run import folder

    real = folder.RunFolder.write_json
    calls = {"n": 0}

    def failing(self, relative, data, indent=2):
        if Path(relative).name == MANIFEST:
            calls["n"] += 1
            if calls["n"] >= fail_from:
                # half the bytes reach the file that is being written, as on a real full disk
                with self.staged(relative, rewrite=True) as tmp:
                    Path(tmp).write_text(json.dumps(data)[:100])
                    raise OSError(err_no, os.strerror(err_no))
        return real(self, relative, data, indent=indent)

    monkeypatch.setattr(folder.RunFolder, "write_json", failing)
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    out = tmp_path / "run"
    code, _, err = run_cli(["run", path, "--out", out, "--quiet", "--no-figures"])
    assert code in (1, 2), err
    no_traceback(err)
    assert calls["n"] >= fail_from
    assert not list(out.rglob("*.partial"))
    if fail_from == 1:
        assert not (out / MANIFEST).exists()
    else:
        m = manifest_of(out)  # valid JSON
        assert manifest_problem(m) is None and m["status"] == "running"
    monkeypatch.setattr(folder.RunFolder, "write_json", real)
    code, _, err = run_cli(["run", path, "--out", out, "--quiet", "--no-figures", "--overwrite"])
    assert code == 0, err  # the folder is still hipposim's: --overwrite replaces it


def test_a_file_size_limit_at_any_size_never_truncates_the_manifest(base, tmp_path):
    """``ulimit -f`` at sizes below, around and above the manifest's: exit 1 or 2 with a message; the
    manifest, if any, is valid JSON, "complete" only with every file in place; --overwrite then works."""
    limits = [1024, 3072, 4096, 6000, 12_000, 40_000, 200_000]
    jobs = [{"id": str(n), "fsize": n, "err": str(tmp_path / f"err{n}"),
             "argv": ["run", str(base / "tiny.yaml"), "--out", str(tmp_path / f"r{n}"), "--quiet", "--no-figures"]}
            for n in limits]
    results = fork_jobs(jobs)
    codes = {}
    for n in limits:
        out, err = tmp_path / f"r{n}", (tmp_path / f"err{n}").read_text()
        codes[n] = results[str(n)]["code"]
        assert codes[n] in (0, 1, 2), (n, results[str(n)], err)
        no_traceback(err)
        if (out / MANIFEST).exists():
            m = manifest_of(out)
            assert manifest_problem(m) is None, n
            if m["status"] == "complete":
                assert codes[n] == 0
                load_run(out)  # metrics and every trace in place
            else:
                assert codes[n] != 0
        assert not list(out.rglob("*.partial")), n
        code, _, err = run_cli(["run", base / "tiny.yaml", "--out", out, "--quiet", "--no-figures", "--overwrite"])
        assert code == 0, (n, err)
    assert codes[1024] != 0 and codes[200_000] == 0, codes


# --------------------------------------------------------------------------- 3. task records on --resume

def _json_values():
    return st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                        max_leaves=8)


@pytest.fixture(scope="module")
def sweep_reference(base):
    """The 4-task sweep's tasks: {key: record bytes} and its final_overlap by task."""
    import xarray as xr

    with xr.open_dataset(base / "sweep" / "sweep.nc", engine="h5netcdf") as ds:
        overlap = ds["final_overlap"].load()
    records = {f.stem: f.read_bytes() for f in sorted((base / "sweep" / "tasks").glob("*.json"))}
    assert len(records) == 4
    return records, overlap


def _other_record(records, keys, i):
    return records[keys[(i + 1) % 4]]


def _foreign_hash(records, keys, i):
    rec = json.loads(records[keys[i]])
    rec["scenario_sha256"] = "0" * 64
    rec["metrics"] = {k: {**v, "final_overlap": -1.0} for k, v in rec["metrics"].items()}
    return json.dumps(rec).encode()


def _bad_metrics(records, keys, i):
    rec = json.loads(records[keys[i]])
    rec["metrics"] = [1, 2]
    return json.dumps(rec).encode()


NAMED_RECORDS = {"list": b"[]", "null": b"null", "string": b'"ok"', "empty_object": b"{}", "empty": b"",
                 "cut": b'{"key": ', "not_utf8": b"\xff\xfe\x00{}", "huge_number": b"1e999",
                 "another_tasks_record": _other_record, "another_scenario": _foreign_hash,
                 "metrics_not_a_mapping": _bad_metrics}


def _resume_with(base, records, overlap, out, index, content):
    """Put ``content`` in the index-th task file of a copy of the finished sweep, resume, check the result."""
    import xarray as xr

    keys = sorted(records)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base / "sweep", out)
    target = out / "tasks" / f"{keys[index]}.json"
    target.write_bytes(content(records, keys, index) if callable(content) else content)
    code, _, err = run_cli(["sweep", base / "sweep.yaml", "--out", out, "--serial", "--quiet", "--resume"])
    assert code == 0, err
    no_traceback(err)
    assert manifest_of(out)["status"] == "complete"
    for key in keys:
        rec = json.loads((out / "tasks" / f"{key}.json").read_text())
        assert rec["key"] == key and rec["status"] == "ok"
    assert json.loads(target.read_text())["metrics"] == json.loads(records[keys[index]])["metrics"]
    with xr.open_dataset(out / "sweep.nc", engine="h5netcdf") as ds:
        xr.testing.assert_identical(ds["final_overlap"].load(), overlap)
    assert len(list((out / "tasks").iterdir())) == 4
    assert manifest_of(out)["throughput"]["tasks"] == 1  # only the task whose record did not check out


@pytest.mark.parametrize("case", sorted(NAMED_RECORDS))
def test_resume_reruns_a_task_whose_record_is_not_its_own(case, base, sweep_reference, tmp_path):
    """A task file holding [], null, a string, bytes that are not UTF-8, another task's record or a record
    of another point scenario is run again on --resume: no crash, never aggregated as another task,
    sweep.nc equal to a clean sweep's."""
    records, overlap = sweep_reference
    _resume_with(base, records, overlap, tmp_path / "sweep", 2, NAMED_RECORDS[case])


def test_resume_reruns_a_task_whose_file_holds_arbitrary_json_or_bytes(base, sweep_reference, tmp_path):
    records, overlap = sweep_reference
    seen = []

    @settings(max_examples=5, deadline=None, suppress_health_check=FIXTURES, database=None)
    @given(index=st.integers(0, 3),
           content=st.binary(max_size=40) | _json_values().map(lambda v: json.dumps(v).encode()))
    def check(index, content):
        seen.append(content)
        _resume_with(base, records, overlap, tmp_path / "sweep", index, content)

    check()
    assert len(seen) == 5


@pytest.mark.parametrize("change", ["cues.fraction", "grid", "seeds"])
def test_resume_of_a_changed_scenario_is_refused_and_changes_nothing(change, base, tmp_path):
    """A resume with another scenario (a changed field, grid or seeds) exits 2 with a message before any
    work: no record added, no stale fits or figures beside a new sweep.nc (nothing is rewritten)."""
    out = tmp_path / "sweep"
    shutil.copytree(base / "sweep", out)
    data = yaml.safe_load(SWEEP)
    if change == "cues.fraction":
        data["cues"]["fraction"] = 0.2
    elif change == "grid":
        data["sweep"]["grid"]["cues.fraction"] = [0.05, 0.1, 0.15]
    else:
        data["sweep"]["seeds"] = [0, 1, 2]
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    before = snapshot(out)
    code, _, err = run_cli(["sweep", changed, "--out", out, "--serial", "--quiet", "--resume"])
    assert code == 2 and "another scenario" in err, err
    no_traceback(err)
    assert snapshot(out) == before


# --------------------------------------------------------------------------- 4. --overwrite killed anywhere

KILL_POINTS = [("replace", k) for k in range(1, 9)] + [("after_swap", 1), ("mid_remove", 1)]


def test_overwrite_killed_at_any_write_leaves_the_old_result_whole_or_the_new_one_complete(base, tmp_path):
    """``run --overwrite`` SIGKILLed before each rename of a finished file into place, right after the
    swap, and in the middle of removing the old result: the folder holds the old result byte for byte,
    or the new one complete (metrics and every trace readable), never a "complete" manifest with files
    missing; the next --overwrite tidies every hidden sibling away."""
    old = snapshot(base / "run")
    jobs = []
    for i, (where, k) in enumerate(KILL_POINTS):
        parent = tmp_path / f"k{i}"
        parent.mkdir()
        shutil.copytree(base / "run", parent / "run")
        jobs.append({"id": str(i), "kill": [where, k], "err": str(parent / "err"),
                     "argv": ["run", str(base / "tiny.yaml"), "--out", str(parent / "run"), "--overwrite",
                              "--seed", "7", "--quiet", "--no-figures"]})
    results = fork_jobs(jobs)
    states = []
    for i, point in enumerate(KILL_POINTS):
        parent = tmp_path / f"k{i}"
        out = parent / "run"
        m = read_manifest(out)
        if m["seed"] == 1:
            assert snapshot(out) == old, f"{point}: the old result was changed"
            states.append("old")
        else:
            assert m["seed"] == 7 and m["status"] == "complete", (point, m["status"])
            run = load_run(out)
            assert set(run.results) == {"classical", "modern"} and set(run.metrics) == set(run.results)
            states.append("new")
        code, _, err = run_cli(["run", base / "tiny.yaml", "--out", out, "--overwrite", "--quiet", "--no-figures"])
        assert code == 0, (point, err)
        assert sorted(p.name for p in parent.iterdir()) == ["err", "run"], point
    killed = [bool(results[str(i)]["killed"]) for i in range(len(KILL_POINTS))]
    assert all(killed[:6]) and killed[-2:] == [True, True], results
    # both outcomes occur: an early kill keeps the old result, a kill after the swap has the new one
    assert states[0] == "old" and states[-1] == "new" and states[-2] == "new", states


# --------------------------------------------------------------------------- 5. output paths

@settings(max_examples=12, deadline=None, suppress_health_check=FIXTURES, database=None)
@example(label="stimulus", traces="./", figures="figures")
@example(label="modern", traces="traces", figures="stimulus.nc")
@given(label=st.sampled_from(["stimulus", "Stimulus", "STIMULUS", "metrics", "manifest", "modern"]),
       traces=st.sampled_from([".", "./", "./.", ".//", "traces", "x/..", "stimulus.nc"]),
       figures=st.sampled_from(["figures", ".", "traces", "stimulus.nc"]))
def test_no_output_path_collides_with_another(label, traces, figures, tmp_path_factory):
    """A model label and output.traces / output.figures that would put two outputs at one path (a trace
    over stimulus.nc, a trace folder where a file is) are refused before any work (exit 2, naming the
    field); otherwise every output is written apart and the folder reads back whole."""
    root = tmp_path_factory.mktemp("collide")
    data = yaml.safe_load(TINY)
    data["models"][1]["label"] = label
    data["output"] = {"traces": traces, "figures": figures}
    path = root / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    out = root / "run"
    code, _, err = run_cli(["run", path, "--out", out, "--quiet", "--no-figures"])
    no_traceback(err)
    at_root = os.path.normpath(traces) == "."
    must_refuse = (at_root and label.casefold() == "stimulus") or "stimulus.nc" in (os.path.normpath(traces), figures)
    must_run = traces == "traces" and figures == "figures" 
    assert code in (0, 2), err
    if code == 2:
        assert not must_run, err
        assert "output" in err or "models" in err, err
        assert not (out / MANIFEST).exists() and not (out / "stimulus.nc").exists()
    else:
        assert not must_refuse, f"{label!r} with traces {traces!r} ran"
        run = load_run(out)  # every file in place and readable: nothing was written over another
        assert run.stimulus.patterns.shape == (5, 64)
        assert set(run.results) == {"classical", label} and set(run.metrics) == set(run.results)


# --------------------------------------------------------------------------- 7. resources

@settings(max_examples=200, deadline=None)
@given(requested=st.one_of(st.none(), st.integers(1, 1024)), n_tasks=st.integers(0, 5000),
       task_mb=st.floats(0, 64_000), avail_gb=st.floats(0.01, 512))
def test_worker_count_is_capped_by_the_tasks_and_the_memory(requested, n_tasks, task_mb, avail_gb):
    from hipposim.run import sweep

    task = task_mb * 2 ** 20
    avail = avail_gb * 2 ** 30
    real = sweep.available_memory
    sweep.available_memory = lambda: avail
    try:
        n, why = sweep.worker_count(requested, n_tasks, task)
    finally:
        sweep.available_memory = real
    wanted = requested or os.cpu_count() or 1
    assert 1 <= n <= wanted
    assert n <= max(n_tasks, 1)
    assert n <= max(1, int(avail // (task + sweep.WORKER_BASE)))
    assert (n < wanted) == bool(why)
    # the count is the largest that fits every cap
    assert n == max(1, min(wanted, max(n_tasks, 1), int(avail // (task + sweep.WORKER_BASE))))


@pytest.mark.parametrize("workers", ["6", "1024"])
def test_a_sweep_of_two_tasks_starts_at_most_two_workers(workers, tmp_path):
    """--workers 6 or 1024 on a 2-task sweep: the pool has 2 processes, and the command says why."""
    path = tmp_path / "s.yaml"
    path.write_text(TINY + "sweep:\n  grid:\n    cues.fraction: [0.05, 0.1]\n")
    out = tmp_path / "sweep"
    # not --quiet: the message is what is checked
    code, _, err = run_cli(["sweep", path, "--out", out, "--workers", workers])
    assert code == 0, err
    assert "starting 2 workers (2 tasks to run)" in err, err
    assert manifest_of(out)["throughput"]["workers"] == 2


@pytest.mark.parametrize("size", [2 ** 20 + 1, 600 * 2 ** 20])
def test_validate_checks_a_files_size_before_reading_it(size, tmp_path):
    """A scenario file above the size limit (1 MiB + 1 byte, a sparse 600 MB file) is refused (exit 2)
    with the limit named, and the peak memory stays far below the file's size."""
    from hipposim.scenario.yamlio import MAX_BYTES

    path = tmp_path / "big.yaml"
    with open(path, "wb") as fh:
        fh.write(TINY.encode())
        fh.truncate(max(size, MAX_BYTES + 1))
    tracemalloc.start()
    try:
        code, _, err = run_cli(["validate", path])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2 and "larger than" in err, err
    assert peak < 4 * 2 ** 20, f"validate allocated {peak / 2**20:.1f} MiB for a file it refused"


# --------------------------------------------------------------------------- 8. signals

SLOW_TASKS = '''
import os, time
import hipposim.run.execute as execute
_real = execute.execute_task
def execute_task(point_scenario, key, root=None):
    if point_scenario["cues"]["fraction"] == 0.1:  # the slow tasks: a marker, then a long wait
        open(os.path.join(os.environ["HIPPOSIM_TEST_MARKERS"], key), "w").close()
        time.sleep(300)
    return _real(point_scenario, key, root)
execute.execute_task = execute_task
'''


def test_sigterm_to_a_process_pool_sweep_keeps_the_finished_tasks(base, tmp_path):
    """SIGTERM while two tasks run in pool workers and two have finished: the sweep stops without
    waiting for the running ones (exit 143, "interrupted"), keeps the finished records, and a resume
    runs only the two that did not finish."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(f"import os\nif os.environ.get('HIPPOSIM_TEST_MARKERS'):\n"
                                            f"    exec({SLOW_TASKS!r})\n")
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(hooks), "HIPPOSIM_TEST_MARKERS": str(markers)}
    proc = subprocess.Popen([sys.executable, "-m", "hipposim.cli", "sweep", str(base / "sweep.yaml"), "--out",
                             str(out), "--workers", "2", "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=OUTSIDE, env=env)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if len(list(markers.iterdir())) == 2 and len(list((out / "tasks").glob("*.json"))) == 2:
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[1]
    assert len(list(markers.iterdir())) == 2, "the slow tasks never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=150)  # the running tasks sleep 300 s: the sweep must not wait for them
    assert proc.returncode == 143, err
    no_traceback(err)
    assert manifest_of(out)["status"] == "interrupted"
    kept = {f.name: f.read_bytes() for f in (out / "tasks").glob("*.json")}
    assert len(kept) == 2
    fraction = {p["key"]: p["values"]["cues.fraction"] for p in json.loads((out / "points.json").read_text())}
    assert {fraction[Path(name).stem] for name in kept} == {0.05}  # the two fast tasks
    code, _, err = run_cli(["sweep", base / "sweep.yaml", "--out", out, "--serial", "--quiet", "--resume"])
    assert code == 0, err
    assert manifest_of(out)["throughput"]["tasks"] == 2  # only the two unfinished ones ran
    for name, data in kept.items():
        assert (out / "tasks" / name).read_bytes() == data


def test_pool_tasks_that_finish_while_a_signal_arrives_are_stored(base, tmp_path, monkeypatch):
    """A signal reaches a process-pool sweep after its first record, while other tasks are in flight; once
    those have finished in their workers, the sweep stores them too before it stops (exit 143), and a
    resume runs only the tasks that never finished."""
    from hipposim.run import executors
    from hipposim.run.signals import Interrupted

    real_run = executors.ProcessPool.run
    in_flight = []

    def run(self, points):
        records = real_run(self, points)
        yield next(records)
        deadline = time.time() + 300
        while not all(f.done() for f in self._running) and time.time() < deadline:
            time.sleep(0.05)
        in_flight.append(len(self._running))
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(executors.ProcessPool, "run", run)
    out = tmp_path / "sweep"
    code, _, err = run_cli(["sweep", base / "sweep.yaml", "--out", out, "--workers", "2", "--quiet"])
    assert code == 143, err
    assert manifest_of(out)["status"] == "interrupted"
    stored = sorted((out / "tasks").glob("*.json"))
    assert in_flight and in_flight[0] >= 1 and len(stored) == 1 + in_flight[0]
    monkeypatch.setattr(executors.ProcessPool, "run", real_run)
    code, _, err = run_cli(["sweep", base / "sweep.yaml", "--out", out, "--serial", "--quiet", "--resume"])
    assert code == 0, err
    assert manifest_of(out)["throughput"]["tasks"] == 4 - len(stored)


SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]


def test_compare_and_export_interrupted_by_a_signal(base, tmp_path):
    """compare interrupted by SIGTERM, SIGINT or SIGHUP marks its folder "interrupted" (exit 128 + N);
    SIGTERM during export leaves no .partial file and no .nwb."""
    run = tmp_path / "run"
    shutil.copytree(base / "run", run)
    jobs = []
    for sig in SIGNALS:
        jobs.append({"id": sig.name, "signal": int(sig), "hook": "slow_models",
                     "marker": str(tmp_path / f"m{sig.name}"), "err": str(tmp_path / f"e{sig.name}"),
                     "argv": ["compare", str(base / "tiny.yaml"), "--out", str(tmp_path / f"c{sig.name}"),
                              "--quiet"]})
    jobs.append({"id": "export", "signal": int(signal.SIGTERM), "hook": "slow_nwb", "marker": str(tmp_path / "mx"),
                 "err": str(tmp_path / "ex"), "argv": ["export", str(run), "--quiet"]})
    results = fork_jobs(jobs)
    for sig in SIGNALS:
        err = (tmp_path / f"e{sig.name}").read_text()
        assert (tmp_path / f"m{sig.name}").exists(), err
        assert results[sig.name]["code"] == 128 + sig, (results[sig.name], err)
        no_traceback(err)
        m = manifest_of(tmp_path / f"c{sig.name}")
        assert m["status"] == "interrupted" and sig.name in m["error"]
    err = (tmp_path / "ex").read_text()
    assert (tmp_path / "mx").exists(), err
    assert results["export"]["code"] == 143, (results["export"], err)
    no_traceback(err)
    assert not [p for p in run.rglob("*") if p.name.endswith(".partial")]
    assert not list(run.glob("*.nwb"))
    assert snapshot(run) == snapshot(base / "run")


# --------------------------------------------------------------------------- 9. sweep grids

GRIDS = {
    "numbers": ("patterns.count", [2, "3", 4.0]),
    "null_and_names": ("models[1].label", [None, "other"]),
    "all_and_lists": ("cues.targets", ["all", [0, 1], ["p2"]]),
    "mappings": ("models[1]", [{"id": "hopfield-modern-v1", "label": "modern"},
                               {"id": "hopfield-modern-v1", "label": "modern", "params": {"beta": 4.0}}]),
    "bools_and_ints": ("models[1].params.normalize", [True, 1]),
    "text_and_numbers": ("cues.fraction", [0.1, "0.2"]),
}


@pytest.mark.parametrize("case", sorted(GRIDS))
def test_a_sweep_grid_is_refused_at_validation_or_typed_per_field(case, tmp_path):
    """Every grid either fails validation (exit 2, naming sweep.grid.<field>, before any task) or runs
    and aggregates (exit 0): never all tasks run and then sweep.nc fails. Each field's coordinate has
    one type, and reads back as the values the tasks ran with."""
    import xarray as xr

    field, values = GRIDS[case]
    data = yaml.safe_load(TINY)
    data["sweep"] = {"grid": {field: values}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    vcode, _, verr = run_cli(["validate", path])
    out = tmp_path / "sweep"
    code, _, err = run_cli(["sweep", path, "--out", out, "--serial", "--quiet"])
    no_traceback(err)
    assert code == vcode == 0 or (code == vcode == 2), (code, vcode, err, verr)
    if code == 2:
        named = (f"field 'sweep.grid.{field}'", "field 'sweep'")  # the field, or the sweep for duplicate points
        assert any(n in err for n in named) and any(n in verr for n in named), err
        assert not out.exists() or not list(out.rglob("tasks/*.json"))
        return
    points = json.loads((out / "points.json").read_text())
    with xr.open_dataset(out / "sweep.nc", engine="h5netcdf") as ds:
        coord = ds[field].load()
    assert len(points) == len(values)
    ran = [p["values"][field] for p in points]
    if coord.attrs.get("encoding") == "json":
        assert [json.loads(v) for v in coord.values] == ran
    else:
        assert coord.dtype.kind in "bifU"
        assert list(coord.values) == ran
        assert {type(v) for v in ran} == {type(ran[0])}, ran  # one type per field
    if case == "numbers":
        assert coord.dtype == np.int64 and list(coord.values) == [2, 3, 4]


# --------------------------------------------------------------------------- 11. umask, exit codes, links

@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027])
def test_outputs_follow_the_umask(mask, base, tmp_path):
    """Every file of a run folder (figures included) and an export get 0o666 & ~umask, as open gives."""
    old = os.umask(mask)
    try:
        code, _, err = run_cli(["run", base / "tiny.yaml", "--out", tmp_path / "run", "--quiet"])
        assert code == 0, err
        if mask == 0o022:
            code, _, err = run_cli(["export", tmp_path / "run", "--quiet"])
            assert code == 0, err
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file() and not p.name.startswith(".hipposim.")]
    assert any(p.suffix == ".png" for p in files) and any(p.suffix == ".nc" for p in files)
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in files}
    assert set(modes.values()) == {0o666 & ~mask}, modes


@pytest.mark.parametrize("kind", ["run", "sweep"])
@pytest.mark.parametrize("status", ["interrupted", "running", "failed"])
def test_export_plot_and_compare_exit_2_on_an_unfinished_folder(status, kind, base, tmp_path, monkeypatch):
    """A run or sweep folder whose manifest is not "complete" is refused as an input by export, plot and
    compare alike (exit 2, naming the status), and nothing is written."""
    folder = tmp_path / kind
    shutil.copytree(base / kind, folder)
    m = manifest_of(folder)
    m["status"] = status
    (folder / MANIFEST).write_text(json.dumps(m))
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    for command in (["export", folder], ["plot", folder], ["compare", folder, "--out", tmp_path / "cmp"]):
        code, _, err = run_cli(command)
        assert code == 2, (command, err)
        assert status in err or (kind == "sweep" and command[0] != "plot" and "sweep folder" in err), (command, err)
        no_traceback(err)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("planted", ["figures", "sweep.nc", "points.json", "fits.json", "tasks"])
def test_a_symlink_planted_in_a_sweep_folder_is_refused_before_a_resume_writes(planted, base, tmp_path):
    """A symbolic link planted in place of the figure folder or a result file: --resume exits 2 before
    any work, sweep.nc and the records are unchanged, nothing is written where the link points."""
    out = tmp_path / "sweep"
    shutil.copytree(base / "sweep", out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = out / planted
    if victim.is_dir():
        shutil.copytree(victim, elsewhere / "copy")
        shutil.rmtree(victim)
        victim.symlink_to(elsewhere / "copy", target_is_directory=True)
    else:
        if victim.exists():
            victim.unlink()
        victim.symlink_to(elsewhere / "target")
    if planted != "tasks":  # a resume with work to do, which would rewrite sweep.nc
        min((out / "tasks").glob("*.json")).unlink()
    before, outside = snapshot(out), tree(elsewhere)
    code, _, err = run_cli(["sweep", base / "sweep.yaml", "--out", out, "--serial", "--quiet", "--resume"])
    assert code == 2 and "symbolic link" in err, err
    no_traceback(err)
    assert snapshot(out) == before and tree(elsewhere) == outside
