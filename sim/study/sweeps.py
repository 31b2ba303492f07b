"""Sweeps: variants of a scenario (field paths set to values), each run with replications
and written to its own folder as soon as it is complete, indexed in sweep.csv."""

from __future__ import annotations

import difflib
import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.engine import build_plan
from sim.results import (
    RESULT_FOLDER,
    SWEEP_FOLDER,
    Result,
    ResultFolderError,
    check_replaceable,
    claim,
    read_tables,
    write_csv,
    write_marker,
    write_result_folder,
)
from sim.results.dataset import (
    drop_other_variants,
    has_partitions,
    swept_columns,
    write_partitions,
)
from sim.scenario import Problem, Scenario, ScenarioError, parse_scenario
from sim.scenario.effective import catalog_only, with_catalog
from sim.scenario.yaml_text import ScenarioLoader
from sim.study.executors import TaskFailure, executor_for
from sim.study.replications import Task, combine, replicate


@dataclass(frozen=True)
class Override:
    """`--set PATH=V1,V2,...`: a field path of the scenario and its values."""

    path: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return ".".join(str(step) for step in self.path)


def parse_override(text: str) -> Override:
    """Parse PATH=V1,V2 (values are YAML scalars: 0.1, true, fallback, 2025-01)."""
    if "=" not in text:
        raise ScenarioError([Problem("--set", f"expected PATH=V1,V2,..., got {text!r}")])
    path_text, _, values_text = text.partition("=")
    steps = parse_field_path(path_text, "--set")
    values = []
    for item in values_text.split(","):
        if not item.strip():
            raise ScenarioError([Problem(path_text, f"an empty value in {values_text!r}")])
        try:
            values.append(yaml.load(item.strip(), Loader=ScenarioLoader))
        except yaml.YAMLError:
            values.append(item.strip())
    return Override(steps, tuple(values))


def parse_field_path(text: str, option: str) -> tuple[str, ...]:
    """A dotted field path (categories.water_meter.growth.rate) as its steps; ScenarioError
    naming `option` for an empty path or step."""
    steps = tuple(step.strip() for step in text.strip().split("."))
    if not text.strip() or any(step == "" for step in steps):
        raise ScenarioError([Problem(option, f"bad field path {text!r}")])
    return steps


def _check_path(data: Any, override: Override) -> None:
    """The path must name a field of the resolved scenario (every field has a default),
    catalog figures a scenario may override included (`with_catalog`); a catalog figure
    no scenario may set is refused saying so."""
    why = catalog_only(override.path)
    if why:
        raise ScenarioError([Problem(override.name, why)])
    check_field_path(with_catalog(data), override.path)


def check_field_path(data: Any, path: tuple[str, ...]) -> None:
    """Raise ScenarioError unless `path` names a value of `data` (a resolved scenario as
    plain data); the message names the unknown step, a close match and the choices."""
    name = ".".join(path)
    node = data
    for depth, step in enumerate(path):
        where = ".".join(str(s) for s in path[:depth]) or "the scenario"
        in_dict = isinstance(node, dict) and step in node
        in_list = isinstance(node, list) and step.isdigit() and int(step) < len(node)
        if in_dict or in_list:
            node = node[step] if in_dict else node[int(step)]
        else:
            choices = [str(k) for k in node] if isinstance(node, dict) else []
            close = difflib.get_close_matches(str(step), choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = f"; {where} has: {', '.join(choices)}" if choices else ""
            raise ScenarioError([Problem(name, f"unknown field {step!r} in {where}{hint}{known}")])


def set_field(data: Any, path: tuple[str, ...], value: Any) -> None:
    """Set the value at a checked field path of plain scenario data, in place; mappings
    the data does not have yet (an override of a catalog figure the scenario does not
    mention: `technologies.nb-iot`) are created."""
    node = data
    for step in path[:-1]:
        if isinstance(node, list):
            node = node[int(step)]
        else:
            if node.get(step) is None:
                node[step] = {}
            node = node[step]
    if isinstance(node, list):
        node[int(path[-1])] = value
    else:
        node[path[-1]] = value


@dataclass(frozen=True)
class Variant:
    """One point of a sweep."""

    index: int
    values: dict[str, Any]
    scenario: Scenario

    @property
    def folder_name(self) -> str:
        return f"v{self.index:04d}"


def variants(
    scenario: Scenario, overrides: Sequence[Override], zipped: bool = False
) -> list[Variant]:
    """Every combination (or, zipped, the element-wise pairs) of the overrides, each
    validated by the scenario schema before anything runs."""
    base = scenario.model_dump(mode="json")
    for override in overrides:
        _check_path(base, override)
    if zipped:
        lengths = {len(o.values) for o in overrides}
        if len(lengths) > 1:
            counts = ", ".join(f"{o.name}: {len(o.values)}" for o in overrides)
            raise ScenarioError([Problem("--zip", f"needs equally many values ({counts})")])
        combinations = list(zip(*(o.values for o in overrides), strict=True))
    else:
        combinations = list(itertools.product(*(o.values for o in overrides)))
    out, problems = [], []
    for index, combination in enumerate(combinations):
        data = json.loads(json.dumps(base))
        for override, value in zip(overrides, combination, strict=True):
            set_field(data, override.path, value)
        values = {o.name: v for o, v in zip(overrides, combination, strict=True)}
        try:
            variant_scenario = parse_scenario(data)
            build_plan(variant_scenario)  # what needs the demand curves (cohort count)
            out.append(Variant(index, values, variant_scenario))
        except ScenarioError as error:
            label = ", ".join(f"{k}={v}" for k, v in values.items())
            problems += [Problem(p.path, f"{p.message} (variant {label})") for p in error.problems]
    if problems:
        raise ScenarioError(problems)
    return out


def _complete(folder: Path, variant: Variant, seed: int, replications: int) -> bool:
    """Whether a folder already holds this variant's finished results (for resuming): whole
    (every file as its manifest recorded it) and of this variant, seed and replications."""
    try:
        manifest = read_tables(folder).manifest
    except ResultFolderError:  # absent, torn or unreadable: run the variant again
        return False
    return (
        manifest.get("status") == "complete"
        and manifest.get("seed") == seed
        and manifest.get("replications") == replications
        and manifest.get("resolved_scenario") == variant.scenario.model_dump(mode="json")
    )


@dataclass(frozen=True)
class SweepReport:
    variants: int
    skipped: int
    failed: dict[int, str]
    index: pd.DataFrame


def run_sweep(
    variant_list: Sequence[Variant],
    out: Path,
    seed: int | None,
    replications: int,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
    write: Callable[[Result, Path], None] | None = None,
) -> SweepReport:
    """Run every variant's replications; write each variant's folder, and its partitions of
    the sweep's dataset (`sim.results.dataset`), as soon as its last replication is in
    (results are not kept), skip variants already complete, and index all variants in
    sweep.csv.  `seed` None: each variant's own scenario seed.

    `out` must be absent, empty or a sweep folder (recognised by its sweep.json), and each
    variant's folder in it absent, empty or a result folder; otherwise OutputError before
    anything runs.  The sweep holds `out` (`claim`) until sweep.csv is written.
    """
    with claim(out, SWEEP_FOLDER):
        for variant in variant_list:
            check_replaceable(out / variant.folder_name, RESULT_FOLDER)
        # the marker comes first, so an interrupted sweep's folder is still recognised
        write_marker(out, SWEEP_FOLDER, {
            "scenario_name": variant_list[0].scenario.name if variant_list else "",
            "seed": seed, "replications": replications,
            "variants": [variant.folder_name for variant in variant_list],
        })  # fmt: skip
        drop_other_variants(out, [variant.folder_name for variant in variant_list])
        skipped, failed = _run_variants(
            variant_list, out, seed, replications, jobs, scheduler, progress, write
        )
        # variants complete from an earlier, interrupted sweep: their partitions may be
        # missing (written after the folder) or stale; each written from its folder
        types = swept_columns(_swept_values(variant_list))
        for variant in variant_list:
            folder = out / variant.folder_name
            if variant.index not in failed and not has_partitions(folder, out, variant.folder_name):
                write_partitions(folder, out, variant.folder_name, variant.values, types)
        index = sweep_index(variant_list, out, failed)
        write_csv(index, out / "sweep.csv")
    return SweepReport(len(variant_list), skipped, failed, index)


def _run_variants(
    variant_list: Sequence[Variant],
    out: Path,
    seed: int | None,
    replications: int,
    jobs: int,
    scheduler: str | None,
    progress: Callable[[int], None] | None,
    write: Callable[[Result, Path], None] | None,
) -> tuple[int, dict[int, str]]:
    """Run the variants not yet complete; (how many were skipped, failures by index)."""
    types = swept_columns(_swept_values(variant_list))

    def writer(result: Result, variant: Variant) -> None:
        folder = out / variant.folder_name
        if write is not None:
            write(result, folder)
        else:
            write_result_folder(result, folder, sweep_values=variant.values)
        write_partitions(folder, out, variant.folder_name, variant.values, types)

    def seed_of(variant: Variant) -> int:
        return variant.scenario.seed if seed is None else seed

    pending = [
        v for v in variant_list if not _complete(out / v.folder_name, v, seed_of(v), replications)
    ]
    skipped = len(variant_list) - len(pending)
    tasks: list[Task] = []
    owner: list[Variant] = []
    for variant in pending:
        data = variant.scenario.model_dump(mode="json")
        for r in range(replications):
            tasks.append((data, seed_of(variant), r, replications))
            owner.append(variant)
    buckets: dict[int, dict[int, Result]] = {}
    failed: dict[int, str] = {}
    with executor_for(jobs, scheduler) as executor:
        for done, (task_index, outcome) in enumerate(executor.run(replicate, tasks), start=1):
            variant = owner[task_index]
            if progress is not None:
                progress(done)
            if variant.index in failed:
                continue
            if isinstance(outcome, TaskFailure):
                failed[variant.index] = outcome.message
                buckets.pop(variant.index, None)
                continue
            replication = tasks[task_index][2]
            bucket = buckets.setdefault(variant.index, {})
            bucket[replication] = outcome
            if len(bucket) == replications:
                runs = [bucket[r] for r in range(replications)]
                result = (
                    runs[0]
                    if replications == 1
                    else combine(variant.scenario, seed_of(variant), runs)
                )
                writer(result, variant)
                del buckets[variant.index]
    return skipped, failed


def _swept_values(variant_list: Sequence[Variant]) -> dict[str, list[Any]]:
    """Each swept field path with its values over the variants."""
    names = list(variant_list[0].values) if variant_list else []
    return {name: [variant.values[name] for variant in variant_list] for name in names}


def sweep_index(variant_list: Sequence[Variant], out: Path, failed: dict[int, str]) -> pd.DataFrame:
    """sweep.csv: one row per variant: its values, status, then every figure of its
    summary.csv in the order written: a number as `<metric>_mean`, `_ci_low`, `_ci_high`
    (the 95 % interval over replications; empty for one run), a text (a month, a cell) as
    `<metric>`, with replications the value or the range seen ('2027-03..2027-06')."""
    rows, numeric = [], set()
    for variant in variant_list:
        row: dict[str, Any] = {"variant": variant.folder_name, **variant.values}
        if variant.index in failed:
            row["status"] = "failed: " + failed[variant.index]
        else:
            row["status"] = "complete"
            figures, numbers = _figures(out / variant.folder_name)
            row.update(figures)
            numeric |= numbers
        rows.append(row)
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    # a figure that is a number in some variant is one in all (an empty text elsewhere)
    for metric in sorted(numeric):
        for row in rows:
            text = row.pop(metric, None)
            if f"{metric}_mean" not in row and row["status"] == "complete":
                value = pd.to_numeric(text, errors="coerce") if text else math.nan
                row.update({f"{metric}_mean": value, f"{metric}_ci_low": math.nan,
                            f"{metric}_ci_high": math.nan})  # fmt: skip
    ordered: list[str] = []
    for column in columns:
        if column in numeric:
            ordered += [f"{column}_mean", f"{column}_ci_low", f"{column}_ci_high"]
        elif column not in ordered:
            ordered.append(column)
    table = pd.DataFrame(rows)
    return table.reindex(columns=[c for c in dict.fromkeys(ordered) if c in table.columns])


def _figures(folder: Path) -> tuple[dict[str, Any], set[str]]:
    """Every summary figure of a result folder, and which of them are numbers: with
    replications the numbers' means and intervals (summary_ci.csv) and the texts' range
    seen; for one run each value (a number: `_mean`, no interval)."""
    summary = pd.read_csv(folder / "summary.csv", keep_default_na=False, dtype={"value": str})
    intervals = folder / "summary_ci.csv"
    figures: dict[str, Any] = {}
    numbers: set[str] = set()
    if intervals.exists():
        table = pd.read_csv(intervals).set_index("metric")
        for metric, values in summary.groupby("metric", sort=False)["value"]:
            name = str(metric)
            if name in table.index:
                numbers.add(name)
                for suffix in ("mean", "ci_low", "ci_high"):
                    figures[f"{name}_{suffix}"] = table.loc[name, f"value_{suffix}"]
            else:
                figures[name] = range_seen([str(v) for v in values])
        return figures, numbers
    for metric, value in zip(summary["metric"], summary["value"], strict=True):
        number = pd.to_numeric(value, errors="coerce") if value else math.nan
        if value and not math.isnan(number):
            numbers.add(str(metric))
            figures.update({f"{metric}_mean": number, f"{metric}_ci_low": math.nan,
                            f"{metric}_ci_high": math.nan})  # fmt: skip
        else:
            figures[str(metric)] = value
    return figures, numbers


def range_seen(values: list[str]) -> str:
    """A text figure over replications: the value, or the range seen ('2027-03..2027-06'),
    marked where some replications had none; '' where none had one."""
    present = sorted({value for value in values if value})
    if not present:
        return ""
    text = present[0] if len(present) == 1 else f"{present[0]}..{present[-1]}"
    return text + (" (not in every replication)" if "" in values else "")
