"""hipposim: hippocampal memory and Transformer attention, driven by one scenario file.

The light public API (importing it never imports brian2)::

    import hipposim
    scenario = hipposim.load_scenario("scenarios/apple_completion.yaml")
    run = hipposim.run_scenario(scenario, out="runs/apple")
    run.results["hopfield-modern-v1"]["overlap"].sel(pattern="apple")
"""
from __future__ import annotations

from ._version import __version__

from .errors import HipposimError, ScenarioError
from .registry import registry
from .scenario import Scenario, load_scenario, loads_scenario
from .stimuli import Stimulus, build_stimulus


def run_scenario(*args, **kwargs):
    """Run a scenario and write its run folder (or, for a sweep, its sweep folder).

    The same as :func:`hipposim.run.runner.run_scenario`, imported on first use so that
    ``import hipposim`` stays light.

    Parameters
    ----------
    *args, **kwargs
        As for :func:`hipposim.run.runner.run_scenario`: the scenario, ``out``, ``overwrite``,
        ``seed``, ``progress``, ``figures``.

    Returns
    -------
    hipposim.run.folder.RunData or xarray.Dataset
        The finished run, or a sweep's aggregated results.
    """
    from .run.runner import run_scenario as _run

    return _run(*args, **kwargs)


__all__ = ["HipposimError", "Scenario", "ScenarioError", "Stimulus", "build_stimulus", "load_scenario",
           "loads_scenario", "registry", "run_scenario", "__version__"]
