"""The memory estimate of every registered model bounds its measured peak, within a factor of 10.

Each model is run at a small size and at each of its ``memory_probes`` (parameter overrides that
scale memory: a training set, extra cells, a pathway), in a process forked from this one after the
imports, so the measured peak is what one run adds: the high-water mark of the resident set
(``ru_maxrss``) minus the resident set at the start of the run. A model added to the registry is
measured the same way without any change here.
"""
from __future__ import annotations

import json
import os
import resource
import sys

import pytest
import yaml

from hipposim.registry import registry
from hipposim.scenario import loads_scenario
from hipposim.scenario.limits import estimate_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm (Linux)")

SPIKING_PREFIXES = ("ca3-spiking", "attention-spiking")


def _spiking(model_id: str) -> bool:
    return model_id.startswith(SPIKING_PREFIXES) or registry.get(model_id).step_unit == "ms"


def cases():
    for model_id in registry.ids():
        try:
            cls = registry.get(model_id)
        except Exception:  # a broken plug-in is not this test's business
            continue
        probes = list(getattr(cls, "memory_probes", ()))
        if not (probes and _spiking(model_id)):  # a spiking run costs seconds: its probes are enough
            yield pytest.param(model_id, {}, id=f"{model_id}")
        for probe in probes:
            yield pytest.param(model_id, dict(probe), id=f"{model_id}-{'-'.join(probe)}")


def scenario_doc(model_id: str, params: dict) -> dict:
    cls = registry.get(model_id)
    params = {**cls.tiny_params, **params}
    if _spiking(model_id):
        params.setdefault("target", "numpy")
        patterns = {"kind": "images", "names": ["apple", "cup", "heart", "house"]}
        cues = {"kind": "masked", "region": "left_half", "targets": [0, 1]}
    elif not getattr(cls, "recalls_items", True):  # a sequence player: 4 sequences of 6 items
        patterns = {"kind": "sequences", "count": 4, "length": 6, "size": 256}
        cues = {"kind": "noisy", "fraction": 0.1, "targets": [0, 1, 2], "repeats": 2}
    else:
        sparse = model_id.startswith("hopfield-sparse")
        patterns = {"kind": "sparse" if sparse else "random", "count": 24, "size": 256,
                    **({"coding_level": 0.1} if sparse else {})}
        cues = {"kind": "noisy", "fraction": 0.1, "targets": list(range(6)), "repeats": 2}
    return {"version": 1, "name": "m", "seed": 4242, "patterns": patterns, "cues": cues,
            "models": [{"id": model_id, "label": "x", "params": params}]}


def _resident() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measured_peak(doc: dict) -> int:
    """Bytes one run of ``doc`` adds to a process that has imported everything: run in a fork."""
    from hipposim.run.execute import run_models

    scenario = loads_scenario(yaml.safe_dump(doc))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(read)
            start = _resident()
            run_models(scenario)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start
            os.write(write, json.dumps(peak).encode())
        except BaseException as exc:
            os.write(write, json.dumps(f"{type(exc).__name__}: {exc}").encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as fh:
        answer = json.loads(fh.read())
    os.waitpid(pid, 0)
    assert isinstance(answer, int), answer
    return answer


@pytest.fixture(scope="module", autouse=True)
def imported():
    """Import every model's module (and Brian2, xarray's lazy parts) before any measurement."""
    import numpy as np
    import xarray as xr

    xr.Dataset({"x": (("t",), np.zeros(3))}, coords={"t": np.arange(3)}).mean()
    for model_id in registry.ids():
        try:
            registry.get(model_id)
        except Exception:
            pass
    from hipposim.run.execute import run_models

    for model_id in registry.ids():  # first-use imports of the non-spiking models (scikit-learn...)
        if not _spiking(model_id):
            doc = scenario_doc(model_id, {})
            doc["patterns"].update(count=3, size=32)
            doc["cues"]["targets"] = [0]
            run_models(loads_scenario(yaml.safe_dump(doc)))
    try:
        import brian2  # noqa: F401
        import hipposim.backends.brian2.network  # noqa: F401
        import hipposim.backends.brian2.attention  # noqa: F401
    except ImportError:
        pass


@pytest.mark.parametrize("model_id, probe", list(cases()))
def test_memory_estimate_is_within_1x_to_10x_of_the_measured_peak(model_id, probe):
    """1 <= estimate / peak <= 10 for every registered model at a small size and at each of its
    memory probes (spiking models included, on Brian2's numpy target)."""
    doc = scenario_doc(model_id, probe)
    estimate = sum(v for k, v in estimate_memory(doc).items())
    peak = measured_peak(doc)
    assert 1.0 <= estimate / peak <= 10.0, (model_id, probe, estimate / 2**20, peak / 2**20)


def test_every_model_that_scales_memory_with_a_parameter_declares_a_probe_for_it():
    """A model with its own estimate names the parameters it reads in ``memory_probes`` (so the test
    above measures them); a parameter that changes the estimate but has no probe fails here."""
    missing = {}
    for model_id in registry.ids():
        cls = registry.get(model_id)
        if getattr(cls, "memory_estimate", None) is None:
            continue
        base_doc = scenario_doc(model_id, {})
        base = sum(estimate_memory(base_doc).values())
        probed = {k for probe in getattr(cls, "memory_probes", ()) for k in probe}
        for name, field in cls.Params.model_fields.items():
            value = base_doc["models"][0]["params"].get(name, field.default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or name in probed:
                continue
            bigger = min(value * 4 + 1, field.metadata and _upper(field) or value * 4 + 1)
            doc = scenario_doc(model_id, {name: bigger})
            if sum(estimate_memory(doc).values()) > 1.5 * base:
                missing.setdefault(model_id, []).append(name)
    assert not missing, f"parameters that scale the estimate without a memory probe: {missing}"


def _upper(field) -> float:
    for m in field.metadata:
        for attr in ("le", "lt"):
            if getattr(m, attr, None) is not None:
                return getattr(m, attr)
    return float("inf")
