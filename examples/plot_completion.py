"""
Completion: half an apple recalled
==================================

Four built-in 16x16 images are stored; the cue hides the left half of the apple and
each memory fills it in. This runs ``scenarios/apple_completion.yaml`` with a smaller
spiking CA3 (300 instead of 1,000 cells), so it takes seconds. The full scenario::

    hipposim run scenarios/apple_completion.yaml
"""
# %%
# Load the shipped scenario and shrink its spiking network
# --------------------------------------------------------
# A scenario is data: read the YAML, change a field, and validate it again with
# :func:`hipposim.loads_scenario` (the same checks as ``hipposim validate``).
import tempfile
from pathlib import Path

import yaml

import hipposim
import hipposim.results as hr

root = Path.cwd().parent if (Path.cwd().parent / "scenarios").is_dir() else Path.cwd()
document = yaml.safe_load((root / "scenarios" / "apple_completion.yaml").read_text())
document["models"][0]["params"] = {"n_e": 300, "n_i": 60, "n_ca1": 150, "n_ca1_i": 30}
scenario = hipposim.loads_scenario(yaml.safe_dump(document), source="apple_completion.yaml (reduced)")
print([m.label for m in scenario.models])

# %%
# Run it and read the metrics
# ---------------------------
out = Path(tempfile.mkdtemp()) / "apple_completion"
hipposim.run_scenario(scenario, out=out, figures=False, progress=False)
run = hr.load(out)
for label, m in run.metrics.items():
    print(f"{label:10s} item overlap {m['item_overlap']:.2f}  hidden-pixel accuracy {m['probed_accuracy']:.2f}")

# %%
# The recalled image, step by step
# --------------------------------
# Each row is a model; columns are its steps (updates for the Hopfield networks,
# 10-ms bins for the spiking CA3).
from hipposim.plotting.run import (
    plot_energy,
    plot_image_recall,
    plot_overlap_trajectories,
)

fig = plot_image_recall(run.results, run.stimulus, cue=0)

# %%
# Overlap with the apple
# ----------------------
# m = xi.s/N of each model's state with the apple, against its own steps (for the
# spiking CA3: the correlation of its binned rates with the apple's CA3 code).
fig = plot_overlap_trajectories(run.results)

# %%
# Energy
# ------
# The Hopfield networks' energies never rise along their updates.
fig = plot_energy(run.results)
