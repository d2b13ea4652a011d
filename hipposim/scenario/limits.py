"""Limits checked before anything is allocated.

A scenario states sizes (patterns x units, cues x repeats, CA3 cells and
synapses, sweep points) that decide how much memory a run needs and how many
tasks a sweep runs. Validation estimates both from the document *as written*,
with plain arithmetic and without building a pattern or expanding a sweep, and
refuses a scenario beyond the limits with a message that gives the estimate.

Default limits (raise them with ``--max-memory`` / ``--max-tasks``):

========================  =====================================================
``max_memory``            4 GiB: estimated peak memory of one run (one sweep point)
``max_tasks``             5,000 sweep points (grid x zip x seeds)
========================  =====================================================

The memory estimate of one run, in bytes (8 per float64), is the sum of

* patterns ``P x N`` and cues ``C x N`` with ``C = targets x repeats``;
* per model, its recorded traces ``5 x C x S x (N + P)`` for ``S`` recorded steps (the
  states, fields, overlaps and the result's copies that are alive at once);
* per model, its weights: ``2 N^2`` for a classical (Hebbian) network, hidden x N for
  feed-forward layers, and for spiking CA3 ``n_e^2 p_ee + n_e n_ca1 p_sc`` synapses
  at 64 bytes each (weights, indices and plasticity traces of Brian2 synapses);
* for spiking CA3, its input timelines ``1.5 x (n_e + 2N) x T / dt`` with
  ``T = P (t_encode + t_gap) + C (t_reset + t_recall)``, plus 4 MiB for the network;
* for the Transformer block, the feed-forward training set
  ``6 x (ff_train_cues + 1) P x (N + ff_hidden)`` and ``4 N^2`` projections per layer;
  for the MLP baseline, its training set ``6 x P x (N + hidden)``.

It is deliberately an upper estimate of the dominant arrays, calibrated against the
peak measured with :mod:`tracemalloc` for every built-in non-spiking model (estimate /
measured peak between 1.2 and 4, see ``tests/test_safety.py``).
"""
from __future__ import annotations

import contextvars
import copy
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from ..errors import Problem, ScenarioError
from .paths import set_path

GiB = 2 ** 30
DEFAULT_MAX_MEMORY = 4 * GiB
DEFAULT_MAX_TASKS = 5_000
FLOAT = 8
SYNAPSE_BYTES = 96
SPIKING_STEPS = 64  # recorded bins of a spiking recall, an upper estimate for the default windows
#: copies of the recorded (cue, step, unit|pattern) arrays alive at once: states, fields, overlaps,
#: float conversions of the result dataset (measured peak <= 4x for the built-in models)
TRACE_COPIES = 5
#: copies of the feed-forward training set alive while it is fitted (measured peak <= 5x)
FIT_COPIES = 6
#: spiking CA3: copies of the per-time-step input timelines, and the fixed cost of a network
TIMELINE_COPIES = 1.5
SPIKING_BASE = 16 * 2 ** 20
#: what every run of a model adds beside its arrays: building the result dataset, the analysis, the
#: allocator's arenas (measured: 7-9 MiB for a Hopfield network of 256 units)
RUN_BASE = 12 * 2 ** 20
#: spiking models: recorded spikes, at most this mean rate over every cell, 16 bytes each (time, index)
SPIKE_RATE = 100.0
SPIKE_BYTES = 16


@dataclass(frozen=True)
class Limits:
    """The limits validation enforces."""

    max_memory: int = DEFAULT_MAX_MEMORY
    max_tasks: int = DEFAULT_MAX_TASKS


_current: contextvars.ContextVar[Limits] = contextvars.ContextVar("hipposim_limits", default=Limits())


def current() -> Limits:
    """The limits in force (the defaults unless raised with :func:`raised`)."""
    return _current.get()


@contextmanager
def raised(max_memory: int | None = None, max_tasks: int | None = None) -> Iterator[Limits]:
    """Validate with other limits inside the block (the CLI's ``--max-memory`` and ``--max-tasks``)."""
    base = current()
    new = Limits(max_memory if max_memory is not None else base.max_memory,
                 max_tasks if max_tasks is not None else base.max_tasks)
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?)[bB]?\s*$")


def parse_size(text: str) -> int:
    """``"8GB"``, ``"512 MiB"``, ``"1.5g"`` or a number of bytes -> bytes. Raises ``ValueError``."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"expected a size such as '8GB' or '512MiB', got {text!r}")
    number, prefix = float(m.group(1)), m.group(2).upper()
    value = number * (1024 ** "_KMGT".index(prefix) if prefix else 1)
    if not math.isfinite(value) or value <= 0 or value >= 2 ** 62:
        raise ValueError(f"expected a positive size such as '8GB', got {text!r}")
    return int(value)


def human(nbytes: float) -> str:
    """Bytes as a short human-readable size (binary prefixes)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(nbytes) < 1024 or unit == "EiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} EiB"  # pragma: no cover


# --------------------------------------------------------------------------- reading the raw document

def _num(value: Any, default: float) -> float:
    """A plain number from the raw document, or ``default`` for anything else (validation judges it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if isinstance(value, float) and not math.isfinite(value):
        return default
    return max(float(value), 0.0)


def _section(doc: dict, key: str) -> dict:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


STEP_KEYS = ("max_steps", "n_layers", "n_steps")


def _defaults(model_id: str) -> dict:
    """The declared parameter defaults of a model ({} for an unknown id: validation reports it)."""
    try:
        from ..registry import registry

        return {k: f.default for k, f in registry.get(model_id).Params.model_fields.items()}
    except Exception:
        return {}


def _time(model_id: str, params: dict, key: str) -> float:
    """A time parameter in seconds: as written if it parses, else its declared default, else 0."""
    from ..units import parse_quantity

    for value in (params.get(key), _defaults(model_id).get(key)):
        if value is None:
            continue
        try:
            si = parse_quantity(value, "time").si
        except (ValueError, TypeError):
            continue
        if math.isfinite(si) and si > 0:
            return si
    return 0.0


def _steps(model_id: str, params: dict) -> float:
    """Recorded steps of a model: its step-count parameter (as written, else its declared default)
    plus the initial state; 21 when neither is known."""
    for key in STEP_KEYS:
        if key in params:
            return max(_num(params[key], 1), 1) + 1
    try:
        from ..registry import registry

        fields = registry.get(model_id).Params.model_fields
    except Exception:  # an unknown id: validation reports it; estimate with the largest default
        return 21
    for key in STEP_KEYS:
        if key in fields and isinstance(fields[key].default, int):
            return fields[key].default + 1
    return 21


@dataclass(frozen=True)
class MemoryShape:
    """What a model's memory estimate reads: the sizes of the run and the model's parameters as written.

    ``n_items`` stored items P of ``n_units`` units N, ``n_cues`` cues C (targets x repeats);
    ``params`` are the model's parameters as written (not yet validated: :meth:`num` and
    :meth:`seconds` fall back to the declared default for anything that is not a usable value).
    """

    model_id: str
    params: dict
    n_items: float
    n_units: float
    n_cues: float
    #: items per sequence L of a sequence scenario (0 otherwise)
    sequence_length: float = 0.0

    def num(self, key: str, default: float = 0.0) -> float:
        """A numeric parameter: as written if it is a finite number, else its declared default, else ``default``."""
        for value in (self.params.get(key), _defaults(self.model_id).get(key)):
            if value is not None and not isinstance(value, bool) and isinstance(value, (int, float)) \
                    and math.isfinite(value):
                return max(float(value), 0.0)
        return float(default)

    def flag(self, key: str, default: bool = True) -> bool:
        """A boolean parameter as written, else its declared default."""
        for value in (self.params.get(key), _defaults(self.model_id).get(key)):
            if isinstance(value, bool):
                return value
        return default

    def seconds(self, key: str) -> float:
        """A time parameter in seconds (see :func:`_time`)."""
        return _time(self.model_id, self.params, key)

    def steps(self) -> float:
        """Recorded steps: the step-count parameter plus the initial state (:func:`_steps`)."""
        return _steps(self.model_id, self.params)


def trace_bytes(shape: MemoryShape, steps: float | None = None) -> float:
    """The standard result arrays (state, overlap, their float copies): ``5 x C x S x (N + P)`` float64."""
    steps = shape.steps() if steps is None else steps
    return TRACE_COPIES * shape.n_cues * steps * (shape.n_units + shape.n_items) * FLOAT


def generic_estimate(shape: MemoryShape) -> dict[str, float]:
    """The estimate of a model that declares none: its result arrays and an N x N weight matrix
    (with a copy), plus the softmax scores C x P x S of an attention read."""
    n, p, c, s = shape.n_units, shape.n_items, shape.n_cues, shape.steps()
    return {"traces": trace_bytes(shape), "weights": (2 * n * n + c * p * s) * FLOAT}


def spiking_estimate(shape: MemoryShape, cells: float, synapses: float, inputs: float, seconds: float,
                     dt: float, copies: float = 1) -> dict[str, float]:
    """The estimate of a Brian2 network: ``synapses`` (their indices, weights and traces,
    :data:`SYNAPSE_BYTES` each), the input timelines of ``inputs`` channels at every time step
    (``seconds / dt`` of them), recorded spikes of ``cells`` cells (:data:`SPIKE_RATE`), the binned
    results (:data:`SPIKING_STEPS` bins per cue) and the fixed cost of a network. ``copies``
    counts networks simulated side by side (e.g. a no-plasticity control copy)."""
    steps = seconds / max(dt, 1e-7)
    c, n, p = shape.n_cues, shape.n_units, shape.n_items
    return {"synapses": copies * synapses * SYNAPSE_BYTES,
            "timelines": TIMELINE_COPIES * inputs * steps * FLOAT,
            "spikes": copies * cells * seconds * SPIKE_RATE * SPIKE_BYTES,
            "traces": copies * c * SPIKING_STEPS * (n + p + cells) * FLOAT,
            "network": copies * SPIKING_BASE}


def model_estimate(shape: MemoryShape) -> dict[str, float]:
    """A model's own estimate (its class's ``memory_estimate(shape)``), else :func:`generic_estimate`.

    A model whose memory grows with a parameter that the generic estimate does not read
    (a training set, extra cells or pathways) declares ``memory_estimate`` as a classmethod
    returning bytes by component; ``tests/test_limits.py`` checks every registered model's
    estimate against its measured peak.
    """
    try:
        from ..registry import registry

        cls = registry.get(shape.model_id)
    except Exception:  # an unknown id: validation reports it
        cls = None
    own = getattr(cls, "memory_estimate", None)
    parts = generic_estimate(shape) if own is None else {k: float(v) for k, v in own(shape).items()}
    parts["runtime"] = RUN_BASE
    return parts


def estimate_memory(doc: dict) -> dict[str, float]:
    """Estimated peak memory (bytes) of one run of the raw scenario ``doc``, by component."""
    pat = _section(doc, "patterns")
    cues = _section(doc, "cues")
    targets = cues.get("targets", "all")
    length = 0.0
    if pat.get("kind") == "images":
        names = pat.get("names") if isinstance(pat.get("names"), list) else []
        n_items = _num(pat.get("count"), len(names)) if pat.get("count") is not None else len(names)
        n_units = 256.0
    elif pat.get("kind") == "sequences":
        # count sequences of length items; one cue per cued sequence and position
        length = max(_num(pat.get("length"), 2), 1)
        n_items = _num(pat.get("count"), 1) * length
        n_units = 256.0 if pat.get("items") == "images" else _num(pat.get("size"), 1)
        positions = cues.get("position")
        n_pos = max(len(positions) if isinstance(positions, list) else 1, 1)
        n_targets = (len(targets) if isinstance(targets, list) else _num(pat.get("count"), 1)) * n_pos
    else:
        n_items = _num(pat.get("count"), 1)
        n_units = _num(pat.get("size"), 1)
    if pat.get("kind") != "sequences":
        n_targets = len(targets) if isinstance(targets, list) else n_items
    n_cues = n_targets * max(_num(cues.get("repeats"), 1), 1)
    out = {"patterns": n_items * n_units * FLOAT + n_items * 64, "cues": n_cues * n_units * FLOAT}
    models = doc.get("models") if isinstance(doc.get("models"), list) else []
    for i, spec in enumerate(models):
        spec = spec if isinstance(spec, dict) else {}
        params = spec.get("params") if isinstance(spec.get("params"), dict) else {}
        model_id = str(spec.get("id", ""))
        label = str(spec.get("label") or model_id or f"models[{i}]")
        shape = MemoryShape(model_id, params, n_items, n_units, n_cues, length)
        for part, nbytes in model_estimate(shape).items():
            out[f"{label} {part}"] = nbytes
    return out


def count_tasks(doc: dict) -> tuple[int, str]:
    """Number of sweep points (grid product x zip length x seeds), without expanding; and how it is made."""
    sweep = _section(doc, "sweep")
    if not sweep:
        return 1, "no sweep"
    parts = []
    total = 1
    grid = _section(sweep, "grid")
    for key, values in grid.items():
        n = len(values) if isinstance(values, list) else 1
        total *= n
        parts.append(f"{n} values of {key}")
    zipped = _section(sweep, "zip")
    if zipped:
        n = max((len(v) for v in zipped.values() if isinstance(v, list)), default=1)
        total *= n
        parts.append(f"{n} zipped values")
    seeds = sweep.get("seeds", [0])
    if isinstance(seeds, list):
        n_seeds = len(seeds)
    elif isinstance(seeds, dict):
        n_seeds = int(_num(seeds.get("count"), 1))
    else:
        n_seeds = 1
    total *= max(n_seeds, 1)
    parts.append(f"{n_seeds} seed(s)")
    return total, " x ".join(parts)


def _set(doc: dict, path: str, value: Any) -> None:
    """Set a swept field for the estimate; a path that does not exist is left to validation to report."""
    try:
        set_path(doc, path, value)
    except KeyError:
        return


def worst_point(doc: dict) -> dict:
    """The document with every swept field at its largest numeric value (sizes grow with every value
    the estimate reads), so one estimate bounds every point of a sweep."""
    sweep = _section(doc, "sweep")
    point = {k: copy.deepcopy(v) for k, v in doc.items() if k != "sweep"}
    for section in ("grid", "zip"):
        for path, values in _section(sweep, section).items():
            numbers = [v for v in values if _num(v, -1) >= 0] if isinstance(values, list) else []
            if numbers:
                _set(point, str(path), max(numbers, key=lambda v: _num(v, 0)))
            elif isinstance(values, list) and values and isinstance(values[0], list):
                _set(point, str(path), max(values, key=len))
    return point


def _line(lines: dict, *paths: str) -> tuple[str, int | None]:
    for p in paths:
        if p in lines:
            return p, lines[p]
    return paths[-1], None


def check(doc: Any, lines: dict | None = None, source: str | None = None, limits: Limits | None = None) -> None:
    """Refuse a raw scenario document whose estimated memory or task count exceeds the limits."""
    if not isinstance(doc, dict):
        return
    limits = limits or current()
    lines = lines or {}
    tasks, how = count_tasks(doc)
    if tasks > limits.max_tasks:
        path, line = _line(lines, "sweep.seeds", "sweep.grid", "sweep")
        raise ScenarioError(Problem(
            f"the sweep has {tasks:,} points ({how}), above the limit of {limits.max_tasks:,} tasks; "
            f"sweep fewer values, or raise the limit with --max-tasks {tasks}", path, line), source)
    parts = estimate_memory(worst_point(doc))
    total = sum(parts.values())
    if total > limits.max_memory:
        biggest = max(parts, key=parts.get)
        detail = ", ".join(f"{k} {human(v)}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])[:3])
        field = "cues" if biggest == "cues" else "patterns"
        if biggest not in ("patterns", "cues"):
            label = biggest.rsplit(" ", 1)[0]
            models = doc.get("models") if isinstance(doc.get("models"), list) else []
            idx = next((i for i, m in enumerate(models) if isinstance(m, dict)
                        and label in (m.get("label"), m.get("id"))), None)
            field = f"models[{idx}]" if idx is not None else "models"
        path, line = _line(lines, field, "patterns")
        need = 2 ** math.ceil(math.log2(max(total, 1) / GiB)) if total >= GiB else 1
        advice = (f"make it smaller, or raise the limit with --max-memory {need}GiB" if total < 2 ** 50
                  else "that is beyond the memory of any machine; make it smaller")
        raise ScenarioError(Problem(
            f"one run of this scenario needs about {human(total)} of memory ({detail}), above the limit "
            f"of {human(limits.max_memory)}; {advice}", path, line), source)


def total_memory(doc: dict) -> float:
    """The estimated peak memory (bytes) of the largest run of ``doc``."""
    return sum(estimate_memory(worst_point(doc)).values()) if isinstance(doc, dict) else 0.0
