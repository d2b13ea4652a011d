"""The base of every declared parameter set: frozen, unknown keys refused with a did-you-mean.

Three rules hold for every field of every :class:`Strict` model, so that no
number that validates can break a run later:

* numbers are finite (``allow_inf_nan=False``): ``.inf`` and ``.nan`` are refused;
* a boolean is never accepted where a number or a name is expected. YAML 1.1
  reads ``yes``/``no``/``on``/``off`` as booleans, and pydantic would otherwise
  turn ``yes`` into the integer 1 (``targets: [yes, 0]`` would silently cue item 1);
* a time (a :class:`~hipposim.units.Quantity` of dimension time) is positive,
  unless its field declares ``json_schema_extra={"allow_zero_time": True}``,
  in which case it may also be zero, or its type states bounds of its own (a
  bounded quantity type), which then rule. Nothing in a model can go backwards in time.
"""
from __future__ import annotations

import difflib
import functools
import math
import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


@functools.lru_cache(maxsize=None)
def admits_bool(annotation: Any) -> bool:
    """Whether a field of this type may hold a boolean (``bool``, ``Any``, or a union/literal with one)."""
    if annotation is bool or annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return admits_bool(typing.get_args(annotation)[0])
    if origin is Literal:
        return any(isinstance(a, bool) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return any(admits_bool(a) for a in typing.get_args(annotation))
    return False


def _item_type(annotation: Any) -> Any | None:
    """The element type of a ``list[X]`` (possibly inside a union), else None."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _item_type(typing.get_args(annotation)[0])
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        return args[0] if args else Any
    if origin in (Union, types.UnionType):
        for a in typing.get_args(annotation):
            inner = _item_type(a)
            if inner is not None:
                return inner
    return None


def field_problem(key: str, message: str) -> PydanticCustomError:
    """An error about field ``key`` raised from a model-level validator; the loader appends ``key``
    to the error's field path."""
    return PydanticCustomError("field_problem", "{message}", {"key": key, "message": message})


def _refuse_bool(key: str, value: Any) -> PydanticCustomError:
    return field_problem(key, f"got the boolean {value!r}; expected a number or a name here (YAML reads "
                              "yes/no/on/off/true/false as booleans: quote the value if you mean a name)")


def _declares_bounds(info) -> bool:
    """Whether a quantity field's type states its own bounds (``quantity_type("time", ge=0)``
    records them under "bounds" in its JSON Schema); those bounds then rule, not the default."""
    for meta in getattr(info, "metadata", ()):
        schema = getattr(meta, "json_schema", None)
        if isinstance(schema, dict) and "bounds" in schema:
            return True
    return False


class Strict(BaseModel):
    """A frozen pydantic model that refuses unknown keys (suggesting the closest known one),
    non-finite numbers, booleans where numbers are expected, and non-positive times."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(cls.model_fields)
            for key in data:
                if key not in known:
                    guess = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
                    hint = f"did you mean '{guess[0]}'? " if guess else ""
                    raise PydanticCustomError(
                        "unknown_field", "unknown field '{key}'; {hint}expected one of: {allowed}",
                        {"key": str(key), "hint": hint, "allowed": ", ".join(sorted(known))})
            for key, value in data.items():
                annotation = cls.model_fields[key].annotation
                if isinstance(value, bool) and not admits_bool(annotation):
                    raise _refuse_bool(key, value)
                if isinstance(value, list) and any(isinstance(v, bool) for v in value):
                    item = _item_type(annotation)
                    if item is not None and not admits_bool(item):
                        raise _refuse_bool(key, next(v for v in value if isinstance(v, bool)))
        return data

    @model_validator(mode="after")
    def _times_positive(self) -> "Strict":
        from .units import Quantity

        for name, info in type(self).model_fields.items():
            value = getattr(self, name, None)
            if not isinstance(value, Quantity):
                continue
            if not math.isfinite(value.si):
                raise field_problem(name, f"got {value.text}; expected a finite {value.dimension}")
            if value.dimension == "time" and not _declares_bounds(info):
                extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
                if extra.get("allow_zero_time"):
                    if value.si < 0:
                        raise field_problem(name, f"got {value.text}; expected a time of 0 or more")
                elif value.si <= 0:
                    raise field_problem(name, f"got {value.text}; expected a positive time")
        return self
