"""The ``hipposim`` command line.

Exit codes: 0 success; 1 a run failed while simulating; 2 bad input (scenario,
paths, options); 3 a sweep finished with some failed tasks.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import HipposimError


def _default_out(scenario, kind: str = "runs") -> Path:
    return Path(kind) / scenario.name


def cmd_run(args) -> int:
    from .run import run_scenario
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
    out = Path(args.out) if args.out else _default_out(scenario, "sweeps" if scenario.sweep else "runs")
    if scenario.sweep is not None:
        return _sweep(scenario, out, args, executor="serial")
    run = run_scenario(scenario, out, overwrite=args.overwrite, progress=not args.quiet,
                       figures=not args.no_figures, source=args.scenario)
    _print_metrics(run.metrics)
    print(f"run folder: {run.root}")
    return 0


def _print_metrics(metrics: dict) -> None:
    rows = [("model", "final_overlap", "success", "steps_to_converge", "final_energy")]
    fmt = lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
    for label, m in metrics.items():
        rows.append((label, fmt(m.get("final_overlap")), fmt(m.get("success")),
                     fmt(m.get("steps_to_converge")), fmt(m.get("final_energy"))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def _sweep(scenario, out: Path, args, executor: str) -> int:
    import numpy as np

    from .run import run_sweep

    ds = run_sweep(scenario, out, overwrite=args.overwrite, resume=getattr(args, "resume", False),
                   executor=executor, workers=getattr(args, "workers", None),
                   scheduler=getattr(args, "scheduler", None), progress=not args.quiet, source=args.scenario)
    failed = int((ds["status"].values == "failed").sum())
    print(f"{ds.sizes['task']} tasks, {failed} failed; sweep folder: {out}")
    if scenario.sweep.kind == "capacity":
        from .analysis.capacity import sweep_fits

        for model, f in sweep_fits(ds).items():
            if not np.isfinite(f["alpha_c"]):
                print(f"  {model}: no critical load within the swept loads")
            else:
                ci = ("" if not np.isfinite(f["ci_low"]) else f" (95% CI {f['ci_low']:.3f} .. {f['ci_high']:.3f})")
                print(f"  {model}: critical load {f['alpha_c']:.3f}{ci}")
    return 3 if failed else 0


def cmd_sweep(args) -> int:
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if scenario.sweep is None:
        raise HipposimError(f"{args.scenario}: the scenario has no 'sweep' section; use `hipposim run`")
    out = Path(args.out) if args.out else _default_out(scenario, "sweeps")
    executor = "serial" if args.serial else "local"
    return _sweep(scenario, out, args, executor)


def cmd_validate(args) -> int:
    from .errors import ScenarioError
    from .scenario import load_scenario

    bad = 0
    for f in args.files:
        try:
            s = load_scenario(f)
            if s.sweep is not None:
                from .run.sweep import sweep_points

                sweep_points(s)  # every point is validated like a scenario
        except ScenarioError as exc:
            bad += 1
            print(exc.render(), file=sys.stderr)
        else:
            print(f"{f}: ok ({s.name}: {len(s.models)} model(s))")
    return 2 if bad else 0


def cmd_schema(args) -> int:
    from .scenario import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_models(args) -> int:
    import warnings

    from .registry import describe_params, registry

    for model_id in registry.ids():
        try:
            cls = registry.get(model_id)
        except Exception as exc:  # a broken plug-in warns, it does not stop the listing
            warnings.warn(f"cannot load model {model_id!r}: {exc}", stacklevel=1)
            continue
        print(f"{model_id}\n    {cls.description}")
        for row in describe_params(cls):
            default = row["default"]
            extra = "; ".join(x for x in (row["unit"], row["bounds"]) if x)
            extra = f" ({extra})" if extra else ""
            print(f"    {row['name']:<22} default {default!s:<12} {row['description']}{extra}")
        print()
    return 0


def cmd_images(args) -> int:
    from .stimuli import available_images, load_image

    for name in available_images():
        print(name)
        if args.show:
            for row in load_image(name):
                print("  " + "".join("#" if v > 0 else "." for v in row))
    return 0


def cmd_plot(args) -> int:
    from .run.folder import MANIFEST, RunFolder, load_run

    root = Path(args.run_dir)
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        raise HipposimError(f"'{root}' is not a hipposim run or sweep folder (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text())
    formats = args.format or manifest["scenario"].get("output", {}).get("formats", ["png"])
    subdir = manifest["scenario"].get("output", {}).get("figures", "figures")
    folder = RunFolder(root)
    if manifest.get("kind") == "sweep":
        import xarray as xr

        from .plotting.sweep import plot_sweep

        with xr.open_dataset(root / "sweep.nc", engine="h5netcdf") as ds:
            written = plot_sweep(ds.load(), folder, subdir, formats)
    else:
        from .plotting import plot_run

        written = plot_run(load_run(root), folder, subdir, formats)
    for w in written:
        print(root / w)
    return 0


def cmd_compare(args) -> int:
    from .report import compare_main

    return compare_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hipposim",
        description="Hippocampal memory (spiking CA3, Hopfield networks) and Transformer attention, "
                    "driven by one scenario file and compared side by side.",
        epilog="Exit codes: 0 ok, 1 run failed, 2 bad input, 3 sweep with failed tasks. "
               "Start with: hipposim run scenarios/apple_completion.yaml")
    parser.add_argument("--version", action="version", version=f"hipposim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a scenario and write a run folder",
                       description="Run every model of SCENARIO on the same patterns and cues; write "
                                   "manifest.json, metrics.json, traces/ and figures/ into the run folder.")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--out", help="run folder to create (default: runs/<scenario name>)")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--no-figures", action="store_true", help="skip drawing figures")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="run a scenario's sweep on local worker processes or a Dask scheduler",
                       description="Run every point of the scenario's 'sweep' section; each task's result is "
                                   "stored atomically under tasks/<key>.json and aggregated into sweep.nc. "
                                   "By default the tasks run on a pool of local worker processes (one BLAS "
                                   "thread each); the summary line gives the speed-up against the summed "
                                   "task time.")
    p.add_argument("scenario", help="scenario YAML file with a 'sweep' section")
    p.add_argument("--out", help="sweep folder (default: sweeps/<scenario name>)")
    p.add_argument("--workers", type=int, help="local cluster size (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDR", help="address of an existing Dask scheduler, "
                                                        "e.g. tcp://10.0.0.5:8786")
    p.add_argument("--serial", action="store_true", help="run in this process (debugging)")
    p.add_argument("--resume", action="store_true", help="skip tasks already stored in the sweep folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing sweep folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("validate", help="check scenario files (exit 0 if all valid, 2 otherwise)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("models", help="list registered models with their parameters")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("images", help="list the built-in images")
    p.add_argument("--show", action="store_true", help="print each image")
    p.set_defaults(func=cmd_images)

    p = sub.add_parser("plot", help="redraw the figures of a run or sweep folder from saved results")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", action="append", choices=["png", "svg"], help="figure format (repeatable)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("compare", help="compare models side by side and write report.html",
                       description="Compare the models of a scenario (run now) or of finished run folders.")
    p.add_argument("inputs", nargs="+", metavar="SCENARIO_OR_RUN_DIR")
    p.add_argument("--out", help="comparison folder (default: comparisons/<name>)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HipposimError as exc:
        print(f"hipposim: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hipposim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
