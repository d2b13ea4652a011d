"""The one style of every hipposim figure: palette, layout and annotation helpers.

* :data:`PALETTE` is the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal
  Design"), ordered so that the first colours stay apart for the common forms
  of colour blindness; :data:`THEORY` and :data:`MUTED` are the colours of
  theory lines and secondary traces.
* :func:`mpl` returns pyplot in hipposim's style; :data:`LAYOUT` is the layout
  engine every hipposim figure is made with (``plt.subplots(...,
  layout=LAYOUT)``): constrained layout, so titles, labels and legends get
  their own room instead of being placed by hand. (It is passed per figure
  rather than set in rcParams because a figure that calls ``tight_layout``
  after adding a colorbar cannot leave constrained layout.)
* :func:`mark_line` draws a reference (theory) line, or, when its value lies
  outside the axis, an arrow at the edge with the value written next to it.
* :func:`text_overlaps` lists pairs of text boxes of a drawn figure that
  overlap (from each text's window extent); tests use it on every figure.
"""
from __future__ import annotations

#: Okabe-Ito: blue, vermillion, bluish green, orange, reddish purple, sky blue, black, yellow
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
#: layout engine of every hipposim figure
LAYOUT = "constrained"
#: colour of theory / reference lines and their labels
THEORY = "#CC79A7"
#: colour of secondary traces (non-target overlaps, grid-like guides)
MUTED = "0.6"


def mpl():
    """matplotlib.pyplot with the Agg backend (unless one is set) and hipposim's style."""
    import warnings

    import matplotlib

    # a figure that asks for tight_layout explicitly gets it; no need to warn that it left constrained layout
    warnings.filterwarnings("ignore", message="The figure layout has changed to tight")
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
                         "grid.alpha": 0.25, "font.size": 10, "axes.titleweight": "bold",
                         "figure.dpi": 100,
                         "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
                         "svg.fonttype": "none", "svg.hashsalt": "hipposim"})
    return plt


def mark_line(ax, value: float, label: str, axis: str = "x", color: str = THEORY, ls=":", lw: float = 1.2,
              text_pos: float = 0.5, fontsize: float = 8):
    """A reference line at ``value`` on the x (vertical line) or y (horizontal) axis, labelled.

    If ``value`` lies outside the current axis limits the line is not drawn;
    instead an arrow at the axis edge points towards it and the label carries
    the value, so an off-scale theory value is still shown where it would be.
    ``text_pos`` is the position of the label along the line, in axes
    fraction. Returns the text artist.
    """
    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    inside = min(lo, hi) <= value <= max(lo, hi)
    if inside:
        if axis == "x":
            ax.axvline(value, color=color, ls=ls, lw=lw)
            # anchored at the end nearer the axis's middle, so a long label runs into the axis, not past it
            return ax.annotate(label, (value, text_pos), xycoords=("data", "axes fraction"), rotation=90,
                               xytext=(-3, 0), textcoords="offset points", ha="right",
                               va="bottom" if text_pos < 0.5 else "top" if text_pos > 0.5 else "center",
                               fontsize=fontsize, color=color,
                               bbox=dict(boxstyle="square,pad=0.15", fc="white", ec="none", alpha=0.85))
        ax.axhline(value, color=color, ls=ls, lw=lw)
        return ax.annotate(label, (text_pos, value), xycoords=("axes fraction", "data"), xytext=(0, 3),
                           textcoords="offset points", ha="center", va="bottom", fontsize=fontsize, color=color)
    beyond = value > max(lo, hi)
    arrow = dict(arrowstyle="-|>", color=color, lw=1.2, shrinkA=0, shrinkB=0)
    text = label
    box = dict(boxstyle="square,pad=0.15", fc="white", ec="none", alpha=0.85)
    if axis == "x":
        edge = 1.0 if beyond else 0.0
        ax.annotate("", (edge, text_pos), xycoords="axes fraction", xytext=(-22 if beyond else 22, 0),
                    textcoords="offset points", arrowprops=arrow)
        return ax.annotate(text, (edge, text_pos), xycoords="axes fraction",
                           xytext=(-26 if beyond else 26, 0), textcoords="offset points",
                           ha="right" if beyond else "left", va="center", fontsize=fontsize, color=color, bbox=box)
    edge = 1.0 if beyond else 0.0
    ax.annotate("", (text_pos, edge), xycoords="axes fraction", xytext=(0, -18 if beyond else 18),
                textcoords="offset points", arrowprops=arrow)
    return ax.annotate(f"{label} ({'above' if beyond else 'below'})", (text_pos, edge), xycoords="axes fraction",
                       xytext=(4, -16 if beyond else 16), textcoords="offset points", ha="left",
                       va="center", fontsize=fontsize, color=color, bbox=box)


def drawn_texts(fig) -> list:
    """The texts that drawing ``fig`` actually renders (visible, non-empty, and -- for tick labels -- in view).

    The figure is drawn once with :meth:`matplotlib.text.Text.draw` wrapped to
    record each text that gets as far as the renderer; tick labels of ticks
    outside the view limits exist as objects but are never drawn, so they are
    not counted.
    """
    from matplotlib.text import Text

    seen: list = []
    original = Text.draw

    def recording(self, renderer):
        if self.get_visible() and self.get_text().strip():
            seen.append(self)
        return original(self, renderer)

    Text.draw = recording
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return list(dict.fromkeys(seen))


def text_overlaps(fig, tol: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of ``fig`` whose boxes overlap by more than ``tol`` pixels.

    The figure is drawn first (:func:`drawn_texts`) so that every window
    extent (in display pixels) is final and only texts that are rendered
    count. Returns ``[(text_a, text_b), ...]`` (empty when nothing collides).
    """
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    boxes = []
    for t in texts:
        bb = t.get_window_extent(renderer)
        if bb.width <= 0 or bb.height <= 0:
            continue
        boxes.append((t, bb))
    out = []
    for i in range(len(boxes)):
        ti, bi = boxes[i]
        for j in range(i + 1, len(boxes)):
            tj, bj = boxes[j]
            w = min(bi.x1, bj.x1) - max(bi.x0, bj.x0)
            h = min(bi.y1, bj.y1) - max(bi.y0, bj.y0)
            if w > tol and h > tol:
                out.append((ti.get_text(), tj.get_text()))
    return out
