"""Sequence replay of ``ca3-spiking-v3`` (run by hand; about a minute per run).

Two sequences of six random +-1 items (100 units) are learned by presenting each sequence's
items in overlapping order (the v3 sequence phase); each sequence is then cued once, by default the
first at its first item and the second at its middle item (position 2; ``--cue-positions`` sets
them), and the replay measures of :mod:`hipposim.analysis.replay` are printed for the plastic
network and the paired no-plasticity control::

    python tests/studies/ca3_replay.py --rule stdp-asymmetric --seeds 51 52 53
    python tests/studies/ca3_replay.py --rule stdp-asymmetric --trigger kick --seeds 51 52 53
    python tests/studies/ca3_replay.py --rule stdp-asymmetric --cue-positions 2 3 --seeds 51 52 53
    python tests/studies/ca3_replay.py --rule stdp-symmetric --cue-positions 2 3 --seeds 51 52 53

``stdp-symmetric`` runs with strong spike-frequency adaptation and a 10-ms cue
(``SYMMETRIC``, from ``tests/test_replay.py``).

Each line is one run as JSON (per-cue lists).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from test_replay import REPLAY, SYMMETRIC, sequence_stimulus  # noqa: E402

from hipposim.errors import ModelError  # noqa: E402
from hipposim.models.ca3_spiking_v3 import CA3SpikingV3  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rule", choices=["stdp-asymmetric", "stdp-symmetric"], default="stdp-asymmetric")
    ap.add_argument("--trigger", choices=["item", "kick"], default="item")
    ap.add_argument("--seeds", type=int, nargs="+", default=[51, 52, 53])
    ap.add_argument("--cue-positions", type=int, nargs=2, default=[0, 2],
                    help="position of the cue in sequence 0 and in sequence 1 (0-5; 2 and 3 are the middle)")
    ap.add_argument("--params", type=json.loads, default={},
                    help='model parameters beside the configuration, as JSON (e.g. \'{"kick_rate": "20 Hz"}\')')
    args = ap.parse_args()
    params = {**REPLAY, **(SYMMETRIC if args.rule == "stdp-symmetric" else {}), "replay_trigger": args.trigger,
              **args.params}
    for seed in args.seeds:
        stim = sequence_stimulus(seed, cue_positions=tuple(args.cue_positions))
        try:
            ds = CA3SpikingV3(**params).run(stim, np.random.default_rng(seed))
        except ModelError as exc:   # a runaway network replays nothing
            print(json.dumps({"seed": seed, "rule": args.rule, "trigger": args.trigger, "error": str(exc)}))
            continue
        row = {"seed": seed, "rule": args.rule, "trigger": args.trigger, "cue_positions": list(args.cue_positions),
               "params": args.params}
        extra = ("replay_start_position",) if args.trigger == "kick" else ()
        for key in CA3SpikingV3.replay_records + extra:
            for sfx in ("", "_control"):
                row[key + sfx] = [None if not np.isfinite(v) else round(float(v), 3) for v in ds[key + sfx].values]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
