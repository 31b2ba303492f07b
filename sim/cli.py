"""The `iotsim` command line: parses arguments, delegates, reports.  Thin by design.

Exit codes: 0 done, 1 a check failed, 2 bad input (the message names the file, the field
path and what is wrong; nothing is written).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.access import PROCEDURE_PARAMETERS, Procedure, run_experiment
from sim.access.reference import TRAFFIC_CASES, tr37868_reference
from sim.api import run
from sim.engine import build_plan
from sim.results import Tables, read_tables, write_csv, write_text
from sim.scenario import Problem, ScenarioError, json_schema, load_scenario
from sim.scenario.catalog import lte_prach_timing
from sim.study.compare import FIGURES, FolderError, compare_folders, folder_figures, load_folder
from sim.study.sweeps import parse_override, run_sweep, variants
from sim.version import __version__

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but bad arguments exit 2 with the usage (argparse's default) and a hint."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n(see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="iotsim",
        description="Simulate IoT terminals joining 4G/5G base-station capacity over the years.",
    )
    parser.add_argument("--version", action="version", version=f"iotsim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run_parser = commands.add_parser("run", help="run a scenario and write its result folder")
    run_parser.add_argument("scenario", type=Path, help="scenario YAML file")
    run_parser.add_argument(
        "--out", type=Path, help="result folder (default: results/<scenario name>/)"
    )
    run_parser.add_argument("--seed", type=_non_negative_int, help="override the scenario's seed")
    run_parser.add_argument(
        "--quiet", action="store_true", help="no progress bar and no summary on the terminal"
    )

    _study_options(run_parser)

    compare = commands.add_parser(
        "compare", help="compare the key figures of result folders (the first is the baseline)"
    )
    compare.add_argument("folders", type=Path, nargs="+", help="two or more result folders")
    compare.add_argument("--metric", action="append", dest="metrics", choices=FIGURES,
                         help="only this figure (repeatable): connected, demand, "
                         "connected_end, blocked_total, waiting_end, utilization_end, "
                         "first_full, target_achieved, target_met, access_success")  # fmt: skip
    compare.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (0)")
    compare.add_argument("--atol", type=float, default=0.0, help="absolute tolerance (0)")
    compare.add_argument("--check", action="store_true",
                         help="exit 1 if any difference is beyond the tolerance")  # fmt: skip
    compare.add_argument(
        "--out", type=Path, help="comparison CSV (default: results/comparison.csv)"
    )

    sweep = commands.add_parser(
        "sweep", help="run variants of a scenario (overrides x replications)"
    )
    sweep.add_argument("scenario", type=Path, help="scenario YAML file")
    sweep.add_argument("--set", action="append", dest="overrides", default=[], metavar="PATH=V1,V2",
                       help="a field path and its values, e.g. "
                       "categories.water_meter.growth.rate=0.1,0.2 (repeatable)")  # fmt: skip
    sweep.add_argument(
        "--zip", action="store_true", help="pair the values element-wise, not every combination"
    )
    sweep.add_argument("--out", type=Path,
                       help="sweep folder (default: results/<scenario name>-sweep/)")  # fmt: skip
    sweep.add_argument("--seed", type=_non_negative_int, help="override the scenario's seed")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    _study_options(sweep)

    plot = commands.add_parser("plot", help="figures of result folders (several: overlaid)")
    plot.add_argument("folders", type=Path, nargs="+", help="result folders (or a sweep folder)")
    plot.add_argument("--out", type=Path, help="figure folder (default: <first folder>/figures)")
    plot.add_argument("--format", choices=("png", "svg"), default="png")

    report = commands.add_parser("report", help="one self-contained HTML report")
    report.add_argument("folders", type=Path, nargs="+", help="result folders (or a sweep folder)")
    report.add_argument(
        "--out",
        type=Path,
        default=Path("results") / "report.html",
        help="HTML file (default: results/report.html)",
    )

    validate = commands.add_parser("validate", help="check scenarios; print every problem")
    validate.add_argument("scenarios", type=Path, nargs="+", help="scenario YAML files")

    commands.add_parser("schema", help="print the JSON Schema of scenario files")

    access = commands.add_parser(
        "access",
        help="one random-access experiment in one cell (3GPP TR 37.868 style)",
        description="Terminals of one cell run the contention-based random-access procedure; "
        "prints the metrics with 95 %% intervals over the replications.",
    )
    access.add_argument("--devices", type=_positive_int, default=10000, help="terminals")
    access.add_argument("--traffic", choices=("beta", "uniform"), default="beta",
                        help="beta: Beta(3,4) over the window (TR 37.868 model 2); uniform: "
                        "model 1")  # fmt: skip
    access.add_argument(
        "--window",
        type=_positive_float,
        default=None,
        help="traffic window, s (default: 10 for beta, 60 for uniform)",
    )
    access.add_argument("--replications", type=_positive_int,
                        help="runs (default 10; with --tr37868 the reference's)")  # fmt: skip
    access.add_argument("--seed", type=_non_negative_int, default=1)
    access.add_argument("--out", type=Path, help="write the metrics as a tidy CSV")
    access.add_argument("--cdf", type=Path, help="write the access-delay CDF as a CSV")
    access.add_argument("--tr37868", action="store_true",
                        help="run the TR 37.868 reference table (both traffic models x 5,000 / "
                        "10,000 / 30,000 terminals) and print it beside the reference")  # fmt: skip
    procedure = access.add_argument_group("random-access procedure (defaults: TR 37.868)")
    procedure.add_argument("--prach-configuration-index", type=int, choices=range(16),
                           metavar="0..15", help="LTE PRACH configuration index (format 0, "
                           "TS 36.211 Table 5.7.1-2): sets the RAO period and offset")  # fmt: skip
    for name in PROCEDURE_PARAMETERS:
        default = getattr(Procedure(), name)
        option = "--" + name.replace("_", "-")
        if isinstance(default, str):
            choices = typing.get_args(Procedure.__dataclass_fields__[name].type)
            procedure.add_argument(option, dest=name, choices=choices or None,
                                   help=f"(default {default})")  # fmt: skip
        else:
            procedure.add_argument(option, dest=name, type=type(default),
                                   help=f"(default {default})")  # fmt: skip
    return parser


def _study_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replications", type=_positive_int, default=1,
                        help="independent replications (SeedSequence(seed).spawn(R))")  # fmt: skip
    parser.add_argument("--jobs", type=_positive_int, default=1,
                        help="local worker processes")  # fmt: skip
    parser.add_argument("--scheduler", metavar="ADDRESS", type=_scheduler,
                        help="a Dask scheduler (tcp://host:8786) or local:N for a local "
                        "cluster of N workers (needs the dask extra)")  # fmt: skip


def _scheduler(text: str) -> str:
    """local:N (N >= 1) or a scheduler address like tcp://host:8786."""
    if text.startswith("local:"):
        count = text.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"local:N needs N >= 1 workers, got {text!r}")
        return text
    if "://" not in text or not text.split("://", 1)[1]:
        raise argparse.ArgumentTypeError(
            f"expected local:N or an address like tcp://host:8786, got {text!r}"
        )
    return text


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _report(error: ScenarioError, what: str, file: Path | None = None) -> None:
    for problem in error.problems:
        located = problem
        if problem.file is None and file is not None:
            located = dataclasses.replace(problem, file=str(file))
        print(f"error: {located}", file=sys.stderr)
    count = len(error.problems)
    print(f"{count} problem{'s' if count != 1 else ''}; {what}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        _report(error, "nothing was run or written")
        return EXIT_BAD_INPUT
    for note in scenario.notes:  # deprecated keys: read, but the file should change
        print(f"warning: {note}", file=sys.stderr)
    out = args.out if args.out is not None else Path("results") / scenario.name
    blocker = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        print(
            f"error: --out {out}: {blocker} is a file, not a folder; nothing was run",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    bar = None
    progress: Callable[[int], None] | None = None
    study = args.replications > 1 or args.scheduler
    if not args.quiet and sys.stderr.isatty():
        total, unit = (args.replications, "replication") if study else (scenario.months, "month")
        bar = tqdm(total=total, unit=unit, desc=scenario.name, leave=False)

        def progress(_month: int) -> None:
            bar.update(1)

    try:
        result = run(
            scenario,
            seed=args.seed,
            progress=progress,
            replications=args.replications,
            jobs=args.jobs,
            scheduler=args.scheduler,
        )
    except ScenarioError as error:
        _report(error, "nothing was written", args.scenario)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    try:
        result.write(out, scenario_file=args.scenario)
    except OSError as error:
        print(f"error: cannot write the result folder {out}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        keys = ["connected_end", "demand_end", "blocked_total"]
        if result.replications == 1:  # text figures have no mean over replications
            keys += ["first_full_date", "targets_met"]
        mean = " (mean)" if result.replications > 1 else ""
        lines = [f"  {key + mean:<23} {result.figure(key) or '-'}" for key in keys]
        print(f"{scenario.name}: wrote {out}/ in {result.wall_time_s:.2f} s\n" + "\n".join(lines))
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    if len(args.folders) < 2:
        print("error: compare needs at least two result folders", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        folders = [load_folder(path) for path in args.folders]
    except FolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    comparison = compare_folders(folders, args.rtol, args.atol, args.metrics)
    for note in comparison.notes:
        print(f"note: {note}", file=sys.stderr)
    table = comparison.table
    if table.empty:
        print("error: nothing to compare (no figure/key is in both folders)", file=sys.stderr)
        return EXIT_BAD_INPUT
    shown = table.assign(flag=np.where(table["within_tolerance"].astype(bool), "", "!"))
    columns = ["figure", "key", "baseline_value", "value", "difference", "relative_difference",
               "p_value", "significant", "flag"]  # fmt: skip
    with pd.option_context("display.max_rows", None, "display.width", 200,
                           "display.float_format", "{:.6g}".format):  # fmt: skip
        for folder, part in shown.groupby("folder", sort=False):
            print(f"{part['baseline'].iloc[0]}  ->  {folder}")
            print(part[columns].to_string(index=False))
    out = args.out or Path("results") / "comparison.csv"
    write_csv(table, out)
    beyond = comparison.beyond_tolerance
    print(f"wrote {out}; {beyond} of {len(table)} differences beyond the tolerance "
          f"(rtol {args.rtol:g}, atol {args.atol:g})")  # fmt: skip
    return EXIT_CHECK_FAILED if args.check and beyond else EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario)
        for note in scenario.notes:  # deprecated keys: read, but the file should change
            print(f"warning: {note}", file=sys.stderr)
        if not args.overrides:
            raise ScenarioError([Problem("--set", "give at least one --set PATH=V1,V2,...")])
        overrides = [parse_override(text) for text in args.overrides]
        variant_list = variants(scenario, overrides, zipped=args.zip)
    except ScenarioError as error:
        _report(error, "nothing was run", Path("--set") if args.overrides else args.scenario)
        return EXIT_BAD_INPUT
    out = args.out or Path("results") / f"{scenario.name}-sweep"
    blocker = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        print(f"error: --out {out}: {blocker} is a file, not a folder; nothing was run",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    names = {v.folder_name for v in variant_list}
    stale = sorted(p.name for p in out.glob("v[0-9][0-9][0-9][0-9]") if p.name not in names)
    if stale:
        print(f"note: {out} also holds {', '.join(stale)} from another sweep; they are not "
              "in this sweep.csv", file=sys.stderr)  # fmt: skip
    total = len(variant_list) * args.replications
    bar = None
    progress: Callable[[int], None] | None = None
    if not args.quiet and sys.stderr.isatty():
        bar = tqdm(total=total, unit="run", desc=f"{scenario.name} sweep", leave=False)

        def progress(_done: int) -> None:
            bar.update(1)

    try:
        report = run_sweep(
            variant_list, out, args.seed, args.replications, args.jobs, args.scheduler, progress
        )
    except KeyboardInterrupt:
        print(f"interrupted: finished variants are kept in {out}/; run the same command "
              "again to resume", file=sys.stderr)  # fmt: skip
        return 130
    except ScenarioError as error:
        _report(error, "nothing was run", args.scenario)
        return EXIT_BAD_INPUT
    finally:
        if bar is not None:
            bar.close()
    print(f"{report.variants} variant(s) ({report.skipped} already complete) in {out}/; "
          f"index: {out / 'sweep.csv'}")  # fmt: skip
    for index, message in report.failed.items():
        print(f"error: variant v{index:04d} failed: {message}", file=sys.stderr)
    return EXIT_CHECK_FAILED if report.failed else EXIT_OK


def _result_folders(paths: list[Path]) -> list[Path]:
    """Result folders, a sweep folder standing for its variants (vNNNN) in order."""
    folders = []
    for path in paths:
        if not (path / "manifest.json").exists() and (path / "sweep.csv").exists():
            folders += sorted(p for p in path.glob("v[0-9][0-9][0-9][0-9]") if p.is_dir())
        else:
            folders.append(path)
    return folders


def _read_runs(paths: list[Path]) -> list[Tables] | None:
    try:
        return [read_tables(path) for path in _result_folders(paths)]
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def _figure_inputs(args: argparse.Namespace) -> list[Tables] | None:
    """The result folders to draw, or None (after saying why) when that cannot be done."""
    try:
        import matplotlib  # noqa: F401 - the optional extra `plot`
    except ImportError:
        print("error: figures need matplotlib: pip install 'iotsim[plot]'", file=sys.stderr)
        return None
    return _read_runs(args.folders)


def _plot(args: argparse.Namespace) -> int:
    runs = _figure_inputs(args)
    if runs is None:
        return EXIT_BAD_INPUT
    out = args.out or _result_folders(args.folders)[0] / "figures"
    from sim.report.plots import write_figures

    written = write_figures(runs, out, args.format)
    print(f"wrote {len(written)} figures to {out}/: " + ", ".join(p.name for p in written))
    return EXIT_OK


def _report_html(args: argparse.Namespace) -> int:
    runs = _figure_inputs(args)
    if runs is None:
        return EXIT_BAD_INPUT
    from sim.report.html import build_report

    comparison = None
    if len(runs) > 1:  # the folders are already read: reduce them, do not read them again
        comparison = compare_folders([folder_figures(run) for run in runs]).table
    write_text(build_report(runs, comparison), args.out)
    print(f"wrote {args.out}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    failures = 0
    for path in args.scenarios:
        try:
            scenario = load_scenario(path)
            for note in scenario.notes:  # deprecated keys: read, but the file should change
                print(f"warning: {note}", file=sys.stderr)
            build_plan(scenario)  # the plan checks what needs the curves
        except ScenarioError as error:
            failures += 1
            _report(error, f"{path} is invalid", path)
        else:
            print(f"{path}: ok")
    return EXIT_BAD_INPUT if failures else EXIT_OK


def _access(args: argparse.Namespace) -> int:
    changes = {name: getattr(args, name) for name in PROCEDURE_PARAMETERS
               if getattr(args, name) is not None}  # fmt: skip
    if args.prach_configuration_index is not None:
        period, offset = lte_prach_timing(args.prach_configuration_index)
        changes.setdefault("rao_period_ms", period)
        changes.setdefault("rao_offset_ms", offset)
    try:
        procedure = Procedure().replace(**changes)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.tr37868:
        return _access_reference(args, procedure)
    window = args.window or (10.0 if args.traffic == "beta" else 60.0)
    replications = args.replications or 10
    experiment = run_experiment(args.devices, args.traffic, window, procedure,
                                replications, args.seed)  # fmt: skip
    columns = ["metric", "mean", "ci_low", "ci_high", "replications"]
    table = pd.DataFrame(experiment.summary(), columns=columns)
    print(f"{args.devices} terminals, {args.traffic} over {window:g} s, "
          f"{replications} replications, seed {args.seed}")  # fmt: skip
    for row in table.itertuples():
        print(f"  {row.metric:<40} {row.mean:>12.6g}   [{row.ci_low:.6g}, {row.ci_high:.6g}]")
    if args.out:
        write_csv(table.round(8), args.out)
    if args.cdf:
        delays, shares = experiment.cdf()
        write_csv(pd.DataFrame({"delay_ms": delays, "share": shares.round(8)}), args.cdf)
    return EXIT_OK


def _access_reference(args: argparse.Namespace, procedure: Procedure) -> int:
    """The TR 37.868 table: ours beside the reference (the reference's replication counts
    unless --replications is given)."""
    rows: list[dict[str, typing.Any]] = []
    cases: dict[tuple[str, int], list[dict[typing.Hashable, typing.Any]]] = {}
    for record in tr37868_reference().to_dict("records"):
        cases.setdefault((str(record["traffic_model"]), int(record["devices"])), []).append(record)
    for (model, devices), records in cases.items():
        traffic, window = TRAFFIC_CASES[model]
        replications = args.replications or int(records[0]["replications"])
        experiment = run_experiment(devices, traffic, window, procedure, replications, args.seed)
        summary = {row[0]: row for row in experiment.summary()}
        print(f"{model}, {devices} terminals, {replications} replications")
        for record in records:
            metric = str(record["metric"])
            # the reference's p95 is of all its replications' delays pooled
            pooled = "pooled_p95_access_delay_ms" if metric == "p95_access_delay_ms" else metric
            _, mean, low, high, _ = summary[pooled]
            reference, ci95 = float(record["value"]), _or_zero(record["ci95"])
            print(f"  {metric:<40} {mean:>11.6g} [{low:.6g}, {high:.6g}]"
                  f"   reference {reference:.6g} ± {ci95:.3g}")  # fmt: skip
            rows.append(
                {"traffic_model": model, "devices": devices, "metric": metric, "mean": mean,
                 "ci_low": low, "ci_high": high, "replications": replications,
                 "reference": reference, "reference_ci95": ci95}
            )  # fmt: skip
    if args.out:
        write_csv(pd.DataFrame(rows).round(8), args.out)
    return EXIT_OK


def _or_zero(value: typing.Any) -> float:
    number = float(value)
    return 0.0 if math.isnan(number) else number  # NaN: the reference gives no interval


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `iotsim` console script."""
    try:
        return _dispatch(argv)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _schema(_args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


_COMMANDS = {
    "run": _run,
    "validate": _validate,
    "schema": _schema,
    "access": _access,
    "compare": _compare,
    "sweep": _sweep,
    "plot": _plot,
    "report": _report_html,
}


def _dispatch(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    return _COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
