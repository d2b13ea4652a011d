"""The runner, the run folder rules, plotting from saved results, and every shipped scenario."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
import yaml

from hipposim.cli import main
from hipposim.errors import OutputError, RunFailed
from hipposim.contract import Model
from hipposim.registry import registry
from hipposim.run import load_run
from hipposim.run import run_scenario
from hipposim.scenario import loads_scenario

from .conftest import SCENARIOS, TINY

STABLE_KEYS = {"final_overlap", "success", "steps_to_converge", "final_energy"}


def test_run_folder_contents_and_metrics(tmp_path):
    run_scenario(loads_scenario(TINY), tmp_path / "run", progress=False)
    root = tmp_path / "run"
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["seed"] == 1
    assert manifest["versions"]["numpy"] == np.__version__
    assert manifest["scenario"]["models"][1]["params"]["beta"] == 8.0  # normalised, defaults filled
    metrics = json.loads((root / "metrics.json").read_text())
    assert set(metrics) == {"classical", "modern"}
    for m in metrics.values():
        assert STABLE_KEYS <= set(m)
        assert 0.9 <= m["final_overlap"] <= 1.0 and m["success"] is True
    ds = xr.open_dataset(root / "traces" / "modern.nc", engine="h5netcdf")
    assert set(ds["overlap"].dims) == {"cue", "step", "pattern"}
    assert ds["step"].attrs["units"] == "update"
    assert (root / "figures" / "overlap.png").stat().st_size > 1000
    assert not list(root.rglob("*.partial"))


def test_same_scenario_and_seed_give_identical_numbers(tmp_path):
    a = run_scenario(loads_scenario(TINY), tmp_path / "a", progress=False, figures=False)
    b = run_scenario(loads_scenario(TINY), tmp_path / "b", progress=False, figures=False)
    assert a.metrics == b.metrics
    for label in a.results:
        xr.testing.assert_identical(a.results[label].drop_attrs(), b.results[label].drop_attrs())
    c = run_scenario(loads_scenario(TINY), tmp_path / "c", progress=False, figures=False, seed=5)
    assert not np.array_equal(a.results["classical"]["state"].values, c.results["classical"]["state"].values)


def test_existing_folder_refused_unless_overwrite(tmp_path):
    out = tmp_path / "run"
    run_scenario(loads_scenario(TINY), out, progress=False, figures=False)
    with pytest.raises(OutputError, match="--overwrite"):
        run_scenario(loads_scenario(TINY), out, progress=False, figures=False)
    run_scenario(loads_scenario(TINY), out, progress=False, figures=False, overwrite=True)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match="not a hipposim run folder"):
        run_scenario(loads_scenario(TINY), foreign, progress=False, overwrite=True)
    assert (foreign / "thesis.tex").read_text() == "precious"


class Exploding(Model):
    description = "raises during run (test double)"

    def run(self, stimulus, rng):
        raise FloatingPointError("activity diverged")


def test_failed_run_leaves_a_failed_manifest(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._table, "exploding-v1", "tests:Exploding")
    monkeypatch.setitem(registry._loaded, "exploding-v1", Exploding)
    text = TINY + "  - id: exploding-v1\n"
    with pytest.raises(RunFailed, match="activity diverged"):
        run_scenario(loads_scenario(text), tmp_path / "run", progress=False)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "activity diverged" in manifest["error"]
    with pytest.raises(RunFailed, match="did not finish"):
        load_run(tmp_path / "run")


def test_plot_redraws_from_saved_results(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    run_scenario(loads_scenario(TINY), out, progress=False)
    figure = out / "figures" / "overlap.png"
    figure.unlink()
    import hipposim.run.runner

    monkeypatch.setattr(hipposim.run.runner, "run_models", lambda *a, **k: pytest.fail("plot must not simulate"))
    assert main(["plot", str(out), "--format", "svg", "--format", "png"]) == 0
    assert figure.exists() and (out / "figures" / "overlap.svg").exists()


# --------------------------------------------------------------------------- shipped scenarios

def shrink(data: dict) -> dict:
    """A tiny version of a shipped scenario: few units, few sweep points, tiny models."""
    pat = data["patterns"]
    if "size" in pat:
        pat["size"] = min(pat["size"], 100)
    if "count" in pat and pat.get("kind") != "images":
        pat["count"] = min(pat["count"], 10)
    cues = data.get("cues", {})
    if isinstance(cues.get("targets"), list):
        cues["targets"] = [t for t in cues["targets"] if not isinstance(t, int) or t < 3][:2] or [0]
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


SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_validates(path, capsys):
    assert main(["validate", str(path)]) == 0


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_runs_tiny(path, tmp_path):
    data = shrink(yaml.safe_load(path.read_text()))
    small = tmp_path / path.name
    small.write_text(yaml.safe_dump(data))
    if any(m["id"].startswith("ca3") for m in data["models"]):
        pytest.importorskip("brian2")
    code = main(["run", str(small), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
