"""The scenario: one YAML file, validated against a typed, versioned schema.

A scenario names the stored patterns, the cues, the models to run and,
optionally, a sweep. It is data: it is read with a safe loader (see
:mod:`hipposim.yamlio`), validated by pydantic, and frozen. Models never read
YAML; they receive their validated ``Params`` and the shared
:class:`~hipposim.stimuli.Stimulus`.
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from . import stimuli
from .errors import Problem, ScenarioError
from .strict import Strict
from .yamlio import load_yaml_file, load_yaml_text, path_key

SCHEMA_VERSION = 1


# --------------------------------------------------------------------------- patterns

class RandomPatterns(Strict):
    """i.i.d. +-1 patterns."""

    kind: Literal["random"]
    count: int = Field(gt=0, description="number of stored patterns P")
    size: int = Field(gt=0, description="number of units N")


class SparsePatterns(Strict):
    """0/1 patterns with a fixed number of active units (coding level a)."""

    kind: Literal["sparse"]
    count: int = Field(gt=0, description="number of stored patterns P")
    size: int = Field(gt=0, description="number of units N")
    coding_level: float = Field(gt=0, lt=1, description="fraction a of active units")

    @model_validator(mode="after")
    def _some_active(self) -> "SparsePatterns":
        if round(self.coding_level * self.size) < 1:
            raise ValueError(f"coding_level {self.coding_level} leaves no active unit among "
                             f"{self.size}; expected coding_level >= {1 / self.size:.3g}")
        return self


class CorrelatedPatterns(Strict):
    """+-1 children of a few random parents; similarity = P(unit copied from the parent)."""

    kind: Literal["correlated"]
    count: int = Field(gt=0, description="number of stored patterns P")
    size: int = Field(gt=0, description="number of units N")
    parents: int = Field(2, gt=0, description="number of parent patterns (clusters)")
    similarity: float = Field(0.8, ge=0, le=1, description="expected child-parent overlap")

    @model_validator(mode="after")
    def _enough(self) -> "CorrelatedPatterns":
        if self.parents > self.count:
            raise ValueError(f"parents ({self.parents}) cannot exceed count ({self.count})")
        return self


class ImagePatterns(Strict):
    """Built-in binary images (16x16, '#' = +1)."""

    kind: Literal["images"]
    names: list[str] = Field(min_length=1, description="built-in image names, see `hipposim images`")
    count: int | None = Field(None, gt=0, description="use only the first `count` names")

    @field_validator("names")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        available = stimuli.available_images()
        for n in names:
            if n not in available:
                guess = difflib.get_close_matches(n, available, n=1)
                hint = f"did you mean '{guess[0]}'? " if guess else ""
                raise ValueError(f"no built-in image '{n}'; {hint}available: {', '.join(available)}")
        if len(set(names)) != len(names):
            raise ValueError("image names must be distinct")
        return names

    @model_validator(mode="after")
    def _enough(self) -> "ImagePatterns":
        if self.count is not None and self.count > len(self.names):
            raise ValueError(f"count {self.count} asks for more patterns than the {len(self.names)} "
                             f"images listed in 'names' can supply")
        return self

    @property
    def size(self) -> int:
        return 256


PatternSpec = Annotated[Union[RandomPatterns, SparsePatterns, CorrelatedPatterns, ImagePatterns],
                        Field(discriminator="kind")]


# --------------------------------------------------------------------------- cues

class CueSpec(Strict):
    """How recall cues are made from the stored patterns."""

    kind: Literal["masked", "noisy", "mixture"] = Field(
        "masked", description="masked: hide units; noisy: flip units; mixture: blend two patterns")
    targets: Literal["all"] | list[Union[int, str]] = Field(
        "all", description="patterns to cue: 'all', or a list of names or indices")
    fraction: float = Field(0.5, ge=0, le=1, description="masked/noisy: fraction of units hidden or flipped")
    region: Literal[stimuli.REGIONS] | None = Field(  # type: ignore[valid-type]
        None, description="masked, images only: hide a region instead of random units")
    other: Union[int, str, None] = Field(None, description="mixture: the second pattern")
    weight: float = Field(0.7, ge=0, le=1, description="mixture: weight of the target")
    repeats: int = Field(1, gt=0, description="cues per target (different random masks/noise)")


# --------------------------------------------------------------------------- models

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ModelSpec(Strict):
    """One model of the scenario: a registry id, an optional label, and its parameters."""

    id: str = Field(description="registry id, e.g. 'hopfield-modern-v1' (see `hipposim models`)")
    label: str | None = Field(None, description="name used in plots and file names (default: the id)")
    params: dict[str, Any] = Field(default_factory=dict, description="model parameters")

    @field_validator("id")
    @classmethod
    def _registered(cls, value: str) -> str:
        from .registry import registry

        return registry.resolve_id(value)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL.match(value):
            raise ValueError("expected a short name of letters, digits, '_', '-' or '.', "
                             "starting with a letter or digit")
        return value

    @property
    def name(self) -> str:
        return self.label or self.id


class AnalysisSpec(Strict):
    """How results are judged."""

    success_overlap: float = Field(0.9, gt=0, le=1, description="a recall succeeds when the final overlap "
                                                                 "with the target reaches this")


class OutputSpec(Strict):
    """What is written into the run folder (paths are relative to it)."""

    figures: str = Field("figures", description="sub-folder for figures")
    traces: str = Field("traces", description="sub-folder for per-model NetCDF traces")
    formats: list[Literal["png", "svg"]] = Field(["png"], min_length=1, description="figure formats")

    @field_validator("figures", "traces")
    @classmethod
    def _inside(cls, value: str) -> str:
        p = PurePosixPath(value.replace("\\", "/"))
        if p.is_absolute() or ".." in p.parts or value.strip() in ("", ".") or ":" in value:
            raise ValueError(f"'{value}' escapes the output folder; expected a relative sub-folder "
                             "name such as 'figures'")
        return value


class KnobSpec(Strict):
    """Knobs shared across model families, each set in this one place.

    A knob is applied to every model that declares it (``Model.knobs``); setting
    the same parameter again under a model's ``params`` is an error. The number
    of stored items is ``patterns.count`` (or the image list).
    """

    beta: float | None = Field(None, gt=0, description="inverse temperature of attention and modern "
                                                         "Hopfield reads")
    inhibition: float | None = Field(None, ge=0, description="CA3 feedback inhibition, as a factor of the "
                                                              "model's default strength")
    gain: float | None = Field(None, gt=0, description="CA3 recurrent excitatory gain, as a factor of the "
                                                        "model's default strength")


class SeedRange(Strict):
    start: int = Field(0, ge=0)
    count: int = Field(gt=0)


class SweepSpec(Strict):
    """A sweep: each point is the scenario with some fields replaced.

    ``grid`` takes the cartesian product of its lists, ``zip`` steps its
    (equal-length) lists together, and ``seeds`` repeats every point per seed.
    Fields are addressed by dotted paths, e.g. ``patterns.count`` or
    ``models[0].params.beta``.
    """

    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    seeds: SeedRange | list[int] = Field(default_factory=lambda: [0])
    kind: Literal["generic", "capacity", "phase"] = Field(
        "generic", description="capacity: recall against load P/N with theory; phase: beta x load regime map")

    @model_validator(mode="after")
    def _consistent(self) -> "SweepSpec":
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise ValueError("all lists under 'zip' must have the same length")
        for key, values in {**self.grid, **self.zip}.items():
            if not values:
                raise ValueError(f"sweep values for '{key}' are empty")
        if set(self.grid) & set(self.zip):
            raise ValueError("a field cannot be both in 'grid' and in 'zip'")
        return self

    def seed_list(self) -> list[int]:
        if isinstance(self.seeds, SeedRange):
            return list(range(self.seeds.start, self.seeds.start + self.seeds.count))
        return list(self.seeds)


class Scenario(Strict):
    """A hipposim scenario (schema version 1)."""

    version: Literal[1] = Field(1, description="schema version")
    name: str = Field(description="short name of the scenario")
    description: str = Field("", description="free text")
    seed: int = Field(0, ge=0, description="the one seed that drives patterns, cues and models")
    patterns: PatternSpec
    cues: CueSpec = Field(default_factory=CueSpec)
    models: list[ModelSpec] = Field(min_length=1)
    knobs: KnobSpec = Field(default_factory=KnobSpec)
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    sweep: SweepSpec | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _LABEL.match(value):
            raise ValueError("expected a short name of letters, digits, '_', '-' or '.'")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> "Scenario":
        labels = [m.name for m in self.models]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"model labels must be unique; give each of {dupes} its own 'label'")
        names = pattern_names(self.patterns)
        cue = self.cues
        if cue.targets != "all":
            for t in cue.targets:
                _pattern_index(t, names)
        if cue.kind == "mixture":
            if cue.other is None:
                raise ValueError("cues.kind 'mixture' needs cues.other, the second pattern")
            _pattern_index(cue.other, names)
        if cue.region is not None and not isinstance(self.patterns, ImagePatterns):
            raise ValueError("cues.region applies to image patterns only; use cues.fraction")
        return self

    def with_seed(self, seed: int) -> "Scenario":
        return self.model_copy(update={"seed": seed})


def pattern_names(spec) -> list[str]:
    if isinstance(spec, ImagePatterns):
        return spec.names[: spec.count] if spec.count else list(spec.names)
    return [f"p{mu}" for mu in range(spec.count)]


def _pattern_index(ref: int | str, names: list[str]) -> int:
    if isinstance(ref, int):
        if not 0 <= ref < len(names):
            raise ValueError(f"pattern index {ref} is out of range; there are {len(names)} patterns")
        return ref
    if ref not in names:
        guess = difflib.get_close_matches(ref, names, n=1)
        hint = f"; did you mean '{guess[0]}'?" if guess else ""
        raise ValueError(f"no pattern named '{ref}'{hint}")
    return names.index(ref)


# --------------------------------------------------------------------------- loading

def _translate(exc: ValidationError, lines: dict[str, int], data: Any, prefix: tuple = ()) -> list[Problem]:
    """Turn pydantic errors into Problems with field paths and line numbers."""
    problems = []
    for err in exc.errors(include_url=False):
        parts = list(prefix)
        node = data
        for item in err["loc"]:
            # drop union/discriminator tags that are not keys of the data
            if isinstance(node, dict) and item in node:
                parts.append(item)
                node = node[item]
            elif isinstance(node, list) and isinstance(item, int) and item < len(node):
                parts.append(item)
                node = node[item]
        message = err["msg"]
        if err["type"] == "unknown_field":
            parts.append(err["ctx"]["key"])
        elif err["type"] == "missing":
            message = f"required field '{err['loc'][-1]}' is missing"
        elif err["type"] == "union_tag_invalid":
            message = (f"unknown kind {err['ctx'].get('tag')!r}; expected one of "
                       f"{err['ctx'].get('expected_tags')}")
        elif err["type"] == "union_tag_not_found":
            message = f"'kind' is missing; expected one of {err['ctx'].get('expected_tags')}"
        elif err["type"] == "literal_error":
            message = f"got {err.get('input')!r}; expected {err['ctx'].get('expected')}"
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        elif err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            message = f"got {err.get('input')!r}; {message[0].lower()}{message[1:]}"
        key = tuple(parts)
        line = None
        while True:
            if path_key(key) in lines:
                line = lines[path_key(key)]
                break
            if not key:
                break
            key = key[:-1]
        problems.append(Problem(message, path_key(tuple(parts)), line))
    return problems


def validate_data(data: Any, lines: dict[str, int] | None = None, source: str | None = None) -> Scenario:
    """Validate already-parsed scenario data (a dict)."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping with 'name', 'patterns', 'cues' and 'models' at the top level",
                            source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_translate(exc, lines, data), source) from None
    # second pass: each model's own parameters, against its declaration
    from .registry import registry

    problems: list[Problem] = []
    normalised = []
    for i, spec in enumerate(scenario.models):
        cls = registry.get(spec.id)
        raw_params = dict(spec.params)
        for knob, field in getattr(cls, "knobs", {}).items():
            value = getattr(scenario.knobs, knob)
            if value is None:
                continue
            if field in raw_params and raw_params[field] != value:
                problems.append(Problem(
                    f"'{field}' is set here to {raw_params[field]!r} and by knobs.{knob} to {value!r}; "
                    "set it in one place",
                    f"models[{i}].params.{field}", lines.get(f"models[{i}].params.{field}")))
                continue
            raw_params[field] = value
        try:
            params = cls.Params.model_validate(raw_params)
        except ValidationError as exc:
            problems += _translate(exc, lines, data["models"][i].get("params", {}), ("models", i, "params"))
            continue
        check = getattr(cls, "check_scenario", None)
        if check is not None:
            try:
                check(params, scenario)
            except ValueError as exc:
                problems.append(Problem(str(exc), f"models[{i}].params", lines.get(f"models[{i}].params",
                                                                                   lines.get(f"models[{i}]"))))
                continue
        normalised.append(spec.model_copy(update={"params": params.model_dump(mode="json")}))
    if problems:
        raise ScenarioError(problems, source)
    scenario = scenario.model_copy(update={"models": normalised})
    if scenario.sweep is not None:
        from .sweep import sweep_points

        sweep_points(scenario, data, lines, source)  # checks every path and value
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file. Raises :class:`ScenarioError`."""
    data, lines = load_yaml_file(path)
    return validate_data(data, lines, str(path))


def loads_scenario(text: str, source: str = "<string>") -> Scenario:
    """Validate a scenario given as YAML text."""
    data, lines = load_yaml_text(text, source)
    return validate_data(data, lines, source)


def json_schema() -> dict:
    """The JSON Schema of scenario files (for editors)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"hipposim scenario, version {SCHEMA_VERSION}"
    return schema


# --------------------------------------------------------------------------- stimulus

def seed_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """Independent random streams derived from the scenario's one seed."""
    root = np.random.SeedSequence(seed)
    patterns, cues, models = root.spawn(3)
    return {"patterns": patterns, "cues": cues, "models": models}


def model_rng(seed: int, index: int) -> np.random.Generator:
    """The generator handed to the ``index``-th model of a scenario."""
    return np.random.default_rng(seed_streams(seed)["models"].spawn(index + 1)[index])


def build_stimulus(scenario: Scenario) -> stimuli.Stimulus:
    """Make the patterns and cues every model of ``scenario`` will see."""
    streams = seed_streams(scenario.seed)
    prng = np.random.default_rng(streams["patterns"])
    spec = scenario.patterns
    names = pattern_names(spec)
    image_shape = None
    metadata: dict[str, Any] = {}
    if isinstance(spec, RandomPatterns):
        patterns, coding = stimuli.random_bipolar(spec.count, spec.size, prng), "bipolar"
    elif isinstance(spec, SparsePatterns):
        patterns, coding = stimuli.sparse_binary(spec.count, spec.size, spec.coding_level, prng), "binary"
    elif isinstance(spec, CorrelatedPatterns):
        patterns, family = stimuli.correlated_bipolar(spec.count, spec.size, spec.parents, spec.similarity, prng)
        coding = "bipolar"
        metadata["family"] = family
    else:
        images = [stimuli.load_image(n) for n in names]
        image_shape = images[0].shape
        patterns, coding = np.stack([im.ravel() for im in images]), "bipolar"
    cue = scenario.cues
    crng = np.random.default_rng(streams["cues"])
    target_ids = (list(range(len(names))) if cue.targets == "all"
                  else [_pattern_index(t, names) for t in cue.targets])
    cues, targets, known = [], [], []
    n = patterns.shape[1]
    for t in target_ids:
        for _ in range(cue.repeats):
            if cue.kind == "masked":
                if cue.region is not None:
                    hidden = stimuli.region_mask(cue.region, image_shape)
                else:
                    hidden = np.zeros(n, dtype=bool)
                    hidden[crng.choice(n, size=int(round(cue.fraction * n)), replace=False)] = True
                cues.append(stimuli.masked_cue(patterns[t], hidden))
                known.append(~hidden)
            elif cue.kind == "noisy":
                cues.append(stimuli.noisy_cue(patterns[t], cue.fraction, coding, crng))
                known.append(np.ones(n, dtype=bool))
            else:
                other = patterns[_pattern_index(cue.other, names)]
                cues.append(stimuli.mixture_cue(patterns[t], other, cue.weight, coding))
                known.append(np.ones(n, dtype=bool))
            targets.append(t)
    return stimuli.Stimulus(patterns=patterns, names=tuple(names), coding=coding, cues=np.array(cues),
                            targets=np.array(targets), known=np.array(known), image_shape=image_shape,
                            metadata=metadata)


def set_path(data: dict, path: str, value: Any) -> None:
    """Set ``value`` at a dotted path such as ``models[0].params.beta`` (in place).

    Raises ``KeyError`` naming the part of the path that does not exist.
    The last key may be absent only if its parent is a mapping (a field left at
    its default), which validation then checks.
    """
    tokens = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    if not tokens or "".join(t if t.startswith("[") else "." + t for t in tokens).lstrip(".") != path:
        raise KeyError(f"'{path}' is not a field path; expected e.g. 'patterns.count' or 'models[0].params.beta'")
    node: Any = data
    for i, tok in enumerate(tokens):
        last = i == len(tokens) - 1
        if tok.startswith("["):
            idx = int(tok[1:-1])
            if not isinstance(node, list) or idx >= len(node):
                raise KeyError(f"'{path}': there is no item {idx} here")
            if last:
                node[idx] = value
            else:
                node = node[idx]
        else:
            if not isinstance(node, dict):
                raise KeyError(f"'{path}': '{tok}' is not inside a mapping")
            if last:
                node[tok] = value
            else:
                if tok not in node:
                    node[tok] = {}
                node = node[tok]
