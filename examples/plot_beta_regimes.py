"""
Beta regimes of attention
=========================

As the inverse temperature beta grows, the modern Hopfield update (one attention step)
goes from the average of all items, through metastable averages over a cluster of similar
items, to single-item retrieval :cite:p:`ramsauer2020`. This runs the modern network and
the one-layer Transformer of ``scenarios/beta_regimes.yaml`` (without its spiking CA3,
one seed) and draws the attention entropy against ln P. The full sweep::

    hipposim sweep scenarios/beta_regimes.yaml
"""
# %%
# A reduced copy: the abstract models only, one seed
# --------------------------------------------------
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import yaml

import hipposim

root = Path.cwd().parent if (Path.cwd().parent / "scenarios").is_dir() else Path.cwd()
document = yaml.safe_load((root / "scenarios" / "beta_regimes.yaml").read_text())
document["models"] = [m for m in document["models"] if not m["id"].startswith("ca3")]
betas = document["sweep"]["zip"]["knobs.beta"]
document["sweep"] = {"grid": {"knobs.beta": betas}, "seeds": [1]}
document["knobs"].pop("inhibition")
scenario = hipposim.loads_scenario(yaml.safe_dump(document), source="beta_regimes.yaml (reduced)")

out = Path(tempfile.mkdtemp()) / "beta_regimes"
ds = hipposim.run_scenario(scenario, out=out, progress=False)
print(sorted(v for v in ds.data_vars if "entropy" in v or "overlap" in v))

# %%
# Entropy of the attention weights and final overlap against beta
# ----------------------------------------------------------------
# ln P is the entropy of uniform attention (averaging); 0 is one item.
P = document["patterns"]["count"]
fig, (ax_h, ax_m) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for model in ds["model"].values:
    sel = ds.sel(model=model)
    beta = sel["knobs.beta"].values
    order = np.argsort(beta)
    if "attention_entropy" in sel:
        ax_h.plot(beta[order], sel["attention_entropy"].values[order], "o-", label=str(model))
    ax_m.plot(beta[order], sel["final_overlap"].values[order], "o-", label=str(model))
ax_h.axhline(np.log(P), ls="--", c="grey", label="ln P (uniform)")
ax_h.set(xscale="log", xlabel="beta (cosine scores)", ylabel="attention entropy (nats)")
ax_m.set(xscale="log", xlabel="beta (cosine scores)", ylabel="final overlap with the target")
ax_h.legend()
_ = ax_m.legend()
