"""The `iotsim` command line: parses arguments, delegates, reports.  Thin by design.

Exit codes: 0 done, 1 a check failed, 2 bad input (the message names the file, the field
path and what is wrong; nothing is written).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from sim import __version__
from sim.api import run
from sim.engine import build_plan
from sim.scenario import ScenarioError, json_schema, load_scenario

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
    run_parser.add_argument("--seed", type=int, help="override the scenario's seed")
    run_parser.add_argument(
        "--quiet", action="store_true", help="no progress bar and no summary on the terminal"
    )

    validate = commands.add_parser("validate", help="check scenarios; print every problem")
    validate.add_argument("scenarios", type=Path, nargs="+", help="scenario YAML files")

    commands.add_parser("schema", help="print the JSON Schema of scenario files")
    return parser


def _report(error: ScenarioError, what: str, file: Path | None = None) -> None:
    for problem in error.problems:
        located = problem
        if problem.file is None and file is not None:
            located = dataclasses.replace(problem, file=str(file))
        print(f"error: {located}", file=sys.stderr)
    count = len(error.problems)
    print(f"{count} problem{'s' if count != 1 else ''}; {what}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    if args.seed is not None and args.seed < 0:
        print(f"error: --seed must be >= 0, got {args.seed}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        _report(error, "nothing was run or written")
        return EXIT_BAD_INPUT
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
    if not args.quiet and sys.stderr.isatty():
        bar = tqdm(total=scenario.months, unit="month", desc=scenario.name, leave=False)

        def progress(_month: int) -> None:
            bar.update(1)

    try:
        result = run(scenario, seed=args.seed, progress=progress)
    except ScenarioError as error:
        _report(error, "nothing was written", args.scenario)
        return EXIT_BAD_INPUT
    finally:
        if bar is not None:
            bar.close()
    try:
        result.write(out, scenario_file=args.scenario)
    except OSError as error:
        print(f"error: cannot write the result folder {out}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        figures = result.summary.set_index("metric")["value"]
        keys = ("connected_end", "demand_end", "blocked_total", "first_full_date", "targets_met")
        lines = [f"  {key:<16} {figures[key] or '-'}" for key in keys]
        print(f"{scenario.name}: wrote {out}/ in {result.wall_time_s:.2f} s\n" + "\n".join(lines))
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    failures = 0
    for path in args.scenarios:
        try:
            build_plan(load_scenario(path))  # the plan checks what needs the curves
        except ScenarioError as error:
            failures += 1
            _report(error, f"{path} is invalid", path)
        else:
            print(f"{path}: ok")
    return EXIT_BAD_INPUT if failures else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `iotsim` console script."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "validate":
        return _validate(args)
    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
