"""The runner, the run folder rules, plotting from saved results, and every shipped scenario."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from hipposim.cli import main
from hipposim.errors import OutputError, RunFailed
from hipposim.contract import Model
from hipposim.registry import registry
from hipposim.run import load_run
from hipposim.run import run_scenario
from hipposim.scenario import loads_scenario

from .conftest import SCENARIOS, SHIPPED, SHIPPED_GROUPED, TINY, shrink  # noqa: F401  (shrink: used by other test modules)

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
    with pytest.raises(OutputError, match="did not finish"):
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




@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_validates(path, capsys):
    assert main(["validate", str(path)]) == 0


@pytest.mark.parametrize("path", SHIPPED_GROUPED)
def test_shipped_scenario_runs_tiny(path, tiny_run):
    out = tiny_run(path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
