"""
Brain against Transformer
=========================

The flagship comparison: half-hidden images recalled by a spiking CA3 (``ca3-spiking-v3``),
classical and modern Hopfield networks, a Transformer block whose attention reads the
stored items, and a trained MLP baseline, on the same items, cues and seed. This runs
``scenarios/brain_vs_transformer.yaml`` on one cue instead of three, without the
autoencoder and the spiking attention circuit. The full comparison, with its report::

    hipposim compare scenarios/brain_vs_transformer.yaml
"""
# %%
# A reduced copy of the flagship
# ------------------------------
import tempfile
from pathlib import Path

import yaml

import hipposim
import hipposim.results as hr
from hipposim.plotting.compare import plot_trajectories

root = Path.cwd().parent if (Path.cwd().parent / "scenarios").is_dir() else Path.cwd()
document = yaml.safe_load((root / "scenarios" / "brain_vs_transformer.yaml").read_text())
document["models"] = [m for m in document["models"] if m["id"] not in ("autoencoder-v1", "attention-spiking-v1")]
document["cues"]["targets"] = ["apple"]
scenario = hipposim.loads_scenario(yaml.safe_dump(document), source="brain_vs_transformer.yaml (reduced)")

out = Path(tempfile.mkdtemp()) / "brain_vs_transformer"
hipposim.run_scenario(scenario, out=out, figures=False, progress=False)
run = hr.load(out)
for label, m in run.metrics.items():
    print(f"{label:12s} item overlap {m['item_overlap']:.2f}  hidden-pixel accuracy {m['probed_accuracy']:.2f}")

# %%
# Every model's overlap with the target on one step axis
# ------------------------------------------------------
# Steps are 10-ms bins for CA3, updates for the Hopfield networks and layers for the
# Transformer; CA3's own code correlation has a panel of its own.
fig = plot_trajectories(run.results, run.stimulus, success_overlap=0.9)

# %%
# The recalled image, step by step
# --------------------------------
# One row per model; the columns are its steps.
from hipposim.plotting.run import plot_image_recall

fig = plot_image_recall(run.results, run.stimulus, cue=0)
