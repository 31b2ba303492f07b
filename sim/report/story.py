"""The few sentences a report opens with: what a planner can quote.

Every sentence is built from the result tables and carries the facts it states
(`Fact`: which table, which row, which column, the value read and how the sentence shows
it), so a test can read each fact again from the tables and find it in the sentence.  No
sentence is a template filled with a guess: where a table has nothing to say (no cell
filled, the access layer not run) the sentence says that.

With replications, counts are the mean over replications, months the earliest seen (and
in how many replications it happened), peaks the highest and lows the lowest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from sim.results import Tables
from sim.results.formatting import count_text, percent_text, years_text
from sim.scenario import catalog

SUMMARY = "summary.csv"
TARGETS = "targets.csv"


@dataclass(frozen=True)
class Fact:
    """One figure a sentence states: read from `table` at the row `key` (summary.csv: a
    metric; targets.csv: a target's name), aggregated over replications by `how` ('mean',
    'max', 'min', 'earliest', 'count' of replications with a value, 'first': replication
    0, 'at': the value in the replication where another fact was found); `shown` is how
    the sentence writes it."""

    table: str
    key: str
    column: str
    how: str
    value: object
    shown: str


@dataclass(frozen=True)
class Headline:
    text: str
    facts: tuple[Fact, ...]
    warning: bool = False


class _Summary:
    """summary.csv of one run as {metric: [value per replication]} (text)."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.values: dict[str, list[str]] = {}
        if table.empty:
            return
        if "replication" not in table.columns:
            table = table.assign(replication=0)
        ordered = table.sort_values("replication", kind="stable")
        for metric, value in zip(ordered["metric"], ordered["value"], strict=True):
            text = "" if value is None or (isinstance(value, float) and math.isnan(value)) \
                else str(value)  # fmt: skip
            self.values.setdefault(str(metric), []).append(text)
        self.replications = max((len(v) for v in self.values.values()), default=1)

    def has(self, metric: str) -> bool:
        return metric in self.values

    def numbers(self, metric: str) -> list[float]:
        return [float(v) for v in self.values.get(metric, []) if v != ""]

    def fact(self, metric: str, how: str, shown: object = None, at: int | None = None) -> Fact:
        """The fact of `metric` aggregated by `how`; `shown` formats its value."""
        values = self.values.get(metric, [])
        value: object
        if how == "mean":
            numbers = self.numbers(metric)
            value = sum(numbers) / len(numbers) if numbers else math.nan
        elif how == "max":
            value = max(self.numbers(metric), default=math.nan)
        elif how == "min":
            value = min(self.numbers(metric), default=math.nan)
        elif how == "earliest":
            value = min((v for v in values if v), default="")
        elif how == "count":
            value = sum(1 for v in values if v)
        elif how == "at":
            value = values[at or 0] if values else ""
        else:  # "first"
            value = values[0] if values else ""
        text = shown(value) if callable(shown) else str(value)
        return Fact(SUMMARY, metric, "value", how, value, text)

    def where(self, metric: str, how: str) -> int:
        """The replication where `metric` has its max / min / earliest value."""
        values = self.values.get(metric, [])
        candidates = [(v, r) for r, v in enumerate(values) if v]
        if not candidates:
            return 0
        if how == "earliest":
            return min(candidates)[1]
        numbers = [(float(v), r) for v, r in candidates]
        return (max(numbers) if how == "max" else min(numbers))[1]


def _cells(text: str) -> str:
    """'central/dense_urban/p99-100/nb-iot' as 'central/dense_urban p99-100 NB-IoT cells'."""
    *region, cell_class, carrier = text.split("/")
    spec = catalog.TECHNOLOGIES.get(carrier)  # the carrier's namesake: NB-IoT, LTE, NR
    label = spec.label if spec is not None else carrier
    return f"{'/'.join(region)} {cell_class} {label} cells".strip()


def _in_how_many(count: int, replications: int) -> str:
    return f" (in {count} of {replications} replications)" if replications > 1 else ""


def headlines(run: Tables) -> list[Headline]:
    """The opening sentences of a run's report, each with its facts."""
    summary = _Summary(run.summary)
    if not summary.values:
        return []
    out = [_totals(summary)]
    out += _capacity(summary)
    out.append(_lost(summary))
    out += _targets(run.targets, summary)
    out += _access(run, summary)
    return out


def _totals(summary: _Summary) -> Headline:
    end = summary.fact("end", "first")
    connected = summary.fact("connected_end", "mean", count_text)
    demand = summary.fact("demand_end", "mean", count_text)
    share = summary.fact("connected_share_of_demand_end", "mean", percent_text)
    mean = " (mean of the replications)" if summary.replications > 1 else ""
    return Headline(f"At {end.shown}, {connected.shown} terminals are connected of "
                    f"{demand.shown} demanded ({share.shown}){mean}.",
                    (end, connected, demand, share))  # fmt: skip


def _capacity(summary: _Summary) -> list[Headline]:
    end = summary.fact("end", "first")
    if not summary.has("first_full_date"):
        return []
    filled = summary.fact(
        "first_full_date",
        "count",
        lambda count: _in_how_many(int(str(count)), summary.replications) if count else "",
    )
    if filled.value:
        first = summary.fact("first_full_date", "earliest")
        at = summary.where("first_full_date", "earliest")
        cells = summary.fact("first_full_cells", "at", _cells, at)
        resource = summary.fact("first_full_resource", "at", at=at)
        out = [Headline(f"The first cells to fill are the {cells.shown}, in {first.shown}"
                        f"{' at the earliest' if summary.replications > 1 else ''}"
                        f"{filled.shown}; "
                        f"binding resource: {resource.shown}.",
                        (first, cells, resource, filled), warning=True)]  # fmt: skip
        shares = [m for m in summary.values if m.startswith("cells_full_share_end_")]
        facts = [summary.fact(m, "mean", percent_text) for m in shares]
        full = [
            (m.removeprefix("cells_full_share_end_"), f) for m, f in zip(shares, facts, strict=True)
        ]
        named = [f"{f.shown} of the {carrier} cells" for carrier, f in full if f.value]
        if named:
            out.append(
                Headline(
                    f"At {end.shown}, {', '.join(named)} are in full classes.",
                    (end, *(f for _, f in full if f.value)),
                    warning=True,
                )
            )
        return out
    peak = summary.fact("peak_headroom_used", "max", percent_text)
    if (
        not summary.has("peak_headroom_used")
        or peak.value == ""
        or (isinstance(peak.value, float) and math.isnan(peak.value))
    ):
        return [Headline(f"No cell class fills by {end.shown}.", (end, filled))]
    at = summary.where("peak_headroom_used", "max")
    cells = summary.fact("peak_headroom_used_cells", "at", _cells, at)
    resource = summary.fact("peak_headroom_used_resource", "at", at=at)
    month = summary.fact("peak_headroom_used_date", "at", at=at)
    return [Headline(f"No cell class fills by {end.shown}. Closest: the {cells.shown}, where "
                     f"IoT uses {peak.shown} of what it may use of the {resource.shown} "
                     f"({month.shown}).", (end, filled, peak, cells, resource, month))]  # fmt: skip


def _lost(summary: _Summary) -> Headline:
    blocked = summary.fact("blocked_total", "mean", count_text)
    waiting = summary.fact("waiting_end", "mean", count_text)
    end = summary.fact("end", "first")
    if not blocked.value and not waiting.value:
        return Headline(f"No terminal is blocked or left waiting by {end.shown}.",
                        (blocked, waiting, end))  # fmt: skip
    first = summary.fact("first_blocked_date", "earliest")
    since = f", from {first.shown}" if first.value else ""
    return Headline(f"{blocked.shown} terminals are blocked (lost) over the run{since}; "
                    f"{waiting.shown} are waiting at {end.shown}.",
                    (blocked, waiting, end, first), warning=True)  # fmt: skip


def _targets(targets: pd.DataFrame, summary: _Summary) -> list[Headline]:
    if targets.empty:
        return []
    out = []
    met_column = targets["met"].astype(str).str.lower().isin(["true", "1"])
    for name, rows in targets.groupby("name", sort=False):
        row = rows.iloc[0]
        met = int(met_column[rows.index].sum())
        achieved = float(pd.to_numeric(rows["achieved"]).mean())
        required = float(row["required"])
        replications = len(rows)
        if met == replications:
            verdict = "met" + (" in every replication" if replications > 1 else "")
        elif met == 0:
            verdict = "missed" + (" in every replication" if replications > 1 else "")
        else:
            verdict = f"met in {met} of {replications} replications"
        facts = (
            Fact(TARGETS, str(name), "required", "first", required, count_text(required)),
            Fact(TARGETS, str(name), "achieved", "mean", achieved, count_text(achieved)),
            Fact(TARGETS, str(name), "met", "count", met, verdict),
        )
        bound = str(row["bound"]).replace("_", " ")
        condition = f"{row['metric']} {bound} {facts[0].shown} at {row['date']}"
        out.append(Headline(f"Target {name} ({condition}) is {verdict}: {facts[1].shown} "
                            "achieved.", facts, warning=met < replications))  # fmt: skip
    return out


def _access(run: Tables, summary: _Summary) -> list[Headline]:
    if run.access.empty or not summary.has("lowest_access_success"):
        return [Headline("The access layer was not run (no access.years in the scenario): "
                         "these results say nothing about access success or battery life.",
                         ())]  # fmt: skip
    lowest = summary.fact("lowest_access_success", "min", percent_text)
    at = summary.where("lowest_access_success", "min")
    where = summary.fact("lowest_access_success_where", "at", at=at)
    out = [Headline(f"Lowest access success in the simulated hot cells: {lowest.shown} "
                    f"({where.shown}).", (lowest, where),
                    warning=isinstance(lowest.value, float) and lowest.value < 0.9)]  # fmt: skip
    prefix = "battery_life_lowest_years_"
    for metric in [m for m in summary.values if m.startswith(prefix)]:
        category = metric.removeprefix(prefix)
        life = summary.fact(metric, "min", years_text)
        at = summary.where(metric, "min")
        place = summary.fact(f"battery_life_lowest_where_{category}", "at", at=at)
        below = summary.fact(f"battery_below_design_year_{category}", "earliest")
        if below.value:
            share = summary.fact(f"battery_below_design_share_{category}", "mean",
                                 percent_text)  # fmt: skip
            text = (
                f"{category}: battery life falls below its design life from "
                f"{below.shown} in the hottest simulated cells; in the last simulated "
                f"year {share.shown} of its terminals there fall short; lowest "
                f"{life.shown} ({place.shown})."
            )
            out.append(Headline(text, (below, share, life, place), warning=True))
        else:
            out.append(Headline(f"{category}: battery life meets its design life in every "
                                f"simulated cell; lowest {life.shown} ({place.shown}).",
                                (below, life, place)))  # fmt: skip
    return out
