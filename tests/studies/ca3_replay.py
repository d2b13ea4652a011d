"""Sequence replay of ``ca3-spiking-v3`` (run by hand; about a minute per run).

Two sequences of six random +-1 items (100 units) are learned by presenting each sequence's
items in overlapping order (the v3 sequence phase); each sequence is then cued once, the first at
its first item and the second at its middle item (position 2), and the replay measures of
:mod:`hipposim.analysis.replay` are printed for the plastic network and the paired
no-plasticity control::

    python tests/studies/ca3_replay.py --rule stdp-asymmetric --seeds 51 52 53
    python tests/studies/ca3_replay.py --rule stdp-symmetric --seeds 51 52 53
    python tests/studies/ca3_replay.py --rule stdp-asymmetric --trigger kick --seeds 51 52 53

Each line is one run as JSON (per-cue lists).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from test_replay import REPLAY, sequence_stimulus  # noqa: E402

from hipposim.errors import ModelError  # noqa: E402
from hipposim.models.ca3_spiking_v3 import CA3SpikingV3  # noqa: E402

SYMMETRIC = {"ee_rule": "stdp-symmetric", "eta_ee": 0.02, "b_adapt": "6 mV", "replay_rec_gain": 1.5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rule", choices=["stdp-asymmetric", "stdp-symmetric"], default="stdp-asymmetric")
    ap.add_argument("--trigger", choices=["item", "kick"], default="item")
    ap.add_argument("--seeds", type=int, nargs="+", default=[51, 52, 53])
    args = ap.parse_args()
    params = {**REPLAY, **(SYMMETRIC if args.rule == "stdp-symmetric" else {}), "replay_trigger": args.trigger}
    for seed in args.seeds:
        stim = sequence_stimulus(seed)
        try:
            ds = CA3SpikingV3(**params).run(stim, np.random.default_rng(seed))
        except ModelError as exc:   # a runaway network replays nothing
            print(json.dumps({"seed": seed, "rule": args.rule, "trigger": args.trigger, "error": str(exc)}))
            continue
        row = {"seed": seed, "rule": args.rule, "trigger": args.trigger, "cue_positions": [0, 2]}
        for key in CA3SpikingV3.replay_records:
            for sfx in ("", "_control"):
                row[key + sfx] = [None if not np.isfinite(v) else round(float(v), 3) for v in ds[key + sfx].values]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
