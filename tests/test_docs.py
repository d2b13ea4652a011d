"""The documentation site builds offline with no warning, and covers every shipped scenario and model.

The build runs the gallery (``examples/plot_*.py``) and executes the quickstart notebook, so a
broken example or an API change that breaks one fails here. Warnings are errors (``-W``),
which also catches broken internal references (``{doc}``, ``:func:``, citations, images).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hipposim.registry import registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.xdist_group("docs")


def _scenario_rows() -> set[str]:
    """File names in the first column of the table of docs/scenarios.md."""
    names = set()
    for line in (DOCS / "scenarios.md").read_text().splitlines():
        if line.startswith("|"):
            first = line.split("|")[1]
            names.update(re.findall(r"`([^`]+\.yaml)`", first))
    return names


def test_every_shipped_scenario_has_a_row_in_the_docs():
    rows = _scenario_rows()
    missing = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml") if p.name not in rows)
    assert not missing, (f"scenarios without a row in docs/scenarios.md: {', '.join(missing)}; "
                         f"add '| `NAME.yaml` | what it shows |' to its table")
    stale = sorted(n for n in rows if not (ROOT / "scenarios" / n).is_file())
    assert not stale, f"docs/scenarios.md lists scenarios that do not exist: {', '.join(stale)}"


def test_every_registered_model_has_a_page():
    missing = [m for m in registry.ids() if not (DOCS / "models" / f"{m}.md").is_file()]
    assert not missing, (f"models without a page docs/models/ID.md: {', '.join(missing)}; "
                         f"copy docs/models/hopfield-modern-v1.md and change the id")
    for model_id in registry.ids():
        text = (DOCS / "models" / f"{model_id}.md").read_text()
        assert f"{{hipposim-params}} {model_id}\n" in text, (
            f"docs/models/{model_id}.md does not generate its parameter table: add a "
            f"'```{{hipposim-params}} {model_id}' block")
    stale = sorted(p.stem for p in (DOCS / "models").glob("*.md") if p.stem != "index"
                   and p.stem not in registry.ids())
    assert not stale, f"docs/models has pages of models that are not registered: {', '.join(stale)}"


def test_the_generated_tables_list_every_declared_field():
    """The generator walks the JSON Schema: each field of the scenario schema and of a model's Params gets a row."""
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import hipposim_docs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    from hipposim.scenario.loading import json_schema

    schema = json_schema()
    cue_rows = {r[0]: r for r in hipposim_docs.field_rows(schema["$defs"]["CueSpec"], schema["$defs"])}
    assert set(cue_rows) == set(schema["$defs"]["CueSpec"]["properties"])
    assert cue_rows["fraction"][3] == ">= 0, <= 1" and cue_rows["fraction"][4] == "0.5"
    top = {r[0]: r for r in hipposim_docs.field_rows(schema, schema["$defs"])}
    assert top["name"][4] == "required" and top["models"][1] == "list[ModelSpec]"
    for model_id in registry.ids():
        params = registry.get(model_id).Params
        rows = {r[0]: r for r in hipposim_docs.field_rows(params.model_json_schema(), {})}
        assert set(rows) == set(params.model_fields), model_id
        for name, field in params.model_fields.items():
            default = field.get_default()
            if hasattr(default, "text"):  # a quantity: its unit column names the dimension
                assert rows[name][1] == "quantity" and rows[name][2], (model_id, name)
                assert rows[name][4] == f'"{default.text}"', (model_id, name)


def _sphinx(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sphinx", *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=timeout, env={**os.environ, "MPLBACKEND": "Agg", **(env or {})})


def test_the_site_builds_offline_with_no_warning(tmp_path):
    out = tmp_path / "html"
    # -W: a warning (a broken reference, a docstring that does not render, a failing example) fails the build;
    # -E: read every source again; no intersphinx is configured, so nothing is fetched
    proc = _sphinx("-W", "--keep-going", "-E", "-b", "html", "-d", str(tmp_path / "doctrees"), "docs", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    pages = {p.relative_to(out).as_posix() for p in out.rglob("*.html")}
    for page in ["index.html", "scenario_files.html", "api.html", "references.html", "notebooks/quickstart.html",
                 "auto_examples/index.html"] + [f"models/{m}.html" for m in registry.ids()]:
        assert page in pages, page
    gallery = sorted((ROOT / "examples").glob("plot_*.py"))
    assert len(gallery) >= 5
    for script in gallery:
        html = (out / "auto_examples" / f"{script.stem}.html").read_text()
        # each example ran and drew at least one figure
        assert re.search(r'<img [^>]*src="../_images/sphx_glr_' + script.stem, html), script.name
    # the executed notebook carries its outputs (the run's metrics table)
    assert "final_overlap" in (out / "notebooks" / "quickstart.html").read_text()
    # the scenario reference holds every section of the schema, generated
    reference = (out / "scenario_files.html").read_text()
    for section in ["CueSpec", "ModelSpec", "SweepSpec", "ImagePatterns"]:
        assert f'id="schema-{section.lower()}"' in reference, section
    # a model page holds its generated parameter table with units
    v3 = (out / "models" / "ca3-spiking-v3.html").read_text()
    assert "tau_adapt" in v3 and "time (ms)" in v3
    # pages open from disk: no script or style sheet from the web (the executed notebook excepted, whose
    # MathJax and animation player come from myst-nb and matplotlib)
    remote = re.compile(r'<(?:script|link)[^>]+(?:src|href)="https?://')
    fetching = sorted(p for p in pages if p != "notebooks/quickstart.html" and remote.search((out / p).read_text()))
    assert not fetching, fetching
    # references resolve to the one bibliography
    assert "Ramsauer" in (out / "references.html").read_text()


def test_a_build_without_the_docs_extra_names_the_extra(tmp_path):
    """Without the docs extra's packages, conf.py stops with one line that names the extra."""
    hide = tmp_path / "hide"
    hide.mkdir()
    # a sitecustomize that makes the gallery extension unimportable, as on a checkout without hipposim[docs]
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('sphinx_gallery',):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Hide())\n")
    proc = _sphinx("-b", "html", "docs", str(tmp_path / "html"),
                   env={"PYTHONPATH": os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])}, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ['the documentation needs sphinx-gallery: pip install "hipposim[docs]"'], \
        proc.stderr
    assert "Traceback" not in proc.stdout


def test_every_test_the_guarantees_name_exists():
    """Each row of docs/guarantees.md names its test; a renamed or removed test fails here, naming it."""
    text = (DOCS / "guarantees.md").read_text()
    named = re.findall(r"`(?:(test_\w+\.py)::)?(test_\w+)(?:\[[^\]]*\])?`", text)
    assert len(named) >= 30
    missing = []
    for file, name in named:
        files = [ROOT / "tests" / (file or "test_safety.py")]
        if not any(re.search(rf"^(async )?def {name}\(", f.read_text(), re.MULTILINE) for f in files if f.is_file()):
            missing.append(f"{file or 'test_safety.py'}::{name}")
    assert not missing, f"docs/guarantees.md names tests that do not exist: {', '.join(missing)}"
