"""
Attention in spikes
===================

The spiking memory-neuron circuit of :cite:t:`krotov2021` (``attention-spiking-v1``):
one assembly of memory neurons per stored item, keys and values learned in one shot, and
a shared shunting inhibitory pool. Its normalised assembly rates follow
softmax(beta_eff X^T xi), one attention read. This runs
``scenarios/attention_key_value.yaml`` (keys stored with random values) with 8 instead
of 16 pairs and 4 cues. The full scenario::

    hipposim run scenarios/attention_key_value.yaml
"""
# %%
# A reduced copy of the key -> value scenario
# -------------------------------------------
import tempfile
from pathlib import Path

import yaml

import hipposim
import hipposim.results as hr
from hipposim.plotting.attention_spiking import plot_rates_vs_softmax

root = Path.cwd().parent if (Path.cwd().parent / "scenarios").is_dir() else Path.cwd()
document = yaml.safe_load((root / "scenarios" / "attention_key_value.yaml").read_text())
document["patterns"]["count"] = 8
document["cues"]["targets"] = [0, 1, 2, 3]
scenario = hipposim.loads_scenario(yaml.safe_dump(document), source="attention_key_value.yaml (reduced)")

out = Path(tempfile.mkdtemp()) / "attention_key_value"
hipposim.run_scenario(scenario, out=out, figures=False, progress=False)
run = hr.load(out)
metrics = run.metrics["key_value"]
print({k: round(v, 3) for k, v in metrics.items() if isinstance(v, float) and ("beta" in k or "js" in k)})

# %%
# Memory-layer rates beside the softmax
# -------------------------------------
# Bars: each assembly's share of the memory layer's rate, and softmax(beta_eff X^T xi)
# at the fitted beta_eff, for each cue.
fig = plot_rates_vs_softmax(run.results["key_value"], max_cues=4)
