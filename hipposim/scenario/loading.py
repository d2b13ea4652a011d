"""Loading scenarios: YAML text -> validated, frozen :class:`Scenario`, with line-numbered errors."""
from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from ..errors import Problem, ScenarioError
from . import limits
from .schema import SCHEMA_VERSION, Scenario
from .yamlio import load_yaml_file, load_yaml_text, path_key


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
        if err["type"] in ("unknown_field", "field_problem"):
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
        elif err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal",
                             "finite_number", "too_short", "int_from_float", "int_parsing", "float_parsing"):
            message = f"got {err.get('input')!r}; {message[0].lower()}{message[1:]}"
        problems.append(Problem(message, path_key(tuple(parts)), _line_of(lines, tuple(parts))))
    return problems


def _line_of(lines: dict[str, int], key: tuple) -> int | None:
    """The line of a field path, or of its nearest parent that has one."""
    while True:
        if path_key(key) in lines:
            return lines[path_key(key)]
        if not key:
            return None
        key = key[:-1]


def _non_finite(data: Any, parts: tuple = ()) -> Iterator[tuple]:
    """Field paths of every infinite or NaN number in a raw document."""
    if isinstance(data, float) and not math.isfinite(data):
        yield parts, data
    elif isinstance(data, dict):
        for k, v in data.items():
            yield from _non_finite(v, parts + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _non_finite(v, parts + (i,))


def validate_data(data: Any, lines: dict[str, int] | None = None, source: str | None = None,
                  check_limits: bool = True) -> Scenario:
    """Validate already-parsed scenario data (a dict).

    Before any validator runs, every number is checked to be finite (no field of a
    scenario documents infinity or NaN as a value) and, unless ``check_limits`` is
    false, the memory and task count the scenario implies are checked against
    :mod:`hipposim.scenario.limits`, so that nothing is allocated for a scenario
    that could not run.
    """
    lines = lines or {}
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping with 'name', 'patterns', 'cues' and 'models' at the top level",
                            source)
    bad = [Problem(f"got {value!r}; expected a finite number", path_key(parts), _line_of(lines, parts))
           for parts, value in itertools.islice(_non_finite(data), 5)]
    if bad:
        raise ScenarioError(bad, source)
    if check_limits:
        limits.check(data, lines, source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_translate(exc, lines, data), source) from None
    # second pass: each model's own parameters, against its declaration
    from ..registry import registry

    problems: list[Problem] = []
    normalised = []
    sequences = getattr(scenario.patterns, "kind", None) == "sequences"
    for i, spec in enumerate(scenario.models):
        cls = registry.get(spec.id)
        if sequences and not getattr(cls, "plays_sequences", False):
            problems.append(Problem(
                f"model '{spec.name}' ({spec.id}) recalls single items and cannot play sequences, but "
                f"patterns.kind is 'sequences'; use a sequence model (e.g. sequence-classical-v1, "
                f"sequence-dense-v1, attention-causal-v1) or other patterns",
                f"models[{i}].id", lines.get(f"models[{i}].id", lines.get(f"models[{i}]"))))
            continue
        if not sequences and not getattr(cls, "recalls_items", True):
            problems.append(Problem(
                f"model '{spec.name}' ({spec.id}) plays sequences only, but patterns.kind is "
                f"'{getattr(scenario.patterns, 'kind', '?')}'; give it patterns.kind: sequences",
                f"models[{i}].id", lines.get(f"models[{i}].id", lines.get(f"models[{i}]"))))
            continue
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
    # the document as written (before knobs fill model parameters) and its line
    # map travel with the scenario, so a sweep expands it in memory and points
    # its errors at the right line without reading the file again
    scenario._document = copy.deepcopy(data)
    scenario._lines = dict(lines)
    scenario._source = source
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file. Raises :class:`ScenarioError`."""
    data, lines = load_yaml_file(path)
    return validate_data(data, lines, str(path))


def loads_scenario(text: str, source: str = "<string>", check_limits: bool = True) -> Scenario:
    """Validate a scenario given as YAML text."""
    data, lines = load_yaml_text(text, source)
    return validate_data(data, lines, source, check_limits=check_limits)


def json_schema() -> dict:
    """The JSON Schema of scenario files (for editors)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"hipposim scenario, version {SCHEMA_VERSION}"
    return schema
