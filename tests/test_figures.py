"""Figures: no two text boxes collide on any figure of any shipped scenario; theory off the axis is marked.

Every shipped scenario is shrunk (tiny models, few sweep points, one seed, as
in test_runner), run without figures, and then every figure that `hipposim
plot` would write is drawn through a run folder that checks each figure's
text boxes (matplotlib window extents) before saving it.
"""
from __future__ import annotations

import numpy as np
import pytest

from hipposim.plotting.style import PALETTE, mark_line, mpl, text_overlaps
from hipposim.run import run_scenario
from hipposim.run.folder import RunFolder
from hipposim.scenario import loads_scenario


from .conftest import SHIPPED_GROUPED


class CheckingFolder(RunFolder):
    """A run folder that records the colliding texts of every figure saved into it."""

    def __init__(self, root):
        super().__init__(root)
        self.checked: dict[str, list] = {}
        self.constrained: list[bool] = []

    def save_figure(self, fig, relative):
        self.checked[str(relative)] = text_overlaps(fig)
        if str(relative).split("/")[-1].split(".")[0] in ("overlap", "energy", "capacity", "phase", "sweep",
                                                       "sequence_capacity", "sequence_positions",
                                                       "sequence_recall") \
                or "/recall_" in str(relative):
            self.constrained.append(type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine")
        return super().save_figure(fig, relative)


def _draw_all(path, out):
    folder = CheckingFolder(out)
    if (out / "sweep.nc").exists():
        import xarray as xr

        from hipposim.plotting.sweep import plot_sweep

        with xr.open_dataset(out / "sweep.nc", engine="h5netcdf") as ds:
            plot_sweep(ds.load(), folder, "figures", ["png"])
    else:
        from hipposim.plotting import plot_run
        from hipposim.run.folder import load_run

        plot_run(load_run(out), folder, "figures", ["png"], animation=False)
    return folder


@pytest.mark.parametrize("path", SHIPPED_GROUPED)
def test_no_text_collides_on_shipped_scenario_figures(path, tiny_run):
    folder = _draw_all(path, tiny_run(path))
    assert folder.checked, "no figure was drawn"
    collisions = {name: pairs for name, pairs in folder.checked.items() if pairs}
    assert not collisions, f"overlapping text boxes: {collisions}"
    assert folder.constrained and all(folder.constrained), "not every hipposim run or sweep figure used constrained layout"


def test_overlap_check_finds_a_collision():
    """The checker is not vacuous: two labels at one spot collide, moved apart they do not."""
    plt = mpl()
    fig, ax = plt.subplots()
    a = ax.text(0.5, 0.5, "theory = 2.17", transform=ax.transAxes)
    ax.text(0.5, 0.5, "fitted 0.556", transform=ax.transAxes)
    assert len(text_overlaps(fig)) == 1
    a.set_position((0.05, 0.9))
    assert text_overlaps(fig) == []
    plt.close(fig)


@pytest.mark.parametrize("value,beyond", [(2.17, True), (-0.4, False)])
def test_theory_off_the_axis_gets_an_edge_arrow_with_its_value(value, beyond):
    plt = mpl()
    fig, ax = plt.subplots()
    ax.plot([0.1, 0.6], [1, 0])
    ax.set_xlim(0, 0.7)
    n_lines = len(ax.lines)
    text = mark_line(ax, value, f"theory = {value}")
    assert len(ax.lines) == n_lines                      # no line drawn off-scale
    assert f"{value}" in text.get_text()
    arrows = [t for t in ax.texts if t.arrow_patch is not None]
    assert len(arrows) == 1
    fig.canvas.draw()
    x_arrow = arrows[0].xy[0]
    assert x_arrow == (1.0 if beyond else 0.0)           # at the edge the value lies beyond
    bb, ax_bb = text.get_window_extent(), ax.get_window_extent()
    assert ax_bb.x0 - 1 <= bb.x0 and bb.x1 <= ax_bb.x1 + 1  # the label stays inside the axes
    plt.close(fig)


def test_theory_inside_the_axis_is_a_line():
    plt = mpl()
    fig, ax = plt.subplots()
    ax.set_xlim(0, 0.7)
    mark_line(ax, 0.138, "alpha_c")
    assert any(np.allclose(l.get_xdata(), 0.138) for l in ax.lines)
    plt.close(fig)


def test_palette_is_okabe_ito_and_distinct_for_colour_blind_readers():
    """Okabe-Ito colours; the first four stay apart under simulated deuteranopia (Machado et al. 2009)."""
    from matplotlib.colors import to_rgb

    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
    assert set(c.upper() for c in PALETTE) == okabe_ito
    deut = np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]])  # Machado 2009, severity 1.0, linear RGB
    lin = np.array([to_rgb(c) for c in PALETTE[:4]]) ** 2.2
    seen = np.clip(lin @ deut.T, 0, 1) ** (1 / 2.2)
    dists = [np.linalg.norm(seen[i] - seen[j]) for i in range(4) for j in range(i + 1, 4)]
    assert min(dists) > 0.15


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
def test_every_run_writes_a_recall_gif_that_moves(tmp_path):
    """figures/recall.gif: one frame per step of the longest model; the last frame differs from the first."""
    from PIL import Image

    from hipposim.plotting.animation import frame_steps

    from .conftest import TINY

    run = run_scenario(loads_scenario(TINY), tmp_path / "run", progress=False)
    assert "figures/recall.gif" in run.manifest["figures"]
    n_steps = max(ds.sizes["step"] for ds in run.results.values())
    with Image.open(tmp_path / "run" / "figures" / "recall.gif") as im:
        assert im.n_frames == min(24, n_steps)
    # each panel shows the model's state at the frame's step: the cue first, the recalled item last
    from hipposim.plotting.animation import recall_animation

    ra = recall_animation(run.results, run.stimulus)
    panels = [ax.images[0] for ax in ra.figure.axes if ax.images]
    labels, n_cues = list(run.results), min(4, len(run.stimulus.cues))
    for k in (0, ra.n_frames - 1):
        ra.show_frame(k)
        for p, img in enumerate(panels):
            ds = run.results[labels[p // n_cues]]
            i = frame_steps(ds.sizes["step"], ra.n_frames)[k]
            want = (ds["state"].values[p % n_cues, i] + 1) / 2  # bipolar -> [0, 1]
            np.testing.assert_array_equal(np.asarray(img.get_array()).ravel(), want)
    first_cue = (run.stimulus.cues[0] + 1) / 2
    assert not np.array_equal(np.asarray(panels[0].get_array()).ravel(), first_cue)  # recall changed the cue
    mpl().close(ra.figure)
    # the shared step axis starts every model at its first step and ends it at its last
    for n in (1, 2, 5, 40):
        steps = frame_steps(n, 7)
        assert steps[0] == 0 and steps[-1] == n - 1 and np.all(np.diff(steps) >= 0)


@pytest.mark.parametrize("n_cues", [4, 32, 96])
def test_phase_labels_never_collide_however_many_cues(n_cues):
    """Raster and rate plots shade every phase; labels that would collide are dropped, not overprinted."""
    import xarray as xr

    from hipposim.plotting.spiking import _shade_phases

    names = [f"encode_item{i}" for i in range(8)] + [f"recall_{c}" for c in range(n_cues)]
    starts = np.arange(len(names)) * 120.0
    ds = xr.Dataset({"phase_start": (("phase",), starts), "phase_end": (("phase",), starts + 100.0)},
                    coords={"phase": names})
    plt = mpl()
    fig, ax = plt.subplots(figsize=(11, 3), layout="constrained")
    ax.plot([0, starts[-1] + 100], [0, 1])
    _shade_phases(ds, ax)
    fig.canvas.draw()
    assert text_overlaps(fig) == []
    labels = [t.get_text() for t in ax.texts]
    assert "item0" in labels and "cue 0" in labels           # the first of each kind is always named
    assert len([p for p in ax.patches]) == len(names)        # every phase is still shaded
    if n_cues == 4:
        assert len(labels) == len(names)                     # nothing dropped when everything fits
    plt.close(fig)
