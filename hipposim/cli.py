"""The ``hipposim`` command line.

Exit codes: 0 success; 1 a run failed while simulating (or the disk filled up);
2 bad input (scenario, paths, options, damaged or foreign folders, a folder in
use); 3 a sweep finished with some failed tasks; 128 + N stopped by signal N
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), with the manifest marked "interrupted".

Every failure ends with a one-line message per problem; a traceback is printed
only with ``--debug``.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import traceback
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

from ._version import __version__
from .errors import HipposimError


def _default_out(scenario, kind: str = "runs") -> Path:
    from .run.folder import checked_name

    return Path(kind) / checked_name(scenario.name, scenario.source or "the scenario")


def _out(args) -> Path | None:
    """``--out`` as given (None when absent); an empty one is refused, not taken for the default."""
    if args.out is None:
        return None
    if not str(args.out).strip():
        from .errors import OutputError

        raise OutputError("--out is empty; name the folder to write, or leave --out out for the default")
    return Path(args.out)


def cmd_run(args) -> int:
    from .run import run_scenario
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if args.seed is not None:
        if scenario.sweep is not None:
            from .errors import Problem, ScenarioError

            raise ScenarioError(Problem("--seed applies to a single run; the seeds of a sweep's tasks are "
                                        "sweep.seeds, so set them there", "sweep.seeds",
                                        scenario.lines.get("sweep.seeds", scenario.lines.get("sweep"))),
                                args.scenario)
        scenario = scenario.with_seed(args.seed, "--seed")
    out = _out(args) or _default_out(scenario, "sweeps" if scenario.sweep else "runs")
    if scenario.sweep is not None:
        return _sweep(scenario, out, args, executor="serial")
    run = run_scenario(scenario, out, overwrite=args.overwrite, progress=not args.quiet,
                       figures=not args.no_figures, source=args.scenario)
    _print_metrics(run.metrics)
    print(f"run folder: {run.root}")
    return 0


def _print_metrics(metrics: dict) -> None:
    """One line per model: the item-space headline measures first, then the model's own overlap."""
    cols = ("item_overlap", "item_success", "probed_accuracy", "final_overlap", "steps_to_converge", "final_energy")
    rows = [("model",) + tuple("own_overlap" if c == "final_overlap" else c for c in cols)]
    fmt = lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
    for label, m in metrics.items():
        rows.append((label,) + tuple(fmt(m.get(c)) for c in cols))
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
    elif scenario.sweep.kind == "sequence_capacity":
        from .analysis.sequence import sequence_capacity_fits

        for model, entry in sequence_capacity_fits(ds).items():
            for n, f in entry["by_size"].items():
                if not np.isfinite(f["alpha_c"]):
                    print(f"  {model}, N={n}: no critical load within the swept lengths")
                else:
                    ci = ("" if not np.isfinite(f["ci_low"]) else
                          f" (95% CI {f['ci_low']:.0f} .. {f['ci_high']:.0f})")
                    print(f"  {model}, N={n}: capacity {f['capacity']:.0f} items{ci}, "
                          f"critical load P/N {f['alpha_c']:.3f}")
            if "exponent" in entry:
                print(f"  {model}: capacity ~ N^{entry['exponent']:.2f}")
    return 3 if failed else 0


def cmd_sweep(args) -> int:
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if scenario.sweep is None:
        raise HipposimError(f"{args.scenario}: the scenario has no 'sweep' section; use `hipposim run`")
    out = _out(args) or _default_out(scenario, "sweeps")
    executor = "serial" if args.serial else "local"
    return _sweep(scenario, out, args, executor)


def cmd_validate(args) -> int:
    from .errors import ScenarioError
    from .scenario import load_scenario

    bad = 0
    for f in args.files:
        try:
            s = load_scenario(f)  # sizes and sweep points are checked against the limits first
            if s.sweep is not None:
                _validate_sweep(s)
        except ScenarioError as exc:
            bad += 1
            print(exc.render(), file=sys.stderr)
        else:
            print(f"{f}: ok ({s.name}: {len(s.models)} model(s))")
    return 2 if bad else 0


def _validate_sweep(scenario) -> None:
    """Validate every point of a sweep like a scenario, once per combination of swept values.

    A point's seed does not change whether it is valid (seeds are checked by the schema), so
    the points are expanded for the first seed only and the seeds are checked to be distinct;
    `hipposim sweep` itself still expands every (values, seed) point before it starts.
    """
    from .errors import Problem, ScenarioError
    from .run.sweep import sweep_points

    seeds = scenario.sweep.seed_list() if isinstance(scenario.sweep.seeds, list) else None
    if seeds is not None and len(set(seeds)) != len(seeds):
        raise ScenarioError(Problem("a seed is listed twice, so two sweep points are the same scenario; "
                                    "remove the duplicate", "sweep.seeds", scenario.lines.get("sweep.seeds")),
                            scenario.source)
    first = scenario.sweep.seed_list()[0] if seeds is not None else scenario.sweep.seeds.start
    one_seed = scenario.model_copy(update={"sweep": scenario.sweep.model_copy(update={"seeds": [first]})})
    sweep_points(one_seed)


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
    from .errors import RunFailed
    from .run.folder import Incomplete, RunFolder, load_run, open_dataset, read_manifest
    from .run.signals import interruptible

    root = Path(args.run_dir)
    manifest = read_manifest(root)
    if manifest["kind"] == "comparison":
        raise HipposimError(f"'{root}' is a comparison folder; its figures are drawn by `hipposim compare`")
    if manifest["kind"] == "sweep" and manifest.get("status") not in ("complete", "partial"):
        raise Incomplete(f"sweep folder '{root}' did not finish (status '{manifest.get('status')}'); "
                         "finish it with `hipposim sweep --resume`")
    output = manifest["scenario"].get("output", {})
    output = output if isinstance(output, dict) else {}
    formats = args.format or output.get("formats", ["png"])
    subdir = output.get("figures", "figures")
    if not isinstance(subdir, str) or not isinstance(formats, list) or not set(formats) <= {"png", "svg"}:
        raise HipposimError(f"'{root / 'manifest.json'}' names figure formats or a figure folder that "
                            "hipposim does not write")
    folder = RunFolder(root)
    folder.path(subdir)  # refuses a figure folder that leads out of the run folder
    if manifest.get("kind") == "sweep":
        from .plotting.sweep import plot_sweep

        ds = open_dataset(folder.path("sweep.nc"), "the sweep results")
        draw = lambda: plot_sweep(ds, folder, subdir, formats)  # noqa: E731
    else:
        from .plotting import plot_run

        run = load_run(root)
        draw = lambda: plot_run(run, folder, subdir, formats)  # noqa: E731
    from .run.lock import FolderLock

    try:
        # a folder that a run or sweep is still writing is refused with its pid; a signal removes
        # the figure being written (every figure is written to a temporary name and renamed)
        with FolderLock(root), interruptible():
            written = draw()
    except HipposimError:
        raise
    except Exception as exc:  # saved results that load but cannot be drawn
        raise RunFailed(f"cannot draw the figures of '{root}' from its saved results: "
                        f"{type(exc).__name__}: {exc}") from exc
    for w in written:
        print(root / w)
    return 0


def cmd_compare(args) -> int:
    from .report import compare_main

    return compare_main(args)


def cmd_export(args) -> int:
    """``hipposim export RUN_DIR --to nwb [--out FILE]``: the run in the field's formats."""
    from .export import load_run_folder, require
    from .run.folder import MANIFEST, checked_name
    from .run.signals import interruptible

    if args.to == "nwb":
        require("pynwb")  # before loading anything: a base install learns which extra it needs
        from .export.nwb import to_nwb

        out = _out(args)
        run = load_run_folder(args.run_dir)
        if out is None:  # the name is read back from the manifest: checked again before it becomes a path
            out = Path(args.run_dir) / f"{checked_name(run.scenario.get('name'), str(Path(args.run_dir) / MANIFEST))}.nwb"
        with interruptible():  # a signal removes the partial file
            written = to_nwb(run, out, overwrite=args.overwrite)
    print(f"wrote {written}")
    return 0


@contextmanager
def _quiet(enabled: bool):
    """``--quiet``: no progress (bars, spinners), no results printed, no warnings; errors still go to stderr."""
    if not enabled:
        yield
        return
    import logging
    import os
    import warnings

    from .backends.brian2.progress import set_progress  # does not import brian2

    set_progress(False)
    logging.disable(logging.WARNING)  # Brian2's warnings and below; errors still pass
    try:
        with open(os.devnull, "w") as null, redirect_stdout(null), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        set_progress(None)
        logging.disable(logging.NOTSET)


def quiet_aware(command):
    """Run ``command(args)`` inside :func:`_quiet` when ``args.quiet`` is set."""
    @functools.wraps(command)
    def wrapped(args):
        with _quiet(bool(getattr(args, "quiet", False))):
            return command(args)
    return wrapped


# every command with a --quiet option honours it the same way
cmd_run = quiet_aware(cmd_run)
cmd_sweep = quiet_aware(cmd_sweep)
cmd_compare = quiet_aware(cmd_compare)
cmd_export = quiet_aware(cmd_export)
def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def workers_count(text: str) -> int:
    """An argparse type for --workers: 1 to MAX_WORKERS processes."""
    from .run.sweep import MAX_WORKERS

    value = positive_int(text)
    if value > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_WORKERS} worker processes, got {value}")
    return value


def seed_value(text: str) -> int:
    """An argparse type for --seed: the same rule as the scenario's seed, 0 <= seed < 2**63."""
    from .scenario.schema import SEED_LIMIT

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to 2**63 - 1, got {value}")
    return value


def scheduler_address(text: str) -> str:
    """An argparse type for --scheduler: a network address such as tcp://10.0.0.5:8786."""
    from .run.sweep import check_address

    try:
        check_address(text)
    except HipposimError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace(f"--scheduler {text!r} is", f"{text!r} is")) from None
    return text


def memory_size(text: str) -> int:
    """An argparse type for --max-memory: '8GB', '512MiB', or bytes."""
    from .scenario.limits import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(debug_only: bool = False) -> argparse.ArgumentParser:
    """Options every subcommand takes (after its name, or before it)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print the full traceback of an error")
    if not debug_only:
        from .scenario.limits import DEFAULT_MAX_MEMORY, DEFAULT_MAX_TASKS

        common.add_argument("--max-memory", type=memory_size, metavar="SIZE", default=argparse.SUPPRESS,
                            help=f"largest estimated memory of one run that validation accepts, e.g. 16GB "
                                 f"(default {DEFAULT_MAX_MEMORY // 2**30} GiB)")
        common.add_argument("--max-tasks", type=positive_int, metavar="N", default=argparse.SUPPRESS,
                            help=f"largest number of sweep points accepted (default {DEFAULT_MAX_TASKS:,})")
    return common


def build_parser() -> argparse.ArgumentParser:
    limits_opts = _common()
    debug_opt = _common(debug_only=True)
    parser = argparse.ArgumentParser(
        prog="hipposim",
        description="Hippocampal memory (spiking CA3, Hopfield networks) and Transformer attention, "
                    "driven by one scenario file and compared side by side.",
        epilog="Exit codes: 0 ok, 1 run failed (or disk full), 2 bad input, 3 sweep with failed tasks, "
               "128+N stopped by signal N. Start with: hipposim run scenarios/apple_completion.yaml")
    parser.add_argument("--version", action="version", version=f"hipposim {__version__}")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", parents=[limits_opts], help="run a scenario and write a run folder",
                       description="Run every model of SCENARIO on the same patterns and cues; write "
                                   "manifest.json, metrics.json, traces/ and figures/ into the run folder.")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--out", help="run folder to create (default: runs/<scenario name>)")
    p.add_argument("--seed", type=seed_value, help="override the scenario's seed (0 <= seed < 2**63)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run folder (only one whose manifest is hipposim's)")
    p.add_argument("--no-figures", action="store_true", help="skip drawing figures")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", parents=[limits_opts],
                       help="run a scenario's sweep on local worker processes or a Dask scheduler",
                       description="Run every point of the scenario's 'sweep' section; each task's result is "
                                   "stored atomically under tasks/<key>.json and aggregated into sweep.nc. "
                                   "By default the tasks run on a pool of local worker processes (one BLAS "
                                   "thread each); the summary line gives the speed-up against the summed "
                                   "task time.")
    p.add_argument("scenario", help="scenario YAML file with a 'sweep' section")
    p.add_argument("--out", help="sweep folder (default: sweeps/<scenario name>)")
    p.add_argument("--workers", type=workers_count, help="local cluster size (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDR", type=scheduler_address, help="address of an existing Dask scheduler, "
                                                        "e.g. tcp://10.0.0.5:8786")
    p.add_argument("--serial", action="store_true", help="run in this process (debugging)")
    p.add_argument("--resume", action="store_true", help="skip tasks already stored in the sweep folder")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing sweep folder (only one whose manifest is hipposim's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("validate", parents=[limits_opts],
                       help="check scenario files (exit 0 if all valid, 2 otherwise)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", parents=[debug_opt], help="print the JSON Schema of scenario files (for editors)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("models", parents=[debug_opt], help="list registered models with their parameters")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("images", parents=[debug_opt], help="list the built-in images")
    p.add_argument("--show", action="store_true", help="print each image")
    p.set_defaults(func=cmd_images)

    p = sub.add_parser("plot", parents=[debug_opt],
                       help="redraw the figures of a run or sweep folder from saved results")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", action="append", choices=["png", "svg"], help="figure format (repeatable)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("compare", parents=[limits_opts], help="compare models side by side and write report.html",
                       description="Compare the models of a scenario (run now) or of finished run folders.")
    p.add_argument("inputs", nargs="+", metavar="SCENARIO_OR_RUN_DIR")
    p.add_argument("--out", help="comparison folder (default: comparisons/<name>)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing comparison folder (never one of the inputs)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("export", parents=[debug_opt],
                       help="export a run folder to NWB (needs: pip install \"hipposim[export]\")",
                       description="Write a finished run as one NWB file: spikes of every population in the Units "
                                   "table, rates and overlaps as TimeSeries, items and cues as images, phases as "
                                   "epochs, learned weights and attention as tables, scenario and manifest as "
                                   "metadata. Python API: hipposim.results.to_neo(run) for Neo/Elephant.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--to", choices=["nwb"], default="nwb", help="format (default: nwb)")
    p.add_argument("--out", metavar="FILE", help="file to write (default: RUN_DIR/<scenario name>.nwb)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .run.signals import Interrupted
    from .scenario import limits

    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        with limits.raised(getattr(args, "max_memory", None), getattr(args, "max_tasks", None)), \
                private_tempdir():
            return int(args.func(args) or 0)
    except HipposimError as exc:
        _report(f"error: {exc}", debug)
        return exc.exit_code
    except Interrupted as exc:
        _report(f"{exc}; a run or sweep folder in progress is marked 'interrupted'", debug)
        return exc.exit_code
    except KeyboardInterrupt:
        _report("interrupted", debug)
        return 130
    except MemoryError:
        _report("error: out of memory; make the scenario smaller (see --max-memory)", debug)
        return 1
    except OSError as exc:
        where = f" '{exc.filename}'" if getattr(exc, "filename", None) else ""
        _report(f"error: {exc.strerror or exc}{where}", debug)
        return 1
    except Exception as exc:  # a fault, not bad input: one line, the traceback only with --debug
        _report(f"error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", debug)
        return 1


TEMP_PREFIX = "hipposim-"


@contextmanager
def private_tempdir():
    """Temporary files of this command (Brian2's debug log and script copy, worker scratch) go into a
    folder of its own under $TMPDIR, removed when the command ends; folders left by a process that
    was killed (its pid no longer runs) are removed by the next command."""
    import os
    import re
    import shutil
    import tempfile

    base = Path(tempfile.gettempdir())
    try:
        for child in base.glob(f"{TEMP_PREFIX}*"):
            m = re.fullmatch(rf"{TEMP_PREFIX}(\d+)-\w+", child.name)
            if not m or child.is_symlink() or not child.is_dir() or child.stat().st_uid != os.getuid():
                continue
            try:
                os.kill(int(m.group(1)), 0)
            except ProcessLookupError:
                shutil.rmtree(child, ignore_errors=True)
            except (PermissionError, OverflowError):
                pass
        private = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=base)
    except OSError:
        yield
        return
    saved_env, saved_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = private, private
    try:
        yield
    finally:
        import sys as _sys

        if "brian2.utils.logger" in _sys.modules:  # its files are removed with the folder, not at exit
            logger = _sys.modules["brian2.utils.logger"].BrianLogger
            if getattr(logger, "file_handler", None) is not None:
                logger.file_handler.close()
            logger.tmp_log = logger.tmp_script = None
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(private, ignore_errors=True)


def _report(message: str, debug: bool) -> None:
    """One line on stderr (the first line of a long message), plus the traceback with --debug."""
    if debug:
        traceback.print_exc(file=sys.stderr)
    lines = [line for line in str(message).splitlines() if line.strip()] or ["error"]
    for line in lines[:20]:  # one line per problem of a scenario; other errors are one line
        print(f"hipposim: {line}" if line is lines[0] else line, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
