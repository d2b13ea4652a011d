"""Running scenarios: the runner, sweeps (expanded in memory from a validated scenario) and run folders."""
from .execute import run_model, run_models
from .folder import RunData, RunFolder, load_run
from .runner import run_scenario
from .sweep import run_sweep, sweep_points

__all__ = ["RunData", "RunFolder", "load_run", "run_model", "run_models", "run_scenario", "run_sweep",
           "sweep_points"]
