"""Leaky integrate-and-fire neurons for the Brian2 backend.

Membrane equation (current-based synapses written in voltage units)::

    tau_m dv/dt = (v_rest - v) + ge - gi + R_m I_ext       (unless refractory)
    tau_e dge/dt = -ge,   tau_i dgi/dt = -gi

A presynaptic spike adds its weight (in volts) to ``ge`` or ``gi``. A neuron
fires when ``v > v_th``, is reset to ``v_reset`` and stays refractory for
``t_ref``. With constant input and ``v_reset = v_rest`` the firing rate is
(e.g. Gerstner et al. 2014, "Neuronal Dynamics", eq. 1.11)::

    nu = 1 / (t_ref + tau_m ln(R I / (R I - (v_th - v_reset))))   for R I > v_th - v_reset

which :func:`lif_rate` computes and the tests check against a simulation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import import_brian2

#: Equations of every LIF population (Brian2 syntax). ``nu`` is a low-pass rate
#: trace (time constant ``tau_rate``) used by the rate-based covariance rule.
LIF_EQUATIONS = """
dv/dt = (v_rest - v + ge - gi + R_m*i_ext)/tau_m : volt (unless refractory)
dge/dt = -ge/tau_e : volt
dgi/dt = -gi/tau_i : volt
i_ext : amp
"""
LIF_RESET = "v = v_reset"
RATE_TRACE = "dnu/dt = -nu/tau_rate : Hz\n"
RATE_TRACE_RESET = "; nu += 1/tau_rate"


@dataclass(frozen=True)
class LIFConstants:
    """LIF constants in SI units (plain floats)."""

    tau_m: float
    tau_e: float
    tau_i: float
    v_rest: float
    v_reset: float
    v_th: float
    t_ref: float
    tau_rate: float = 100e-3   # low-pass rate trace of the covariance rule (not a model parameter)
    r_m: float = 100e6         # membrane resistance; only used for injected test currents

    def namespace(self) -> dict:
        """Brian2 namespace with units attached (only called inside the backend)."""
        b2 = import_brian2()

        return {"tau_m": self.tau_m * b2.second, "tau_e": self.tau_e * b2.second,
                "tau_i": self.tau_i * b2.second, "tau_rate": self.tau_rate * b2.second,
                "v_rest": self.v_rest * b2.volt, "v_reset": self.v_reset * b2.volt,
                "v_th": self.v_th * b2.volt, "R_m": self.r_m * b2.ohm}


def lif_rate(current: np.ndarray | float, c: LIFConstants) -> np.ndarray:
    """Analytic firing rate (Hz) of a LIF neuron under constant current (A); 0 below rheobase."""
    drive = np.asarray(current, dtype=float) * c.r_m
    gap = c.v_th - c.v_reset
    out = np.zeros_like(drive)
    above = drive > gap
    out[above] = 1.0 / (c.t_ref + c.tau_m * np.log(drive[above] / (drive[above] - gap)))
    return out


def named_clock(owner: str, dt: float):
    """A Brian2 ``Clock`` of step ``dt`` (seconds) named ``<owner>_clock``.

    Given ``dt`` alone, Brian2 names an object's clock ``<owner>_clock`` or, while
    an object of an earlier network still holds that name, ``<owner>_clock_1``,
    and so on. The clock's name appears in the generated code, so such a suffix
    changes the code's hash and the Cython target compiles it again. An
    explicit name keeps the generated code, and the compiled cache entry, the
    same from one build to the next.
    """
    b2 = import_brian2()

    return b2.Clock(dt=dt * b2.second, name=f"{owner}_clock")


def lif_group(name: str, n: int, c: LIFConstants, dt: float, method: str = "exponential_euler",
              rate_trace: bool = False):
    """A named Brian2 ``NeuronGroup`` of ``n`` LIF cells at rest (with a rate trace ``nu`` if asked)."""
    b2 = import_brian2()

    eqs = LIF_EQUATIONS + (RATE_TRACE if rate_trace else "")
    reset = LIF_RESET + (RATE_TRACE_RESET if rate_trace else "")
    group = b2.NeuronGroup(n, eqs, threshold="v > v_th", reset=reset,
                           refractory=c.t_ref * b2.second, method=method, name=name,
                           clock=named_clock(name, dt), namespace=c.namespace())
    group.v = c.v_rest * b2.volt
    return group


def simulate_fi_curve(currents: np.ndarray, c: LIFConstants, duration: float = 1.0, dt: float = 0.1e-3,
                      target: str = "numpy", progress: bool | None = None) -> np.ndarray:
    """Simulated firing rates (Hz) of unconnected LIF cells, one per constant current (A).

    ``progress`` shows a compile spinner and a bar over biological time
    (:func:`~hipposim.backends.brian2.progress.run_with_progress`); ``None``
    shows them when stderr is a terminal.
    """
    b2 = import_brian2()

    from .codegen import configure_target
    from .progress import run_with_progress

    with configure_target(target):
        group = lif_group("fi_lif", len(currents), c, dt)
        group.i_ext = np.asarray(currents, dtype=float) * b2.amp
        mon = b2.SpikeMonitor(group, name="fi_spikes")
        net = b2.Network(group, mon, name="fi_network")
        run_with_progress(net, duration, desc="f-I curve", enabled=progress)
        counts = np.bincount(np.asarray(mon.i[:], dtype=int), minlength=len(currents))
    return counts / duration
