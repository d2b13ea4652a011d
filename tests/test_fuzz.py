"""Fuzzing: generated scenario documents against `hipposim validate`, generated manifests against
`run --overwrite`, and a tree of damaged run and sweep folders against `plot` and `compare`.

Every case must end with exit 0 or 2 (1 for a runtime fault in plot/compare), a message
without a traceback, within its time (hypothesis deadline) and memory budget (tracemalloc peak).
Set HIPPOSIM_FUZZ_EXAMPLES to run more examples than the CI default; the counts are printed
with ``pytest -s``.
"""
from __future__ import annotations

import json
import os
import shutil
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hipposim.cli import main
from hipposim.run.folder import manifest_problem

from .conftest import SCENARIOS, TINY, run_cli

N = int(os.environ.get("HIPPOSIM_FUZZ_EXAMPLES", "0"))
MEMORY_BUDGET = 200 * 2 ** 20
TIME_BUDGET_MS = 5000
STATS: Counter = Counter()


def fuzz_settings(default: int):
    return settings(max_examples=N or default, deadline=TIME_BUDGET_MS, derandomize=not N,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


# --------------------------------------------------------------------------- generated values

SPECIAL_NUMBERS = [0, -1, 1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, 2 ** 70, -(2 ** 63), 10 ** 9, 10 ** 30, 10 ** 300,
                   0.0, -0.0, 1e-320, 1e308, float("inf"), float("-inf"), float("nan"), 0.5, 1.5]
SPECIAL_TEXT = ["0 ms", "-0.1 ms", "inf ms", "nan ms", "1e400 ms", "20 mV", "yes", "no", "on", "~", "",
                "all", "p0", "p999999999999", "apple", "../../etc", "/etc", "é\u202e\u0000x", "🧠" * 50,
                "!!python/object:os.system", "${HOME}", "{{7*7}}", "1e9", "1.0e+9", ".inf", "-.inf", ".nan"]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.sampled_from(SPECIAL_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.sampled_from(SPECIAL_TEXT),
)
keys = st.one_of(st.sampled_from(["kind", "count", "size", "targets", "repeats", "beta", "seed", "seeds", "grid",
                                  "zip", "params", "id", "label", "n_e", "p_ee", "dt", "max_steps", "names",
                                  "fraction", "other", "models[0].params.beta", "patterns.count", "start"]),
                 st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12))
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)), max_leaves=25)


def base_documents() -> list[dict]:
    docs = [yaml.safe_load(TINY)]
    docs += [yaml.safe_load(p.read_text()) for p in sorted(SCENARIOS.glob("*.yaml"))]
    return docs


BASES = base_documents()


def _warm_up() -> None:
    """Import every model (Brian2 included) once, so that the time budget measures validation, not imports."""
    from hipposim.registry import registry

    for model_id in registry.ids():
        registry.get(model_id)
    assert run_cli(["validate", SCENARIOS / "ca3_apple.yaml"])[0] == 0


_warm_up()


def paths_of(node, prefix=()):
    """Every path (tuple of keys/indices) into a document."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths_of(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths_of(v, prefix + (i,))


@st.composite
def mutated_documents(draw):
    """A shipped (valid) scenario with a few fields replaced, deleted or added."""
    doc = json.loads(json.dumps(draw(st.sampled_from(BASES))))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in paths_of(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "wrap"]))
        last = path[-1]
        if action == "replace":
            parent[last] = draw(values)
        elif action == "delete":
            del parent[last]
        elif action == "wrap":
            parent[last] = [parent[last]] if draw(st.booleans()) else {"value": parent[last]}
        elif isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
        else:
            parent.append(draw(values))
    return doc


documents = st.one_of(mutated_documents(), mutated_documents(), values)


def dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=10 ** 6)


def validate_in_budget(path: Path) -> tuple[int, str]:
    tracemalloc.start()
    try:
        code, _, err = run_cli(["validate", path])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BUDGET, f"validate allocated {peak / 2 ** 20:.0f} MB"
    return code, err


def check_outcome(code: int, err: str, kind: str) -> None:
    STATS[f"{kind}: tried"] += 1
    STATS[f"{kind}: exit {code}"] += 1
    assert code in (0, 2), err
    assert "Traceback" not in err, err
    if code == 2:
        first = err.strip().splitlines()[0]
        assert first, "a refusal must say why"


@fuzz_settings(120)
@given(doc=documents)
def generated_scenarios(doc, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    code, err = validate_in_budget(path)
    check_outcome(code, err, "scenario documents")
    if code == 2:
        assert str(path) in err, err  # the message names the file


@fuzz_settings(40)
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                      st.sampled_from(["a: " + "[" * 600, "- " * 2000, "{" * 5000, "&a [*a]", "!!binary x",
                                       "a: !!python/name:os.system\n", "---\n---\n", "\ufeffname: x",
                                       "seed: 0x7fffffffffffffffff", "seed: 1_000", "seed: 0o777",
                                       "count: " + "9" * 5000])))
def generated_yaml_texts(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "t.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    code, err = validate_in_budget(path)
    check_outcome(code, err, "YAML texts")


# --------------------------------------------------------------------------- manifests against --overwrite

REQUIRED = ["hipposim", "kind", "status", "started", "versions", "scenario", "seed"]


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scn") / "tiny.yaml"
    path.write_text(TINY)
    return path


@fuzz_settings(40)
@given(broken=st.sampled_from(REQUIRED), replacement=st.one_of(st.just("<delete>"), values),
       extra=st.dictionaries(keys, values, max_size=3))
def broken_manifests(broken, replacement, extra, tmp_path_factory, scenario_file):
    manifest = {"hipposim": "0.1.0", "kind": "run", "status": "complete", "started": "2026-01-01T00:00:00+00:00",
                "versions": {"hipposim": "0.1.0"}, "scenario": {"name": "x"}, "seed": 1, **extra}
    if replacement == "<delete>":
        manifest.pop(broken)
    else:
        manifest[broken] = replacement
    if broken == "hipposim":
        manifest["versions"] = {}  # the version key is not recoverable elsewhere
    if manifest_problem(manifest) is None:
        return  # the mutation happened to keep a valid manifest (e.g. another valid status)
    d = tmp_path_factory.mktemp("victim")
    text = json.dumps(manifest)
    (d / "manifest.json").write_text(text)
    (d / "thesis.tex").write_text("precious")
    code, _, err = run_cli(["run", scenario_file, "--out", d, "--overwrite", "--quiet", "--no-figures"])
    STATS["broken manifests under --overwrite: tried"] += 1
    assert code == 2 and "refusing to replace" in err, err
    assert (d / "thesis.tex").read_text() == "precious" and (d / "manifest.json").read_text() == text
    STATS["broken manifests under --overwrite: refused, nothing lost"] += 1


def exercised(key: str, property_test, **fixtures) -> int:
    """Run a property test over its generated examples; return how many reached their checks.

    The count is asserted where it is taken, so it holds however pytest-xdist spreads the tests.
    """
    before = STATS[key]
    property_test(**fixtures)
    tried = STATS[key] - before
    print(f"  {key}: {tried}")
    assert tried > 0, f"no generated example reached the checks of {key!r}"
    return tried


def test_generated_scenarios_exit_0_or_2_without_traceback(tmp_path_factory):
    exercised("scenario documents: tried", generated_scenarios, tmp_path_factory=tmp_path_factory)


def test_generated_yaml_text_exits_0_or_2_without_traceback(tmp_path_factory):
    exercised("YAML texts: tried", generated_yaml_texts, tmp_path_factory=tmp_path_factory)


def test_overwrite_never_clears_a_folder_whose_manifest_is_not_hipposims(tmp_path_factory, scenario_file):
    tried = exercised("broken manifests under --overwrite: tried", broken_manifests,
                      tmp_path_factory=tmp_path_factory, scenario_file=scenario_file)
    assert STATS["broken manifests under --overwrite: refused, nothing lost"] >= tried


# --------------------------------------------------------------------------- damaged folders

@pytest.fixture(scope="module")
def good_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("good")
    (root / "tiny.yaml").write_text(TINY)
    (root / "sweep.yaml").write_text(TINY + "sweep:\n  grid:\n    cues.fraction: [0.05, 0.1]\n")
    assert main(["run", str(root / "tiny.yaml"), "--out", str(root / "run"), "--quiet", "--no-figures"]) == 0
    assert main(["sweep", str(root / "sweep.yaml"), "--out", str(root / "sweep"), "--serial", "--quiet"]) == 0
    return root


def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


def _garbage(p: Path):
    p.write_bytes(os.urandom(4096))


def _edit_manifest(change):
    def apply(p: Path):
        m = json.loads(p.read_text())
        change(m)
        p.write_text(json.dumps(m))
    return apply


# name -> (source folder, file, damage, fragment the message must contain)
DAMAGE = {
    "manifest truncated": ("run", "manifest.json", _truncate, "manifest.json"),
    "manifest empty object": ("run", "manifest.json", lambda p: p.write_text("{}"), "not a valid hipposim manifest"),
    "manifest is a list": ("run", "manifest.json", lambda p: p.write_text("[1, 2]"), "not a valid hipposim"),
    "manifest missing": ("run", "manifest.json", lambda p: p.unlink(), "no manifest.json"),
    "manifest not utf-8": ("run", "manifest.json", lambda p: p.write_bytes(b"\xff\xfe{"), "manifest.json"),
    "manifest model without trace": ("run", "manifest.json",
                                     _edit_manifest(lambda m: m["models"][0].pop("trace")), "without label or trace"),
    "manifest trace escapes": ("run", "manifest.json",
                               _edit_manifest(lambda m: m["models"][0].update(trace="../../../etc/hostname")),
                               "escapes the output folder"),
    "manifest figures escape": ("run", "manifest.json",
                                _edit_manifest(lambda m: m["scenario"]["output"].update(figures="../../x")),
                                "escapes the output folder"),
    "manifest status running": ("run", "manifest.json", _edit_manifest(lambda m: m.update(status="running")),
                                "did not finish"),
    "metrics truncated": ("run", "metrics.json", _truncate, "metrics.json"),
    "metrics missing": ("run", "metrics.json", lambda p: p.unlink(), "metrics.json"),
    "metrics a number": ("run", "metrics.json", lambda p: p.write_text("3"), "metrics.json"),
    "trace truncated": ("run", "traces/modern.nc", _truncate, "modern.nc"),
    "trace garbage": ("run", "traces/classical.nc", _garbage, "classical.nc"),
    "trace empty": ("run", "traces/classical.nc", lambda p: p.write_bytes(b""), "classical.nc"),
    "trace missing": ("run", "traces/modern.nc", lambda p: p.unlink(), "'modern'"),
    "trace is a folder": ("run", "traces/modern.nc", lambda p: (p.unlink(), p.mkdir()), "modern.nc"),
    "stimulus garbage": ("run", "stimulus.nc", _garbage, "stimulus.nc"),
    "stimulus missing": ("run", "stimulus.nc", lambda p: p.unlink(), "stimulus.nc"),
    "sweep results truncated": ("sweep", "sweep.nc", _truncate, "sweep.nc"),
    "sweep results missing": ("sweep", "sweep.nc", lambda p: p.unlink(), "sweep.nc"),
    "sweep folder as is": ("sweep", "points.json", lambda p: None, "sweep"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_folders_give_a_message_under_plot_and_compare(case, good_folders, tmp_path):
    source, relative, damage, fragment = DAMAGE[case]
    folder = tmp_path / source
    shutil.copytree(good_folders / source, folder)
    damage(folder / relative)
    commands = {"plot": ["plot", folder], "compare": ["compare", folder, "--out", tmp_path / "cmp", "--quiet"]}
    if source == "sweep" and case != "sweep folder as is":
        commands.pop("compare")  # compare refuses every sweep folder, damaged or not (the case below)
    if case in ("sweep folder as is", "manifest figures escape"):
        commands.pop("plot" if source == "sweep" else "compare")  # the other command does not read it
    for name, args in commands.items():
        code, _, err = run_cli(args)
        STATS["damaged folders: tried"] += 1
        assert code in (1, 2), f"{name}: {err}"
        assert "Traceback" not in err, err
        lines = [line for line in err.strip().splitlines() if line.strip()]
        assert len(lines) == 1, f"{name}: {err}"
        assert fragment in err, f"{name}: {err}"
        STATS["damaged folders: one-line message"] += 1
    assert not (tmp_path / "cmp" / "report.html").exists()

