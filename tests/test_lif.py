"""The backend's LIF neuron against its analytic f-I curve."""
from __future__ import annotations

import numpy as np
import pytest


def _constants():
    """The CA3 model's pyramidal-cell constants: the LIF defaults are declared once, in its parameters."""
    from hipposim.models.ca3_spiking import CA3Spiking, CA3SpikingParams

    return CA3Spiking.lif_constants(CA3SpikingParams(), "e")


def test_lif_rate_is_zero_below_rheobase():
    from hipposim.backends.brian2.lif import lif_rate

    c = _constants()
    rheobase = (c.v_th - c.v_reset) / c.r_m
    assert lif_rate(0.99 * rheobase, c) == 0.0
    assert lif_rate(1.2 * rheobase, c) > 0.0


@pytest.mark.brian2
def test_fi_curve_matches_analytic_rate():
    """nu = 1 / (t_ref + tau_m ln(R I / (R I - (v_th - v_reset)))) at rtol 0.05."""
    from hipposim.backends.brian2.lif import lif_rate, simulate_fi_curve

    c = _constants()
    currents = np.linspace(0.18e-9, 0.6e-9, 6)  # 20-130 Hz
    simulated = simulate_fi_curve(currents, c, duration=1.0, dt=0.1e-3)
    np.testing.assert_allclose(simulated, lif_rate(currents, c), rtol=0.05)


def test_import_hipposim_does_not_import_brian2():
    import subprocess
    import sys
    import tempfile

    code = "import sys, hipposim, hipposim.models.ca3_spiking; print('brian2' in sys.modules)"
    # run outside the source tree, so the installed package is the one imported
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir())
    assert out.stdout.strip() == "False"
