"""Scenario files: schema, safe loading and line-numbered errors.

This package knows nothing of sweeps' execution or of how stimuli are built:
:func:`load_scenario` returns a validated, frozen :class:`Scenario`;
:mod:`hipposim.run.sweep` expands its sweep section in memory.
"""
from .loading import json_schema, load_scenario, loads_scenario, validate_data
from .schema import (SCHEMA_VERSION, AnalysisSpec, CueSpec, KnobSpec, ModelSpec, OutputSpec, Scenario,
                     SweepSpec)

__all__ = ["SCHEMA_VERSION", "AnalysisSpec", "CueSpec", "KnobSpec", "ModelSpec", "OutputSpec", "Scenario",
           "SweepSpec", "json_schema", "load_scenario", "loads_scenario", "validate_data"]
