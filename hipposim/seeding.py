"""One seed drives everything: independent streams derived from the scenario's seed.

``numpy.random.SeedSequence(seed).spawn(3)`` gives the pattern, cue and model
streams; model ``i`` of a scenario gets the ``i``-th child of the model stream.
Nothing seeds numpy's global generator.
"""
from __future__ import annotations

import numpy as np


def seed_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """Independent random streams derived from the scenario's one seed."""
    root = np.random.SeedSequence(seed)
    patterns, cues, models = root.spawn(3)
    return {"patterns": patterns, "cues": cues, "models": models}


def model_rng(seed: int, index: int) -> np.random.Generator:
    """The generator handed to the ``index``-th model of a scenario."""
    return np.random.default_rng(seed_streams(seed)["models"].spawn(index + 1)[index])
