from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def write_yaml(tmp_path):
    """Write YAML text to a file in tmp_path and return its path."""

    def _write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


TINY = """
version: 1
name: tiny
seed: 1
patterns: {kind: random, count: 5, size: 64}
cues: {kind: noisy, fraction: 0.1}
models:
  - id: hopfield-classical-v1
    label: classical
  - id: hopfield-modern-v1
    label: modern
"""


@pytest.fixture
def tiny_yaml():
    return TINY
