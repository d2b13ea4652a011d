"""Field paths into a scenario document, such as ``patterns.count`` or ``models[0].params.beta``."""
from __future__ import annotations

import re
from typing import Any


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
