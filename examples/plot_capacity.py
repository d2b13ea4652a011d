"""
Capacity against theory
=======================

Recall of the classical and the modern Hopfield network against the load P/N, with the
classical network's critical load alpha_c = 0.138 :cite:p:`amit1985` drawn on.
This is ``scenarios/hopfield_capacity.yaml`` on fewer loads, seeds and cues (N = 500, 7 loads,
2 seeds, 10 cues per point). The full sweep, on every core::

    hipposim sweep scenarios/hopfield_capacity.yaml
"""
# %%
# A reduced copy of the sweep
# ---------------------------
import tempfile
from pathlib import Path

import yaml

import hipposim
from hipposim.plotting.sweep import plot_capacity

root = Path.cwd().parent if (Path.cwd().parent / "scenarios").is_dir() else Path.cwd()
document = yaml.safe_load((root / "scenarios" / "hopfield_capacity.yaml").read_text())
document["sweep"]["grid"]["patterns.count"] = [20, 40, 55, 65, 75, 90, 120]
document["sweep"]["seeds"] = {"start": 0, "count": 2}
document["cues"]["targets"] = list(range(10))
scenario = hipposim.loads_scenario(yaml.safe_dump(document), source="hopfield_capacity.yaml (reduced)")

# %%
# Run the sweep (serially, in this process) and draw the curves
# -------------------------------------------------------------
# :func:`hipposim.run_scenario` runs a scenario with a ``sweep`` section point by point
# and returns the aggregated dataset (task x model); ``hipposim sweep`` runs the same
# tasks on worker processes or a Dask cluster.
out = Path(tempfile.mkdtemp()) / "capacity"
ds = hipposim.run_scenario(scenario, out=out, progress=False)
print(ds["success_rate"].sizes)
fig = plot_capacity(ds)
