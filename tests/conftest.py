from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
import yaml

from hipposim.registry import registry

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
#: the shipped scenarios as parameters whose tests share one pytest-xdist worker per scenario,
#: so the session's shrunk run of each (the ``tiny_run`` fixture) is made once
SHIPPED_GROUPED = [pytest.param(p, id=p.stem, marks=pytest.mark.xdist_group(p.stem)) for p in SHIPPED]


@pytest.fixture
def write_yaml(tmp_path):
    """Write YAML text to a file in tmp_path and return its path."""

    def _write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


TINY = """
version: 1
name: tiny
seed: 1
patterns: {kind: random, count: 5, size: 64}
cues: {kind: noisy, fraction: 0.1}
models:
  - id: hopfield-classical-v1
    label: classical
  - id: hopfield-modern-v1
    label: modern
"""

#: TINY as a sweep of four points (two cue fractions x two seeds)
SWEEP = TINY + "sweep:\n  grid:\n    cues.fraction: [0.05, 0.1]\n  seeds: [0, 1]\n"


def run_cli(args):
    """Run the CLI in this process; returns (exit code, stdout, stderr) with argparse exits included."""
    import contextlib
    import io

    from hipposim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse refuses bad options with exit 2
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def tiny_yaml():
    return TINY


# --------------------------------------------------------------------------- shipped scenarios, shrunk

def shrink(data: dict) -> dict:
    """A tiny version of a shipped scenario: few units, few sweep points, tiny models."""
    pat = data["patterns"]
    if "size" in pat:
        pat["size"] = min(pat["size"], 100)
    if "count" in pat and pat.get("kind") != "images":
        pat["count"] = min(pat["count"], 10)
    cues = data.get("cues", {})
    if pat.get("kind") == "sequences":  # at most 6 items a sequence; images: the first sequences that fit
        pat["length"] = min(pat["length"], 6)
        if isinstance(pat.get("names"), list):
            pat["count"] = max(1, min(pat["count"], len(pat["names"]) // pat["length"]))
            pat["names"] = pat["names"][: pat["count"] * pat["length"]]
        pos = cues.get("position")
        if isinstance(pos, list):
            cues["position"] = [p for p in pos if p < pat["length"]][:2] or [0]
        elif isinstance(pos, int):
            cues["position"] = min(pos, pat["length"] - 1)
        sweep = data.get("sweep") or {}
        for section in ("grid", "zip"):  # distinct short lengths 2, 3, ... (no two points the same)
            if "patterns.length" in sweep.get(section, {}):
                sweep[section]["patterns.length"] = [min(v, 2 + i) for i, v in
                                                     enumerate(sweep[section]["patterns.length"])]
    elif isinstance(pat.get("names"), list):  # three images, and every image a cue names
        named = [t for t in cues.get("targets", []) if isinstance(t, str)] if isinstance(cues.get("targets"), list) else []
        pat["names"] = [n for i, n in enumerate(pat["names"]) if i < 3 or n in named]
    if isinstance(cues.get("region"), list):
        cues["region"] = cues["region"][:2]
    if isinstance(cues.get("targets"), list):
        limit = min(3, pat["count"]) if pat.get("kind") == "sequences" else 3
        cues["targets"] = [t for t in cues["targets"] if not isinstance(t, int) or t < limit][:2] or [0]
    for spec in data["models"]:
        cls = registry.get(spec["id"])
        spec["params"] = {**spec.get("params", {}), **getattr(cls, "tiny_params", {})}
    sweep = data.get("sweep")
    if sweep:
        for section in ("grid", "zip"):
            for key, values in sweep.get(section, {}).items():
                if key == "patterns.count":
                    values = [v for v in values if v <= 10] or [5]
                sweep[section][key] = values[:2]
        if isinstance(sweep.get("zip"), dict) and sweep["zip"]:
            n = min(len(v) for v in sweep["zip"].values())
            sweep["zip"] = {k: v[:n] for k, v in sweep["zip"].items()}
        sweep["seeds"] = [0]
    return data



@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Run the shrunk version of a shipped scenario once per session through the CLI; return its folder.

    The runner's test checks the folder; the figure test redraws every figure from it.
    A failed run raises in every test that asks for it.
    """
    done: dict = {}

    def _run(path: Path) -> Path:
        if path not in done:
            from hipposim.cli import main

            data = shrink(yaml.safe_load(path.read_text()))
            if any(m["id"].startswith("ca3") for m in data["models"]):
                pytest.importorskip("brian2")
            root = tmp_path_factory.mktemp(path.stem)
            small = root / path.name
            small.write_text(yaml.safe_dump(data))
            code = main(["run", str(small), "--out", str(root / "out"), "--quiet", "--no-figures"])
            done[path] = (code, root / "out")
        code, out = done[path]
        assert code == 0, f"the shrunk {path.name} did not run"
        return out

    return _run
