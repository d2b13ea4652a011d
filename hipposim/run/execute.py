"""Run the models of a scenario on one shared stimulus, each with its own seeded generator."""
from __future__ import annotations

from typing import Any

from .._version import __version__
from ..registry import registry
from ..scenario import Scenario
from ..seeding import model_rng
from ..stimuli import build_stimulus


def run_model(scenario: Scenario, index: int, stimulus):
    """Run the ``index``-th model of ``scenario`` on ``stimulus`` with its own seeded generator."""
    spec = scenario.models[index]
    ds = registry.make(spec.id, spec.params).run(stimulus, model_rng(scenario.seed, index))
    ds.attrs.update({"model_id": spec.id, "label": spec.name, "seed": scenario.seed,
                     "hipposim_version": __version__})
    return ds


def run_models(scenario: Scenario, progress: bool = False, stimulus=None) -> tuple[Any, dict[str, Any]]:
    """Run every model of ``scenario`` in memory. Returns (stimulus, {label: dataset})."""
    from tqdm.auto import tqdm

    stimulus = build_stimulus(scenario) if stimulus is None else stimulus
    results = {}
    bar = tqdm(scenario.models, desc=scenario.name, unit="model", disable=not progress, leave=False)
    for index, spec in enumerate(bar):
        bar.set_postfix_str(spec.name)
        results[spec.name] = run_model(scenario, index, stimulus)
    return stimulus, results
