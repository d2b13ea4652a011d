"""Finished runs as Python objects: for notebooks, and exports to the field's formats.

:func:`load` opens a run folder as a :class:`Run`. In Jupyter a Run shows
itself as its metrics table and key figures; :meth:`Run.plot` and
:meth:`Run.animate` return figures; :func:`~hipposim.export.neo.to_neo` and :meth:`Run.to_nwb`
export it (they need ``pip install "hipposim[export]"``)::

    import hipposim.results as hr
    run = hr.load("runs/brain_vs_transformer")
    run                      # metrics table + figures
    figs = run.plot()        # {name: Figure}
    run.animate()            # recall, frame by frame
    block = hr.to_neo(run)   # neo.Block for Elephant
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from .export import to_neo  # noqa: F401  (public API: hipposim.results.to_neo)
from .run.folder import RunData, load_run

#: metrics shown first in tables, when a model has them
KEY_METRICS = ("final_overlap", "success", "steps_to_converge", "final_energy", "readout_pixel_accuracy",
               "peak_overlap_recall", "mean_rate_hz_ca3_e", "isi_cv_ca3_e")


def load(root: str | Path) -> "Run":
    """Open a finished run folder as a :class:`Run` (no simulation).

    Parameters
    ----------
    root : str or pathlib.Path
        A run folder written by ``hipposim run`` or :func:`hipposim.run_scenario`.

    Returns
    -------
    Run
        Its results, metrics and stimulus, read from disk.

    Raises
    ------
    hipposim.errors.HipposimError
        When the folder is not a complete hipposim run folder, naming what is missing or damaged.
    """
    return Run(load_run(root))


def metrics_table_html(metrics: dict, columns: tuple[str, ...] | None = None, table_id: str | None = None) -> str:
    """An HTML table of per-model metrics (numbers to 3 significant digits; '-' where a model has none)."""
    columns = columns or tuple(c for c in KEY_METRICS if any(c in m for m in metrics.values()))

    def fmt(v):
        if v is None:
            return "–"
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, float):
            return f"{v:.3g}"
        return html.escape(str(v))

    head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in ("model",) + tuple(columns))
    rows = "".join("<tr><th scope=\"row\">" + html.escape(label) + "</th>"
                   + "".join(f'<td data-v="{_sort_key(m.get(c))}">{fmt(m.get(c))}</td>' for c in columns)
                   + "</tr>" for label, m in metrics.items())
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _sort_key(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    return html.escape(str(v))


def figure_svg_uri(fig) -> str:
    """A figure as a ``data:image/svg+xml;base64`` URI (vector, zooms without blur)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


class Run:
    """A finished run: results, metrics and stimulus, with notebook display, figures and exports."""

    def __init__(self, data: RunData):
        self.data = data

    # plain access ------------------------------------------------------------
    @property
    def results(self) -> dict[str, Any]:
        """Each model's labeled result, ``{label: xarray.Dataset}`` (dims cue, step, pattern, unit)."""
        return self.data.results

    @property
    def metrics(self) -> dict:
        """The run's ``metrics.json``: one entry of named numbers per model label."""
        return self.data.metrics

    @property
    def stimulus(self):
        """The :class:`~hipposim.stimuli.Stimulus` (stored items and cues) every model saw."""
        return self.data.stimulus

    @property
    def scenario(self) -> dict:
        """The normalised scenario the run was made from, as stored in its manifest."""
        return self.data.scenario

    @property
    def root(self) -> Path:
        """The run folder."""
        return self.data.root

    def __repr__(self) -> str:
        return f"Run({str(self.root)!r}: {', '.join(self.results)})"

    # figures -----------------------------------------------------------------
    def plot(self) -> dict[str, Any]:
        """The run's key figures as ``{name: matplotlib Figure}`` (overlap, energy, recall of the first cue)."""
        from .plotting.run import plot_energy, plot_image_recall, plot_overlap_trajectories

        figs = {"overlap": plot_overlap_trajectories(self.results), "energy": plot_energy(self.results)}
        if self.stimulus.image_shape is not None:
            figs["recall"] = plot_image_recall(self.results, self.stimulus, cue=0)
        return {k: v for k, v in figs.items() if v is not None}

    def animate(self, max_frames: int = 24):
        """Recall frame by frame for every model and cue (:class:`~hipposim.plotting.animation.RecallAnimation`).

        In Jupyter it shows as an interactive player; ``.save("recall.gif")``
        writes a GIF; ``.figure`` is the matplotlib figure.
        """
        from .plotting.animation import recall_animation

        return recall_animation(self.results, self.stimulus, max_frames=max_frames)

    def _repr_html_(self) -> str:
        from .plotting.style import mpl

        plt = mpl()
        parts = [f"<h3>hipposim run: {html.escape(str(self.scenario.get('name', '')))} "
                 f"(seed {html.escape(str(self.data.manifest.get('seed')))})</h3>",
                 metrics_table_html(self.metrics)]
        for name, fig in self.plot().items():
            parts.append(f'<figure><img src="{figure_svg_uri(fig)}" alt="{html.escape(name)}" '
                         f'style="max-width:100%"><figcaption>{html.escape(name)}</figcaption></figure>')
            plt.close(fig)
        return "<div>" + "".join(parts) + "</div>"

    # exports -----------------------------------------------------------------
    def to_neo(self):
        """A Neo Block (see :func:`hipposim.export.neo.to_neo`)."""
        return to_neo(self)

    def to_nwb(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write an NWB file (see :func:`hipposim.export.nwb.to_nwb`)."""
        from .export.nwb import to_nwb

        return to_nwb(self, path, overwrite=overwrite)
