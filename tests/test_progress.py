"""Progress inside Brian2 runs (compile spinner, biological-time bar) and --quiet."""
from __future__ import annotations

import numpy as np
import pytest

from hipposim.cli import main

from .conftest import TINY


def _constants():
    from hipposim.models.ca3_spiking import CA3Spiking, CA3SpikingParams

    return CA3Spiking.lif_constants(CA3SpikingParams(), "e")


@pytest.mark.brian2
def test_bio_time_bar_follows_brian2_reports(capsys):
    b2 = pytest.importorskip("brian2")
    from hipposim.backends.brian2.codegen import configure_target
    from hipposim.backends.brian2.lif import lif_group
    from hipposim.backends.brian2.progress import run_with_progress

    with configure_target("numpy"):
        group = lif_group("progress_lif", 3, _constants(), 1e-4)
        group.i_ext = np.array([0.1, 0.2, 0.3]) * 1e-9 * b2.amp
        mon = b2.SpikeMonitor(group, name="progress_spikes")
        net = b2.Network(group, mon, name="progress_network")
        report = run_with_progress(net, 0.3, desc="test net", enabled=True, report_period=0.0)
    err = capsys.readouterr().err
    # Brian2 reported the start (after compiling) and the end; in between, fractions only grow
    assert report.calls[0] == 0.0 and report.calls[-1] == pytest.approx(1.0)
    assert np.all(np.diff(report.calls) >= 0) and len(report.calls) > 2
    assert "preparing and compiling" in err
    assert "300 ms biological" in err
    assert float(net.t) == pytest.approx(0.3)
    assert mon.num_spikes > 0


@pytest.mark.brian2
def test_progress_off_prints_nothing_and_changes_nothing(capsys):
    pytest.importorskip("brian2")
    from hipposim.backends.brian2.lif import simulate_fi_curve

    currents = np.array([0.2e-9, 0.4e-9])
    quiet = simulate_fi_curve(currents, _constants(), duration=0.2, progress=False)
    err = capsys.readouterr().err
    assert "biological" not in err and "compiling" not in err
    shown = simulate_fi_curve(currents, _constants(), duration=0.2, progress=True)
    assert "ms biological" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet, shown)


def test_quiet_prints_nothing_but_errors(tmp_path, write_yaml, capsys):
    """Nothing on stdout or stderr, warnings included; an error still gets through."""
    path = write_yaml(TINY)
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet", "--no-figures"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2  # exists: an error
    out, err = capsys.readouterr()
    assert out == "" and "already exists" in err
    assert main(["run", str(path), "--out", str(tmp_path / "run2"), "--no-figures"]) == 0
    assert "item_overlap" in capsys.readouterr().out
