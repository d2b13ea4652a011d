"""Figures: numbers and labeled results in, figures out. Nothing here simulates or writes metrics.

* :mod:`.run`: a run's overlap, energy and recall figures (:func:`plot_run`);
* :mod:`.spiking`: rasters, rates, weights and graphs of spiking results;
* :mod:`.sweep`: capacity curves and regime maps of sweeps;
* :mod:`.compare`: the side-by-side comparison figures.
"""
from .run import plot_run  # noqa: F401
