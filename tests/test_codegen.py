"""Brian2 code-generation targets: cpp_standalone compiles with at most one job per core."""
from __future__ import annotations

import os

import pytest

brian2 = pytest.importorskip("brian2")

from hipposim.backends.brian2.codegen import compile_jobs, configure_target  # noqa: E402


def test_standalone_make_uses_at_most_one_job_per_core():
    before = list(brian2.prefs.devices.cpp_standalone.extra_make_args_unix)
    with configure_target("cpp_standalone"):
        args = brian2.prefs.devices.cpp_standalone.extra_make_args_unix
        jobs = [a for a in args if a.startswith("-j")]
        assert jobs == [f"-j{compile_jobs()}"]        # never a bare "-j" (unlimited)
        assert 1 <= compile_jobs() <= (os.cpu_count() or 1)
    assert list(brian2.prefs.devices.cpp_standalone.extra_make_args_unix) == before
    assert brian2.get_device().__class__.__name__ == "RuntimeDevice"
