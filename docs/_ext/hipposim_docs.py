"""Sphinx directives that generate hipposim's reference tables from the code itself.

``.. hipposim-schema::`` walks the JSON Schema of scenario files
(:func:`hipposim.scenario.loading.json_schema`, the one ``hipposim schema`` prints) and
writes one table per section: field, type, unit, bounds, default and description.
``.. hipposim-params:: MODEL_ID`` does the same for a registered model's ``Params``.
``.. hipposim-model-summary:: MODEL_ID`` gives its one-line description, class and
knobs. The tables therefore cannot drift from the pydantic declarations.
"""
from __future__ import annotations

import json
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

_BOUNDS = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"),
           ("minLength", "length >="), ("maxLength", "length <="), ("minItems", "items >="),
           ("maxItems", "items <="))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(prop: dict, defs: dict) -> str:
    """A short type name for one JSON Schema property."""
    if "$ref" in prop:
        return _ref_name(prop["$ref"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " | ".join(type_of(p, defs) for p in prop[key])
    kind = prop.get("type")
    if kind == "array":
        return f"list[{type_of(prop.get('items', {}), defs)}]"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return f"dict[str, {type_of(extra, defs)}]" if isinstance(extra, dict) else "mapping"
    if kind == "string" and _unit_of(prop):
        return "quantity"
    return {"integer": "int", "number": "float", "string": "str", "boolean": "bool",
            "null": "null"}.get(kind, kind or "any")


def _unit_of(prop: dict) -> str:
    """The physical dimension of a quantity with units, and its unit in the example ("time (ms)")."""
    from hipposim.units import DIMENSIONS

    by_example = {example: name for name, (_, example) in DIMENSIONS.items()}
    for p in [prop] + prop.get("anyOf", []):
        example = (p.get("examples") or [None])[0]
        if p.get("type") == "string" and example in by_example:
            return f"{by_example[example]} ({example.split()[-1]})"
    return ""


def bounds_of(prop: dict) -> str:
    """Bounds of a property as text (">= 0, <= 1"), from the numbers and quantities alike."""
    parts = []
    for p in [prop] + prop.get("anyOf", []):
        parts += [f"{op} {p[key]}" for key, op in _BOUNDS if key in p]
        if "bounds" in p:
            parts.append(p["bounds"])
    return ", ".join(dict.fromkeys(parts))


def default_of(name: str, prop: dict, required: set[str]) -> str:
    if name in required:
        return "required"
    if "default" in prop:
        return json.dumps(prop["default"])
    return "-"


def _description_of(prop: dict) -> str:
    desc = prop.get("description", "")
    if "with its unit" in desc and desc.startswith("a "):
        return ""  # the unit column says it
    return desc


def _cell(text: str, literal: bool = False) -> nodes.entry:
    entry = nodes.entry()
    para = nodes.paragraph()
    para += nodes.literal(text, text) if literal and text not in ("", "-", "required") else nodes.Text(text)
    entry += para
    return entry


def field_rows(schema: dict, defs: dict) -> list[list[str]]:
    """[field, type, unit, bounds, default, description] for each property of an object schema."""
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        rows.append([name, type_of(prop, defs), _unit_of(prop), bounds_of(prop), default_of(name, prop, required),
                     _description_of(prop)])
    return rows


HEADER = ["field", "type", "unit", "bounds", "default", "description"]


def _linked_cell(text: str, targets: set[str]) -> nodes.entry:
    """A cell whose names of schema sections link to those sections (``list[ModelSpec]``)."""
    import re

    entry, para = nodes.entry(), nodes.paragraph()
    for part in re.split(r"(\w+)", text):
        if part in targets:
            ref = nodes.reference(part, part, refid=f"schema-{part.lower()}")
            para += ref
        elif part:
            para += nodes.Text(part)
    entry += para
    return entry


def table(rows: list[list[str]], header: list[str] = HEADER, literal_columns=(0, 4),
          link_targets: set[str] | None = None) -> nodes.table:
    """A docutils table with a header row; with ``link_targets``, the type column links to them."""
    tbl = nodes.table(classes=["hipposim-fields"])
    group = nodes.tgroup(cols=len(header))
    tbl += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for h in header:
        row += _cell(h)
    head += row
    body = nodes.tbody()
    group += body
    for r in rows:
        row = nodes.row()
        for i, text in enumerate(r):
            if i == 1 and link_targets:
                row += _linked_cell(text, link_targets)
            else:
                row += _cell(text, literal=i in literal_columns)
        body += row
    return tbl


def _section(directive: SphinxDirective, title: str, target: str, children: list[nodes.Node]) -> nodes.section:
    sec = nodes.section(ids=[target], names=[target])
    sec += nodes.title(title, title)
    sec.extend(children)
    directive.state.document.note_explicit_target(sec)
    return sec


class SchemaDirective(SphinxDirective):
    """Every section of the scenario schema as a table (``.. hipposim-schema::``)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from hipposim.scenario.loading import json_schema

        schema = json_schema()
        defs = schema.get("$defs", {})
        out: list[nodes.Node] = []
        targets = {name for name, sub in defs.items() if "properties" in sub}
        top = nodes.paragraph(text=f"Top level ({schema.get('title', 'Scenario')}): "
                                   f"{schema.get('description', '').strip().splitlines()[0]}")
        out.append(_section(self, "Scenario (top level)", "schema-scenario",
                            [top, table(field_rows(schema, defs), link_targets=targets)]))
        for name in sorted(defs):
            sub = defs[name]
            if "properties" not in sub:
                continue
            desc = nodes.paragraph(text=" ".join(sub.get("description", "").split()))
            out.append(_section(self, name, f"schema-{name.lower()}", [desc, table(field_rows(sub, defs), link_targets=targets)]))
        return out


def _model_class(model_id: str):
    from hipposim.registry import registry

    return registry.get(model_id)


class ParamsDirective(SphinxDirective):
    """The parameter table of one registered model (``.. hipposim-params:: MODEL_ID``)."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        cls = _model_class(self.arguments[0])
        schema = cls.Params.model_json_schema()
        rows = field_rows(schema, schema.get("$defs", {}))
        header = ["parameter", "type", "unit", "bounds", "default", "description"]
        return [table(rows, header)] if rows else [nodes.paragraph(text="This model has no parameters.")]


class ModelSummaryDirective(SphinxDirective):
    """Id, description, class, step unit and knobs of one model (``.. hipposim-model-summary:: ID``)."""

    required_arguments = 1
    def run(self) -> list[nodes.Node]:
        model_id = self.arguments[0]
        cls = _model_class(model_id)
        knobs = ", ".join(f"{k} -> {v}" for k, v in cls.knobs.items()) or "none"
        rows = [["id", model_id], ["description", cls.description],
                ["class", f"{cls.__module__}.{cls.__qualname__}"],
                ["step unit", cls.step_unit], ["overlap measure", cls.overlap_measure],
                ["scenario knobs", knobs], ["records", ", ".join(cls.records) or "standard variables only"]]
        return [table(rows, ["", "value"], literal_columns=())]


class ModelsTableDirective(SphinxDirective):
    """Every registered model: id (linked to its page under ``models/``) and description."""

    def run(self) -> list[nodes.Node]:
        from sphinx import addnodes

        from hipposim.registry import registry

        tbl = table([], ["id", "what it is"], literal_columns=())
        body = tbl.traverse(nodes.tbody)[0]
        for model_id in registry.ids():
            row = nodes.row()
            entry, para = nodes.entry(), nodes.paragraph()
            ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget=f"/models/{model_id}",
                                        refexplicit=True, refwarn=True)
            ref += nodes.literal(model_id, model_id)
            para += ref
            entry += para
            row += entry
            row += _cell(registry.get(model_id).description)
            body += row
        return [tbl]


def setup(app) -> dict[str, Any]:
    app.add_directive("hipposim-schema", SchemaDirective)
    app.add_directive("hipposim-params", ParamsDirective)
    app.add_directive("hipposim-model-summary", ModelSummaryDirective)
    app.add_directive("hipposim-models-table", ModelsTableDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
