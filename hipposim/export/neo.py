"""A finished run as a Neo :class:`~neo.core.Block`, for analysis with Elephant.

Layout: one :class:`~neo.core.Segment` per spiking model (named by its label)
holding

* one :class:`~neo.core.SpikeTrain` per cell of every population (times in
  ms, ``t_start = 0``, ``t_stop`` = end of the protocol), annotated with
  ``model``, ``population`` and ``cell_index``;
* one :class:`~neo.core.AnalogSignal` of the population rates (Hz), one
  channel per population (``array_annotations['population']``), sampled
  every bin; sample ``k`` is the rate in the bin ``[k w, (k + 1) w)``.

The block's annotations carry the scenario name and the seed. For example::

    from elephant.statistics import mean_firing_rate
    block = hipposim.results.to_neo("runs/brain_vs_transformer")
    seg = block.segments[0]
    rates = [mean_firing_rate(st) for st in seg.spiketrains if st.annotations["population"] == "ca3_e"]
"""
from __future__ import annotations

import numpy as np

from .common import as_run_data, require, spiking_results


def to_neo(run):
    """A Neo Block of the spiking results of ``run`` (run folder, RunData or :class:`hipposim.results.Run`)."""
    neo = require("neo")
    import quantities as pq

    from ..analysis.firing import population_size, recording_window_ms, spike_trains, spiking_populations

    run = as_run_data(run)
    name = run.scenario.get("name", "run")
    block = neo.Block(name=name, description=(run.scenario.get("description") or "").strip() or None,
                      scenario=name, seed=run.manifest.get("seed"))
    for label, ds in spiking_results(run).items():
        seg = neo.Segment(name=label, model_id=str(ds.attrs.get("model_id", "")))
        t0, t1 = recording_window_ms(ds)
        for pop in spiking_populations(ds):
            n = population_size(ds, pop)
            trains = spike_trains(ds[f"{pop}_spike_time"].values, ds[f"{pop}_spike_index"].values, n)
            for k, t in enumerate(trains):
                st = neo.SpikeTrain(t * pq.ms, t_start=t0 * pq.ms, t_stop=t1 * pq.ms, name=f"{pop}[{k}]",
                                    model=label, population=pop, cell_index=k)
                seg.spiketrains.append(st)
        if "population_rate" in ds:
            width = float(ds.attrs.get("bin_ms", np.diff(ds["time"].values[:2])[0]))
            pops = [str(p) for p in ds["population"].values]
            sig = neo.AnalogSignal(ds["population_rate"].values.T * pq.Hz, sampling_period=width * pq.ms,
                                   t_start=(float(ds["time"].values[0]) - width / 2) * pq.ms,
                                   name="population_rate", model=label,
                                   description=f"population rate (spikes per cell per second) in {width:g} ms bins",
                                   array_annotations={"population": np.array(pops)})
            seg.analogsignals.append(sig)
        block.segments.append(seg)
    return block
