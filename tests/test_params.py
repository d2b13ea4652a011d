"""Parameters are declared once, with units and bounds, and a bound's error names the bound."""
from __future__ import annotations

import pytest

from hipposim.cli import main
from hipposim.contract import Beta
from hipposim.errors import ScenarioError
from hipposim.registry import describe_params, registry
from hipposim.scenario import KnobSpec, loads_scenario

BASE = """
version: 1
name: bounds
patterns: {kind: images, names: [apple, cup]}
models:
  - id: ca3-spiking-v1
    params: PARAMS
"""


def refused(params: str) -> str:
    with pytest.raises(ScenarioError) as info:
        loads_scenario(BASE.replace("PARAMS", params))
    return str(info.value)


@pytest.mark.parametrize("params, field, bound", [
    ('{w_ie: "-5 mV"}', "w_ie", ">= 0 V"),
    ('{ec_rate: "-40 Hz"}', "ec_rate", ">= 0 Hz"),
    ('{tau_m: "-20 ms"}', "tau_m", "> 0 s"),
    ('{dt: "0 ms"}', "dt", "> 0 s"),
    ('{mf_rate: "-1 Hz"}', "mf_rate", ">= 0 Hz"),
])
def test_quantity_outside_its_bound_is_refused_naming_the_bound(params, field, bound):
    message = refused(params)
    assert f"field 'models[0].params.{field}'" in message
    assert bound in message and "line 7" in message


def test_threshold_at_or_below_rest_is_refused():
    assert "v_th" in refused('{v_th: "-65 mV", v_rest: "-65 mV"}')
    assert "expected v_th > v_rest" in refused('{v_th: "-70 mV"}')


def test_coding_level_that_leaves_no_active_cell_is_refused():
    assert "leaves no active unit" in refused("{coding_level: 0.0001}")


def test_every_quantity_of_every_model_has_bounds():
    """A quantity parameter without a declared bound is a defect, except membrane potentials."""
    for model_id in registry.ids():
        for row in describe_params(registry.get(model_id)):
            if row["unit"] and "voltage" not in row["unit"]:
                assert row["bounds"], (model_id, row["name"])
            if row["unit"] and row["name"].startswith("w_"):
                assert row["bounds"], (model_id, row["name"])


def test_beta_is_declared_once():
    """The knob and the models that obey it use the one declaration (same bound, same description)."""
    knob = KnobSpec.model_fields["beta"]
    modern = registry.get("hopfield-modern-v1").Params.model_fields["beta"]
    assert modern.metadata == Beta.__metadata__[0].metadata
    assert any(getattr(a, "metadata", None) == Beta.__metadata__[0].metadata
               for a in getattr(knob.annotation, "__args__", ()) for a in getattr(a, "__metadata__", ()))
    with pytest.raises(ScenarioError, match="greater than 0"):
        loads_scenario("version: 1\nname: b\npatterns: {kind: random, count: 2, size: 8}\n"
                       "knobs: {beta: -1}\nmodels: [{id: hopfield-modern-v1}]\n")


def test_bad_bound_exits_2_from_the_cli(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.replace("PARAMS", '{w_ie: "-5 mV"}'))
    assert main(["validate", str(path)]) == 2
    assert ">= 0 V" in capsys.readouterr().err
