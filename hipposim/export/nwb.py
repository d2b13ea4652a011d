"""A finished run as one NWB file (Neurodata Without Borders, written with pynwb).

What goes where (times in seconds from the start of the simulated protocol):

* **Units table** -- every cell of every spiking population, with columns
  ``model`` (the model's label), ``population`` (``ca3_e``, ``ca3_i``,
  ``ca1_e``, ``ca1_i``, ``ec``) and ``cell_index`` (the cell's index in its
  population); ``spike_times`` are the recorded spike times (ms / 1000).
* **epochs** -- the protocol's phases (encode, gap, reset, recall), tagged by
  kind, with the model and phase name as columns.
* processing module **recall** -- TimeSeries of each population's rate (Hz)
  and of the overlaps m_mu(t) of every model with every stored item. For a
  spiking model one series per cue, stamped at the cue's recall window; for
  the others the step axis counts updates or layers, not time, so their
  results are tables with one row per (cue, step) and columns ``overlap``
  (item) and, for the Transformers, ``attention`` (head, item).
* processing module **stimulus** -- the stored items and the cues as
  grayscale images (``Images``), item vectors reshaped to the image shape.
* processing module **plasticity** -- the learned weights before and after
  learning as tables (one row per synapse: pre, post, weight_before,
  weight_after), for the recurrent CA3 and the Schaffer synapses.
* metadata -- ``notes`` holds the scenario as YAML, ``data_collection`` the
  manifest (seed, versions, timings) as JSON; ``session_description`` is the
  scenario's description.
"""
from __future__ import annotations

import json
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .common import as_run_data, require, spiking_results


def scenario_yaml(scenario: dict) -> str:
    """The scenario as block YAML (safe dumper, keys in their declared order)."""
    import yaml

    return yaml.safe_dump(scenario, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _start_time(manifest: dict) -> datetime:
    try:
        t = datetime.fromisoformat(manifest["started"])
    except (KeyError, TypeError, ValueError):
        t = datetime(1970, 1, 1)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _image_grid(vec: np.ndarray, shape) -> np.ndarray:
    v = np.asarray(vec, dtype=float)
    if shape is not None:
        return v.reshape(shape)
    side = int(np.ceil(np.sqrt(v.size)))
    out = np.full(side * side, np.nan)
    out[: v.size] = v
    return out.reshape(side, side)


def _to_unit_interval(img: np.ndarray, coding: str) -> np.ndarray:
    img = (img + 1) / 2 if coding == "bipolar" else img
    return np.nan_to_num(np.clip(img, 0, 1), nan=0.5)


def _resolution(run, spiking: dict) -> float:
    """Spike-time resolution in seconds: the smallest integration step of the spiking models (0.1 ms default)."""
    from ..units import parse_quantity

    dts = []
    for spec in run.scenario.get("models", []):
        label = spec.get("label") or spec.get("name")
        dt = (spec.get("params") or {}).get("dt")
        if label in spiking and dt is not None:
            try:
                dts.append(float(parse_quantity(dt, "time").si))
            except Exception:  # an unparsable dt only loses the resolution, not the spikes
                pass
    return min(dts) if dts else 1e-4


def build_nwbfile(run) -> Any:
    """An in-memory :class:`pynwb.NWBFile` of ``run`` (see the module docstring for the layout)."""
    pynwb = require("pynwb")
    from hdmf.common import DynamicTable, VectorData
    from pynwb.base import Images
    from pynwb.file import Subject
    from pynwb.image import GrayscaleImage
    import pynwb.misc

    run = as_run_data(run)
    manifest, scenario, stim = run.manifest, run.scenario, run.stimulus
    spiking = spiking_results(run)
    name = scenario.get("name", "run")
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"hipposim:{name}:{manifest.get('seed')}:{manifest.get('started')}"))
    nwb = pynwb.NWBFile(
        session_description=(scenario.get("description") or f"hipposim run of scenario {name}").strip(),
        identifier=ident,
        session_start_time=_start_time(manifest),
        session_id=name,
        experiment_description=f"hipposim simulation: scenario '{name}', seed {manifest.get('seed')}",
        notes="scenario (YAML):\n" + scenario_yaml(scenario),
        data_collection=json.dumps({k: v for k, v in manifest.items() if k != "scenario"}, default=str),
        source_script=f"hipposim {manifest.get('hipposim', '')}",
        source_script_file_name=str(manifest.get("scenario_file") or ""),
        keywords=["hipposim", "simulation", "CA3", "Hopfield", "Transformer"],
        # an in-silico subject: the networks are built when the run starts, so that is their date of birth;
        # they have no sex ("U", unknown, as NWB allows)
        subject=Subject(subject_id=f"{name}-seed{manifest.get('seed')}", sex="U",
                        date_of_birth=_start_time(manifest),
                        description="in-silico networks simulated by hipposim, built at the start of the run; "
                                    "no animal was used"),
    )
    if spiking:
        nwb.units = pynwb.misc.Units(name="units", description="simulated cells of every spiking population",
                                     resolution=_resolution(run, spiking))

    # ---- stimulus: stored items and cues as images
    stim_mod = nwb.create_processing_module("stimulus", "the stored items and the cues every model saw")
    items = [GrayscaleImage(name=f"item_{k}_{nm}", data=_to_unit_interval(_image_grid(p, stim.image_shape), stim.coding),
                            description=f"stored item '{nm}' (1 = on)")
             for k, (nm, p) in enumerate(zip(stim.names, stim.patterns))]
    stim_mod.add(Images(name="stored_items", images=items, description="stored items, one image per item"))
    cue_imgs = []
    for c, cue in enumerate(stim.cues):
        img = _image_grid(cue, stim.image_shape)
        if stim.coding == "bipolar":
            known = _image_grid(stim.known[c], stim.image_shape).astype(bool)
            img = np.where(known, img, 0.0)
        cue_imgs.append(GrayscaleImage(name=f"cue_{c}", data=_to_unit_interval(img, stim.coding),
                                       description=f"cue {c}, made from item '{stim.names[int(stim.targets[c])]}' "
                                                   "(0.5 = hidden)"))
    stim_mod.add(Images(name="cues", images=cue_imgs, description="cues, one image per cue"))

    # ---- spiking models: units, epochs, rates, weights
    recall = nwb.create_processing_module("recall", "population rates, overlaps m_mu(t) and attention weights")
    if spiking:
        from ..analysis.firing import population_size, spike_trains, spiking_populations

        nwb.add_unit_column("model", "label of the model in the scenario")
        nwb.add_unit_column("population", "population the cell belongs to (ca3_e, ca3_i, ca1_e, ca1_i, ec)")
        nwb.add_unit_column("cell_index", "index of the cell within its population")
        nwb.add_epoch_column("model", "label of the model whose protocol this phase belongs to")
        nwb.add_epoch_column("phase", "phase name in the protocol")
        plastic = nwb.create_processing_module("plasticity", "learned synaptic weights before and after learning")
        for label, ds in spiking.items():
            for pop in spiking_populations(ds):
                n = population_size(ds, pop)
                trains = spike_trains(ds[f"{pop}_spike_time"].values, ds[f"{pop}_spike_index"].values, n)
                for k, t in enumerate(trains):
                    nwb.add_unit(spike_times=t / 1e3, model=label, population=pop, cell_index=k)
            for ph, a, b in zip(ds["phase"].values, ds["phase_start"].values, ds["phase_end"].values):
                nwb.add_epoch(start_time=float(a) / 1e3, stop_time=float(b) / 1e3, tags=[str(ph).split("_")[0]],
                              model=label, phase=str(ph))
            if "population_rate" in ds and "time" in ds.coords:
                width = float(ds.attrs.get("bin_ms", np.diff(ds["time"].values[:2])[0]))
                for pop in ds["population"].values:
                    recall.add(pynwb.TimeSeries(
                        name=f"{label}_rate_{pop}", data=ds["population_rate"].sel(population=pop).values,
                        unit="Hz", starting_time=float(ds["time"].values[0]) / 1e3, rate=1e3 / width,
                        description=f"population rate of {pop} in {width:g} ms bins (bin centres)"))
            if "recall_start" in ds and ds.sizes["step"] > 1:
                step_ms = float(np.diff(ds["step"].values[:2])[0])
                measure = ("Pearson r of binned counts with the item's code"
                           if ds.attrs.get("overlap_measure") == "code_correlation"
                           else "m = xi.s/N of the read-out with the item")
                for c in range(ds.sizes["cue"]):
                    t0 = (float(ds["recall_start"].values[c]) + float(ds["step"].values[0])) / 1e3
                    recall.add(pynwb.TimeSeries(
                        name=f"{label}_overlap_cue{c}", data=ds["overlap"].values[c], unit="n.a.",
                        starting_time=t0, rate=1e3 / step_ms,
                        description=f"overlap m_mu(t) with each stored item "
                                    f"({', '.join(map(str, ds['pattern'].values))}) during the recall of cue {c} "
                                    f"({measure})"))
            for syn, pre, post in (("ee", "ee_pre", "ee_post"), ("schaffer", "schaffer_pre", "schaffer_post")):
                if f"{syn}_w_after" not in ds or f"{syn}_w_before" not in ds:
                    continue
                what = "recurrent CA3 -> CA3" if syn == "ee" else "Schaffer collateral CA3 -> CA1"
                plastic.add(DynamicTable(
                    name=f"{label}_{syn}_weights", description=f"{what} synapses; weights dimensionless in [0, w_max]",
                    columns=[VectorData(name="pre", description="presynaptic cell index", data=ds[pre].values),
                             VectorData(name="post", description="postsynaptic cell index", data=ds[post].values),
                             VectorData(name="weight_before", description="weight before learning",
                                        data=ds[f"{syn}_w_before"].values),
                             VectorData(name="weight_after", description="weight after the run",
                                        data=ds[f"{syn}_w_after"].values)]))

    # ---- non-spiking models: overlaps and attention along their step axis (a table: steps are not time)
    for label, ds in run.results.items():
        if label in spiking:
            continue
        unit = str(ds["step"].attrs.get("units", ds.attrs.get("step_unit", "update")))
        n_cue, n_step = ds.sizes["cue"], ds.sizes["step"]
        cue_col = np.repeat(np.arange(n_cue), n_step)
        step_col = np.tile(ds["step"].values.astype(float), n_cue)
        items = ", ".join(map(str, ds["pattern"].values))
        cols = [VectorData(name="cue", description="cue index", data=cue_col),
                VectorData(name="step", description=f"step ({unit}s; 0 is the cue)", data=step_col),
                VectorData(name="overlap", description=f"overlap m_mu with each stored item ({items})",
                           data=ds["overlap"].values.reshape(n_cue * n_step, -1))]
        if "attention" in ds:
            cols.append(VectorData(name="attention", description=f"attention weights (head, item) on the stored "
                                                                 f"items ({items}); step 0 has none",
                                   data=np.nan_to_num(ds["attention"].values.reshape(n_cue * n_step,
                                                                                     *ds["attention"].shape[2:]))))
        recall.add(DynamicTable(
            name=f"{label}_recall", columns=cols,
            description=f"recall of model {label} ({ds.attrs.get('model_id', '')}) step by step, one row per "
                        f"(cue, {unit}); its step axis counts {unit}s, not time"))
    return nwb


def to_nwb(run, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``run`` (a run folder, RunData or Run) as an NWB file at ``path``, atomically; returns the path."""
    require("pynwb")
    from pynwb import NWBHDF5IO

    from ..errors import OutputError
    from ..run.folder import RunFolder

    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"'{path}' already exists; pass --overwrite to replace it or choose another --out")
    if path.suffix != ".nwb":
        raise OutputError(f"'{path}': an NWB file name must end in .nwb")
    nwb = build_nwbfile(run)
    folder = RunFolder(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    with folder.staged(path.name) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")  # the staged name; renamed after
        with NWBHDF5IO(tmp, "w") as io:
            io.write(nwb)
    return path.resolve()
