"""Safe YAML loading that remembers where every value came from.

Scenario files are data. They are read with PyYAML's safe loader; tags other
than the plain YAML ones (``!!python/object`` and friends) are refused, and so
are anchors and aliases, which are the vehicle of "billion laughs" bombs. Each
value's line is recorded under its field path so that validation errors can
point at the line to fix.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, ScenarioError

_ALLOWED_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}
MAX_BYTES = 1_000_000
#: deepest nesting of lists and mappings; a scenario needs about 6 levels
MAX_DEPTH = 32


def path_key(parts: tuple) -> str:
    """Render a field path such as ``models[1].params.beta``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def load_yaml_text(text: str, source: str | None = None) -> tuple[Any, dict[str, int]]:
    """Parse YAML text. Returns the data and a map from field path to line (1-based)."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ScenarioError(f"file is larger than {MAX_BYTES} bytes; a scenario is a short text", source)
    _check_brackets(text, source)
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses control characters at once
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1
                raise ScenarioError(Problem(
                    "YAML anchors and aliases (&name / *name) are not allowed in scenario files; "
                    "write each value out in full", line=line), source)
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ScenarioError(Problem(
                        f"lists and mappings are nested more than {MAX_DEPTH} levels deep; a scenario "
                        "needs only a few levels", line=event.start_mark.line + 1), source)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError(Problem(f"not valid YAML: {exc.problem or exc}", line=line), source) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"not valid YAML: {exc}", source) from None
    except RecursionError:
        raise ScenarioError(f"not valid YAML: nested too deeply (more than {MAX_DEPTH} levels)",
                            source) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise ScenarioError("the file is empty; expected a mapping with 'name', 'patterns', 'cues' and 'models'",
                            source)
    lines: dict[str, int] = {}
    try:
        data = _construct(node, (), lines, source)
    except RecursionError:
        raise ScenarioError(f"not valid YAML: nested too deeply (more than {MAX_DEPTH} levels)",
                            source) from None
    return data, lines


def _check_brackets(text: str, source: str | None) -> None:
    """Refuse runaway flow nesting (``[[[[...`` or ``{{{{...``) before PyYAML's scanner, whose look-ahead
    for simple keys costs time quadratic in the nesting depth. Brackets are counted as written; the
    bound is far above :data:`MAX_DEPTH`, which the parser then enforces exactly."""
    depth = 0
    limit = 8 * MAX_DEPTH
    for i, ch in enumerate(text):
        if ch in "[{":
            depth += 1
            if depth > limit:
                line = text.count("\n", 0, i) + 1
                raise ScenarioError(Problem(
                    f"lists and mappings are nested more than {MAX_DEPTH} levels deep; a scenario "
                    "needs only a few levels", line=line), source)
        elif ch in "]}" and depth:
            depth -= 1


def _construct(node: yaml.Node, parts: tuple, lines: dict[str, int], source: str | None) -> Any:
    line = node.start_mark.line + 1
    lines[path_key(parts)] = line
    if node.tag not in _ALLOWED_TAGS:
        raise ScenarioError(Problem(
            f"the YAML tag {node.tag!r} is not allowed; a scenario holds only plain values "
            "(strings, numbers, booleans, lists and mappings)", path_key(parts), line), source)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ScenarioError(Problem("mapping keys must be plain names", path_key(parts),
                                            key_node.start_mark.line + 1), source)
            key = key_node.value
            if key in out:
                raise ScenarioError(Problem(f"the key {key!r} appears twice", path_key(parts + (key,)),
                                            key_node.start_mark.line + 1), source)
            out[key] = _construct(value_node, parts + (key,), lines, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, parts + (i,), lines, source) for i, n in enumerate(node.value)]
    constructor = yaml.SafeLoader("")
    try:
        return constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:  # e.g. an integer of 5000 digits
        raise ScenarioError(Problem(f"cannot read this value: {exc}", path_key(parts), line), source) from None
    finally:
        constructor.dispose()


def load_yaml_file(path: str | Path) -> tuple[Any, dict[str, int]]:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`ScenarioError`."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"no such file: '{path}'", str(path))
    if not path.is_file():
        raise ScenarioError(f"'{path}' is not a file", str(path))
    try:
        # the size is checked before the file is read, and no more than the limit is ever read
        # (a file that grows meanwhile, or that stat misreports, is cut at MAX_BYTES + 1)
        if path.stat().st_size > MAX_BYTES:
            raise ScenarioError(f"file is larger than {MAX_BYTES} bytes; a scenario is a short text", str(path))
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ScenarioError(f"file is larger than {MAX_BYTES} bytes; a scenario is a short text", str(path))
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read the file: {exc}", str(path)) from None
    return load_yaml_text(text, str(path))
