"""Scenario loading and every bad input the CLI must refuse (exit 2, file/line/field, nothing written)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hipposim.cli import main
from hipposim.errors import ScenarioError
from hipposim.scenario import loads_scenario
from hipposim.stimuli import build_stimulus
from hipposim.units import parse_quantity


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_refused(path, tmp_path, capsys, *fragments, line=None):
    out = tmp_path / "out"
    code, _, err = run_cli(["run", path, "--out", out, "--quiet"], capsys)
    assert code == 2, err
    assert str(path) in err
    if line is not None:
        assert f"line {line}" in err, err
    for f in fragments:
        assert f in err, err
    assert not out.exists(), "nothing may be written for bad input"
    assert "\n\n" not in err.strip()  # one paragraph
    return err


def test_python_object_tag_is_refused_and_never_constructed(write_yaml, tmp_path, capsys, tiny_yaml):
    marker = tmp_path / "pwned"
    text = tiny_yaml + f"description: !!python/object/apply:os.system ['touch {marker}']\n"
    err = assert_refused(write_yaml(text), tmp_path, capsys, "python/object", "description", line=12)
    assert not marker.exists()
    assert "not allowed" in err


def test_alias_bomb_is_refused(write_yaml, tmp_path, capsys):
    bomb = ["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
    for i, (prev, cur) in enumerate(zip("abcdefgh", "bcdefghi")):
        bomb.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    assert_refused(write_yaml("\n".join(bomb) + "\n"), tmp_path, capsys, "aliases", line=1)


def test_unknown_field_gets_did_you_mean(write_yaml, tmp_path, capsys, tiny_yaml):
    text = tiny_yaml.replace("  - id: hopfield-modern-v1\n", "  - id: hopfield-modern-v1\n    params: {bta: 2}\n")
    assert_refused(write_yaml(text), tmp_path, capsys, "models[1].params.bta", "did you mean 'beta'", line=11)
    text = tiny_yaml.replace("seed: 1", "sed: 1")
    assert_refused(write_yaml(text), tmp_path, capsys, "field 'sed'", "did you mean 'seed'", line=4)


def test_negative_or_zero_size(write_yaml, tmp_path, capsys, tiny_yaml):
    assert_refused(write_yaml(tiny_yaml.replace("size: 64", "size: -3")), tmp_path, capsys,
                   "patterns.size", "greater than 0", line=5)
    assert_refused(write_yaml(tiny_yaml.replace("count: 5", "count: 0")), tmp_path, capsys,
                   "patterns.count", line=5)


def test_more_patterns_than_the_set_supplies(write_yaml, tmp_path, capsys, tiny_yaml):
    text = tiny_yaml.replace("patterns: {kind: random, count: 5, size: 64}",
                             "patterns: {kind: images, names: [apple, heart], count: 3}")
    assert_refused(write_yaml(text), tmp_path, capsys, "patterns", "more patterns", line=5)


def test_missing_file(tmp_path, capsys):
    assert_refused(tmp_path / "nope.yaml", tmp_path, capsys, "no such file")


def test_output_path_escaping_the_folder(write_yaml, tmp_path, capsys, tiny_yaml):
    text = tiny_yaml + "output:\n  figures: ../../elsewhere\n"
    assert_refused(write_yaml(text), tmp_path, capsys, "output.figures", "escapes the output folder", line=13)
    text = tiny_yaml + "output:\n  traces: /etc\n"
    assert_refused(write_yaml(text), tmp_path, capsys, "output.traces", "escapes", line=13)


def test_quantities_are_parsed_and_dimension_checked():
    assert parse_quantity("20 ms", "time").si == pytest.approx(0.02)
    assert parse_quantity("15 Hz", "frequency").si == pytest.approx(15.0)
    assert parse_quantity("-65 mV", "voltage").si == pytest.approx(-0.065)
    assert parse_quantity("1.5e2 us", "time").si == pytest.approx(1.5e-4)
    with pytest.raises(ValueError, match="expected a time.*is a voltage"):
        parse_quantity("10 mV", "time")
    with pytest.raises(ValueError, match="bare number"):
        parse_quantity(10, "time")
    with pytest.raises(ValueError, match="unknown unit"):
        parse_quantity("10 parsecs_per_fortnight", "time")
    with pytest.raises(ValueError):
        parse_quantity("__import__('os').system('true') ms", "time")


def test_validate_command_exit_codes(write_yaml, capsys, tiny_yaml):
    good = write_yaml(tiny_yaml, "good.yaml")
    bad = write_yaml(tiny_yaml.replace("seed: 1", "seed: -1"), "bad.yaml")
    assert run_cli(["validate", good], capsys)[0] == 0
    code, _, err = run_cli(["validate", good, bad], capsys)
    assert code == 2 and "bad.yaml, line 4, field 'seed'" in err


def test_schema_command_prints_json_schema(capsys):
    code, out, _ = run_cli(["schema"], capsys)
    schema = json.loads(out)
    assert code == 0 and schema["title"].startswith("hipposim scenario")
    assert {"patterns", "cues", "models", "seed"} <= set(schema["properties"])


def test_unknown_model_id_suggests_a_name(tiny_yaml):
    with pytest.raises(ScenarioError, match="did you mean 'hopfield-modern'"):
        loads_scenario(tiny_yaml.replace("id: hopfield-modern-v1", "id: hopfield-modrn"))


def test_unversioned_id_resolves_to_newest():
    s = loads_scenario(__import__("tests.conftest", fromlist=["TINY"]).TINY.replace(
        "hopfield-modern-v1", "hopfield-modern"))
    assert s.models[1].id == "hopfield-modern-v1"


def test_same_seed_same_stimulus_and_models_share_it(tiny_yaml):
    a, b = build_stimulus(loads_scenario(tiny_yaml)), build_stimulus(loads_scenario(tiny_yaml))
    np.testing.assert_array_equal(a.patterns, b.patterns)
    np.testing.assert_array_equal(a.cues, b.cues)
    c = build_stimulus(loads_scenario(tiny_yaml.replace("seed: 1", "seed: 2")))
    assert not np.array_equal(a.patterns, c.patterns)


def test_a_voltage_where_a_time_is_expected(write_yaml, tmp_path, capsys, tiny_yaml):
    text = tiny_yaml + "  - id: ca3-spiking-v1\n    label: ca3\n    params:\n      tau_m: 10 mV\n"
    assert_refused(write_yaml(text), tmp_path, capsys, "models[2].params.tau_m", "expected a time",
                   "is a voltage", line=15)


def test_a_bare_number_where_a_quantity_is_expected(write_yaml, tmp_path, capsys, tiny_yaml):
    text = tiny_yaml + "  - id: ca3-spiking-v1\n    label: ca3\n    params:\n      tau_m: 20\n"
    assert_refused(write_yaml(text), tmp_path, capsys, "models[2].params.tau_m", "bare number", line=15)


@pytest.mark.parametrize("mixture, field, fragment", [
    ([{"kind": "flip", "weight": 0.5}, {"kind": "random_mask", "weight": 0.3}], "training.mixture", "sum to 0.8"),
    ([{"kind": "blur", "weight": 1.0}], "training.mixture[0]", "unknown kind 'blur'"),
])
def test_a_training_mixture_that_is_not_a_distribution_is_refused_naming_the_field(mixture, field, fragment):
    import yaml as _yaml

    text = _yaml.safe_dump({"version": 1, "name": "mix", "seed": 0,
                            "patterns": {"kind": "random", "size": 16, "count": 2},
                            "cues": {"kind": "noisy", "fraction": 0.1},
                            "training": {"copies": 4, "mixture": mixture},
                            "models": [{"id": "mlp-baseline-v2", "label": "mlp"}]})
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text)
    msg = str(info.value)
    assert info.value.exit_code == 2 and field in msg and fragment in msg, msg
