"""NWB and Neo exports of a flagship-like run: valid NWB, exact spikes, Elephant agrees with hipposim."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

pytest.importorskip("brian2")
import pynwb  # noqa: E402,F401  (the test extra installs hipposim[export])

from hipposim.analysis.firing import firing_statistics, isi_cv, mean_rates, spike_trains  # noqa: E402
from hipposim.cli import main  # noqa: E402
from hipposim.registry import registry  # noqa: E402
from hipposim.results import load, to_neo  # noqa: E402
from hipposim.run import run_scenario  # noqa: E402
from hipposim.scenario import loads_scenario  # noqa: E402

from .conftest import TINY  # noqa: E402


def flagship_like(seed: int) -> str:
    """brain_vs_transformer in small: two images, the tiny spiking CA3 (ca3-spiking-v3, n_e 200), a Transformer, a Hopfield net."""
    tiny = registry.get("ca3-spiking-v3").tiny_params
    return yaml.safe_dump({
        "version": 1, "name": "flagship_small", "seed": seed,
        "description": "two images stored by a tiny spiking CA3, a Transformer and a Hopfield network",
        "patterns": {"kind": "images", "names": ["apple", "cup"]},
        "cues": {"kind": "masked", "region": "left_half"},
        "models": [{"id": "ca3-spiking-v3", "label": "ca3", "params": dict(tiny)},
                   {"id": "transformer-block-v1", "label": "transformer", "params": {"n_layers": 2}},
                   {"id": "hopfield-classical-v1", "label": "classical"}],
    })


@pytest.fixture(scope="module", params=[3, 11])
def flagship_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"flagship{request.param}") / "run"
    run_scenario(loads_scenario(flagship_like(request.param)), out, progress=False, figures=False)
    return load(out)


def test_nwb_passes_nwbinspector_and_spikes_read_back_exactly(flagship_run, tmp_path):
    from nwbinspector import Importance, inspect_nwbfile
    from pynwb import NWBHDF5IO

    path = tmp_path / "run.nwb"
    assert main(["export", str(flagship_run.root), "--to", "nwb", "--out", str(path), "--quiet"]) == 0
    messages = list(inspect_nwbfile(nwbfile_path=str(path)))
    bad = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.ERROR)]
    assert not bad, [f"{m.check_function_name}: {m.message}" for m in bad]

    ds = flagship_run.results["ca3"]
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        # every cell of every population is a unit, and its spikes are exactly the run's (ms -> s)
        pops = [str(v)[:-len("_spike_time")] for v in ds.data_vars if str(v).endswith("_spike_time")]
        assert {"ca3_e", "ca3_i", "ca1_e", "ca1_i", "ca3_e_ctl"} <= set(pops)
        for pop in pops:
            rows = units[(units["population"] == pop) & (units["model"] == "ca3")].sort_values("cell_index")
            t, i = ds[f"{pop}_spike_time"].values, ds[f"{pop}_spike_index"].values
            if t.size == 0:  # a silent population: no cell to list
                assert rows.empty
                continue
            assert int(rows["cell_index"].max()) + 1 >= int(i.max()) + 1
            for cell, got in zip(rows["cell_index"], rows["spike_times"]):
                want = np.sort(t[i == cell]) / 1e3
                np.testing.assert_array_equal(np.asarray(got), want)
            assert sum(len(s) for s in rows["spike_times"]) == t.size
        assert len(units[units["population"] == "ca3_e"]) == 200
        # phases as epochs, in protocol order, covering the whole protocol
        epochs = nwb.epochs.to_dataframe()
        assert list(epochs["phase"]) == [str(p) for p in ds["phase"].values]
        assert epochs["stop_time"].max() * 1e3 == pytest.approx(float(ds["phase_end"].values.max()))
        # rates, overlaps, attention, weights, images, metadata
        recall = nwb.processing["recall"]
        np.testing.assert_array_equal(recall["ca3_rate_ca3_e"].data[:],
                                      ds["population_rate"].sel(population="ca3_e").values)
        np.testing.assert_array_equal(recall["ca3_overlap_cue1"].data[:], ds["overlap"].values[1])
        tr = flagship_run.results["transformer"]
        table = recall["transformer_recall"].to_dataframe()
        att = np.stack(table["attention"].to_numpy())
        np.testing.assert_allclose(att.reshape(tr["attention"].shape), np.nan_to_num(tr["attention"].values))
        w = nwb.processing["plasticity"]["ca3_ee_weights"].to_dataframe()
        np.testing.assert_array_equal(w["weight_after"].to_numpy(), ds["ee_w_after"].values)
        np.testing.assert_array_equal(w["weight_before"].to_numpy(), ds["ee_w_before"].values)
        assert not np.array_equal(w["weight_before"].to_numpy(), w["weight_after"].to_numpy())  # it learned
        items = nwb.processing["stimulus"]["stored_items"]
        apple = np.asarray(items["item_0_apple"].data[:])
        np.testing.assert_array_equal(apple, (flagship_run.stimulus.patterns[0].reshape(16, 16) + 1) / 2)
        scenario = yaml.safe_load(nwb.notes.split("\n", 1)[1])
        assert scenario == flagship_run.scenario
        assert json.loads(nwb.data_collection)["seed"] == flagship_run.data.manifest["seed"]


def test_elephant_rates_and_isi_cv_equal_hipposims(flagship_run):
    from elephant.statistics import cv, isi, mean_firing_rate

    block = to_neo(flagship_run)
    (seg,) = block.segments
    ours = firing_statistics(flagship_run.results["ca3"])
    for pop, st in ours.items():
        trains = [s for s in seg.spiketrains if s.annotations["population"] == pop]
        assert len(trains) == len(st["rate_hz"])
        rate = np.array([float(mean_firing_rate(s).rescale("Hz").magnitude) for s in trains])
        np.testing.assert_allclose(rate, st["rate_hz"], rtol=1e-12, atol=0)
        cvs = np.array([cv(isi(s)) if len(s) >= 3 else np.nan for s in trains])
        np.testing.assert_allclose(cvs, st["isi_cv"], rtol=1e-12, equal_nan=True)
    assert np.isfinite(ours["ca3_e"]["isi_cv"]).any()
    # the population rate signal integrates to the spike count: sum(rate) * bin * cells = spikes
    sig = seg.analogsignals[0]
    k = list(sig.array_annotations["population"]).index("ca3_e")
    dt = float(sig.sampling_period.rescale("s").magnitude)
    n_spikes = flagship_run.results["ca3"]["ca3_e_spike_time"].size
    assert float(np.asarray(sig[:, k]).sum()) * dt * 200 == pytest.approx(n_spikes)
    # the run's metrics carry the same figures
    m = flagship_run.metrics["ca3"]
    assert m["mean_rate_hz_ca3_e"] == pytest.approx(float(np.mean(ours["ca3_e"]["rate_hz"])))


def test_firing_statistics_against_theory():
    """A clock has ISI CV 0; a Poisson train CV near 1 and rate n / T."""
    rng = np.random.default_rng(5)
    t_clock = np.arange(10.0, 1000.0, 20.0)                  # 50 Hz clock over 1 s (ms)
    t_poisson = np.cumsum(rng.exponential(10.0, 5000))       # 100 Hz Poisson (ms)
    t_poisson = t_poisson[t_poisson < 40000.0]
    times = np.concatenate([t_clock, t_poisson])
    index = np.concatenate([np.zeros(t_clock.size, int), np.ones(t_poisson.size, int)])
    trains = spike_trains(times, index, 3)
    assert len(trains[2]) == 0
    cv = isi_cv(trains)
    assert cv[0] == pytest.approx(0.0, abs=1e-9)
    assert cv[1] == pytest.approx(1.0, abs=0.05)
    assert np.isnan(cv[2])
    rates = mean_rates(trains, 0.0, 40000.0)
    assert rates[1] == pytest.approx(100.0, rel=0.05)
    assert rates[0] == pytest.approx(t_clock.size / 40.0)


def test_export_without_the_extra_names_it(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "pynwb", None)  # what an install without the extra looks like to Python
    run = tmp_path / "run"
    run_scenario(loads_scenario(TINY), run, progress=False, figures=False)
    assert main(["export", str(run), "--to", "nwb", "--out", str(tmp_path / "x.nwb")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "hipposim[export]"' in err
    assert not (tmp_path / "x.nwb").exists()
