"""Recall, frame by frame: every model's reconstruction of every cue side by side, as an animation.

Rows are models, columns are cues. Models count their steps differently
(updates, layers, ms), so frames run along the *shared step axis* of recall
progress: frame ``k`` of ``F`` shows each model at step ``round(k (n - 1) /
(F - 1))`` of its own ``n`` steps, and each panel's title names that step in
the model's unit, the item the state is closest to and its overlap with the
cued item. A spiking model gets an extra row: the CA3 raster of each cue's
recall window, drawn up to the frame's time.

Written with matplotlib's animation module and its Pillow writer (GIF, no
ffmpeg needed).
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from .style import PALETTE, mpl as _mpl

MAX_CUES = 4


def _grid(vec: np.ndarray, shape, coding: str) -> np.ndarray:
    v = np.asarray(vec, dtype=float)
    v = (v + 1) / 2 if coding == "bipolar" else v
    if shape is None:
        side = int(np.ceil(np.sqrt(v.size)))
        out = np.full(side * side, np.nan)
        out[: v.size] = v
        return out.reshape(side, side)
    return v.reshape(shape)


def frame_steps(n_steps: int, n_frames: int) -> np.ndarray:
    """Step index of a model with ``n_steps`` steps at each of ``n_frames`` frames (shared progress axis)."""
    if n_frames <= 1:
        return np.array([n_steps - 1])
    return np.round(np.linspace(0, n_steps - 1, n_frames)).astype(int)


def _step_name(ds, i: int) -> str:
    unit = str(ds["step"].attrs.get("units", ds.attrs.get("step_unit", "update")))
    v = float(ds["step"].values[i])
    return {"ms": f"{v:.0f} ms", "layer": f"layer {v:.0f}"}.get(unit, f"step {v:.0f}")


def _is_spiking(ds) -> bool:
    return all(k in ds for k in ("ca3_e_spike_time", "ca3_e_spike_index", "recall_start"))


class RecallAnimation:
    """A recall animation: ``.figure``, ``.animation`` (matplotlib FuncAnimation), ``.save(path)``.

    In Jupyter it displays as an inline JavaScript player.
    """

    def __init__(self, figure, animation, n_frames: int, fps: float, draw=None):
        self.figure, self.animation, self.n_frames, self.fps = figure, animation, n_frames, fps
        self._draw = draw

    def show_frame(self, k: int):
        """Draw frame ``k`` (0-based) into :attr:`figure` and return the figure."""
        self._draw(int(k))
        return self.figure

    def save(self, path: str | os.PathLike) -> str:
        """Write the animation as a GIF (Pillow writer)."""
        from matplotlib.animation import PillowWriter

        self.animation.save(str(path), writer=PillowWriter(fps=self.fps), dpi=72)
        return str(path)

    def _repr_html_(self) -> str:
        return self.animation.to_jshtml(fps=self.fps)


def recall_animation(results: Mapping[str, Any], stimulus, max_frames: int = 24, fps: float = 4.0,
                     max_cues: int = MAX_CUES) -> RecallAnimation:
    """Build the recall animation of ``results`` (labeled datasets) on ``stimulus``."""
    plt = _mpl()
    from matplotlib.animation import FuncAnimation

    labels = list(results)
    n_cues = min(len(stimulus.cues), max_cues)
    n_frames = max(2, min(max_frames, max(results[l].sizes["step"] for l in labels)))
    rows: list[tuple[str, str]] = []  # (label, "image" | "raster")
    for label in labels:
        rows.append((label, "image"))
        if _is_spiking(results[label]):
            rows.append((label, "raster"))
    fig, axes = plt.subplots(len(rows), n_cues, figsize=(1.8 * n_cues + 0.9, 1.8 * len(rows) + 0.4),
                             squeeze=False, layout="constrained")
    shape, coding = stimulus.image_shape, stimulus.coding
    title = fig.suptitle("", fontsize=10)
    updates = []
    for r, (label, kind) in enumerate(rows):
        ds = results[label]
        colour = PALETTE[labels.index(label) % len(PALETTE)]
        steps = frame_steps(ds.sizes["step"], n_frames)
        for c in range(n_cues):
            ax = axes[r, c]
            ax.grid(False)
            if kind == "image":
                ax.set_xticks([]), ax.set_yticks([])
                for s in ax.spines.values():
                    s.set_edgecolor(colour), s.set_visible(True)
                states, ov = ds["state"].values[c], ds["overlap"].values[c]
                tgt = int(ds["target"].values[c])
                im = ax.imshow(np.clip(_grid(states[0], shape, coding), 0, 1), cmap="gray_r", vmin=0, vmax=1,
                               interpolation="nearest")
                ttl = ax.set_title("", fontsize=7, fontweight="normal")

                def upd(k, im=im, ttl=ttl, states=states, ov=ov, tgt=tgt, steps=steps, ds=ds):
                    i = steps[k]
                    im.set_data(np.clip(_grid(states[i], shape, coding), 0, 1))
                    best = int(np.nanargmax(ov[i])) if np.isfinite(ov[i]).any() else tgt
                    ttl.set_text(f"{_step_name(ds, i)}: {stimulus.names[best]}\nm = {ov[i, tgt]:.2f}")
                updates.append(upd)
            else:
                t = ds["ca3_e_spike_time"].values - float(ds["recall_start"].values[c])
                idx = ds["ca3_e_spike_index"].values
                width = float(ds.attrs.get("bin_ms", 1.0))
                t_end = float(ds["step"].values[-1]) + width / 2
                keep = (t >= 0) & (t < t_end)
                t, idx = t[keep], idx[keep]
                dots = ax.scatter([], [], s=1.5, color=colour, marker=".", linewidths=0)
                cursor = ax.axvline(0, color="k", lw=0.8)
                ax.set_xlim(0, t_end)
                ax.set_ylim(0, max(1, int(ds["ca3_code"].shape[1]) if "ca3_code" in ds else idx.max() + 1))
                ax.tick_params(labelsize=6)
                ax.set_xlabel("ms into recall", fontsize=6, labelpad=0)
                if c > 0:
                    ax.set_yticklabels([])

                def upd(k, dots=dots, cursor=cursor, t=t, idx=idx, steps=steps, ds=ds, width=width):
                    now = float(ds["step"].values[steps[k]]) + width / 2
                    shown = t <= now
                    dots.set_offsets(np.column_stack([t[shown], idx[shown]]) if shown.any() else np.empty((0, 2)))
                    cursor.set_xdata([now, now])
                updates.append(upd)
    for r, (label, kind) in enumerate(rows):
        colour = PALETTE[labels.index(label) % len(PALETTE)]
        axes[r, 0].set_ylabel(label if kind == "image" else f"{label}: CA3 cell", fontsize=8 if kind == "image" else 7,
                              fontweight="bold", color=colour)
    names = ", ".join(f"{c}: {stimulus.names[int(stimulus.targets[c])]}" for c in range(n_cues))

    def draw(k):
        for u in updates:
            u(k)
        title.set_text(f"Recall, frame {k + 1}/{n_frames} (cues {names})")
        return []

    draw(0)
    title.set_text(f"Recall, frame {n_frames}/{n_frames} (cues {names})")  # the longest title, for the layout
    fig.canvas.draw()
    fig.set_layout_engine("none")  # freeze the layout: every frame has the same boxes, and drawing is faster
    draw(0)
    anim = FuncAnimation(fig, draw, frames=n_frames, interval=1000 / fps, blit=False, repeat=True)
    return RecallAnimation(fig, anim, n_frames, fps, draw)


def save_recall_gif(results: Mapping[str, Any], stimulus, folder, relative: str = "figures/recall.gif",
                    max_frames: int = 24, fps: float = 4.0) -> str:
    """Write the recall animation of ``results`` as a GIF into the run ``folder``, atomically."""
    plt = _mpl()
    ra = recall_animation(results, stimulus, max_frames=max_frames, fps=fps)
    try:
        with folder.staged(relative) as tmp:
            gif = tmp + ".gif"  # Pillow picks the format from the suffix
            try:
                ra.save(gif)
                os.replace(gif, tmp)
            finally:
                if os.path.exists(gif):
                    os.unlink(gif)
    finally:
        plt.close(ra.figure)
    return relative
