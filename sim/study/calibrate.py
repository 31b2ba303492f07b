"""Calibration: fit numeric fields of a scenario's categories (growth rate, saturation,
initial base, ...) to a history of observed installed bases, by least squares on log values.

The model fitted is the scenario's *demand*: the expected installed base with no capacity
limit (`Plan.demand` of `sim.engine.build_plan`), not the simulated connections; the two
are the same while nothing is blocked.  A history row is a month-end value of the demand
summed over the categories, regions and technologies it names.

The core takes text and typed objects and returns data; the command line reads the files
and `write_calibration` writes the three outputs, all or none.
"""

from __future__ import annotations

import csv
import io
import math
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel

from sim.demand.curves import installed_base
from sim.demand.joins import join_schedule
from sim.demand.lifetimes import Lifetime
from sim.demand.schedules import row_month_indices

# build_plan's own steps, so that the fitted demand is the plan's to the bit (a test checks
# it on every bundled scenario); the plan itself also builds budgets and loads, 10x the cost
from sim.engine.plan import _expected_base, mix_table
from sim.results import atomic_file, csv_bytes
from sim.scenario import Category, Problem, Scenario, ScenarioError, month_index, month_label
from sim.scenario.loading import _node_at, _parse_yaml, parse_scenario
from sim.scenario.months import MONTH_RE
from sim.scenario.problems import did_you_mean, listing, shown
from sim.scenario.yaml_text import ScenarioLoader
from sim.study.sweeps import check_field_path, parse_field_path, set_field
from sim.supply.network import build_network

FloatArray = NDArray[np.float64]

FILTERS = ("category", "region", "technology")
"""History columns that select what a row counts (empty: all; names joined with '+')."""
SIGNIFICANT_DIGITS = 6
"""Fitted numbers are written with this many significant digits (whole numbers whole)."""
UNITS = {
    "rate": "1/year",
    "saturation": "terminals",
    "market": "terminals",
    "initial": "terminals",
    "per_year": "terminals/year",
    "p": "1/year",
    "q": "1/year",
    "lifetime_years": "years",
    "weibull_shape": "1",
}
"""Units of the fields most often fitted (by field name); others are left blank."""
_ZERO_SENSITIVITY = 1e-9
"""A parameter whose 1 % change (0.01 when it is below 1) moves the fitted log values by
less than this (Euclidean norm) is not constrained by the history."""
_RANK_TOLERANCE = 1e-8
"""Singular values of the column-normalised Jacobian below this (relative to the largest)
mean parameters the history cannot tell apart."""


# ---- the history -------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """One history row: the demand summed over its filters at a month's end."""

    line: int
    date: str
    t: int
    """Months after the start of the horizon's t = 0 (the end of the month before start)."""
    category: tuple[str, ...]
    region: tuple[str, ...]
    technology: tuple[str, ...]
    value: float

    def label(self, axis: str) -> str:
        return "+".join(getattr(self, axis))


@dataclass(frozen=True)
class History:
    file: str
    metric: str | None
    observations: tuple[Observation, ...]


@dataclass(frozen=True)
class _Axes:
    """Names along the demand array's axes and the month axis of a scenario."""

    categories: tuple[str, ...]
    regions: tuple[str, ...]
    technologies: tuple[str, ...]

    @staticmethod
    def of(scenario: Scenario) -> _Axes:
        network = build_network(scenario)
        return _Axes(tuple(scenario.categories), network.regions, network.technologies)


def parse_history(text: str, file: str, scenario: Scenario, metric: str | None) -> History:
    """The rows of a history CSV (text of the file) that `metric` selects, checked against
    the scenario: dates in its horizon, filters naming its categories, regions and
    technologies.  Raises ScenarioError naming the file, line and column of each problem."""
    axes = _Axes.of(scenario)
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    reader_lines = _record_lines(text.removeprefix("\ufeff"))
    if not rows:
        raise ScenarioError(
            [Problem("", "the file is empty; expected a header row with date,value", file)]
        )
    header = [name.strip() for name in rows[0]]
    problems = []
    for required in ("date", "value"):
        if required not in header:
            problems.append(
                Problem(
                    required,
                    f"no {required} column (columns: "
                    f"{listing(header)}); a history needs date and value"
                    f"{did_you_mean(required, header)}",
                    file,
                    1,
                )
            )
    repeated = sorted({name for name in header if header.count(name) > 1 and name})
    if repeated:
        problems.append(Problem(repeated[0], "the column appears more than once", file, 1))
    if problems:
        raise ScenarioError(problems)
    position = {name: header.index(name) for name in header}
    body = [(reader_lines[i], row) for i, row in enumerate(rows) if i > 0 and row]
    for line, row in body:
        if len(row) != len(header):
            problems.append(
                Problem("", f"{len(row)} fields, the header has {len(header)}", file, line)
            )
    if problems:
        raise ScenarioError(problems)
    chosen = _chosen_metric(body, position, metric, file)
    if chosen is not None:
        body = [(line, row) for line, row in body if row[position["metric"]].strip() == chosen]
    first, last = scenario.start_index - 1, month_index(scenario.end)
    observations: list[Observation] = []
    seen: dict[tuple[Any, ...], int] = {}
    choices = {
        "category": list(axes.categories),
        "region": list(scenario.region_paths),
        "technology": list(axes.technologies),
    }
    for line, row in body:
        date = row[position["date"]].strip()
        value_text = row[position["value"]].strip()
        row_problems = []
        if not MONTH_RE.match(date):
            row_problems.append(
                Problem(
                    "date",
                    f"got {shown(date)}: expected a month as "
                    "YYYY-MM (the value at that month's end)",
                    file,
                    line,
                )
            )
        elif not first <= month_index(date) <= last:
            side = "before" if month_index(date) < first else "after"
            row_problems.append(
                Problem(
                    "date",
                    f"{date} is {side} the scenario's horizon: it "
                    f"models month ends {month_label(first)} (the end of "
                    f"the month before start {scenario.start}) to "
                    f"{scenario.end}; leave out rows outside it",
                    file,
                    line,
                )
            )
        value = _positive_number(value_text)
        if value is None:
            row_problems.append(
                Problem(
                    "value",
                    f"got {shown(value_text)}: expected a number "
                    "> 0 (an installed base, terminals; the fit is on "
                    "log values)",
                    file,
                    line,
                )
            )
        filters: dict[str, tuple[str, ...]] = {}
        for axis in FILTERS:
            text_value = row[position[axis]].strip() if axis in position else ""
            names, problem = _filter_names(text_value, choices[axis], axis, file, line)
            filters[axis] = names
            if problem is not None:
                row_problems.append(problem)
        problems += row_problems
        if row_problems:
            continue
        key = (date, *(tuple(sorted(filters[axis])) for axis in FILTERS))
        if key in seen:
            problems.append(
                Problem("date", f"repeats line {seen[key]} (same date and filters)", file, line)
            )
            continue
        seen[key] = line
        assert value is not None
        observations.append(
            Observation(
                line,
                date,
                month_index(date) - first,
                filters["category"],
                filters["region"],
                filters["technology"],
                value,
            )
        )
    if problems:
        raise ScenarioError(problems)
    if not observations:
        raise ScenarioError([Problem("", "no rows to fit", file)])
    return History(file, chosen, tuple(observations))


def _record_lines(text: str) -> list[int]:
    """The line on which each CSV record starts (quoted fields may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    starts, line = [], 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return starts


def _positive_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _chosen_metric(
    body: list[tuple[int, list[str]]], position: dict[str, int], metric: str | None, file: str
) -> str | None:
    """The metric whose rows are fitted: --metric, else the one the column holds."""
    if "metric" not in position:
        if metric is not None:
            raise ScenarioError(
                [Problem("--metric", f"{file} has no metric column; leave out --metric", file, 1)]
            )
        return None
    values = [row[position["metric"]].strip() for _, row in body]
    known = list(dict.fromkeys(value for value in values if value))
    blank = [line for (line, _), value in zip(body, values, strict=True) if not value]
    if blank:  # a row of no metric is of none: not silently left out, nor taken
        raise ScenarioError(
            [
                Problem("metric", f"empty; name the row's metric ({listing(known)})", file, line)
                for line in blank
            ]
        )
    if metric is None:
        if len(known) == 1:
            return known[0]
        raise ScenarioError(
            [
                Problem(
                    "metric",
                    f"the column holds {len(known)} metrics "
                    f"({listing(known)}); choose one with --metric",
                    file,
                )
            ]
        )
    if metric not in known:
        raise ScenarioError(
            [
                Problem(
                    "--metric",
                    f"no rows of metric {shown(metric)}"
                    f"{did_you_mean(metric, known)}; the file has "
                    f"{listing(known)}",
                    file,
                )
            ]
        )
    return metric


def _filter_names(
    text: str, choices: list[str], axis: str, file: str, line: int
) -> tuple[tuple[str, ...], Problem | None]:
    """The names of a filter cell ('' for all; '+' joins several) or the problem with it."""
    if not text:
        return (), None
    names = tuple(name.strip() for name in text.split("+"))
    for name in names:
        if not name:
            return (), Problem(
                axis,
                f"got {shown(text)}: an empty name; join names with "
                "'+' (e.g. a+b), or leave the cell empty for all",
                file,
                line,
            )
        if name not in choices:
            return (), Problem(
                axis,
                f"unknown {axis} {shown(name)}{did_you_mean(name, choices)}"
                f"; the scenario has: {listing(choices)}",
                file,
                line,
            )
    if len(set(names)) < len(names):
        return (), Problem(axis, f"got {shown(text)}: a name given twice", file, line)
    return names, None


# ---- free parameters ----------------------------------------------------------------


@dataclass(frozen=True)
class FreeParameter:
    """A numeric field of one category that the fit may move, within its declared bounds;
    or (`--scale`) one factor multiplying several such fields."""

    path: tuple[str, ...]
    """The field's path; for a scale, the pattern as given (with `*` or `{a,b}` steps)."""
    value: float
    lower: float
    upper: float
    """Bounds of the search: the declared ones, a strict one (gt, lt) moved just inside."""
    whole: bool
    """A count (written as a whole number)."""
    floor: float = -math.inf
    ceiling: float = math.inf
    """The declared bounds (gt or ge; lt or le): the reported interval ends at them."""
    scaled: tuple[tuple[tuple[str, ...], float, bool], ...] = ()
    """For a scale: the fields it multiplies, each (path, value as written, whole)."""

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def unit(self) -> str:
        return "factor" if self.scaled else UNITS.get(self.path[-1], "")

    def writes(self, x: float) -> list[tuple[tuple[str, ...], float, bool]]:
        """(field path, value, whole) of every field this parameter sets when it is x."""
        if self.scaled:
            return [(path, base * x, whole) for path, base, whole in self.scaled]
        return [(self.path, x, self.whole)]


def free_parameters(
    scenario: Scenario, texts: Sequence[str], scales: Sequence[str] = ()
) -> list[FreeParameter]:
    """The fields named by --free paths (a `*` step: every key at that level that has the
    rest of the path and a number there; a `{a,b}` step: those keys), each a number of a
    category; then one factor per --scale pattern, multiplying every field it matches (so
    fields that start equal stay equal: a rate shared by a group of categories).  Raises
    ScenarioError."""
    data = scenario.model_dump(mode="json")
    paths: list[tuple[str, ...]] = []
    for text in texts:
        for path in _matched(data, text, "--free"):
            if path in paths:
                raise ScenarioError([Problem(".".join(path), "given twice in --free")])
            paths.append(path)
    free = [_free_parameter(scenario, data, path) for path in paths]
    taken = set(paths)
    for text in scales:
        fields = [_free_parameter(scenario, data, path) for path in _matched(data, text, "--scale")]
        for one in fields:
            if one.path in taken:
                raise ScenarioError([Problem(one.name, "given twice in --free or --scale")])
            taken.add(one.path)
            if one.value == 0:
                raise ScenarioError(
                    [Problem(one.name, "is 0: a scale multiplies values other than 0")]
                )
        free.append(_scale_parameter(parse_field_path(text, "--scale"), fields))
    return free


def _matched(data: Any, text: str, option: str) -> list[tuple[str, ...]]:
    expanded = _expand(data, parse_field_path(text, option))
    if not expanded:
        raise ScenarioError(
            [
                Problem(
                    text,
                    "matches no field of the scenario (the '*' step expands to keys that "
                    "have the rest of the path)",
                )
            ]
        )
    return expanded


def _scale_parameter(pattern: tuple[str, ...], fields: Sequence[FreeParameter]) -> FreeParameter:
    """One factor (starting at 1) for `fields`: its bounds keep every field within its own
    (a negative value, a shrinking cagr rate, turns a field's bounds round)."""

    def ends(low: float, high: float, value: float) -> tuple[float, float]:
        return (low / value, high / value) if value > 0 else (high / value, low / value)

    searched = [ends(f.lower, f.upper, f.value) for f in fields]
    declared = [ends(f.floor, f.ceiling, f.value) for f in fields]
    lower, upper = max(a for a, _ in searched), min(b for _, b in searched)
    floor, ceiling = max(a for a, _ in declared), min(b for _, b in declared)
    scaled = tuple((f.path, f.value, f.whole) for f in fields)
    return FreeParameter(pattern, 1.0, lower, upper, False, floor, ceiling, scaled)


def _expand(data: Any, steps: tuple[str, ...]) -> list[tuple[str, ...]]:
    wild = [i for i, step in enumerate(steps) if step == "*" or _chosen(step)]
    if not wild:
        check_field_path(data, steps)
        return [steps]
    at = wild[0]
    check_field_path(data, steps[:at])
    node = data
    for step in steps[:at]:
        node = node[int(step)] if isinstance(node, list) else node[step]
    chosen = _chosen(steps[at])
    if chosen:
        keys = chosen
        for key in keys:  # named keys must exist, and hold the rest of the path
            check_field_path(data, (*steps[:at], key))
    else:
        keys = (
            [str(k) for k in node]
            if isinstance(node, dict)
            else [str(i) for i in range(len(node) if isinstance(node, list) else 0)]
        )
    out = []
    for key in keys:
        candidate = (*steps[:at], key, *steps[at + 1 :])
        if any(step == "*" or _chosen(step) for step in candidate):
            out += _expand(data, candidate) if chosen else _try_expand(data, candidate)
        elif chosen:
            check_field_path(data, candidate)
            out.append(candidate)
        elif _exists(data, candidate) and _is_number(_value_at(data, candidate)):
            out.append(candidate)  # a `*` takes the numbers it finds, skips the rest
    return out


def _chosen(step: str) -> list[str]:
    """The keys of a `{a,b}` step (empty for any other step)."""
    if len(step) > 2 and step[0] == "{" and step[-1] == "}":
        return [key.strip() for key in step[1:-1].split(",") if key.strip()]
    return []


def _value_at(data: Any, path: tuple[str, ...]) -> Any:
    node = data
    for step in path:
        node = node[int(step)] if isinstance(node, list) else node[step]
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _try_expand(data: Any, steps: tuple[str, ...]) -> list[tuple[str, ...]]:
    try:
        return _expand(data, steps)
    except ScenarioError:
        return []


def _exists(data: Any, path: tuple[str, ...]) -> bool:
    try:
        check_field_path(data, path)
    except ScenarioError:
        return False
    return True


def _free_parameter(scenario: Scenario, data: Any, path: tuple[str, ...]) -> FreeParameter:
    name = ".".join(path)
    if path[0] != "categories" or len(path) < 3:
        raise ScenarioError(
            [
                Problem(
                    name,
                    "only fields of a category can be fitted (e.g. "
                    "categories.NAME.growth.rate, .initial, .lifetime_years): "
                    "the demand is the categories' curves",
                )
            ]
        )
    node = data
    for step in path:
        node = node[int(step)] if isinstance(node, list) else node[step]
    if isinstance(node, bool) or not isinstance(node, int | float):
        kind = {
            dict: "a mapping",
            list: "a list",
            str: "text",
            bool: "true/false",
            type(None): "not set (null)",
        }.get(type(node), type(node).__name__)
        more = (
            f"; its numeric fields: {listing(_numeric_keys(node))}"
            if isinstance(node, dict) and _numeric_keys(node)
            else ""
        )
        raise ScenarioError(
            [
                Problem(
                    name,
                    f"is {kind} ({shown(node)}), not a number: only "
                    f"numeric fields can be fitted{more}",
                )
            ]
        )
    lower, upper, whole, floor, ceiling = _bounds(scenario, path)
    return FreeParameter(path, float(node), lower, upper, whole, floor, ceiling)


def _numeric_keys(node: dict[str, Any]) -> list[str]:
    return [k for k, v in node.items() if isinstance(v, int | float) and not isinstance(v, bool)]


def _bounds(scenario: Scenario, path: tuple[str, ...]) -> tuple[float, float, bool, float, float]:
    """(lower, upper, whole) of the field at `path`, from its declaration (Field ge/gt/le/lt);
    a strict bound (gt, lt) is the next float inside it."""
    node: Any = scenario
    metadata: list[Any] = []
    annotation: Any = None
    for step in path:
        if isinstance(node, BaseModel):
            info = type(node).model_fields[step]
            metadata, annotation = list(info.metadata), info.annotation
            node = getattr(node, step)
        else:  # a mapping or list of the model: its items' declaration
            item = _item_annotation(annotation)
            metadata = (
                list(typing.get_args(item)[1:])
                if typing.get_origin(item) is typing.Annotated
                else []
            )
            annotation = typing.get_args(item)[0] if metadata else item
            if isinstance(node, dict):
                node = next(v for k, v in node.items() if str(k) == step)
            else:
                node = node[int(step)]
    lower, upper, floor, ceiling = -math.inf, math.inf, -math.inf, math.inf
    for item in metadata:
        if getattr(item, "ge", None) is not None:
            lower = max(lower, float(item.ge))
            floor = max(floor, float(item.ge))
        if getattr(item, "gt", None) is not None:
            lower = max(lower, float(np.nextafter(float(item.gt), math.inf)))
            floor = max(floor, float(item.gt))
        if getattr(item, "le", None) is not None:
            upper = min(upper, float(item.le))
            ceiling = min(ceiling, float(item.le))
        if getattr(item, "lt", None) is not None:
            upper = min(upper, float(np.nextafter(float(item.lt), -math.inf)))
            ceiling = min(ceiling, float(item.lt))
    return lower, upper, annotation is int, floor, ceiling


def _item_annotation(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1 and typing.get_origin(annotation) is not dict:  # Optional[X]
        return _item_annotation(args[0])
    return args[-1] if args else None


def _with_value(node: Any, steps: Sequence[str], value: float) -> Any:
    """A copy of a model (or mapping, list) with the value at `steps` replaced; not
    validated, so a count may be fractional while fitting."""
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if isinstance(node, BaseModel):
        return node.model_copy(update={step: _with_value(getattr(node, step), rest, value)})
    if isinstance(node, dict):
        key = next(k for k in node if str(k) == step)
        return {**node, key: _with_value(node[key], rest, value)}
    copied = list(node)
    copied[int(step)] = _with_value(copied[int(step)], rest, value)
    return copied


# ---- the model ---------------------------------------------------------------------


def category_demand(
    scenario: Scenario,
    name: str,
    category: Category | None = None,
    regions: tuple[str, ...] | None = None,
    technologies: tuple[str, ...] | None = None,
) -> FloatArray:
    """[t = 0..M, region, technology] expected base of one category with no capacity limit:
    `build_plan`'s demand[:, c] by the same functions (curve, join schedule, expected base),
    without the network's budgets and loads.  `category` replaces the scenario's own;
    `regions` and `technologies` are the network's (computed when not given)."""
    if category is not None:
        scenario = scenario.model_copy(
            update={"categories": {**scenario.categories, name: category}}
        )
    category = scenario.categories[name]
    if regions is None or technologies is None:
        network = build_network(scenario)
        regions, technologies = network.regions, network.technologies
    months = scenario.months
    shares = scenario.category_region_shares(name)
    region_shares = np.array([shares[region] for region in regions], dtype=float)
    region_shares /= region_shares.sum()
    table = mix_table(category.mix_schedule(), technologies, row_month_indices(scenario)[1:])
    mix = table / table.sum(axis=1, keepdims=True)
    times = np.arange(months + 1, dtype=float)
    base = installed_base(category.growth, category.initial, times, scenario.start_index)
    schedule = join_schedule(base, Lifetime.of(category, months))
    expected = _expected_base(schedule, category.initial, mix)
    return expected[:, None, :] * region_shares[None, :, None]  # type: ignore[no-any-return]


class _Model:
    """Model values at the observations for values of the free parameters; a category's
    demand is recomputed only when one of its parameters changed (cost per evaluation:
    the categories moved, never the terminals)."""

    def __init__(
        self, scenario: Scenario, free: Sequence[FreeParameter], observations: Sequence[Observation]
    ) -> None:
        self.scenario = scenario
        self.free = list(free)
        axes = _Axes.of(scenario)
        self.axes = axes
        self.categories = axes.categories
        self.t = np.array([o.t for o in observations], dtype=int)
        n = len(observations)
        self.cat_mask = np.zeros((n, len(axes.categories)))
        self.reg_mask = np.zeros((n, len(axes.regions)))
        self.tech_mask = np.zeros((n, len(axes.technologies)))
        for i, obs in enumerate(observations):
            self.cat_mask[i] = [not obs.category or c in obs.category for c in axes.categories]
            self.reg_mask[i] = [
                not obs.region or any(leaf in scenario.leaves_of(r) for r in obs.region)
                for leaf in axes.regions
            ]
            self.tech_mask[i] = [
                not obs.technology or k in obs.technology for k in axes.technologies
            ]
        self._cache: dict[str, tuple[tuple[float, ...], FloatArray]] = {}
        self._own = {
            name: [j for j, p in enumerate(free) if any(w[0][1] == name for w in p.writes(p.value))]
            for name in axes.categories
        }

    def _contribution(self, c: int, name: str, x: FloatArray) -> FloatArray:
        own = self._own[name]
        key = tuple(float(x[j]) for j in own)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        category = self.scenario.categories[name]
        for j in own:
            for path, value, _ in self.free[j].writes(float(x[j])):
                if path[1] == name:
                    category = _with_value(category, path[2:], value)
        demand = category_demand(
            self.scenario, name, category, self.axes.regions, self.axes.technologies
        )
        values = np.einsum("nrk,nr,nk->n", demand[self.t], self.reg_mask, self.tech_mask)
        contribution = values * self.cat_mask[:, c]
        self._cache[name] = (key, contribution)
        return contribution  # type: ignore[no-any-return]

    def __call__(self, x: FloatArray) -> FloatArray:
        total = np.zeros(len(self.t))
        for c, name in enumerate(self.categories):
            if self.cat_mask[:, c].any():
                total += self._contribution(c, name, x)
        return total


# ---- the fit -----------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterFit:
    """One fitted parameter: its start, its value and its uncertainty (its unit)."""

    name: str
    unit: str
    initial: float
    fitted: float
    """The value written to the calibrated scenario (rounded to SIGNIFICANT_DIGITS)."""
    whole: bool
    se: float
    """Standard error from the Jacobian at the optimum (NaN when undefined)."""
    ci_low: float
    ci_high: float
    """95 % interval x ± t(0.975, n - p) SE, cut to the field's declared bounds."""
    at_bound: bool
    fields: tuple[str, ...] = ()
    """The scenario fields it set (one, or a scale's several)."""


@dataclass(frozen=True)
class Calibration:
    """The outcome of a fit: parameters, the calibrated scenario and every point."""

    parameters: tuple[ParameterFit, ...]
    scenario: Scenario
    """The scenario with the fitted values (validated)."""
    points: pd.DataFrame
    """POINT_COLUMNS: every observation, fitted or predicted by the calibrated scenario."""
    history: History
    cutoff: str | None
    used: int
    """Points up to the cutoff (all without one)."""
    informative: int
    """Of those, the points some free parameter moves: the data of the fit."""
    dof: int
    rms_log: float
    """Root mean square of the fitted points' log residuals."""
    notes: tuple[str, ...] = field(default=())

    @property
    def backtest(self) -> pd.DataFrame:
        return self.points[~self.points["used_in_fit"]]

    def backtest_summary(self) -> tuple[float, float] | None:
        """(mean absolute % error, largest absolute % error) of the predicted points."""
        later = self.backtest
        if later.empty:
            return None
        errors = later["error_pct"].abs()
        return float(errors.mean()), float(errors.max())


POINT_COLUMNS = (
    "date",
    "category",
    "region",
    "technology",
    "observed",
    "fitted",
    "residual_log",
    "error_pct",
    "used_in_fit",
)
FIT_COLUMNS = ("parameter", "unit", "initial", "fitted", "se", "ci_low", "ci_high", "at_bound")


def calibrate(
    scenario: Scenario,
    history: History,
    free: Sequence[FreeParameter],
    cutoff: str | None = None,
) -> Calibration:
    """Fit the free parameters to the history's points up to `cutoff` (all without one):
    least squares on ln(model) - ln(observed) (scipy.optimize.least_squares, trust-region
    reflective within the declared bounds, from the scenario's values); standard errors
    from cov = s^2 (J^T J)^-1, s^2 = SSR / (n - p); the later points are predicted.
    Raises ScenarioError when the history cannot identify the parameters."""
    # SciPy takes about a second to import: only a fit pays for it, not every command
    from scipy import optimize, stats

    observations = history.observations
    if cutoff is not None:
        if not MONTH_RE.match(cutoff):
            raise ScenarioError(
                [Problem("--cutoff", f"got {shown(cutoff)}: expected a month as YYYY-MM")]
            )
        used = [o for o in observations if month_index(o.date) <= month_index(cutoff)]
        if len(used) == len(observations):
            raise ScenarioError(
                [
                    Problem(
                        "--cutoff",
                        f"no point of {history.file} is after "
                        f"{cutoff} (the last is {max(o.date for o in observations)}): "
                        "nothing to back-test; give an earlier cutoff or none",
                    )
                ]
            )
    else:
        used = list(observations)
    names = [p.name for p in free]
    if not free:
        raise ScenarioError([Problem("--free", "give at least one field to fit")])
    if len(used) < len(free):
        raise ScenarioError(
            [
                Problem(
                    "--free",
                    f"{len(free)} free parameters but only "
                    f"{len(used)} point(s) to fit"
                    f"{' up to ' + cutoff if cutoff else ''}: a fit needs at "
                    f"least as many points as parameters ({listing(names)})",
                    history.file,
                )
            ]
        )
    notes = []
    model = _Model(scenario, free, used)
    observed = np.array([o.value for o in used])
    x0 = np.array([p.value for p in free])
    start = model(x0)
    empty = [o for o, value in zip(used, start, strict=True) if not value > 0]
    if empty:
        raise ScenarioError(
            [
                Problem(
                    "",
                    f"the scenario demands no terminals matching this "
                    f"row at {o.date} (a log fit needs a positive model)",
                    history.file,
                    o.line,
                )
                for o in empty
            ]
        )

    def residuals(x: FloatArray) -> FloatArray:
        values = model(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, np.log(values) - np.log(observed), np.nan)  # type: ignore[no-any-return]

    lower = np.array([p.lower for p in free])
    upper = np.array([p.upper for p in free])
    result = optimize.least_squares(
        residuals,
        x0,
        bounds=(lower, upper),
        x_scale="jac",
        method="trf",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        max_nfev=200 * (len(free) + 1),
    )
    x, jac = result.x, np.atleast_2d(result.jac)
    _check_identified(jac, x, free, history.file)
    # a point no free parameter moves (the total at t = 0 is the initial bases) carries no
    # information about them: it is reported, but counts neither as data nor in the SSR
    scale = np.maximum(np.abs(x), 1.0) * 0.01
    informative = np.abs(jac * scale).max(axis=1) >= _ZERO_SENSITIVITY
    fixed = [o.date for o, moved in zip(used, informative, strict=True) if not moved]
    if fixed:
        notes.append(
            f"{len(fixed)} point(s) ({listing(fixed)}) do not depend on the free "
            "parameters (at the start the base is the initial one): reported, not "
            "counted as data"
        )
    n, p = int(informative.sum()), len(free)
    dof = n - p
    ssr = float(np.sum(result.fun[informative] ** 2))
    if dof > 0:
        cov = ssr / dof * np.linalg.inv(jac.T @ jac)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        quantile = float(stats.t.ppf(0.975, dof))
        notes += _correlation_notes(cov, names)
    else:
        se, quantile = np.full(p, math.nan), math.nan
        notes.append(
            f"{n} points for {p} parameters: the fit passes through every point and "
            "its uncertainty is undefined (standard errors need more points than "
            "parameters)"
        )
    at_bound = (
        (result.active_mask != 0)
        | np.isclose(x, lower, rtol=1e-9, atol=0)
        | np.isclose(x, upper, rtol=1e-9, atol=0)
    )
    for j in map(int, np.flatnonzero(at_bound)):
        notes.append(
            f"{names[j]} stopped at its bound ({free[j].floor:g}..{free[j].ceiling:g}): its "
            "standard error assumes an interior optimum"
        )
    if not result.success:
        notes.append(f"the optimiser stopped early: {result.message}")
    fitted = [_rounded(value, q.whole) for value, q in zip(x, free, strict=True)]
    calibrated = _validated(scenario, free, fitted)
    points = _points(calibrated, history, used)
    parameters = tuple(
        ParameterFit(
            q.name,
            q.unit,
            q.value,
            fitted[j],
            q.whole,
            float(se[j]),
            float(np.maximum(q.floor, x[j] - quantile * se[j])),
            float(np.minimum(q.ceiling, x[j] + quantile * se[j])),
            bool(at_bound[j]),
            tuple(".".join(path) for path, _, _ in q.writes(q.value)),
        )
        for j, q in enumerate(free)
    )
    rms = math.sqrt(ssr / n)
    return Calibration(
        parameters, calibrated, points, history, cutoff, len(used), n, dof, rms, tuple(notes)
    )


def _check_identified(
    jac: FloatArray, x: FloatArray, free: Sequence[FreeParameter], file: str
) -> None:
    """Refuse parameters the history does not constrain (a Jacobian column of ~0) or cannot
    tell apart (a rank-deficient Jacobian), naming them."""
    names = [p.name for p in free]
    # change of the fitted log values for a 1 % change of each parameter (or of 0.01 at 0)
    sensitivity = np.linalg.norm(jac, axis=0) * np.maximum(np.abs(x), 1.0) * 0.01
    flat = [names[j] for j in np.flatnonzero(sensitivity < _ZERO_SENSITIVITY)]
    if flat:
        raise ScenarioError(
            [
                Problem(
                    "--free",
                    f"the history does not constrain {listing(flat)}"
                    ": no fitted point depends on it (its category, region or "
                    "technology is in no row up to the cutoff, or the demand does not use "
                    "the field: a lifetime or traffic figure while the curve is followed; "
                    "or a curve falling faster than terminals leave, which no joins follow)"
                    "; fix it, or add rows that depend on it",
                    file,
                )
            ]
        )
    normalised = jac / np.linalg.norm(jac, axis=0)
    _, singular, vt = np.linalg.svd(normalised, full_matrices=False)
    weak = singular < _RANK_TOLERANCE * singular[0]
    if weak.any():
        tied = [names[j] for j in np.flatnonzero(np.abs(vt[-1]) > 0.1)]
        raise ScenarioError(
            [
                Problem(
                    "--free",
                    f"the history cannot tell apart {listing(tied)}: "
                    "they move the fitted points alike (e.g. growth of "
                    "several categories seen only through their total); free "
                    "fewer of them, or add rows that separate them",
                    file,
                )
            ]
        )


CORRELATION_NOTE = 0.99
"""Estimates correlated beyond this (in absolute value) get a note: the history hardly
separates them, though it can."""


def _correlation_notes(cov: FloatArray, names: Sequence[str]) -> list[str]:
    scale = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = cov / np.outer(scale, scale)
    return [
        f"{names[i]} and {names[j]} are correlated at {correlation[i, j]:+.3f}: the history "
        "hardly separates them (their intervals overstate what is known of each)"
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if abs(correlation[i, j]) > CORRELATION_NOTE
    ]


def _rounded(value: float, whole: bool) -> float:
    if whole:
        return float(round(value))
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _validated(
    scenario: Scenario, free: Sequence[FreeParameter], values: Sequence[float]
) -> Scenario:
    """The scenario with the fitted values, checked by the schema like a file."""
    data = scenario.model_dump(mode="json")
    for parameter, value in zip(free, values, strict=True):
        for path, written, whole in parameter.writes(value):
            set_field(data, path, round(written) if whole else _rounded(written, False))
    try:
        return parse_scenario(data)
    except ScenarioError as error:
        raise ScenarioError(
            [Problem(p.path, f"{p.message} (with the fitted values)") for p in error.problems]
        ) from None


def _points(scenario: Scenario, history: History, used: Sequence[Observation]) -> pd.DataFrame:
    """Every observation beside the calibrated scenario's demand (no free parameters)."""
    model = _Model(scenario, [], history.observations)
    values = model(np.zeros(0))
    observed = np.array([o.value for o in history.observations])
    used_lines = {o.line for o in used}
    return pd.DataFrame(
        {
            "date": [o.date for o in history.observations],
            **{axis: [o.label(axis) for o in history.observations] for axis in FILTERS},
            "observed": observed,
            "fitted": np.round(values, 1),
            "residual_log": np.round(np.log(values) - np.log(observed), 8),
            "error_pct": np.round(100 * (values - observed) / observed, 4),
            "used_in_fit": [o.line in used_lines for o in history.observations],
        }
    )


def fit_table(calibration: Calibration) -> pd.DataFrame:
    """FIT_COLUMNS: one row per parameter; se, ci_low, ci_high empty when undefined."""
    return pd.DataFrame(
        [
            (p.name, p.unit, p.initial, p.fitted, p.se, p.ci_low, p.ci_high, p.at_bound)
            for p in calibration.parameters
        ],
        columns=list(FIT_COLUMNS),
    ).round({"se": 10, "ci_low": 10, "ci_high": 10})


# ---- the calibrated scenario file -----------------------------------------------------


def _number_text(value: float, whole: bool) -> str:
    if whole or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return repr(value)


def _flow(value: Any) -> str:
    """A value as YAML flow text (mappings and lists inline)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return _number_text(float(value), isinstance(value, int))
    text = str(value)
    safe = yaml.dump(text, Dumper=yaml.SafeDumper, default_flow_style=True).strip()
    return safe.removesuffix("\n...").strip()


def calibrated_text(text: str, file: str, calibration: Calibration, out_name: str) -> str:
    """The scenario's text with the fitted values in place of the old ones (comments and
    layout kept) and a header comment naming the fit.  A field not written in the file is
    inserted into its nearest written mapping; the result is read back and must resolve to
    the calibrated scenario, else ScenarioError asks to write the field first."""
    loader = ScenarioLoader(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    counts: dict[int, int] = {}
    _count_nodes(root, counts)
    data = calibration.scenario.model_dump(mode="json")
    edits: dict[int, tuple[int, str]] = {}  # start index -> (end index, new text)
    inserted: set[tuple[int, str]] = set()
    for name in [name for parameter in calibration.parameters for name in parameter.fields]:
        path = parse_field_path(name, "--free")
        value_now = _at(data, name)
        steps = tuple(int(s) if s.isdigit() else s for s in path)
        node, found = _node_at(root, steps)
        depth = len(steps)
        while not found:
            depth -= 1
            node, found = _node_at(root, steps[:depth])
        chain = [_node_at(root, steps[:d])[0] for d in range(1, depth + 1)]
        shared = [n for n in chain if n is not None and counts.get(id(n), 0) > 1]
        where = f"line {node.start_mark.line + 1}" if node is not None else "the file"
        if shared:
            raise _write_first(
                name,
                file,
                f"it is written through a YAML alias ({where}) that other keys share",
            )
        if depth == len(steps):
            if not isinstance(node, yaml.ScalarNode):
                raise _write_first(name, file, f"{where} is not a number")
            start, end = node.start_mark.index, node.end_mark.index
            edits[start] = (end, _number_text(float(value_now), isinstance(value_now, int)))
            continue
        key = str(path[depth])
        if not isinstance(node, yaml.MappingNode) or not node.value:
            raise _write_first(name, file, f"no mapping to add {key!r} to at {where}")
        if (id(node), key) in inserted:
            continue
        inserted.add((id(node), key))
        value = data
        for step in path[: depth + 1]:
            value = value[int(step)] if isinstance(value, list) else value[step]
        entry = f"{_flow(key)}: {_flow(value)}"
        if node.flow_style:
            close = node.end_mark.index - 1
            if text[close] != "}":
                raise _write_first(name, file, f"cannot add {key!r} at {where}")
            edits[close] = (close, ", " + entry)
        else:
            first = node.value[0][0].start_mark
            edits[first.index] = (first.index, entry + "\n" + " " * first.column)
    new = text
    spans = sorted(edits.items(), reverse=True)
    for (start, (end, replacement)), later in zip(spans, [None, *spans[:-1]], strict=True):
        if later is not None and end > later[0]:
            raise _write_first(calibration.parameters[0].name, file, "overlapping edits")
        new = new[:start] + replacement + new[end:]
    new = _with_header(new, _header(calibration))
    _check_rewrite(new, out_name, calibration, file)
    return new


def _count_nodes(node: yaml.Node | None, counts: dict[int, int]) -> None:
    """How often each node is reached from the root (an alias reaches its anchor again)."""
    if node is None:
        return
    counts[id(node)] = counts.get(id(node), 0) + 1
    if counts[id(node)] > 1:
        return
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _count_nodes(key, counts)
            _count_nodes(value, counts)
    elif isinstance(node, yaml.SequenceNode):
        for value in node.value:
            _count_nodes(value, counts)


def _write_first(path: str, file: str, why: str) -> ScenarioError:
    return ScenarioError(
        [
            Problem(
                path,
                f"cannot write the fitted value into the file safely "
                f"({why}); write {path} in the file itself first",
                file,
            )
        ]
    )


def _header(calibration: Calibration) -> list[str]:
    history = calibration.history
    metric = f", metric {history.metric}" if history.metric else ""
    cutoff = f" up to {calibration.cutoff}" if calibration.cutoff else ""
    lines = [
        f"Calibrated by `iotsim calibrate` on {Path(history.file).name}{metric}: "
        f"{calibration.used} points{cutoff}",
        "fitted to the demand (expected installed base, no capacity limit; not simulated",
        "connections) by least squares on log values; fitted values replace the scenario's",
        "(old -> new ± standard error [95 % interval]):",
    ]
    for p in calibration.parameters:
        uncertainty = (
            "" if math.isnan(p.se) else (f" ± {p.se:.3g} [{p.ci_low:.6g}, {p.ci_high:.6g}]")
        )
        lines.append(f"  {p.name}: {p.initial:.6g} -> {p.fitted:.6g}{uncertainty}")
        if p.unit == "factor":  # a scale: the values it wrote
            data = calibration.scenario.model_dump(mode="json")
            lines += [
                f"    {name} = {_number_text(float(_at(data, name)), False)}" for name in p.fields
            ]
    return lines


def _with_header(text: str, lines: list[str]) -> str:
    """The header after the file's leading comment lines (a schema modeline stays first)."""
    kept = text.splitlines(keepends=True)
    at = 0
    while at < len(kept) and kept[at].lstrip().startswith("#"):
        at += 1
    block = "".join(f"# {line}\n".replace("# \n", "#\n") for line in lines)
    spacer = "#\n" if at else ""
    return "".join(kept[:at]) + spacer + block + "".join(kept[at:])


def _check_rewrite(new: str, out_name: str, calibration: Calibration, file: str) -> None:
    root, data = _parse_yaml(new, out_name)
    default_name = Path(out_name).stem.replace(" ", "_")
    try:
        scenario = parse_scenario(data, file=out_name, default_name=default_name, _root=root)
    except ScenarioError as error:
        raise _write_first(
            calibration.parameters[0].name,
            file,
            f"the rewritten file does not load: {error.problems[0]}",
        ) from None
    got = scenario.model_dump(mode="json")
    expected = calibration.scenario.model_dump(mode="json")
    got.pop("name", None)
    expected.pop("name", None)
    if got != expected:
        wrong = [
            name
            for p in calibration.parameters
            for name in p.fields
            if _at(got, name) != _at(expected, name)
        ]
        raise _write_first(
            listing(wrong) or calibration.parameters[0].name,
            file,
            "the rewritten file does not resolve to the fitted scenario",
        )


def _at(data: Any, name: str) -> Any:
    node = data
    for step in name.split("."):
        node = node[int(step)] if isinstance(node, list) else node.get(step)
    return node


def write_calibration(
    outputs: Sequence[tuple[Path, Callable[[], bytes]]],
) -> None:
    """Write every output or none: each file is atomic, and each later one is written
    inside the write of the one before, so an error in any leaves every file as it was."""

    def write(rest: Sequence[tuple[Path, Callable[[], bytes]]]) -> None:
        (path, content), later = rest[0], rest[1:]

        def fill(temporary: Path) -> None:
            temporary.write_bytes(content())
            if later:
                write(later)

        atomic_file(path, fill)

    if outputs:
        write(outputs)


def output_files(
    out: Path, text: str, calibration: Calibration
) -> list[tuple[Path, Callable[[], bytes]]]:
    """The calibrated scenario, the fit table and the points table, as `output_paths`."""
    scenario_file, fit_file, points_file = output_paths(out)
    return [
        (scenario_file, lambda: text.encode("utf-8")),
        (fit_file, lambda: csv_bytes(fit_table(calibration))),
        (points_file, lambda: csv_bytes(calibration.points)),
    ]


def output_paths(out: Path) -> tuple[Path, Path, Path]:
    """The calibrated scenario at `out`, `<stem>.fit.csv` and `<stem>.points.csv` beside it
    (the stem: `out` without its last suffix)."""
    stem = out.with_suffix("")
    return out, stem.with_name(stem.name + ".fit.csv"), stem.with_name(stem.name + ".points.csv")
