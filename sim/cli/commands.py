"""The commands of `iotsim`: parse arguments, delegate to the package, report.  Thin by
design; imported by `sim.cli.main` under its interrupt handling (it loads numpy, pandas and
the simulator).

Exit codes: 0 done, 1 a check failed, 2 bad input (the message names the file, the field
path and what is wrong; nothing is written), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
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
from sim.access.experiment import EXPERIMENT_PARAMETERS, energy_summary
from sim.access.parameters import Parameter
from sim.access.procedure import LEVEL_FIELDS, PARAMETERS, PRACH_CONFIGURATION_INDEX
from sim.access.profiles import ALIASES, TECHNOLOGIES, profile, with_level
from sim.access.reference import TRAFFIC_CASES, tr37868_reference
from sim.api import run
from sim.engine import build_plan
from sim.results import (
    RESULT_FOLDER,
    SWEEP_FOLDER,
    OutputError,
    Result,
    ResultFolderError,
    Tables,
    atomic_file,
    check_file_target,
    checksum,
    claim,
    csv_bytes,
    figures_folder,
    is_kind,
    read_tables,
    staged_folder,
    take_written,
    verified,
    write_csv,
    write_marker,
    write_text,
)
from sim.results.formatting import percent_text
from sim.scenario import Problem, Scenario, ScenarioError, json_schema, load_scenario
from sim.scenario.catalog import lte_prach_timing
from sim.scenario.radio import COVERAGE_CLASSES
from sim.study.calibrate import (
    Calibration,
    calibrate,
    calibrated_text,
    fit_table,
    free_parameters,
    output_files,
    output_paths,
    parse_history,
    write_calibration,
)
from sim.study.compare import (
    FIGURES,
    MIN_DIFFERENCE,
    FolderError,
    compare_folders,
    folder_figures,
    readable,
)
from sim.study.executors import executor_notes
from sim.study.sweeps import parse_override, range_seen, run_sweep, variants
from sim.version import __version__

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


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
    run_parser.add_argument("--seed", type=_whole_number(0), help="override the scenario's seed")
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
    compare.add_argument("--min-difference", type=_share_option, default=MIN_DIFFERENCE,
                         metavar="X", help="smallest relative difference flagged (default "
                         f"{MIN_DIFFERENCE:g}: {MIN_DIFFERENCE:.0%}); smaller ones are listed "
                         "but never flagged")  # fmt: skip
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
    sweep.add_argument("--seed", type=_whole_number(0), help="override the scenario's seed")
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

    calibrate = commands.add_parser(
        "calibrate",
        help="fit category fields (growth, initial base) to a history of observed totals",
        description="Fit numeric fields of a scenario's categories to a history CSV (date, "
        "value; optional category, region, technology filters and metric) by least squares "
        "on log values. The model is the scenario's demand (expected installed base with no "
        "capacity limit), not simulated connections: the two agree while nothing is blocked. "
        "Writes the calibrated scenario (the original text with the fitted values) and "
        "<out stem>.fit.csv and <out stem>.points.csv beside it.",
    )
    calibrate.add_argument("scenario", type=Path, help="scenario YAML file")
    calibrate.add_argument("history", type=Path, help="history CSV: date (YYYY-MM), value, ...")
    calibrate.add_argument("--free", action="append", default=[], metavar="PATH",
                           help="a numeric field of a category to fit, e.g. "
                           "categories.water_meter.growth.rate; a * step stands for every key "
                           "(categories.*.growth.rate), a {a,b} step for those keys, each its "
                           "own parameter (repeatable)")  # fmt: skip
    calibrate.add_argument("--scale", action="append", default=[], metavar="PATH",
                           help="one factor multiplying every field the path matches (a * or "
                           "{a,b} step), e.g. categories.{water_meter,gas_meter}.growth.rate:"
                           " a growth rate shared by a group of categories "
                           "(repeatable)")  # fmt: skip
    calibrate.add_argument("--cutoff", metavar="YYYY-MM",
                           help="fit the points up to this month only and predict the later "
                           "ones (a back-test)")  # fmt: skip
    calibrate.add_argument("--metric", help="the rows of this metric (when the history has a "
                           "metric column with several)")  # fmt: skip
    calibrate.add_argument("--out", type=Path, metavar="FILE.yaml",
                           help="calibrated scenario (default: "
                           "./<scenario stem>.calibrated.yaml)")  # fmt: skip

    validate = commands.add_parser("validate", help="check scenarios; print every problem")
    validate.add_argument("scenarios", type=Path, nargs="+", help="scenario YAML files")

    commands.add_parser("schema", help="print the JSON Schema of scenario files")

    access = commands.add_parser(
        "access",
        help="one random-access experiment in one cell (3GPP TR 37.868 style)",
        description="Terminals of one cell run the contention-based random-access procedure "
        "of 3GPP TR 37.868; prints the metrics with 95 % intervals over the replications.",
    )
    # every value is taken as text and checked in _access against its one declaration in
    # sim.access, so that a bad value gets one line saying what is allowed

    def declared(parameter: Parameter, default: object, more: str = "") -> str:
        """--help text of a declared parameter (argparse %-formats help: escape %)."""
        given = "" if default is None else f"default {default}{more}; "  # None: in `meaning`
        text = f"{parameter.meaning} ({given}{parameter.allowed})"
        return text.replace("%", "%%")

    experiment = EXPERIMENT_PARAMETERS
    access.add_argument("--devices", metavar="N", help=declared(experiment["devices"], 10000))
    access.add_argument("--traffic", metavar="{beta,uniform}",
                        help=declared(experiment["traffic"], "beta"))  # fmt: skip
    access.add_argument("--window", dest="window_s", metavar="S", help=declared(
        experiment["window_s"], "10 for beta, 60 for uniform"))  # fmt: skip
    access.add_argument("--replications", metavar="R", help=declared(
        experiment["replications"], 10, ", with --tr37868 the reference's"))  # fmt: skip
    access.add_argument("--seed", metavar="N", help=declared(experiment["seed"], 1))
    energy = access.add_argument_group(
        "energy and battery life (power figures: the technology's in the scenario catalog)"
    )
    energy.add_argument("--coverage", metavar="{" + ",".join(COVERAGE_CLASSES) + "}",
                        help=declared(experiment["coverage"], "normal"))  # fmt: skip
    energy.add_argument("--payload-bytes", dest="payload_bytes", metavar="B",
                        help=declared(experiment["payload_bytes"], 100))  # fmt: skip
    energy.add_argument("--reports-per-day", dest="reports_per_day", metavar="X",
                        help=declared(experiment["reports_per_day"], 1))  # fmt: skip
    energy.add_argument("--battery-wh", dest="battery_wh", metavar="WH",
                        help=declared(experiment["battery_wh"], 5))  # fmt: skip
    access.add_argument("--out", type=Path, metavar="FILE",
                        help="write the metrics as a tidy CSV")  # fmt: skip
    access.add_argument("--cdf", type=Path, metavar="FILE",
                        help="write the access-delay CDF as a CSV")  # fmt: skip
    access.add_argument("--tr37868", action="store_true",
                        help="run the TR 37.868 reference table (both traffic models x 5,000 / "
                        "10,000 / 30,000 terminals) and print it beside the reference")  # fmt: skip
    access.add_argument("--technology", metavar="{" + ",".join(ACCESS_TECHNOLOGIES) + "}",
                        help="the sourced random-access profile (sim/access/data/profiles.csv; "
                        "lte-cat1 uses lte's, nr-redcap nr's): lte is TR 37.868's LTE setup; "
                        "lte-m CE mode A; nb-iot its 3 coverage-enhancement levels, nb-iot-edt "
                        "with early data transmission; nr 4-step and nr-2step (default lte). "
                        "The procedure options below change its first level")  # fmt: skip
    access.add_argument("--level", action="append", metavar="L.FIELD=VALUE",
                        help="change a field of coverage level L >= 1 of the profile, e.g. "
                        "2.rao_period_ms=640 (repeatable; the fields are those of the procedure "
                        "options below that describe a level, and max_attempts)")  # fmt: skip
    procedure = access.add_argument_group(
        "random-access procedure (defaults: TR 37.868, the first level of --technology lte)"
    )
    procedure.add_argument("--prach-configuration-index", metavar="0..15",
                           help=declared(PRACH_CONFIGURATION_INDEX, None))  # fmt: skip
    defaults = Procedure()
    for name, parameter in PARAMETERS.items():
        metavar = "{" + ",".join(parameter.choices) + "}" if parameter.choices else (
            "MS" if name.endswith("_ms") else "S" if name.endswith("_s") else "N"
            if parameter.kind is int else "X")  # fmt: skip
        procedure.add_argument("--" + name.replace("_", "-"), dest=name, metavar=metavar,
                               help=declared(parameter, getattr(defaults, name)))  # fmt: skip
    return parser


def _study_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replications", type=_whole_number(1), default=1,
                        help="independent replications (SeedSequence(seed).spawn(R))")  # fmt: skip
    parser.add_argument("--jobs", type=_whole_number(1), default=1,
                        help="local worker processes (never more than runs or CPUs)")  # fmt: skip
    parser.add_argument("--scheduler", metavar="ADDRESS", type=_scheduler,
                        help="a Dask scheduler (tcp://host:8786; also tls, ws, wss, ucx) "
                        "or local:N for a local cluster of N workers (the dask extra)")  # fmt: skip


def _study_notes(args: argparse.Namespace, runs: int) -> None:
    """Say so where the study runs otherwise than its options ask (`runs` tasks)."""
    scheduler = args.scheduler
    if args.command == "run" and args.replications == 1 and scheduler:
        print(f"note: --scheduler {scheduler} is not used for a single run, which runs "
              "here (a cluster is for --replications R > 1)", file=sys.stderr)  # fmt: skip
        scheduler = None
    for note in executor_notes(args.jobs, scheduler, runs):
        print(f"note: {note}", file=sys.stderr)


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
"""Dask's network transports (its inproc:// does not leave one process)."""


def _scheduler(text: str) -> str:
    """local:N (N >= 1) or a Dask scheduler address like tcp://host:8786."""
    if text.startswith("local:"):
        count = text.removeprefix("local:")
        if not (count.isascii() and count.isdigit()) or int(count) < 1:
            raise argparse.ArgumentTypeError(
                f"local:N needs a whole number N >= 1 of workers, got {text!r}"
            )
        return text
    scheme, separator, rest = text.partition("://")
    if not separator or not rest:
        raise argparse.ArgumentTypeError(
            f"expected local:N or an address like tcp://host:8786, got {text!r}"
        )
    if scheme not in _SCHEMES:
        raise argparse.ArgumentTypeError(
            f"unknown scheme {scheme!r} in {text!r}: use {', '.join(_SCHEMES)} "
            "(as in tcp://host:8786) or local:N"
        )
    after_host = rest.rsplit("]", 1)[-1]  # the port follows an [IPv6] host
    port = after_host.rsplit(":", 1)[1] if ":" in after_host else ""
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(
            f"bad port {port!r} in {text!r}: a whole number 1..65535, as in tcp://host:8786"
        )
    return text


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `minimum`; its message names the value and what
    is allowed (argparse's own would name this function)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text}")
        return value

    return parse


def _share_option(text: str) -> float:
    """An argparse type: a finite number >= 0 (a relative difference: 0.01 = 1 %)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(
            f"must be a number >= 0 (a relative difference: 0.01 = 1 %), got {text}"
        )
    return value


def _report(error: ScenarioError, what: str, file: Path | None = None) -> None:
    for problem in error.problems:
        located = problem
        if problem.file is None and file is not None:
            located = dataclasses.replace(problem, file=str(file))
        print(f"error: {located}", file=sys.stderr)
    count = len(error.problems)
    print(f"{count} problem{'s' if count != 1 else ''}; {what}", file=sys.stderr)


def _load(path: Path) -> Scenario:
    """Read a scenario file; say what in it is deprecated (read, but the file should
    change).  Raises ScenarioError."""
    scenario = load_scenario(path)
    for note in scenario.notes:
        print(f"warning: {note}", file=sys.stderr)
    return scenario


def _run(args: argparse.Namespace) -> int:
    try:
        scenario = _load(args.scenario)
    except ScenarioError as error:
        _report(error, "nothing was run or written")
        return EXIT_BAD_INPUT
    out = args.out if args.out is not None else Path("results") / scenario.name
    try:  # refuse a folder iotsim may not replace, and hold it until it is written
        args.claims.enter_context(claim(out, RESULT_FOLDER))
    except OutputError as error:
        print(f"error: --out: {error}; nothing was run", file=sys.stderr)
        return EXIT_BAD_INPUT
    _study_notes(args, args.replications)
    bar = None
    progress: Callable[[int], None] | None = None
    study = args.replications > 1  # a single run goes month by month, here
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
        message = error if isinstance(error, OutputError) else f"cannot write {out}: {error}"
        print(f"error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        lines = [f"  {name:<27} {value}" for name, value in _key_figures(result)]
        print(f"{scenario.name}: wrote {out}/ in {result.wall_time_s:.2f} s\n" + "\n".join(lines))
    return EXIT_OK


_COUNT_FIGURES = ("connected_end", "demand_end", "blocked_total")
_TEXT_FIGURES = (
    "first_full_date", "first_full_cells", "first_full_resource", "peak_headroom_used",
    "peak_headroom_used_cells", "peak_headroom_used_resource",
    "targets_met",
)  # fmt: skip
_ACCESS_FIGURES = ("first_access_failure_year", "first_access_failure_pool")


def _key_figures(result: Result) -> list[tuple[str, str]]:
    """The figures `run` prints, as in summary.csv: counts (with replications, their mean)
    and the text figures (with replications, the range seen); the first access failure
    where the access layer ran."""
    summary = result.summary
    keys = [*_TEXT_FIGURES]
    if (summary["metric"] == "access_hottest_cell").any():
        keys += _ACCESS_FIGURES
    figures = []
    for key in _COUNT_FIGURES:
        name = key + (" (mean)" if result.replications > 1 else "")
        figures.append((name, result.figure(key) or "-"))
    for key in keys:
        values = summary.loc[summary["metric"] == key, "value"].astype(str).tolist()
        figures.append((key, _seen(values)))
    return figures


def _seen(values: list[str]) -> str:
    """One text for a figure over replications: the value, or the range seen ('-': none)."""
    return range_seen(values) or "-"


def _compare(args: argparse.Namespace) -> int:
    if len(args.folders) < 2:
        print("error: compare needs at least two result folders", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = args.out or Path("results") / "comparison.csv"
    check_file_target(out)  # the default, before reading anything (--out: by dispatch)
    runs = _read_runs(args.folders)
    if runs is None:
        return EXIT_BAD_INPUT
    try:
        folders = [folder_figures(run) for run in runs]
    except FolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    comparison = compare_folders(folders, args.rtol, args.atol, args.metrics, args.min_difference)
    for note in comparison.notes:
        print(f"note: {note}", file=sys.stderr)
    table = comparison.table
    if table.empty:
        print("error: nothing to compare (no figure/key is in both folders)", file=sys.stderr)
        return EXIT_BAD_INPUT
    for (baseline, folder), part in table.groupby(["baseline", "folder"], sort=False):
        print(f"{baseline}  ->  {folder}")
        print(readable(part).to_string(index=False))
    write_csv(table, out)
    beyond = comparison.beyond_tolerance
    tested = int((table["test"] == "welch").sum())
    print(
        f"wrote {out}; {comparison.flagged} of {len(table)} differences flagged (`!`: "
        f"real and at least {percent_text(args.min_difference)} of the baseline; {tested} tested "
        "with Welch's t-test, p-values adjusted by Benjamini-Hochberg across each folder "
        f"pair); {beyond} beyond the tolerance (rtol {args.rtol:g}, atol {args.atol:g})"
    )
    return EXIT_CHECK_FAILED if args.check and beyond else EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    try:
        scenario = _load(args.scenario)
        if not args.overrides:
            raise ScenarioError([Problem("--set", "give at least one --set PATH=V1,V2,...")])
        overrides = [parse_override(text) for text in args.overrides]
        variant_list = variants(scenario, overrides, zipped=args.zip)
    except ScenarioError as error:
        # the problem names the option or the field path; the file is the swept scenario
        _report(error, "nothing was run", args.scenario)
        return EXIT_BAD_INPUT
    out = args.out or Path("results") / f"{scenario.name}-sweep"
    try:  # refuse a folder that is not a sweep folder, and hold it until the sweep ends
        args.claims.enter_context(claim(out, SWEEP_FOLDER))
    except OutputError as error:
        print(f"error: --out: {error}; nothing was run", file=sys.stderr)
        return EXIT_BAD_INPUT
    names = {v.folder_name for v in variant_list}
    stale = sorted(p.name for p in out.glob("v[0-9][0-9][0-9][0-9]") if p.name not in names)
    if stale:
        print(f"note: {out} also holds {', '.join(stale)} from another sweep; they are not "
              "in this sweep.csv", file=sys.stderr)  # fmt: skip
    total = len(variant_list) * args.replications
    _study_notes(args, total)
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
    """Result folders, a sweep folder standing for its variants (vNNNN) in order: those
    its sweep.json lists and that were written (a failed variant has no folder)."""
    folders = []
    for path in paths:
        if path.is_dir() and is_kind(path, SWEEP_FOLDER):
            variants = [p for p in path.glob("v[0-9][0-9][0-9][0-9]") if p.is_dir()]
            marker = path / SWEEP_FOLDER.marker
            if marker.exists():  # an older sweep folder has none: all its vNNNN then
                listed = _sweep_variants(marker)
                variants = [p for p in variants if p.name in listed]
            folders += sorted(variants)
        else:
            folders.append(path)
    return folders


def _sweep_variants(marker: Path) -> list[str]:
    """The variants a sweep.json lists (ResultFolderError naming it if it cannot say)."""
    try:
        listed = json.loads(marker.read_text(encoding="utf-8")).get("variants")
    except (OSError, ValueError, AttributeError) as error:
        raise ResultFolderError(f"{marker}: not a readable sweep manifest: {error}") from None
    if not isinstance(listed, list) or not all(isinstance(name, str) for name in listed):
        raise ResultFolderError(f"{marker}: variants: expected a list of folder names")
    return listed


def _read_runs(paths: list[Path]) -> list[Tables] | None:
    """The result folders, each checked whole against its manifest; None (after saying
    why, naming the file) when one is missing, torn or unreadable."""
    try:
        runs = [read_tables(path) for path in _result_folders(paths)]
    except ResultFolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    if not runs:  # a sweep folder with no variant written yet
        print(f"error: no result folders in {', '.join(map(str, paths))}", file=sys.stderr)
        return None
    for tables in runs:
        if not verified(tables):
            print(f"note: {tables.path} was written by an older iotsim, without checksums: "
                  "its files could not be checked whole", file=sys.stderr)  # fmt: skip
    return runs


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
    from sim.report.plots import FIGURES as FIGURE_NAMES
    from sim.report.plots import write_figures

    kind = figures_folder(list(FIGURE_NAMES))
    # drawn into a staging folder and swapped in whole, like a result folder: a failure
    # leaves the previous figures (or none), never an empty or half-drawn folder
    with staged_folder(out, kind) as staging:
        written = write_figures(runs, staging, args.format)
        write_marker(staging, kind, {
            "format": args.format, "sources": [str(run.path) for run in runs],
            "files": [p.name for p in written],
            "checksums": {p.name: checksum(p.read_bytes()) for p in written},
        })  # fmt: skip
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


MAX_HISTORY_BYTES = 50_000_000
"""Largest history CSV read (50 MB; a monthly national series is a few kB)."""


def _read_history(path: Path) -> str:
    """The text of a history CSV; ScenarioError naming the file if it cannot be read."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_HISTORY_BYTES + 1)
        if len(raw) > MAX_HISTORY_BYTES:
            raise ScenarioError([Problem("", f"larger than {MAX_HISTORY_BYTES // 1_000_000} MB;"
                                         " a history is a few kB", str(path))])  # fmt: skip
        return raw.decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem("", "no such file", str(path))]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError([Problem("", f"cannot read the file: {error}", str(path))]) from None


def _calibrate(args: argparse.Namespace) -> int:
    out = args.out if args.out is not None else Path(f"{args.scenario.stem}.calibrated.yaml")
    try:
        scenario = _load(args.scenario)
        if not args.free and not args.scale:
            raise ScenarioError([Problem("--free", "give at least one --free PATH or "
                                         "--scale PATH, e.g. "
                                         "categories.water_meter.growth.rate")])  # fmt: skip
        free = free_parameters(scenario, args.free, args.scale)
        history = parse_history(_read_history(args.history), str(args.history), scenario,
                                args.metric)  # fmt: skip
        targets = output_paths(out)
        inputs = (args.scenario.resolve(), args.history.resolve())
        for target in targets:
            if target.resolve() in inputs:
                raise ScenarioError([Problem("--out", f"{target} is an input; write the "
                                             "calibrated scenario to another file")])  # fmt: skip
            check_file_target(target)
        calibration = calibrate(scenario, history, free, args.cutoff)
        text = args.scenario.read_text(encoding="utf-8")
        calibrated = calibrated_text(text, str(args.scenario), calibration, str(out))
    except ScenarioError as error:
        _report(error, "nothing was written", args.scenario)
        return EXIT_BAD_INPUT
    write_calibration(output_files(out, calibrated, calibration))
    _print_calibration(scenario, calibration)
    print(f"wrote {', '.join(str(path) for path in targets)}")
    return EXIT_OK


def _print_calibration(scenario: Scenario, calibration: Calibration) -> None:
    """The fit report: parameters with their uncertainty, every point, the back-test."""
    history = calibration.history
    metric = f" (metric {history.metric})" if history.metric else ""
    cutoff = f" up to {calibration.cutoff}" if calibration.cutoff else ""
    print(f"{scenario.name}: {len(calibration.parameters)} parameter(s) fitted to "
          f"{calibration.used} point(s){cutoff} of {history.file}{metric}; "
          f"{calibration.informative} informative, "
          f"{calibration.dof} degree(s) of freedom")  # fmt: skip
    print("fitted to the demand (expected installed base with no capacity limit), not to "
          "simulated connections: the two agree while nothing is blocked")  # fmt: skip
    for note in calibration.notes:
        print(f"note: {note}", file=sys.stderr)
    table = fit_table(calibration).drop(columns="at_bound")
    with pd.option_context("display.max_rows", None, "display.width", 200,
                           "display.float_format", "{:.6g}".format):  # fmt: skip
        print(table.to_string(index=False, na_rep="-"))
        print(f"residuals (ln fitted - ln observed): rms {calibration.rms_log:.4g} over the "
              "fitted points")  # fmt: skip
        points = calibration.points.assign(
            used_in_fit=np.where(calibration.points["used_in_fit"], "fit", "predicted")
        )
        print(points.to_string(index=False, formatters={
            "observed": "{:,.0f}".format, "fitted": "{:,.0f}".format,
            "residual_log": "{:.4f}".format, "error_pct": "{:.2f}".format}))  # fmt: skip
    summary = calibration.backtest_summary()
    if summary is not None:
        mean, most = summary
        print(f"back-test: {len(calibration.backtest)} point(s) after {calibration.cutoff} "
              f"predicted with mean absolute error {mean:.3g} %, largest {most:.3g} %")  # fmt: skip


def _validate(args: argparse.Namespace) -> int:
    failures = 0
    for path in args.scenarios:
        try:
            build_plan(_load(path))  # the plan checks what needs the curves
        except ScenarioError as error:
            failures += 1
            _report(error, f"{path} is invalid", path)
        else:
            print(f"{path}: ok")
    return EXIT_BAD_INPUT if failures else EXIT_OK


def _access(args: argparse.Namespace) -> int:
    options = [*EXPERIMENT_PARAMETERS.values(), PRACH_CONFIGURATION_INDEX, *PARAMETERS.values()]
    given: dict[str, typing.Any] = {}
    for parameter in options:
        text = getattr(args, parameter.name)
        if text is None:
            continue
        try:
            given[parameter.name] = parameter.parse(text)
        except ValueError as error:
            print(f"error: {_access_option(parameter.name)} {text}: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    technology = args.technology or "lte"
    procedure = _access_procedure(args, given, technology)
    if isinstance(procedure, str):
        print(f"error: {procedure}", file=sys.stderr)
        return EXIT_BAD_INPUT
    files = [(option, path) for option, path in (("--out", args.out), ("--cdf", args.cdf))
             if path is not None]  # fmt: skip
    refusal = _access_files_refusal(files)
    if args.tr37868:  # the reference's own cases: these would be ignored
        ignored = [_access_option(name) for name in ("devices", "traffic", "window_s")
                   if name in given]  # fmt: skip
        if ignored:
            refusal = (f"{', '.join(ignored)} does not apply to --tr37868 (it runs the "
                       "reference table's own cases)")  # fmt: skip
        elif args.cdf is not None:
            refusal = "--cdf does not apply to --tr37868 (--out writes its table)"
    if refusal:
        print(f"error: {refusal}; nothing was run", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.tr37868:
            tables = {"--out": _access_reference(procedure, given)}
        else:
            tables = _access_experiment(procedure, given, technology)
        return _access_write([(option, path, tables[option]) for option, path in files])
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130


def _access_option(name: str) -> str:
    """The option of a parameter."""
    return "--window" if name == "window_s" else "--" + name.replace("_", "-")


def _access_procedure(
    args: argparse.Namespace, given: dict[str, typing.Any], technology: str
) -> Procedure | str:
    """The procedure the options ask for: the technology's profile, its first level changed
    by the procedure options, its other levels by --level; or the one-line error."""
    if technology not in ACCESS_TECHNOLOGIES:
        return f"--technology {technology}: must be one of {', '.join(ACCESS_TECHNOLOGIES)}"
    refusal = _access_technology_refusal(technology, args, given)
    if refusal:
        return f"{refusal}; nothing was run"
    changes = {name: given[name] for name in PROCEDURE_PARAMETERS if name in given}
    index = given.get("prach_configuration_index")
    if index is not None:
        timing = dict(zip(("rao_period_ms", "rao_offset_ms"), lte_prach_timing(index), strict=True))
        for name, value in timing.items():
            if name in changes and changes[name] != value:
                what = "RAO period" if name == "rao_period_ms" else "offset of the first RAO"
                return (f"{_access_option(name)} {getattr(args, name)} conflicts with "
                        f"--prach-configuration-index {index}, which sets the {what} to "
                        f"{value:g} ms; give one or the other")  # fmt: skip
            changes[name] = value
    try:
        procedure = profile(technology).replace(**changes)
    except ValueError as error:
        return str(error)
    return _access_levels(procedure, args.level or [], technology)


ACCESS_TECHNOLOGIES = (*TECHNOLOGIES, *ALIASES)
"""The values of `iotsim access --technology`."""

POWER_OF = {"nb-iot-edt": "nb-iot", "nr-2step": "nr"}
"""Profiles whose terminals draw the power of another technology of the catalog."""

_LTE_PRACH = ("lte", "lte-m", "lte-cat1")
"""Technologies on the LTE PRACH, which --prach-configuration-index describes."""


def _access_technology_refusal(
    technology: str, args: argparse.Namespace, given: dict[str, typing.Any]
) -> str | None:
    """Why the options do not go with the technology's profile; None if they do."""
    if "prach_configuration_index" in given and technology not in _LTE_PRACH:
        return (f"--prach-configuration-index is an LTE PRACH configuration (TS 36.211 Table "
                f"5.7.1-2) and does not apply to --technology {technology} (give "
                "--rao-period-ms and --rao-offset-ms)")  # fmt: skip
    if args.tr37868 and ALIASES.get(technology, technology) != "lte":
        return (f"--tr37868 runs TR 37.868's LTE setup and does not apply to --technology "
                f"{technology}")  # fmt: skip
    return None


def _access_levels(procedure: Procedure, texts: list[str], technology: str) -> Procedure | str:
    """The procedure with the --level L.FIELD=VALUE changes, or the one-line error."""
    changes: dict[int, dict[str, typing.Any]] = {}
    named: dict[int, list[str]] = {}
    for text in texts:
        change = _access_level_change(text, len(procedure.levels) - 1, technology)
        if isinstance(change, str):
            return f"--level {text}: {change}"
        index, field, value = change
        changes.setdefault(index, {})[field] = value
        named.setdefault(index, []).append(text)
    for index, fields in sorted(changes.items()):
        try:
            procedure = with_level(procedure, index, **fields)
        except ValueError as error:
            return f"--level {' --level '.join(named[index])}: {error}"
    return procedure


def _access_level_change(
    text: str, last: int, technology: str
) -> tuple[int, str, typing.Any] | str:
    """(level, field, value) of one --level L.FIELD=VALUE, or what is wrong with it."""
    where, equals, value = text.partition("=")
    level, dot, field = where.partition(".")
    field = field.strip().replace("-", "_")
    if not (equals and dot and level.strip().isdigit() and field):
        return "expected L.FIELD=VALUE, e.g. 1.rao_period_ms=640"
    index = int(level)
    if index == 0:
        return f"level 0 is set by the procedure options (here --{field.replace('_', '-')})"
    if index > last:
        levels = f"levels 1..{last} can be changed" if last else "it has one level only"
        return f"--technology {technology} has no level {index} ({levels})"
    if field not in LEVEL_FIELDS:
        return f"unknown field {field} (one of {', '.join(LEVEL_FIELDS)})"
    parameter = PARAMETERS["max_attempts_per_level" if field == "max_attempts" else field]
    try:
        return index, field, parameter.parse(value.strip())
    except ValueError as error:
        return str(error)


def _access_experiment(
    procedure: Procedure, given: dict[str, typing.Any], technology: str = "lte"
) -> dict[str, pd.DataFrame]:
    """One experiment: prints its metrics; the tables of --out and --cdf."""
    traffic = given.get("traffic", "beta")
    window = given.get("window_s", 10.0 if traffic == "beta" else 60.0)
    devices, replications, seed = (given.get("devices", 10000), given.get("replications", 10),
                                   given.get("seed", 1))  # fmt: skip
    coverage = given.get("coverage", "normal")
    experiment = run_experiment(devices, traffic, window, procedure, replications, seed,
                                coverage)  # fmt: skip
    summary = [
        *experiment.summary(),
        *energy_summary(experiment, POWER_OF.get(technology, technology), coverage,
                        given.get("payload_bytes", 100.0), given.get("reports_per_day", 1.0),
                        given.get("battery_wh", 5.0)),
    ]  # fmt: skip
    columns = ["metric", "mean", "ci_low", "ci_high", "replications"]
    table = pd.DataFrame(summary, columns=columns)
    # --technology lte prints what iotsim access always printed
    levels = len(procedure.levels)
    profile_text = "" if technology == "lte" else (
        f", {technology} ({levels} coverage level{'s' * (levels > 1)})")  # fmt: skip
    print(f"{devices} terminals, {traffic} over {window:g} s, "
          f"{replications} replications, seed {seed}{profile_text}")  # fmt: skip
    for metric, mean, low, high, _ in summary:
        # one replication, or the pooled p95, has no interval: show none
        interval = "" if replications < 2 or math.isnan(low) else f"   [{low:.6g}, {high:.6g}]"
        print(f"  {metric:<40} {mean:>12.6g}{interval}")
    delays, shares = experiment.cdf()
    return {"--out": table.round(8),
            "--cdf": pd.DataFrame({"delay_ms": delays, "share": shares.round(8)})}  # fmt: skip


def _access_files_refusal(files: list[tuple[str, Path]]) -> str | None:
    """Why the output files cannot be written, found before anything runs; None if they
    look writable (a full disk still shows only when writing)."""
    # a folder, or a file in the way, is refused for every command by `dispatch`
    if len(files) == 2 and files[0][1].resolve() == files[1][1].resolve():
        return f"--out and --cdf are the same file ({files[0][1]})"
    for option, path in files:
        existing = next(p for p in path.parents if p.exists())
        if not os.access(existing, os.W_OK | os.X_OK):
            return f"{option} {path}: cannot write in {existing} (permission denied)"
    return None


def _access_write(files: list[tuple[str, Path, pd.DataFrame]]) -> int:
    """Write the CSVs all or none: each is atomic (a temporary file renamed into place), and
    each later one is written inside the write of the one before, so an error in any leaves
    every file as it was (and no folder made for them)."""
    made = {p for _, path, _ in files for p in path.parents if not p.exists()}
    writing = [""]  # the file being written, for the message

    def write(rest: list[tuple[str, Path, pd.DataFrame]]) -> None:
        (option, path, table), later = rest[0], rest[1:]

        def fill(temporary: Path) -> None:
            temporary.write_bytes(csv_bytes(table))
            if later:
                write(later)
                writing[0] = f"{option} {path}"

        writing[0] = f"{option} {path}"
        atomic_file(path, fill)

    try:
        if files:
            write(files)
    except OSError as error:
        for folder in sorted(made, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty, or gone: leave it
                folder.rmdir()
        cause = error.__cause__ if isinstance(error.__cause__, OSError) else error
        reason = cause.strerror or str(cause)
        print(f"error: cannot write {writing[0]}: {reason}; nothing was written", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _access_reference(procedure: Procedure, given: dict[str, typing.Any]) -> pd.DataFrame:
    """The TR 37.868 table: prints ours beside the reference (the reference's replication
    counts unless --replications is given); the table of --out."""
    rows: list[dict[str, typing.Any]] = []
    cases: dict[tuple[str, int], list[dict[typing.Hashable, typing.Any]]] = {}
    for record in tr37868_reference().to_dict("records"):
        cases.setdefault((str(record["traffic_model"]), int(record["devices"])), []).append(record)
    seed = given.get("seed", 1)
    for (model, devices), records in cases.items():
        traffic, window = TRAFFIC_CASES[model]
        replications = given.get("replications", int(records[0]["replications"]))
        experiment = run_experiment(devices, traffic, window, procedure, replications, seed)
        summary = {row[0]: row for row in experiment.summary()}
        print(f"{model}, {devices} terminals, {replications} replications")
        for record in records:
            metric = str(record["metric"])
            # the reference's p95 is of all its replications' delays pooled
            pooled = "pooled_p95_access_delay_ms" if metric == "p95_access_delay_ms" else metric
            _, mean, low, high, _ = summary[pooled]
            reference, ci95 = float(record["value"]), float(record["ci95"])
            # where there is no interval (one replication, a pooled p95), none is shown
            ours = "" if replications < 2 or math.isnan(low) else f"[{low:.6g}, {high:.6g}]"
            theirs = "" if math.isnan(ci95) else f" ± {ci95:.3g}"
            print(f"  {metric:<40} {mean:>11.6g} {ours:<22}   reference {reference:.6g}{theirs}")
            rows.append(
                {"traffic_model": model, "devices": devices, "metric": metric, "mean": mean,
                 "ci_low": low, "ci_high": high, "replications": replications,
                 "reference": reference, "reference_ci95": _or_zero(record["ci95"])}
            )  # fmt: skip
    return pd.DataFrame(rows).round(8)


def _or_zero(value: typing.Any) -> float:
    number = float(value)
    return 0.0 if math.isnan(number) else number  # NaN: the reference gives no interval


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
    "calibrate": _calibrate,
    "plot": _plot,
    "report": _report_html,
}


_FILE_OUTPUTS = {
    "compare": ("out",), "report": ("out",), "access": ("out", "cdf"), "calibrate": ("out",),
}  # fmt: skip
"""Options of each command that name a file to write (checked before anything runs)."""


def dispatch(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    take_written()  # start a fresh record of what this command puts in place
    with contextlib.ExitStack() as claims:
        args.claims = claims  # a command's claims on its output folders, held to its end
        try:
            for option in _FILE_OUTPUTS.get(args.command, ()):
                if getattr(args, option) is not None:
                    try:
                        check_file_target(getattr(args, option))
                    except OutputError as error:
                        raise OutputError(f"--{option}: {error}; nothing was run") from None
            return _COMMANDS[args.command](args)
        except (OutputError, ResultFolderError, FolderError) as error:
            print(f"error: {error}", file=sys.stderr)  # each names the file and the problem
            return EXIT_BAD_INPUT
