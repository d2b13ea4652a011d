"""Exports of a finished run to the field's formats: NWB (:mod:`.nwb`) and Neo (:mod:`.neo`).

Both need the optional extra ``hipposim[export]`` (pynwb, nwbinspector, neo,
elephant); without it :func:`require` raises a :class:`MissingExtra` that says
what to install (``hipposim export`` exits with code 2).
"""
from __future__ import annotations

from .common import EXTRA, MissingExtra, as_run_data, load_run_folder, require, spiking_results  # noqa: F401


def to_nwb(run, path, **kwargs):
    """Write ``run`` as an NWB file; see :func:`hipposim.export.nwb.to_nwb`."""
    from .nwb import to_nwb as _to_nwb

    return _to_nwb(run, path, **kwargs)


def to_neo(run):
    """A Neo Block of ``run``; see :func:`hipposim.export.neo.to_neo`."""
    from .neo import to_neo as _to_neo

    return _to_neo(run)
