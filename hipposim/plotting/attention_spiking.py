"""Figures of the spiking attention circuit (``attention-spiking-v1``), drawn from its result dataset or from a
sweep's aggregated dataset."""
from __future__ import annotations

import numpy as np

from ..analysis.attention_spiking import REQUIRES
from .style import PALETTE
from .style import mpl as _mpl


def has_attention_spiking(ds) -> bool:
    """True when ``ds`` is a result of the spiking attention circuit."""
    return all(name in ds for name in REQUIRES)


def plot_rates_vs_softmax(ds, max_cues: int = 6):
    """Per cue: normalised memory-layer rates beside softmax(beta_eff X^T xi), one pair of bars per item.

    The panel title gives the fitted beta_eff and the Jensen-Shannon divergence between the two (bits).
    """
    from ..functional.entropy import js_divergence
    from ..functional.retrieval import softmax

    plt = _mpl()
    rates = ds["memory_rate"].values
    scores = ds["scores"].values
    beta = ds["beta_eff"].values
    targets = ds["target"].values.astype(int)
    names = [str(n) for n in ds["pattern"].values]
    n_cues = min(len(beta), max_cues)
    cols = min(3, n_cues)
    rows = int(np.ceil(n_cues / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows), squeeze=False)
    x = np.arange(len(names))
    for c in range(rows * cols):
        ax = axes.flat[c]
        if c >= n_cues:
            ax.axis("off")
            continue
        p = rates[c] / rates[c].sum()
        q = softmax(beta[c] * scores[c])
        ax.bar(x - 0.2, p, width=0.4, color=PALETTE[0], label="memory-layer rates (normalised)")
        ax.bar(x + 0.2, q, width=0.4, color=PALETTE[1], alpha=0.8, label=r"softmax($\beta_{eff} X^T\xi$)")
        ax.axvline(targets[c], color="0.6", lw=0.8, ls=":")
        ax.set_title(f"cue {c} (target '{names[targets[c]]}'): "
                     f"$\\beta_{{eff}}$ = {beta[c]:.3g}, JS = {float(js_divergence(p, q)):.3f} bit", fontsize=9)
        ax.set_ylim(0, 1.05)
        ax.set_xticks(x, names if len(names) <= 16 else [str(i) for i in x], rotation=90 if len(names) > 6 else 0,
                      fontsize=7)
        if c % cols == 0:
            ax.set_ylabel("weight on each item")
    axes.flat[0].legend(frameon=False, fontsize=8, loc="upper right")
    label = ds.attrs.get("label", "attention-spiking")
    fig.suptitle(f"{label}: memory-layer rates beside the softmax at the fitted inverse temperature "
                 f"(inhibition {ds.attrs.get('inhibition', float('nan')):g})", y=1.0)
    fig.tight_layout()
    return fig


def plot_beta_vs_inhibition(sweep, x_name: str = "knobs.inhibition", bounds: tuple[float, float] = (1e-5, 10.0)):
    """Fitted beta_eff (median over cues, mean over seeds) against the inhibition knob, one line per load,
    for every model of a sweep that records a fitted beta_eff; dashed, the circuit's theory
    J_k / (2 n_vis Delta (1 + g_sh)) where the sweep recorded it. Log-log axes. Fits at the search
    ``bounds`` (one-hot or flat rates, where beta is only bounded) are left out. Dotted, ``beta_pred``: the
    same law at the pool rate of the mean-field fixed point, solved from the parameters before the run
    (:func:`hipposim.circuits.attention.predict_pool`)."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    models = [str(m) for m in sweep["model"].values
              if np.isfinite(sweep["beta_eff"].sel(model=m).values).any()]
    loads = np.unique(sweep["load"].values)
    x_all = sweep[x_name].values
    xs = np.unique(x_all)
    k = 0
    for model in models:
        b = sweep["beta_eff"].sel(model=model).values.astype(float)
        b = np.where((b > bounds[0] * 1.01) & (b < bounds[1] * 0.99), b, np.nan)
        theory = (sweep["beta_theory"].sel(model=model).values.astype(float) if "beta_theory" in sweep
                  else np.full(b.shape, np.nan))
        pred = (sweep["beta_pred"].sel(model=model).values.astype(float) if "beta_pred" in sweep
                else np.full(b.shape, np.nan))
        for load in loads:
            colour = PALETTE[k % len(PALETTE)]
            for values, style, label in ((b, "o-", f"{model}, load P/N = {load:.3g}: fitted"),
                                         (theory, "--", f"{model}, load P/N = {load:.3g}: measured pool"),
                                         (pred, ":", f"{model}, load P/N = {load:.3g}: predicted")):
                sel = [(x_all == u) & (sweep["load"].values == load) for u in xs]
                mean = np.array([np.nanmean(values[s]) if np.isfinite(values[s]).any() else np.nan for s in sel])
                if np.isfinite(mean).any():
                    ax.plot(xs, mean, style, color=colour, lw=1.8 if style == "o-" else 1.2, label=label)
            k += 1
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("inhibition (factor on the pool's shunting gain)")
    ax.set_ylabel(r"$\beta_{eff}$ (per unit of $X^T\xi$)")
    ax.set_title(r"Inhibition acts as a temperature: $\beta_{eff}$ = $J_k$ / (2 $n_{vis}$ $\Delta$ (1 + $g_{sh}$))",
                 fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    ax.annotate("median over cues; fits at a search bound (one-hot or flat rates) left out;\n"
                "dashed: theory with g_sh from the measured pool rate; dotted: predicted before the run (pool mean field)", (0.01, 0.01), xycoords="figure fraction",
                fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
