"""examples/quickstart.ipynb runs top to bottom (the flagship scenario) with nbclient."""
from __future__ import annotations

import re

import pytest
import yaml

from .conftest import ROOT, SCENARIOS

import nbclient  # noqa: E402  (the test extra installs hipposim[export])
import nbformat  # noqa: E402
pytest.importorskip("brian2")


def _outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/html", ""))
        parts.append(data.get("text/plain", ""))
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


@pytest.mark.brian2
def test_quickstart_notebook_runs_the_flagship(tmp_path, monkeypatch):
    monkeypatch.setenv("HIPPOSIM_SCENARIOS", str(SCENARIOS))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "examples" / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any failing cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    text = [_outputs(c) for c in code]
    flagship = yaml.safe_load((SCENARIOS / "brain_vs_transformer.yaml").read_text())
    assert f"brain_vs_transformer - {len(flagship['models'])} models, seed {flagship['seed']}" in text[0]
    # the run shows itself as a metrics table with figures
    assert "<table" in text[1] and "final_overlap" in text[1] and "data:image/svg+xml" in text[1]
    assert "'energy', 'overlap', 'recall'" in text[2]
    # the animation is an inline player
    assert "<script" in text[3] and "anim" in text[3].lower()
    # Elephant's mean rate equals hipposim's (both printed to 2 decimals)
    m = re.search(r"mean rate ([\d.]+) Hz \(hipposim: ([\d.]+) Hz\)", text[4])
    assert m and m.group(1) == m.group(2) and float(m.group(1)) > 0
    assert (tmp_path / "runs" / "brain_vs_transformer.nwb").stat().st_size > 0
    assert (tmp_path / "runs" / "brain_vs_transformer" / "manifest.json").exists()
