"""Figures drawn from results only; nothing here ever simulates.

Each ``plot_*`` function takes results (labeled datasets) and an optional
matplotlib target and returns the figure. :func:`plot_run` draws the standard
set for a run folder; ``hipposim plot RUN_DIR`` calls it on saved results.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..analysis.recall import other_overlap, success_level, target_overlap
from . import attention_spiking, spiking
from .style import LAYOUT, MUTED, PALETTE, mpl as _mpl

def model_colour(results: Mapping[str, Any], label: str) -> str:
    """A model's colour: its position among the run's models in :data:`PALETTE`, the same in every figure."""
    return PALETTE[list(results).index(label) % len(PALETTE)]


def _step_label(ds) -> str:
    unit = str(ds["step"].attrs.get("units", ds.attrs.get("step_unit", "update")))
    return {"update": "update step", "layer": "layer", "ms": "time in recall (ms)"}.get(unit, unit)


def plot_overlap_trajectories(results: Mapping[str, Any], axes=None):
    """Overlap with the target (coloured) and the largest other overlap (grey) per model."""
    plt = _mpl()
    labels = list(results)
    if axes is None:
        fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 3.4), squeeze=False,
                                 layout=LAYOUT, sharey=True)
        axes = axes[0]
    fig = axes[0].figure
    for k, (label, ax) in enumerate(zip(labels, axes)):
        ds = results[label]
        steps = ds["step"].values
        traj, other = target_overlap(ds), other_overlap(ds)
        colour = model_colour(results, label)
        for c in range(traj.shape[0]):
            ax.plot(steps, other[c], color=MUTED, lw=1, alpha=0.7,
                    label="best other item" if c == 0 else None)
        for c in range(traj.shape[0]):
            ax.plot(steps, traj[c], color=colour, lw=2, alpha=0.85, marker="o" if len(steps) < 15 else None,
                    ms=4, label="target" if c == 0 else None)
        ax.axhline(1.0, color="k", lw=0.6, ls=":")
        ax.set_title(label)
        ax.set_xlabel(_step_label(ds))
        ax.set_ylim(-0.05 if np.nanmin(traj) >= -0.05 else -1.05, 1.05)
        if len(steps) < 15 and ds["step"].attrs.get("units") != "ms":
            ax.set_xticks(steps)
    axes[0].set_ylabel("overlap m")
    axes[0].legend(loc="best", frameon=False)
    fig.suptitle("Retrieval: overlap with the cued item")
    return fig


def plot_energy(results: Mapping[str, Any], axes=None):
    """Energy per step for every model that defines one (each cue a line)."""
    plt = _mpl()
    labels = [l for l in results if np.isfinite(results[l]["energy"].values).any()]
    if not labels:
        return None
    if axes is None:
        fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 3.2), squeeze=False,
                                 layout=LAYOUT)
        axes = axes[0]
    fig = axes[0].figure
    for k, (label, ax) in enumerate(zip(labels, axes)):
        ds = results[label]
        e = ds["energy"].values
        for c in range(e.shape[0]):
            ax.plot(ds["step"].values, e[c], color=model_colour(results, label), lw=1.8, alpha=0.8,
                    marker="o" if e.shape[1] < 15 else None, ms=4)
        ax.set_title(label)
        ax.set_xlabel(_step_label(ds))
        ax.set_ylabel("energy E")
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle("Energy descent")
    return fig


def _image(vec: np.ndarray, shape, coding: str) -> np.ndarray:
    img = np.asarray(vec, dtype=float).reshape(shape)
    return (img + 1) / 2 if coding == "bipolar" else img


def plot_image_recall(results: Mapping[str, Any], stimulus, cue: int = 0, max_steps: int = 6):
    """Stored item, cue, and each model's recalled image at each step, as a grid."""
    if stimulus.image_shape is None:
        return None
    plt = _mpl()

    cmap = "gray_r"
    labels = list(results)
    step_cols = max_steps
    ncols = 2 + step_cols
    fig, axes = plt.subplots(len(labels), ncols, figsize=(1.35 * ncols, 1.45 * len(labels) + 0.4),
                             squeeze=False, layout=LAYOUT)
    target = int(stimulus.targets[cue])
    shape, coding = stimulus.image_shape, stimulus.coding
    cue_img = _image(stimulus.cues[cue], shape, coding)
    if coding == "bipolar":
        cue_img = np.where(stimulus.known[cue].reshape(shape), cue_img, 0.5)
    for r, label in enumerate(labels):
        ds = results[label]
        states = ds["state"].values[cue]
        n = states.shape[0]
        picks = np.unique(np.linspace(0, n - 1, min(step_cols, n)).round().astype(int))
        row = [(_image(stimulus.patterns[target], shape, coding), "stored"), (cue_img, "cue")]
        unit = ds["step"].attrs.get("units", "update")
        for i in picks:
            step = ds["step"].values[i]
            name = {"ms": f"{step:.0f} ms", "layer": f"layer {step:.0f}"}.get(unit, f"step {step:.0f}")
            row.append((_image(states[i], shape, coding), name))
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            for s in ax.spines.values():
                s.set_visible(False)
            if c < len(row):
                img, title = row[c]
                ax.imshow(np.clip(img, 0, 1), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(title, fontsize=8, fontweight="normal")
                if c < 2:
                    for s in ax.spines.values():
                        s.set_visible(True), s.set_color("0.7")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9, fontweight="bold")
    fig.suptitle(f"Pattern completion: '{stimulus.names[target]}' from its cue (grey = hidden)")
    return fig


def plot_run(run, folder, subdir: str = "figures", formats: list[str] | tuple[str, ...] = ("png",),
             animation: bool = True) -> list[str]:
    """Draw and save the standard figures of a run; returns the written paths (relative).

    With ``animation`` (the default) it also writes ``<subdir>/recall.gif``,
    every model's recall of every cue frame by frame
    (:mod:`hipposim.plotting.animation`).
    """
    plt = _mpl()
    written: list[str] = []

    def save(fig, name: str) -> None:
        if fig is None:
            return
        for fmt in formats:
            rel = f"{subdir}/{name}.{fmt}"
            folder.save_figure(fig, rel)
            written.append(rel)
        plt.close(fig)

    results = run.results
    if run.stimulus.sequences is not None and results:
        from .sequence import plot_sequence_positions, plot_sequence_recall

        level = float(run.scenario.get("analysis", {}).get("sequence_overlap", 0.5))
        save(plot_sequence_positions(results, run.stimulus, level), "sequence_positions")
        save(plot_sequence_recall(results, run.stimulus, 0, level), "sequence_recall")
    save(plot_overlap_trajectories(results), "overlap")
    save(plot_energy(results), "energy")
    if run.stimulus.image_shape is not None:
        seen = set()
        for c, t in enumerate(run.stimulus.targets):
            if t in seen or len(seen) >= 3:
                continue
            seen.add(int(t))
            save(plot_image_recall(results, run.stimulus, cue=c), f"recall_{run.stimulus.names[int(t)]}")
    for label, ds in results.items():
        if attention_spiking.has_attention_spiking(ds):
            save(attention_spiking.plot_rates_vs_softmax(ds), f"{label}_rates_vs_softmax")
        if all(name in ds for name in spiking.REQUIRES):
            analysis = run.scenario.get("analysis", {})
            level = success_level(ds, analysis.get("success_overlap", 0.9), analysis.get("code_success_overlap", 0.8))
            spiking.plot_all(ds, run.stimulus, lambda fig, name, _l=label: save(
                fig, name.replace("ca3_", f"{_l}_", 1) if name.startswith("ca3_") else f"{_l}_{name}"),
                level=level)
    if animation and results:
        from .animation import save_recall_gif

        written.append(save_recall_gif(results, run.stimulus, folder, f"{subdir}/recall.gif"))
    return written
