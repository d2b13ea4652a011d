"""The one style of every hipposim figure: palette and matplotlib settings."""
from __future__ import annotations

PALETTE = ["#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#7b4b94", "#00798c", "#8c564b", "#555555"]


def mpl():
    """matplotlib.pyplot with the Agg backend (unless one is set) and hipposim's style."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
                         "grid.alpha": 0.25, "font.size": 10, "axes.titleweight": "bold",
                         "figure.dpi": 100})
    return plt
