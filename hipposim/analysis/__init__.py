"""Analysis: labeled results in, numbers out. Never a simulation, never a figure.

:func:`model_metrics` is the one entry point the runner, sweeps and the
comparison use. It applies every metric group of :data:`METRIC_GROUPS` whose
required variables the dataset has, so a metric is added in one place: write
the function, add its row.
"""
from __future__ import annotations

from typing import Any, Callable

from .recall import clean_json, item_space_metrics, recall_metrics, success_level, target_overlap  # noqa: F401
from .firing import firing_metrics
from .attention_spiking import REQUIRES as _ATTENTION_SPIKING, attention_spiking_metrics
from .spiking import REQUIRES as _SPIKING, spiking_metrics
from .completion import REQUIRES as _COMPLETION, completion_metrics
from .sequence import sequence_metrics

#: (variables the dataset must have, metrics(ds, level, stimulus) -> dict)
METRIC_GROUPS: list[tuple[tuple[str, ...], Callable[..., dict[str, Any]]]] = [
    (_SPIKING, spiking_metrics),
    (_COMPLETION, completion_metrics),
    (("ca3_e_spike_time", "ca3_e_spike_index", "phase_end"), firing_metrics),
    (_ATTENTION_SPIKING, attention_spiking_metrics),
]


def model_metrics(ds, analysis=None, stimulus=None) -> dict[str, Any]:
    """All metrics of one model's result, JSON-safe.

    ``analysis`` is the scenario's :class:`~hipposim.scenario.AnalysisSpec`
    (its success levels); ``stimulus`` the shared stimulus, for metrics that
    compare with the stored items.
    """
    success = getattr(analysis, "success_overlap", 0.9)
    code_success = getattr(analysis, "code_success_overlap", 0.8)
    level = success_level(ds, success, code_success)
    out = recall_metrics(ds, level)
    if stimulus is not None:
        # the headline measures, the same for every model: the reconstruction in item space
        item = item_space_metrics(ds, stimulus, success)
        item["item_success_overlap"] = item.pop("success_overlap")
        out.update(item)
    for needs, group in METRIC_GROUPS:
        if all(name in ds for name in needs):
            out.update(group(ds, level, stimulus))
    if stimulus is not None and stimulus.sequences is not None:
        # how far and how well the model plays each cued sequence (hipposim.analysis.sequence)
        out.update(sequence_metrics(ds, level, stimulus, getattr(analysis, "sequence_overlap", 0.5)))
    return clean_json(out)
