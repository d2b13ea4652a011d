"""Nothing lost, nothing hung, nothing half-done.

Output safety (overwrite, locks, symlinks), limits checked before allocation,
numbers checked at validation, bounded network waits, one-line messages instead
of tracebacks, and a manifest status that is always true (signals, failed
resumes, full disks).
"""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from hipposim.errors import HipposimError, ScenarioError
from hipposim.run.lock import FolderLock
from hipposim.scenario import loads_scenario
from hipposim.scenario.limits import DEFAULT_MAX_MEMORY, estimate_memory

from .conftest import SWEEP, TINY, run_cli

# subprocesses start outside the source tree, so they import the installed package, not ./hipposim
OUTSIDE = tempfile.gettempdir()
ROOT = Path(__file__).resolve().parents[1]


def assert_clean(err: str, max_lines: int = 1) -> None:
    """An error message: no traceback, at most ``max_lines`` lines, each starting with a name or 'hipposim'."""
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert 1 <= len(lines) <= max_lines, err


def manifest_of(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def snapshot(root: Path) -> dict:
    """Every file under ``root`` (lock files aside) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".hipposim.")}


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def finished_run(tmp_path, tiny):
    out = tmp_path / "run"
    assert run_cli(["run", tiny, "--out", out, "--quiet", "--no-figures"])[0] == 0
    return out


# --------------------------------------------------------------------------- 1. output safety

def test_overwrite_never_clears_a_folder_with_a_fake_manifest(tmp_path, tiny):
    for fake in ("{}", '{"hipposim": "0.1.0"}', "not json", '{"kind": "run", "status": "complete"}'):
        d = tmp_path / "d"
        d.mkdir(exist_ok=True)
        (d / "manifest.json").write_text(fake)
        (d / "thesis.tex").write_text("precious")
        code, _, err = run_cli(["run", tiny, "--out", d, "--overwrite", "--quiet"])
        assert code == 2 and "refusing to replace" in err, err
        assert_clean(err)
        assert (d / "thesis.tex").read_text() == "precious"
        assert (d / "manifest.json").read_text() == fake


def test_overwrite_replaces_a_real_run_folder(finished_run, tiny):
    before = manifest_of(finished_run)["started"]
    (finished_run / "stale.txt").write_text("from the previous run")
    time.sleep(1.1)  # 'started' has a resolution of one second
    assert run_cli(["run", tiny, "--out", finished_run, "--overwrite", "--quiet", "--no-figures"])[0] == 0
    assert manifest_of(finished_run)["status"] == "complete"
    assert manifest_of(finished_run)["started"] != before
    assert not (finished_run / "stale.txt").exists()


def test_compare_refuses_an_output_that_is_or_contains_an_input(tmp_path, finished_run):
    before = snapshot(finished_run)
    for out in (finished_run, tmp_path, finished_run / "inside"):
        code, _, err = run_cli(["compare", finished_run, "--out", out, "--overwrite", "--quiet"])
        assert code == 2 and "overlaps the input" in err, err
        assert_clean(err)
    assert snapshot(finished_run) == before
    assert not (finished_run / "inside").exists()


def _hold_lock(folder: Path) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sys, time
        from hipposim.run.lock import FolderLock
        held = FolderLock({str(folder)!r}).acquire()
        print("locked", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=OUTSIDE)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_is_refused_with_the_holders_pid(finished_run, tiny):
    before = snapshot(finished_run)
    holder = _hold_lock(finished_run)
    try:
        code, _, err = run_cli(["run", tiny, "--out", finished_run, "--overwrite", "--quiet"])
        assert code == 2 and f"pid {holder.pid}" in err, err
        assert_clean(err)
        assert snapshot(finished_run) == before, "the refused writer must not touch the folder"
    finally:
        holder.kill()
        holder.wait()
    # the OS dropped the lock with its holder (as after kill -9): the folder is free again
    assert run_cli(["run", tiny, "--out", finished_run, "--overwrite", "--quiet", "--no-figures"])[0] == 0


GATED_RUN = """
import sys, time
from pathlib import Path
import hipposim.run.runner as runner
real = runner.run_models
def gated(*a, **k):
    sys.__stdout__.write("started" + chr(10)); sys.__stdout__.flush()  # --quiet silences sys.stdout
    gate = Path(sys.argv[-1])
    while not gate.exists():
        time.sleep(0.05)
    return real(*a, **k)
runner.run_models = gated
from hipposim.cli import main
sys.exit(main(sys.argv[1:-1]))
"""


def test_two_runs_into_one_folder_never_mix(tmp_path, tiny, finished_run):
    """The issue's reproduction: a second `run --overwrite` into a folder a first run is writing.
    The second is refused with the first's pid; the folder ends as the first run, complete."""
    gate = tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", GATED_RUN, "run", str(tiny), "--out", str(finished_run),
                              "--overwrite", "--quiet", "--no-figures", "--seed", "11", str(gate)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=OUTSIDE)
    try:
        assert first.stdout.readline().strip() == "started"
        code, _, err = run_cli(["run", tiny, "--out", finished_run, "--overwrite", "--quiet", "--no-figures",
                                "--seed", "22"])
        assert code == 2 and f"pid {first.pid}" in err, err
    finally:
        gate.touch()
        _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    m = manifest_of(finished_run)
    assert m["status"] == "complete" and m["seed"] == 11 and m["scenario"]["seed"] == 11
    assert set(json.loads((finished_run / "metrics.json").read_text())) == {"classical", "modern"}


def test_a_second_sweep_writer_and_a_resume_are_refused_while_a_sweep_holds_the_folder(tmp_path, write_yaml):
    path = write_yaml(SWEEP)
    out = tmp_path / "sweep"
    assert run_cli(["sweep", path, "--out", out, "--serial", "--quiet"])[0] == 0
    lock = FolderLock(out).acquire()  # another open file description: the same conflict as another process
    try:
        for extra in (["--resume"], ["--overwrite"]):
            code, _, err = run_cli(["sweep", path, "--out", out, "--serial", "--quiet", *extra])
            assert code == 2 and f"pid {os.getpid()}" in err, err
    finally:
        lock.release()
    assert manifest_of(out)["status"] == "complete"


def test_resume_never_follows_a_tasks_symlink_out_of_the_folder(tmp_path, write_yaml):
    path = write_yaml(SWEEP)
    out = tmp_path / "sweep"
    assert run_cli(["sweep", path, "--out", out, "--serial", "--quiet"])[0] == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / ".precious.partial"
    victim.write_text("not hipposim's")
    (elsewhere / "abc.json").write_text('{"status": "ok"}')
    import shutil

    shutil.rmtree(out / "tasks")
    (out / "tasks").symlink_to(elsewhere, target_is_directory=True)
    code, _, err = run_cli(["sweep", path, "--out", out, "--serial", "--quiet", "--resume"])
    assert code == 2 and "symbolic link" in err, err
    assert victim.read_text() == "not hipposim's"
    assert sorted(p.name for p in elsewhere.iterdir()) == [".precious.partial", "abc.json"]
    assert manifest_of(out)["status"] == "complete", "a refused resume leaves the status as it was"


def test_a_lock_file_planted_as_a_symlink_is_refused(tmp_path, tiny):
    out = tmp_path / "run"
    out.mkdir()
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    (out / ".hipposim.lock").symlink_to(target)
    code, _, err = run_cli(["run", tiny, "--out", out, "--quiet"])
    assert code == 2 and "symbolic link" in err, err
    assert target.read_text() == "keep me"


# --------------------------------------------------------------------------- 2. limits before allocation

HUGE = {
    "patterns.count": TINY.replace("count: 5", "count: 1000000000"),
    "cues.repeats": TINY.replace("fraction: 0.1}", "fraction: 0.1, repeats: 1000000000}"),
    "patterns.size": TINY.replace("size: 64", "size: 1000000000"),
    "ca3 synapses": TINY + "  - id: ca3-spiking-v1\n    label: ca3\n    params: {n_e: 200000, p_ee: 0.5}\n",
    "sweep points": TINY + "sweep:\n  grid:\n    cues.fraction: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]\n"
                           "  seeds: {start: 0, count: 100000}\n",
}


@pytest.mark.parametrize("case", sorted(HUGE))
def test_huge_scenarios_are_refused_before_allocation_with_the_estimate(case, write_yaml, tmp_path):
    path = write_yaml(HUGE[case])
    out = tmp_path / "out"
    code, _, err = run_cli(["run", path, "--out", out, "--quiet"])
    assert code == 2, err
    assert_clean(err)
    assert ("1,000,000 points" in err and "--max-tasks" in err) if case == "sweep points" else \
        ("of memory" in err and "above the limit of 4.0 GiB" in err), err
    assert not out.exists()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc (Linux)")
def test_validate_of_a_billion_patterns_stays_small(write_yaml):
    """`hipposim validate` in a fresh process: exit 2 with the estimate, peak memory under 200 MB."""
    path = write_yaml(HUGE["patterns.count"])
    # peak resident memory of this process only: VmHWM (ru_maxrss would carry over the parent's peak
    # through fork and exec)
    code = ("import sys; from hipposim.cli import main; rc = main(['validate', sys.argv[1]]); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
            "print(hwm, file=sys.stderr); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                          cwd=OUTSIDE)
    assert proc.returncode == 2, proc.stderr
    message, rss_kb = proc.stderr.strip().rsplit("\n", 1)
    assert "above the limit" in message and "Traceback" not in message
    assert int(rss_kb) < 200 * 1024, f"validate used {int(rss_kb) / 1024:.0f} MB"


def test_max_memory_and_max_tasks_raise_the_limits(write_yaml):
    # 20000 patterns of 2000 units, 1000 cues: several GiB of traces, between the default limit and 64 GiB
    text = TINY.replace("count: 5, size: 64", "count: 20000, size: 2000").replace(
        "fraction: 0.1}", "fraction: 0.1, targets: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], repeats: 100}")
    big = write_yaml(text, "big.yaml")
    estimate = sum(estimate_memory(loads_scenario(text, check_limits=False).document).values())
    assert DEFAULT_MAX_MEMORY < estimate < 64 * 2 ** 30
    code, _, err = run_cli(["validate", big])
    assert code == 2 and f"about {estimate / 2 ** 30:.1f} GiB" in err, err
    assert run_cli(["validate", big, "--max-memory", "64GB"])[0] == 0
    sweep = write_yaml(TINY + "sweep:\n  grid:\n    cues.fraction: [0.1, 0.2]\n  seeds: {start: 0, count: 4000}\n",
                       "many.yaml")
    code, _, err = run_cli(["validate", sweep])
    assert code == 2 and "8,000 points" in err
    assert run_cli(["validate", sweep, "--max-tasks", "8000"])[0] == 0


def test_memory_estimate_grows_as_the_arrays_it_counts():
    """The estimate's arithmetic: traces are 5 x C x S x (N + P) float64 per model."""
    doc = {"patterns": {"kind": "random", "count": 100, "size": 400},
           "cues": {"repeats": 3}, "models": [{"id": "hopfield-modern-v1", "label": "m",
                                               "params": {"max_steps": 9}}]}
    parts = estimate_memory(doc)
    assert parts["m traces"] == 5 * 300 * 10 * (400 + 100) * 8  # 5 copies alive at once
    assert parts["patterns"] == 100 * 400 * 8 + 100 * 64
    doc["patterns"]["count"] = 200
    assert estimate_memory(doc)["m traces"] == 5 * 600 * 10 * (400 + 200) * 8
    del doc["models"][0]["params"]  # the declared default max_steps of the model (5) counts
    assert estimate_memory(doc)["m traces"] == 5 * 600 * 6 * (400 + 200) * 8


# --------------------------------------------------------------------------- 3. every number checked

BAD_NUMBERS = {
    "beta .inf": (TINY.replace("    label: modern\n", "    label: modern\n    params: {beta: .inf}\n"),
                  "models[1].params.beta", "finite"),
    "knob beta .nan": (TINY + "knobs: {beta: .nan}\n", "knobs.beta", "finite"),
    "fraction -.inf": (TINY.replace("fraction: 0.1", "fraction: -.inf"), "cues.fraction", "finite"),
    "dt 0 ms": (TINY + "  - id: ca3-spiking-v1\n    label: ca3\n    params: {dt: 0 ms}\n",
                "models[2].params.dt", ("positive time", "time > 0")),
    "dt -0.1 ms": (TINY + "  - id: ca3-spiking-v1\n    label: ca3\n    params: {dt: -0.1 ms}\n",
                   "models[2].params.dt", ("positive time", "time > 0")),
    "seed -5": (TINY.replace("seed: 1", "seed: -5"), "seed", "greater than or equal to 0"),
    "seed 2^70": (TINY.replace("seed: 1", f"seed: {2 ** 70}"), "seed", "less than 9223372036854775808"),
    "seeds []": (TINY + "sweep:\n  grid:\n    cues.fraction: [0.1]\n  seeds: []\n", "sweep.seeds", "at least 1"),
    "seed range beyond 2^63": (TINY + f"sweep:\n  seeds: {{start: {2 ** 63 - 2}, count: 5}}\n", "sweep.seeds",
                               "2**63"),
    "sweep value .inf": (TINY + "sweep:\n  grid:\n    models[1].params.beta: [1.0, .inf]\n",
                         "sweep.grid.models[1].params.beta[1]", "finite"),
    "empty sweep values": (TINY + "sweep:\n  grid:\n    cues.fraction: []\n", "sweep", "empty"),
    "targets [yes, 0]": (TINY.replace("fraction: 0.1}", "fraction: 0.1, targets: [yes, 0]}"), "cues.targets",
                         "boolean"),
    "count: on": (TINY.replace("count: 5", "count: on"), "patterns.count", "boolean"),
    "other: no": (TINY.replace("{kind: noisy, fraction: 0.1}", "{kind: mixture, targets: [0], other: no}"),
                  "cues.other", "boolean"),
    "max_steps: yes": (TINY.replace("    label: modern\n", "    label: modern\n    params: {max_steps: yes}\n"),
                       "models[1].params.max_steps", "boolean"),
}


@pytest.mark.parametrize("case", sorted(BAD_NUMBERS))
def test_bad_numbers_are_refused_at_validation(case, write_yaml, tmp_path):
    text, field, fragment = BAD_NUMBERS[case]
    path = write_yaml(text)
    out = tmp_path / "out"
    code, _, err = run_cli(["run", path, "--out", out, "--quiet"])
    assert code == 2, err
    fragments = (fragment,) if isinstance(fragment, str) else fragment  # the words of either time check
    assert f"field '{field}'" in err and any(f in err for f in fragments) and ", line " in err, err
    assert "Traceback" not in err
    assert not out.exists(), "nothing may be written for bad input"


def test_booleans_still_work_where_a_boolean_is_expected():
    s = loads_scenario(TINY.replace("    label: modern\n", "    label: modern\n    params: {normalize: yes}\n"))
    assert s.models[1].params["normalize"] is True
    s = loads_scenario(TINY.replace("fraction: 0.1}", "fraction: 0.1, targets: [p3, 0]}"))
    assert s.cues.targets == ["p3", 0]


def test_cli_overrides_go_through_the_same_validation(tiny):
    for seed in ("-5", str(2 ** 70), "1.5", "yes"):
        code, _, err = run_cli(["run", tiny, "--seed", seed, "--quiet"])
        assert code == 2 and "--seed" in err, err
    for workers in ("0", "-1", "two", "100000"):
        code, _, err = run_cli(["sweep", tiny, "--workers", workers, "--quiet"])
        assert code == 2 and "--workers" in err, err
    for address in ("foo", "http://127.0.0.1:8786", "tcp://127.0.0.1:99999", "tcp://"):
        code, _, err = run_cli(["sweep", tiny, "--scheduler", address, "--quiet"])
        assert code == 2 and "not a scheduler address" in err, err
    with pytest.raises(ScenarioError, match="--seed.*seed"):
        loads_scenario(TINY).with_seed(2 ** 63)
    assert loads_scenario(TINY).with_seed(2 ** 63 - 1).seed == 2 ** 63 - 1


# --------------------------------------------------------------------------- 4. no hangs

class FakeServer:
    """A TCP server that accepts connections and then stays silent or answers garbage."""

    def __init__(self, reply: bytes):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.reply = reply
        self.conns = []
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.reply:
                try:
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.parametrize("reply", [b"", b"HTTP/1.0 200 OK\r\n\r\nhello\n", b"\x08" + b"\x00" * 7 + b"abc"],
                         ids=["silent", "http", "short-frame"])
def test_a_scheduler_address_that_is_not_dask_is_refused_within_the_timeout(reply):
    from hipposim.run.sweep import connect_client

    server = FakeServer(reply)
    outcome = {}

    def attempt():
        try:
            connect_client(server.address, None, timeout=1.0)
            outcome["result"] = "connected"
        except HipposimError as exc:
            outcome["result"] = str(exc)

    try:
        t = threading.Thread(target=attempt, daemon=True)
        t.start()
        t.join(30)  # a hang guard, far above the 1 s timeout
        assert not t.is_alive(), "connect_client hung on a server that is not Dask"
    finally:
        server.close()
    assert server.address in outcome["result"] and "Dask scheduler" in outcome["result"]


def test_sweep_with_a_silent_scheduler_exits_2_and_writes_nothing(tmp_path, write_yaml, monkeypatch):
    import hipposim.run.sweep as sweep

    monkeypatch.setattr(sweep, "probe_scheduler",
                        lambda address, timeout, _real=sweep.probe_scheduler: _real(address, 1.0))
    server = FakeServer(b"")
    try:
        out = tmp_path / "out"
        code, _, err = run_cli(["sweep", write_yaml(SWEEP), "--scheduler", server.address, "--out", out,
                                "--quiet"])
    finally:
        server.close()
    assert code == 2 and "Dask scheduler" in err, err
    assert_clean(err)
    assert not out.exists()


# --------------------------------------------------------------------------- 5. messages, not tracebacks

def test_yaml_nested_600_deep_is_a_clean_error(write_yaml):
    for text in ("a: " + "[" * 600 + "]" * 600 + "\n", "a:\n" + "".join(" " * i + "- \n" for i in range(1, 601)),
                 "{a: " * 600 + "}" * 600 + "\n"):
        code, _, err = run_cli(["validate", write_yaml(text)])
        assert code == 2 and "nested more than" in err, err
        assert_clean(err)


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only /sys (Linux)")
def test_a_read_only_output_location_is_bad_input(tiny):
    code, _, err = run_cli(["run", tiny, "--out", "/sys/hipposim-test-output", "--quiet"])
    assert code == 2 and "/sys/hipposim-test-output" in err, err
    assert_clean(err)


def test_a_read_only_folder_is_refused_before_any_work(tmp_path, tiny, monkeypatch):
    """A folder that exists but refuses writes (EROFS/EACCES) is found by the write test, exit 2."""
    import pathlib

    out = tmp_path / "ro"
    real = pathlib.Path.write_bytes

    def refuse(self, data):
        if self.parent == out:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", refuse)
    code, _, err = run_cli(["run", tiny, "--out", out, "--quiet"])
    assert code == 2 and "Read-only file system" in err, err
    assert_clean(err)
    assert not (out / "manifest.json").exists()


def test_a_full_disk_fails_the_run_with_a_message_and_a_failed_manifest(tmp_path, tiny, monkeypatch):
    import shutil

    import hipposim.run.folder as folder

    free = {"bytes": 10 ** 12}
    monkeypatch.setattr(folder.shutil, "disk_usage",
                        lambda p: shutil._ntuple_diskusage(10 ** 13, 10 ** 13 - free["bytes"], free["bytes"]))
    free["bytes"] = 2 ** 20  # 1 MiB: less than the margin kept free
    out = tmp_path / "run"
    code, _, err = run_cli(["run", tiny, "--out", out, "--quiet"])
    assert code == 1 and "not enough free space" in err, err
    assert_clean(err)
    m = manifest_of(out)
    assert m["status"] == "failed" and "DiskFull" in m["error"]
    assert not list(out.rglob("*.partial"))


def test_a_write_refused_by_the_os_mid_run_is_a_failed_manifest(tmp_path, write_yaml):
    """A real refusal by the OS (the file size limit, EFBIG, as a full disk gives ENOSPC) while the
    stimulus is written: exit 1 with a message, a failed manifest, no half-written file, no crash
    inside libhdf5 (which ends the process with SIGSEGV when its own writes fail)."""
    import resource

    path = write_yaml(TINY.replace("count: 5, size: 64", "count: 40, size: 400"))
    out = tmp_path / "run"

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    proc = subprocess.run([sys.executable, "-m", "hipposim.cli", "run", str(path), "--out", str(out), "--quiet",
                           "--no-figures"], preexec_fn=limit, capture_output=True, text=True, timeout=120, cwd=OUTSIDE)
    assert proc.returncode == 1, proc.stderr
    assert "stimulus.nc" in proc.stderr and "File too large" in proc.stderr
    assert_clean(proc.stderr)
    m = manifest_of(out)
    assert m["status"] == "failed" and "DiskFull" in m["error"]
    assert not list(out.rglob("*.partial")) and not (out / "stimulus.nc").exists()


def test_tracebacks_only_with_debug(tmp_path, finished_run):
    (finished_run / "metrics.json").write_text('{"classical": ')
    code, _, err = run_cli(["compare", finished_run, "--out", tmp_path / "cmp", "--quiet"])
    assert code == 2 and "metrics.json" in err
    assert_clean(err)
    code, _, err = run_cli(["compare", finished_run, "--out", tmp_path / "cmp2", "--quiet", "--debug"])
    assert code == 2 and "Traceback" in err


def test_an_unexpected_fault_is_one_line_and_exit_1(tiny, monkeypatch, tmp_path):
    import hipposim.run.runner as runner

    def boom(*a, **k):
        raise ZeroDivisionError("a fault in a model")

    monkeypatch.setattr(runner, "run_models", boom)
    code, _, err = run_cli(["run", tiny, "--out", tmp_path / "o", "--quiet"])
    assert code == 1 and "a fault in a model" in err
    assert_clean(err)


# --------------------------------------------------------------------------- 6. status is always true

SLOW_RUN = """
import sys, time
import hipposim.run.runner as runner
def slow(*a, **k):
    sys.__stdout__.write("started" + chr(10)); sys.__stdout__.flush()  # --quiet silences sys.stdout
    time.sleep(120)
runner.run_models = slow
from hipposim.cli import main
sys.exit(main(sys.argv[1:]))
"""

SLOW_SWEEP = """
import sys, time
import hipposim.run.execute as execute
real = execute.execute_task
calls = []
def slow(*a, **k):
    calls.append(1)
    if len(calls) > 1:
        sys.__stdout__.write("started" + chr(10)); sys.__stdout__.flush()  # --quiet silences sys.stdout
        time.sleep(120)
    return real(*a, **k)
execute.execute_task = slow
from hipposim.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_during_a_run_marks_it_interrupted(sig, tmp_path, tiny):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, "run", str(tiny), "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=OUTSIDE)
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert "interrupted" in err and "Traceback" not in err
    m = manifest_of(out)
    assert m["status"] == "interrupted" and sig.name in m["error"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_during_a_sweep_marks_it_interrupted_and_resume_finishes_it(sig, tmp_path, write_yaml):
    path = write_yaml(SWEEP)
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SWEEP, "sweep", str(path), "--out", str(out), "--serial",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=OUTSIDE)
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert manifest_of(out)["status"] == "interrupted"
    assert len(list((out / "tasks").glob("*.json"))) == 1  # the finished task is kept
    assert run_cli(["sweep", path, "--out", out, "--serial", "--quiet", "--resume"])[0] == 0
    assert manifest_of(out)["status"] == "complete"
    assert len(list((out / "tasks").glob("*.json"))) == 4


def test_a_failed_resume_keeps_the_previous_status_unless_it_wrote_results(tmp_path, write_yaml, monkeypatch):
    import hipposim.run.sweep as sweep

    path = write_yaml(SWEEP)
    out = tmp_path / "sweep"
    assert run_cli(["sweep", path, "--out", out, "--serial", "--quiet"])[0] == 0
    complete = manifest_of(out)

    def broken(*a, **k):
        raise RuntimeError("aggregation failed")

    monkeypatch.setattr(sweep, "aggregate", broken)
    code, _, err = run_cli(["sweep", path, "--out", out, "--serial", "--quiet", "--resume"])
    assert code == 1 and "aggregation failed" in err
    assert manifest_of(out) == complete, "nothing new was written: the sweep is still complete"
    # now the resume recomputes one task, then fails: the manifest must not claim 'complete'
    next(iter(sorted((out / "tasks").glob("*.json")))).unlink()
    code, _, err = run_cli(["sweep", path, "--out", out, "--serial", "--quiet", "--resume"])
    assert code == 1
    m = manifest_of(out)
    assert m["status"] == "failed" and "aggregation failed" in m["error"]


def test_plot_refuses_a_folder_that_another_process_is_writing(finished_run):
    (finished_run / "figures").mkdir(exist_ok=True)
    lock = FolderLock(finished_run).acquire()
    try:
        code, _, err = run_cli(["plot", finished_run])
        assert code == 2 and f"pid {os.getpid()}" in err, err
        assert not list((finished_run / "figures").iterdir())
    finally:
        lock.release()
    assert run_cli(["plot", finished_run])[0] == 0
    assert (finished_run / "figures" / "overlap.png").stat().st_size > 1000


# --------------------------------------------------------------------------- compare and the command line

def test_compare_refuses_two_scenarios_of_one_name_before_simulating(tmp_path, tiny, monkeypatch):
    monkeypatch.chdir(tmp_path)
    twin = tmp_path / "twin.yaml"
    twin.write_text(TINY)
    code, _, err = run_cli(["compare", tiny, twin, "--out", tmp_path / "cmp", "--quiet"])
    assert code == 2 and "named 'tiny'" in err, err
    assert_clean(err)
    assert not (tmp_path / "cmp").exists()


def test_compare_refuses_a_sweep_before_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP)
    code, _, err = run_cli(["compare", sweep, "--out", tmp_path / "cmp", "--quiet"])
    assert code == 2 and "sweep" in err, err
    assert_clean(err)
    assert not (tmp_path / "cmp").exists()


def test_compare_keeps_every_run_when_folder_names_and_labels_collide(tmp_path, tiny):
    runs = []
    for parent in ("a", "b", "c"):
        out = tmp_path / parent / "tiny"
        assert run_cli(["run", tiny, "--out", out, "--quiet", "--no-figures"])[0] == 0
        runs.append(out)
    cmp = tmp_path / "cmp"
    code, out, err = run_cli(["compare", *runs, "--out", cmp, "--quiet"])
    assert code == 0, err
    keys = list(json.loads((cmp / "metrics.json").read_text()))
    assert len(keys) == 3 * 2 and len(set(keys)) == 6, keys  # two models in each of three runs: none dropped
    assert manifest_of(cmp)["status"] == "complete"


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_an_empty_out_is_refused_not_taken_for_the_default(tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP if command == "sweep" else TINY)
    code, _, err = run_cli([command, path, "--out", "", "--quiet"])
    assert code == 2 and "--out is empty" in err, err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "sweeps").exists()


def test_seed_option_on_a_sweep_is_refused_naming_sweep_seeds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP)
    code, _, err = run_cli(["run", path, "--seed", "12345", "--out", tmp_path / "o", "--quiet"])
    assert code == 2 and "sweep.seeds" in err, err
    assert not (tmp_path / "o").exists()


def test_a_name_ending_in_a_newline_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text(TINY.replace("name: tiny", 'name: "tiny\\n"'))
    code, _, err = run_cli(["validate", path])
    assert code == 2 and "name" in err, err
    assert not any(tmp_path.glob("runs/*"))


def test_brian2_temporary_files_go_with_the_command(tmp_path, monkeypatch):
    """Brian2's debug log and script copy live in a folder of the command's own, removed at its end."""
    pytest.importorskip("brian2")
    import os

    base = tmp_path / "tmp"
    base.mkdir()
    monkeypatch.setenv("TMPDIR", str(base))
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    text = TINY + "  - id: ca3-spiking-v1\n    label: ca3\n    params: {n_e: 200, target: numpy, t_encode: 60 ms, " \
                  "t_recall: 40 ms}\n"
    path = tmp_path / "s.yaml"
    path.write_text(text)
    code, _, err = run_cli(["run", path, "--out", tmp_path / "o", "--quiet", "--no-figures"])
    assert code == 0, err
    assert os.listdir(base) == []
    assert os.environ["TMPDIR"] == str(base)
