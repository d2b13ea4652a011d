"""The package's shape: imports run one way, brian2 stays behind its backend, the wheel ships every package."""
from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    if path.is_relative_to(ROOT / "models"):
        parts = ("hipposim", "models") + path.relative_to(ROOT / "models").with_suffix("").parts
    else:
        parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = list((ROOT / "hipposim").rglob("*.py")) + list((ROOT / "models").rglob("*.py"))
    return {_module_name(f): f for f in files}


def import_graph() -> tuple[nx.DiGraph, dict[str, set[str]]]:
    """Every import between hipposim modules (module level and inside functions), and third-party imports."""
    modules = _sources()
    graph = nx.DiGraph()
    external: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph.add_node(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                # `from pkg import mod` imports the module; `from pkg import name` the package
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
                continue
            for target in targets:
                if target.startswith("hipposim"):
                    # the longest known module the import names (a name may be an attribute)
                    while target and target not in modules:
                        target = target.rpartition(".")[0]
                    if target and target != name:
                        graph.add_edge(name, target)
                else:
                    external.setdefault(name, set()).add(target.split(".")[0])
    return graph, external


def _type_checking_only(graph: nx.DiGraph) -> nx.DiGraph:
    """Drop edges that exist only under ``if TYPE_CHECKING`` (never executed)."""
    g = graph.copy()
    for name, path in _sources().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.ImportFrom) and sub.level:
                        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                        base = package.split(".")[: len(package.split(".")) - (sub.level - 1)]
                        target = ".".join(base + [sub.module])
                        if g.has_edge(name, target):
                            g.remove_edge(name, target)
    return g


def test_no_import_cycle():
    graph = _type_checking_only(import_graph()[0])
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + [c[0]]) for c in cycles[:5])


def test_the_cycle_check_sees_a_cycle():
    """The check itself can fail: a two-module loop is reported."""
    g = nx.DiGraph([("a", "b"), ("b", "a")])
    assert list(nx.simple_cycles(g))


def test_brian2_is_imported_only_by_its_backend():
    _, external = import_graph()
    outside = sorted(m for m, libs in external.items() if "brian2" in libs
                     and not m.startswith("hipposim.backends.brian2"))
    assert outside == []


def test_pipeline_runs_one_way():
    """The pure maths imports nothing else of hipposim; analysis and plotting never run models."""
    graph = _type_checking_only(import_graph()[0])
    for name in graph:
        succ = set(graph.successors(name))
        if name.startswith("hipposim.functional"):
            assert all(s.startswith("hipposim.functional") for s in succ), (name, succ)
        if name.startswith(("hipposim.analysis", "hipposim.plotting")):
            assert not any(s.startswith(("hipposim.run", "hipposim.models", "hipposim.backends", "hipposim.cli"))
                           for s in succ), (name, succ)
        if name.startswith("hipposim.scenario"):
            assert not any(s.startswith(("hipposim.run", "hipposim.analysis", "hipposim.plotting"))
                           for s in succ), (name, succ)


def test_wheel_ships_every_package(tmp_path):
    """``pip wheel`` of the checkout holds every package folder, the model library and the data files."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("hipposim-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in _sources():
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, module
    assert "hipposim/data/images/apple.txt" in names
    assert not any(n.startswith(("models/", "tests/")) for n in names)


def test_ci_runs_the_readme_test_command():
    """`.ci/run` runs the README's second quick-start line, exactly."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [line for line in block.strip().splitlines() if line.strip()]
    assert len(lines) == 2
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == lines[1]
    assert lines[1].endswith('pip install ".[test]" && pytest')
