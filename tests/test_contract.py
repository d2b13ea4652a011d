"""The contract suite: every registered model passes the same checks (scikit-learn / Gymnasium style).

For each model id: a cheap constructor that only stores its parameters; the
standard variables and dimensions; every declared ``record`` present in the
dataset; a NetCDF round trip; the same numbers from the same seed; pickling of
the model and its result (Dask ships both between processes).
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import xarray as xr
import yaml

from hipposim.registry import registry
from hipposim.run import load_run, run_scenario
from hipposim.scenario import loads_scenario


def tiny_model_scenario(model_id: str, kind: str = "items") -> str:
    """Three images and two cues; for ``kind="sequences"`` the same images as one sequence, cued at
    its first two positions (so the cues' targets are again items 0 and 1)."""
    cls = registry.get(model_id)
    if kind == "sequences":
        patterns = {"kind": "sequences", "count": 1, "length": 3, "items": "images",
                    "names": ["apple", "cup", "letter_t"]}
        cues = {"kind": "masked", "region": "left_half", "position": [0, 1]}
    else:
        patterns = {"kind": "images", "names": ["apple", "cup", "letter_t"]}
        cues = {"kind": "masked", "region": "left_half", "targets": ["apple", "cup"]}
    return yaml.safe_dump({
        "version": 1, "name": "contract", "seed": 3, "patterns": patterns, "cues": cues,
        "models": [{"id": model_id, "label": "m", "params": dict(cls.tiny_params)}],
    })


def contract_cases():
    """Every registered model on the stimulus it accepts: single items (models that recall items),
    sequences (models that play sequences), both for a model that does both."""
    for model_id in registry.ids():
        cls = registry.get(model_id)
        if getattr(cls, "recalls_items", True):
            yield pytest.param(model_id, "items", id=model_id)
        if getattr(cls, "plays_sequences", False):
            yield pytest.param(model_id, "sequences", id=f"{model_id}-sequences")


@pytest.mark.parametrize("model_id", registry.ids())
def test_constructor_only_stores_parameters(model_id):
    cls = registry.get(model_id)
    assert cls.description and cls.__doc__
    model = cls(dict(cls.tiny_params))
    learned = [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]
    assert learned == [], f"the constructor computed {learned}; work belongs in run()"
    assert model.params == cls.Params(**cls.tiny_params)
    again = pickle.loads(pickle.dumps(model))
    assert type(again) is cls and again.params == model.params


@pytest.mark.parametrize("model_id, kind", list(contract_cases()))
def test_model_contract(model_id, kind, tmp_path):
    """Runs a tiny scenario: standard variables, declared records, round trip, determinism, pickling."""
    scenario = loads_scenario(tiny_model_scenario(model_id, kind))
    cls = registry.get(model_id)
    run = run_scenario(scenario, tmp_path / "a", progress=False, figures=False)
    ds = run.results["m"]
    assert ds["state"].dims == ("cue", "step", "unit")
    assert ds["overlap"].dims == ("cue", "step", "pattern")
    assert ds["energy"].dims == ("cue", "step") and ds["converged_step"].dims == ("cue",)
    assert ds.sizes["cue"] == 2 and ds.sizes["pattern"] == 3 and ds.sizes["unit"] == 256
    assert list(ds["target"].values) == [0, 1]
    assert ds.attrs["overlap_measure"] in ("item", "code_correlation")
    assert np.all(np.isfinite(ds["overlap"].values))
    missing = [name for name in cls.records if name not in ds]
    assert not missing, f"{model_id} declares records it does not write: {missing}"
    loaded = load_run(tmp_path / "a").results["m"]
    xr.testing.assert_allclose(loaded, ds)
    again = run_scenario(scenario, tmp_path / "b", progress=False, figures=False)
    np.testing.assert_array_equal(again.results["m"]["overlap"].values, ds["overlap"].values)
    np.testing.assert_array_equal(again.results["m"]["state"].values, ds["state"].values)
    xr.testing.assert_identical(pickle.loads(pickle.dumps(ds)), ds)
    if kind == "sequences":  # the saved stimulus keeps the sequences, for figures drawn from the folder
        stim = load_run(tmp_path / "a").stimulus
        assert stim.sequences.tolist() == [[0, 1, 2]] and stim.metadata["cue_positions"] == [0, 1]
