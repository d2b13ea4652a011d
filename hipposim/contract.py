"""The model contract.

A model is declared once: an id with a version, a one-line description, a
pydantic ``Params`` class whose fields carry defaults, bounds, units and
descriptions, and the names of what it can record. Its constructor only stores
validated parameters; :meth:`Model.run` does the work and returns a labeled
:class:`xarray.Dataset` that never holds simulator objects.

Every result dataset has these dimensions and variables (models may add more):

* dims ``cue`` (one per cue in the batch), ``step`` (updates, layers or time
  bins; ``step`` coordinate carries ``units``), ``pattern`` (stored items) and
  ``unit`` (item space: pixels or neurons of the stored pattern);
* ``state(cue, step, unit)``: the model's current estimate of the item;
* ``overlap(cue, step, pattern)``: overlap with every stored item;
* ``energy(cue, step)``: the model's energy (NaN where it has none);
* ``converged_step(cue)``: first step index at which the dynamics stopped
  changing (-1 if they never did);
* coordinate ``target(cue)``: the index of the item each cue was made from.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from .stimuli import Stimulus
from .strict import Strict


# Parameters that several models (and the scenario's knobs) share are declared
# once here, with their bounds and meaning, and used by name everywhere else.

#: inverse temperature of a softmax read (attention, modern Hopfield); Ramsauer et al. 2020, eq. 3
Beta = Annotated[float, Field(gt=0, allow_inf_nan=False,
                              description="inverse temperature beta of the softmax read")]
#: factor on a spiking network's feedback inhibition (1 = the model's default strength)
InhibitionFactor = Annotated[float, Field(ge=0, allow_inf_nan=False,
                                          description="feedback inhibition, as a factor of the model's "
                                                      "default strength (scenario knob 'inhibition')")]
#: factor on a spiking network's recurrent excitation (1 = the model's default strength)
GainFactor = Annotated[float, Field(gt=0, allow_inf_nan=False,
                                    description="recurrent excitatory gain, as a factor of the model's default "
                                                "strength (scenario knob 'gain')")]


class Params(Strict):
    """Base class for model parameters: frozen, and unknown keys are refused with a did-you-mean."""


class Model:
    """Base class of every hipposim model. Subclasses set the class attributes."""

    #: one-line description shown by ``hipposim models``
    description: ClassVar[str] = ""
    #: parameter declaration
    Params: ClassVar[type[Params]] = Params
    #: what the step axis counts ("update", "layer", "ms")
    step_unit: ClassVar[str] = "update"
    #: what ``overlap`` measures: "item" (m = xi . s / N in item space) or "code_correlation"
    #: (Pearson r of binned rates with an internal code); analysis picks the success level by it
    overlap_measure: ClassVar[str] = "item"
    #: names of the variables :meth:`run` records, beyond the standard ones
    records: ClassVar[tuple[str, ...]] = ()
    #: scenario knobs this model obeys: knob name -> parameter name
    knobs: ClassVar[dict[str, str]] = {}
    #: parameter overrides that make the model tiny and fast (tests, smoke runs)
    tiny_params: ClassVar[dict] = {}
    #: True for a model that plays stored sequences (``patterns.kind: sequences``) from a cue: its
    #: ``step`` axis is then the sequence's time (update steps, or time bins), and ``overlap(cue, step,
    #: pattern)`` tells which item it plays at each step
    plays_sequences: ClassVar[bool] = False
    #: False for a model that only plays sequences and has no one-shot recall of a single item
    recalls_items: ClassVar[bool] = True

    def __init__(self, params: Params | dict[str, Any] | None = None, **kwargs: Any):
        if params is None:
            params = self.Params(**kwargs)
        elif isinstance(params, dict):
            params = self.Params(**{**params, **kwargs})
        self.params = params

    def run(self, stimulus: Stimulus, rng: np.random.Generator):  # -> xr.Dataset
        """Store ``stimulus.patterns``, recall from ``stimulus.cues``; return the labeled result."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


def standard_dataset(stimulus: Stimulus, states: np.ndarray, overlaps: np.ndarray,
                     energy: np.ndarray | None, converged_step: np.ndarray,
                     step_values: np.ndarray | None = None, step_unit: str = "update",
                     attrs: dict[str, Any] | None = None):
    """Build the standard result :class:`xarray.Dataset` from plain arrays."""
    import xarray as xr

    n_cues, n_steps = states.shape[:2]
    if step_values is None:
        step_values = np.arange(n_steps)
    if energy is None:
        energy = np.full((n_cues, n_steps), np.nan)
    ds = xr.Dataset(
        {
            "state": (("cue", "step", "unit"), np.asarray(states, dtype=float)),
            "overlap": (("cue", "step", "pattern"), np.asarray(overlaps, dtype=float)),
            "energy": (("cue", "step"), np.asarray(energy, dtype=float)),
            "converged_step": (("cue",), np.asarray(converged_step, dtype=np.int64)),
        },
        coords={
            "cue": np.arange(n_cues),
            "step": ("step", np.asarray(step_values, dtype=float), {"units": step_unit}),
            "pattern": list(stimulus.names),
            "target": ("cue", np.asarray(stimulus.targets, dtype=np.int64)),
        },
        attrs=dict(attrs or {}),
    )
    ds.attrs.setdefault("step_unit", step_unit)
    ds.attrs.setdefault("overlap_measure", "item")
    return ds
