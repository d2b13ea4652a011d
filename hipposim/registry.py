"""The model registry: one table of versioned ids and lazy ``module:Class`` entry points.

Nothing is imported until a model is used, so ``import hipposim`` stays light
(and never imports brian2). Other packages add models through the
``hipposim.models`` entry-point group; a plug-in that fails to load gives a
warning, not a crash.
"""
from __future__ import annotations

import difflib
import importlib
import re
import warnings
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .contract import Model

ENTRY_POINT_GROUP = "hipposim.models"

_VERSIONED = re.compile(r"^(?P<base>.+)-v(?P<version>\d+)$")


class Registry:
    """A lazy table from versioned model id to ``module:Class``."""

    def __init__(self, table: dict[str, str]):
        self._table = dict(table)
        self._loaded: dict[str, type[Model]] = {}
        self._plugins_loaded = False

    def register(self, model_id: str, entry_point: str) -> None:
        """Add a model.

        Parameters
        ----------
        model_id : str
            The id, ending in a version, e.g. ``my-model-v1``.
        entry_point : str
            ``package.module:Class``, imported on first use.

        Raises
        ------
        ValueError
            When the id has no version or the entry point is not of that form.
        """
        if not _VERSIONED.match(model_id):
            raise ValueError(f"model id {model_id!r} must end with a version such as '-v1'")
        if ":" not in entry_point:
            raise ValueError(f"entry point {entry_point!r} must look like 'package.module:Class'")
        self._table[model_id] = entry_point

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                self.register(ep.name, ep.value)
            except ValueError as exc:
                warnings.warn(f"ignoring hipposim plug-in {ep.name!r}: {exc}", stacklevel=2)

    def ids(self) -> list[str]:
        """Every registered model id, built-in and from plug-ins, sorted."""
        self._load_plugins()
        return sorted(self._table)

    def resolve_id(self, model_id: str) -> str:
        """Accept ``id`` or an unversioned name (meaning its newest version)."""
        self._load_plugins()
        if model_id in self._table:
            return model_id
        versions = [(int(m["version"]), k) for k in self._table
                    if (m := _VERSIONED.match(k)) and m["base"] == model_id]
        if versions:
            return max(versions)[1]
        names = sorted(set(self._table) | {_VERSIONED.match(k)["base"] for k in self._table})
        guess = difflib.get_close_matches(model_id, names, n=1, cutoff=0.5)
        hint = f"did you mean '{guess[0]}'? " if guess else ""
        raise ValueError(f"unknown model '{model_id}'; {hint}registered: {', '.join(self.ids())}")

    def get(self, model_id: str) -> type[Model]:
        """The model class for ``model_id`` (imported on first use)."""
        model_id = self.resolve_id(model_id)
        if model_id not in self._loaded:
            module_name, _, attr = self._table[model_id].partition(":")
            cls = getattr(importlib.import_module(module_name), attr)
            cls.id = model_id
            self._loaded[model_id] = cls
        return self._loaded[model_id]

    def make(self, model_id: str, params: dict | None = None) -> Model:
        """A model instance with validated parameters.

        Parameters
        ----------
        model_id : str
            A registered id (``hopfield-modern-v1``) or an unversioned name (its newest version).
        params : dict, optional
            Parameter values; the rest keep their declared defaults. Unknown names and values out of
            bounds raise :class:`pydantic.ValidationError`.

        Returns
        -------
        Model
            The model; nothing is simulated until :meth:`~hipposim.contract.Model.run`.
        """
        return self.get(model_id)(params or {})


def _builtin() -> dict[str, str]:
    from .models import BUILTIN

    return BUILTIN


registry = Registry(_builtin())


def describe_params(cls: type[Model]) -> list[dict]:
    """Parameters of a model as rows: name, default (with its unit), bounds, description."""
    import annotated_types as at

    rows = []
    for name, field in cls.Params.model_fields.items():
        default = field.default
        default = getattr(default, "text", default)
        bounds = []
        for meta in field.metadata:
            for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
                if isinstance(meta, getattr(at, attr.capitalize())):
                    bounds.append(f"{sym} {getattr(meta, attr)}")
        schema_hint = ""
        for meta in list(field.metadata) + [a for a in getattr(field.annotation, "__metadata__", ())]:
            js = getattr(meta, "json_schema", None)
            if isinstance(js, dict) and "description" in js:
                schema_hint = js["description"].split(",")[0]
                if js.get("bounds"):
                    bounds.append(js["bounds"])
        rows.append({"name": name, "default": default, "bounds": ", ".join(bounds), "unit": schema_hint,
                     "description": field.description or ""})
    return rows
