"""Error types. Every user-facing error carries enough context to be fixed
without reading code: the file, the line, the field path and what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass


class HipposimError(Exception):
    """Base class for errors that the CLI reports as a clean message.

    ``exit_code`` is what ``hipposim`` exits with when this error escapes.
    """

    exit_code: int = 2


@dataclass
class Problem:
    """One thing wrong with an input file."""

    message: str
    path: str = ""
    line: int | None = None

    def render(self, source: str | None) -> str:
        where = source or "<scenario>"
        if self.line is not None:
            where += f", line {self.line}"
        if self.path:
            where += f", field '{self.path}'"
        return f"{where}: {self.message}"


class ScenarioError(HipposimError):
    """A scenario file could not be read or is not valid."""

    def __init__(self, problems: list[Problem] | Problem | str, source: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(p.render(self.source) for p in self.problems)


class OutputError(HipposimError):
    """An output folder or path is not acceptable."""


class ModelError(HipposimError):
    """A model was asked to do something it cannot (bad dimensions, runaway activity...)."""


class RunFailed(HipposimError):
    """A run started but did not finish; its manifest records the failure."""

    exit_code = 1
