"""The base of every declared parameter set: frozen, unknown keys refused with a did-you-mean."""
from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


class Strict(BaseModel):
    """A frozen pydantic model that refuses unknown keys and suggests the closest known one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
        return data
