"""Physical quantities written as strings with units ("20 ms", "15 Hz").

Parsing is done by :mod:`pint`'s tokenising expression parser (never ``eval``),
and every quantity is checked against the dimension its field expects. Values
are handed to models in SI base units as plain floats, so models never see a
units library.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["Quantity", "parse_quantity", "quantity_type", "Time", "Rate", "Voltage", "Strength", "Current",
           "Conductance", "Capacitance", "Resistance", "Dimensionless"]

# dimension name -> (pint dimensionality string, an example used in messages)
DIMENSIONS: dict[str, tuple[str, str]] = {
    "time": ("[time]", "20 ms"),
    "frequency": ("1 / [time]", "15 Hz"),
    "voltage": ("[mass] * [length] ** 2 / [current] / [time] ** 3", "-65 mV"),
    "current": ("[current]", "0.5 nA"),
    "conductance": ("[current] ** 2 * [time] ** 3 / [mass] / [length] ** 2", "10 nS"),
    "capacitance": ("[current] ** 2 * [time] ** 4 / [mass] / [length] ** 2", "200 pF"),
    "resistance": ("[mass] * [length] ** 2 / [current] ** 2 / [time] ** 3", "100 Mohm"),
}

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_ /*^0-9Ωµμ]*)\s*$")


@functools.lru_cache(maxsize=1)
def _registry():
    import pint

    return pint.UnitRegistry()


class Quantity:
    """An immutable physical quantity: ``value`` in SI units plus its original text."""

    __slots__ = ("si", "text", "dimension")

    def __init__(self, si: float, text: str, dimension: str):
        self.si = float(si)
        self.text = text
        self.dimension = dimension

    def __float__(self) -> float:
        return self.si

    def __repr__(self) -> str:
        return f"Quantity({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and other.si == self.si and other.dimension == self.dimension

    def __hash__(self) -> int:
        return hash((self.si, self.dimension))

    def to(self, unit: str) -> float:
        """Magnitude in ``unit`` (e.g. ``q.to("ms")``)."""
        return float(_registry().Quantity(self.si, _SI_UNIT[self.dimension]).to(unit).magnitude)


_SI_UNIT = {"time": "s", "frequency": "Hz", "voltage": "V", "current": "A",
            "conductance": "S", "capacitance": "F", "resistance": "ohm"}


def parse_quantity(value: Any, dimension: str) -> Quantity:
    """Parse ``value`` ("20 ms") as a quantity of ``dimension``.

    Raises ``ValueError`` with a message saying what was expected.
    """
    expected_dim, example = DIMENSIONS[dimension]
    if isinstance(value, Quantity):
        if value.dimension != dimension:
            raise ValueError(f"expected a {dimension} such as '{example}', got a {value.dimension}")
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a {dimension} written with its unit, such as '{example}'")
    if isinstance(value, (int, float)):
        raise ValueError(
            f"expected a {dimension} written with its unit, such as '{example}'; "
            f"got the bare number {value!r}")
    match = _NUMBER_UNIT.match(value)
    if not match or not match.group(2).strip():
        raise ValueError(f"expected a {dimension} written as a number and a unit, such as "
                         f"'{example}'; got {value!r}")
    number, unit = float(match.group(1)), match.group(2).strip()
    ureg = _registry()
    try:
        parsed_unit = ureg.parse_units(unit.replace("Ω", "ohm").replace("µ", "u").replace("μ", "u"))
    except Exception:  # pint raises several error types for unknown units
        raise ValueError(f"unknown unit {unit!r}; expected a {dimension} such as '{example}'") from None
    q = number * parsed_unit
    if q.dimensionality != ureg.parse_expression(f"1 {_SI_UNIT[dimension]}").dimensionality:
        got = _name_dimension(q)
        raise ValueError(f"expected a {dimension} such as '{example}', but {value!r} is {got}")
    si = q.to(_SI_UNIT[dimension]).magnitude
    if not math.isfinite(si):
        raise ValueError(f"expected a finite {dimension}, got {value!r}")
    return Quantity(si, f"{match.group(1)} {unit}", dimension)


def _name_dimension(q) -> str:
    ureg = _registry()
    for name, si_unit in _SI_UNIT.items():
        if q.dimensionality == ureg.parse_expression(f"1 {si_unit}").dimensionality:
            return f"a {name}"
    return f"of dimension {q.dimensionality}"


_BOUND_OPS = {"gt": (">", lambda a, b: a > b), "ge": (">=", lambda a, b: a >= b),
              "lt": ("<", lambda a, b: a < b), "le": ("<=", lambda a, b: a <= b)}


def check_bounds(q: Quantity, bounds: dict[str, float], dimension: str) -> Quantity:
    """Refuse ``q`` outside ``bounds`` ({"gt": si, ...}); the message names the bound."""
    for op, limit in bounds.items():
        sym, ok = _BOUND_OPS[op]
        if not ok(q.si, limit):
            raise ValueError(f"got {q.text!r}; expected a {dimension} {sym} {format_si(limit, dimension)}")
    return q


def format_si(value: float, dimension: str) -> str:
    """An SI value written with its unit ("0 s", "-0.065 V")."""
    return f"{value:g} {_SI_UNIT[dimension]}"


def quantity_type(dimension: str, **bounds: float):
    """A pydantic type for a quantity of ``dimension`` with optional bounds in SI units.

    ``quantity_type("time", gt=0)`` accepts "20 ms" and refuses "-20 ms" with
    "expected a time > 0 s". Bounds appear in the JSON Schema and in
    ``hipposim models``.
    """
    example = DIMENSIONS[dimension][1]
    text = ", ".join(f"{_BOUND_OPS[op][0]} {format_si(v, dimension)}" for op, v in bounds.items())
    schema = {"type": "string", "description": f"a {dimension} with its unit, e.g. '{example}'",
              "examples": [example]}
    if text:
        schema["bounds"] = text
    return Annotated[
        Quantity,
        BeforeValidator(lambda v: check_bounds(parse_quantity(v, dimension), bounds, dimension)),
        PlainSerializer(lambda q: q.text, return_type=str),
        WithJsonSchema(schema),
    ]


#: durations and time constants: strictly positive
Time = quantity_type("time", gt=0)
#: firing rates: never negative
Rate = quantity_type("frequency", ge=0)
#: membrane potentials (rest, threshold, reset): any finite value
Voltage = quantity_type("voltage")
#: synaptic strengths (a depolarisation or hyperpolarisation magnitude): never negative
Strength = quantity_type("voltage", ge=0)
Current = quantity_type("current")
Conductance = quantity_type("conductance", ge=0)
Capacitance = quantity_type("capacitance", gt=0)
Resistance = quantity_type("resistance", gt=0)
Dimensionless = float
