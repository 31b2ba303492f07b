"""A self-contained HTML report of one or more result folders (figures embedded)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from sim.report import plots
from sim.report.story import headlines
from sim.results import ACCESS_FAILURE_THRESHOLD, Tables
from sim.results.formatting import count_text, percent_text, years_text
from sim.study.compare import readable


def _table(frame: pd.DataFrame, caption: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:,.6g}"  # noqa: PLR0124 - NaN check
    return str(value)


COUNT, SHARE, YEARS, TEXT = "count", "share", "years", "text"
METRICS: dict[str, tuple[str, str]] = {
    "scenario": ("Scenario", TEXT), "seed": ("Seed", TEXT), "start": ("First month", TEXT),
    "end": ("Last month", TEXT),
    "resolution_terminals_per_cohort": ("Terminals per simulated cohort", COUNT),
    "cohorts_simulated": ("Cohorts simulated", COUNT),
    "initial_connected": ("Connected at the start (terminals)", COUNT),
    "initial_blocked": ("Blocked at the start (terminals)", COUNT),
    "arrived_total": ("Joined over the run (terminals)", COUNT),
    "retired_total": ("Left at the end of their life (terminals)", COUNT),
    "migrated_total": ("Moved off a technology switched off (terminals)", COUNT),
    "stranded_total": ("Lost to a switch-off (terminals)", COUNT),
    "connected_end": ("Connected at the end (terminals)", COUNT),
    "demand_end": ("Demand at the end (terminals)", COUNT),
    "connected_share_of_demand_end": ("Connected / demand at the end", SHARE),
    "blocked_total": ("Blocked over the run (terminals lost)", COUNT),
    "turned_away_total": ("Turned away by full cells (terminals)", COUNT),
    "waiting_end": ("Waiting at the end (terminals)", COUNT),
    "first_blocked_date": ("First month a terminal was blocked", TEXT),
    "first_full_date": ("First month a cell class was full", TEXT),
    "first_full_cells": ("First full cells (region/class/carrier)", TEXT),
    "first_full_resource": ("Their binding resource", TEXT),
    "cells_full_share_end": ("Cells in full classes at the end", SHARE),
    "sites_end_4G": ("4G sites at the end", COUNT), "sites_end_5G": ("5G sites at the end", COUNT),
    "peak_utilization": ("Busiest resource, smartphones included (share of budget)", SHARE),
    "peak_utilization_of_threshold": ("Busiest resource (share of its planning threshold)",
                                      SHARE),
    "peak_utilization_cells": ("Busiest resource: cells", TEXT),
    "peak_utilization_resource": ("Busiest resource", TEXT),
    "peak_utilization_date": ("Busiest resource: month", TEXT),
    "peak_headroom_used": ("IoT's highest use of what it may use", SHARE),
    "peak_headroom_used_cells": ("IoT's highest use: cells", TEXT),
    "peak_headroom_used_resource": ("IoT's highest use: resource", TEXT),
    "peak_headroom_used_date": ("IoT's highest use: month", TEXT),
    "turned_away": ("Turned away in cell class (terminals)", COUNT),
    "targets_met": ("Targets met", TEXT),
    "access_hottest_cell": ("Hottest simulated cell (access layer)", TEXT),
    "first_access_failure_year": ("First year access success < 90 %", TEXT),
    "first_access_failure_pool": ("Where access success first fell below 90 %", TEXT),
    "lowest_access_success": ("Lowest access success", SHARE),
    "lowest_access_success_where": ("Lowest access success: where", TEXT),
    "battery_below_design_year": ("Battery below design life from (year)", TEXT),
    "battery_below_design_where": ("Battery below design life: where", TEXT),
    "battery_below_design_why": ("Battery below design life: why", TEXT),
    "battery_life_lowest_years": ("Lowest battery life (years)", YEARS),
    "battery_life_lowest_where": ("Lowest battery life: where", TEXT),
    "battery_below_design_share": ("Terminals short of design life, last year", SHARE),
}  # fmt: skip
"""summary.csv's metrics: a label with its unit, and how the value is written.  A metric
with a suffix (a region, a carrier, a category, a cell class) takes its stem's label and
the suffix in brackets."""


def metric_label(metric: str) -> tuple[str, str]:
    """(label, kind) of a summary.csv metric: its own, or its longest stem's with the
    suffix named ('Connected at the end (terminals) — east')."""
    if metric in METRICS:
        return METRICS[metric]
    stems = [stem for stem in METRICS if metric.startswith(stem + "_")]
    if not stems:
        return metric.replace("_", " "), TEXT
    stem = max(stems, key=len)
    label, kind = METRICS[stem]
    return f"{label} — {metric.removeprefix(stem + '_')}", kind


def metric_value(value: object, kind: str) -> str:
    """A summary value written for its kind: 3.05 B, 14.8 %, 7.1 years, the text, or '—'
    where the run has none (no class filled, no access layer)."""
    text = "" if value is None else str(value)
    if text == "":
        return "—"  # none: no month filled, no cell blocked
    if kind == TEXT:
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    if kind == COUNT:
        return count_text(number)
    if kind == YEARS:
        return years_text(number)
    return percent_text(number)


@dataclass(frozen=True)
class Finding:
    """One sentence of "Read first", and whether it is a warning."""

    text: str
    warning: bool


def _replications(table: pd.DataFrame) -> int:
    return int(table["replication"].nunique()) if "replication" in table.columns else 1


def _in_how_many(count: int, replications: int) -> str:
    return f" in {count} of {replications} replications" if replications > 1 else ""


def _summaries(run: Tables) -> list[dict[str, str]]:
    """summary.csv as metric -> value, one mapping per replication."""
    summary = run.summary
    if summary.empty:
        return []
    groups = (
        summary.groupby("replication", sort=True)
        if "replication" in summary.columns
        else [(0, summary)]
    )
    return [dict(zip(rows["metric"].astype(str), rows["value"].fillna("").astype(str),
                     strict=True)) for _, rows in groups]  # fmt: skip


def _percent(share: float) -> str:
    """0.008 -> '0.8 %', 0.125 -> '12.5 %', 0 -> '0 %'."""
    return f"{share * 100:.3g} %"


def _cell_findings(run: Tables) -> list[Finding]:
    """Which cell class filled first and how many cells are full at the end; where none
    filled, that none did and which cells came closest (summary.csv)."""
    figures = _summaries(run)
    if not figures or "first_full_date" not in figures[0]:
        return []  # a summary without the cell figures: nothing to say about cells
    count = len(figures)
    filled = [f for f in figures if f["first_full_date"]]
    if not filled:
        return [_closest(figures)]
    first = min(filled, key=lambda f: f["first_full_date"])
    when = f"from {first['first_full_date']}"
    if count > 1:
        when = f"{_in_how_many(len(filled), count).strip()}, {when} at the earliest"
    out = [Finding(f"first full cell class: {first['first_full_cells']} (region/class/carrier) "
                   f"{when}, binding resource {first['first_full_resource']}",
                   warning=True)]  # fmt: skip
    prefix = "cells_full_share_end_"
    carriers = [m.removeprefix(prefix) for m in figures[0] if m.startswith(prefix)]
    shares = {c: sum(float(f.get(prefix + c) or 0) for f in figures) / count for c in carriers}
    if shares:
        each = ", ".join(f"{carrier} {_percent(share)}" for carrier, share in shares.items())
        mean = f" (mean of {count} replications)" if count > 1 else ""
        out.append(Finding(f"cells in full classes at {first['end']}: {each}{mean}",
                           warning=any(share > 0 for share in shares.values())))  # fmt: skip
    return out


def _closest(figures: list[dict[str, str]]) -> Finding:
    """The finding that no cell class filled, naming the cells where IoT came closest to
    filling what it may use (`peak_headroom_used*`), and, where another resource is busier
    once smartphones are counted, that one too (`peak_utilization*`); the highest peak over
    the replications."""
    none = "no cell class filled" + (f" in any of {len(figures)} replications"
                                     if len(figures) > 1 else "")  # fmt: skip
    iot = [f for f in figures if f.get("peak_headroom_used")]
    rated = [f for f in figures if f.get("peak_utilization_of_threshold")]
    if not iot and not rated:
        return Finding(none, warning=False)
    parts = [none]
    if iot:
        closest = max(iot, key=lambda f: float(f["peak_headroom_used"]))
        parts.append(
            f"IoT comes closest in {closest['peak_headroom_used_cells']} (region/class/carrier) "
            f"in {closest['peak_headroom_used_date']}, using "
            f"{_percent(float(closest['peak_headroom_used']))} of what it may use of the "
            f"{closest['peak_headroom_used_resource']}"
        )
    if rated:
        peak = max(rated, key=lambda f: float(f["peak_utilization_of_threshold"]))
        same = iot and (peak["peak_utilization_cells"], peak["peak_utilization_resource"]) == (
            closest["peak_headroom_used_cells"],
            closest["peak_headroom_used_resource"],
        )
        if not same:
            parts.append(
                f"the busiest resource, smartphones included: {peak['peak_utilization_cells']} "
                f"in {peak['peak_utilization_date']}, {peak['peak_utilization_resource']} at "
                f"{_percent(float(peak['peak_utilization_of_threshold']))} of its planning "
                f"threshold ({_percent(float(peak['peak_utilization']))} of its budget)"
            )
    return Finding("; ".join(parts), warning=False)


GROUP_FIGURES = (
    ("connected_end", "connected at the end"), ("demand_end", "demand at the end"),
    ("connected_share_of_demand_end", "connected / demand"),
    ("blocked_total", "blocked"), ("turned_away_total", "turned away"),
    ("waiting_end", "waiting at the end"), ("first_blocked_date", "first blocked"),
    ("first_full_date", "first full class"), ("first_full_cells", "first full cells"),
)  # fmt: skip
"""summary.csv's figures per official region (`<figure>_<region>`), with their headings;
`sites_end_<generation>_<region>` follow."""


def _groups(figures: dict[str, str]) -> list[str]:
    """The regions with parts (official regions, provinces) a summary has figures for."""
    return [m.removeprefix("connected_end_") for m in figures if m.startswith("connected_end_")]


def _group_sites(figures: dict[str, str], group: str) -> dict[str, str]:
    """{generation: metric} of a group's `sites_end_<generation>_<group>` figures: exactly
    that group's (`sites_end_4G_east/guangdong` is not the East's), generations having
    no '_'."""
    return {
        metric.removeprefix("sites_end_").removesuffix("_" + group): metric
        for metric in figures
        if metric.startswith("sites_end_")
        and metric.endswith("_" + group)
        and "_" not in metric.removeprefix("sites_end_").removesuffix("_" + group)
    }


def _count(value: float) -> str:
    """A count as a planner reads it: 499,142; 2.28 M; 3.05 B."""
    return count_text(value)


def _region_findings(run: Tables) -> list[Finding]:
    """Per official region: terminals connected of those demanded at the end, blocked and
    turned away over the run, sites per generation at the end and the first full cell
    class (summary.csv's `<figure>_<region>`; the mean over replications)."""
    figures = _summaries(run)
    if not figures:
        return []
    count = len(figures)
    mean = f" (mean of {count} replications)" if count > 1 else ""

    def average(metric: str) -> float:
        return sum(float(f.get(metric) or 0) for f in figures) / count

    out = []
    for group in _groups(figures[0]):
        connected, demand = average(f"connected_end_{group}"), average(f"demand_end_{group}")
        share = f" ({_percent(connected / demand)})" if demand else ""
        sites = ", ".join(
            f"{generation} {_count(average(metric))}"
            for generation, metric in _group_sites(figures[0], group).items()
        )
        filled = [f for f in figures if f.get(f"first_full_date_{group}")]
        if filled:
            first = min(filled, key=lambda f: f[f"first_full_date_{group}"])
            full = (f"first full cell class from {first[f'first_full_date_{group}']} "
                    f"({first[f'first_full_cells_{group}']})")  # fmt: skip
        else:
            full = "no cell class full"
        out.append(Finding(
            f"{group}: {_count(connected)} connected of {_count(demand)} demanded at "
            f"{figures[0]['end']}{share}; {_count(average(f'blocked_total_{group}'))} blocked "
            f"and {_count(average(f'turned_away_total_{group}'))} turned away over the run; "
            f"sites at the end: {sites}; {full}{mean}",
            warning=False))  # fmt: skip
    return out


def _region_table(runs: Sequence[Tables], names: Sequence[str]) -> pd.DataFrame:
    """The official regions' figures of summary.csv (replication 0), one row per scenario
    and region, counts in readable units."""
    rows = []
    for run, label in zip(runs, names, strict=True):
        figures = _summaries(run)
        if not figures:
            continue
        for group in _groups(figures[0]):
            row = {"scenario": label, "region": group}
            for metric, heading in GROUP_FIGURES:
                value = figures[0].get(f"{metric}_{group}", "")
                if value and metric.startswith("connected_share"):
                    value = _percent(float(value))
                elif value and metric.endswith(("_end", "_total")):
                    value = _count(float(value))
                row[heading] = value
            for generation, metric in _group_sites(figures[0], group).items():
                row[f"{generation} sites at the end"] = _count(float(figures[0][metric]))
            rows.append(row)
    return pd.DataFrame(rows)


def findings(run: Tables) -> list[Finding]:
    """What a planner should read first about one result folder: per region with parts
    (an official region, a province cut out of one) its totals, then the first cell class to
    fill and the share of cells full at the end (or, where none filled, the cells closest
    to their threshold), where terminals were turned away, targets missed, simulated cells
    below 90 % access success, and, where none did, that none did.  Every sentence is read
    off the folder's tables; with replications, it says in how many of them it held."""
    out = _region_findings(run) + _cell_findings(run)
    network = run.network
    replications = _replications(network)
    away = network[pd.to_numeric(network["turned_away"]) > 0]
    for (region, technology), rows in away.groupby(["region", "technology"], sort=True):
        when = f"from {rows['date'].min()}"
        if replications > 1:
            when = f"{_in_how_many(_replications(rows), replications)}, {when} at the earliest"
        out.append(Finding(f"{region}/{technology} turned terminals away {when.strip()}: they "
                           "fell back, waited or were blocked", warning=True))  # fmt: skip
    targets = run.targets
    if targets.empty:
        out.append(Finding("no targets set", warning=False))
    else:
        met = targets["met"].astype(str).str.lower().isin(["true", "1"])
        missed = targets[~met]
        for name, rows in missed.groupby("name", sort=False):
            row = rows.iloc[0]
            required = int(float(str(row["required"])))
            out.append(Finding(f"target {name} missed{_in_how_many(len(rows), replications)} "
                               f"({row['metric']} {row['bound']} {required:,} at {row['date']})",
                               warning=True))  # fmt: skip
        if missed.empty:
            count = targets["name"].nunique()
            out.append(Finding(f"{'the' if count == 1 else 'all'} {count} target"
                               f"{'' if count == 1 else 's'} met"
                               f"{' in every replication' if replications > 1 else ''}",
                               warning=False))  # fmt: skip
    access = run.access
    if access.empty:
        out.append(Finding("the access layer was not run (no access.years)", warning=False))
        return out
    threshold = f"{ACCESS_FAILURE_THRESHOLD * 100:g} %"
    rated = access.assign(success=pd.to_numeric(access["success_probability"], errors="coerce"))
    failing = rated[rated["success"] < ACCESS_FAILURE_THRESHOLD]
    for (region, technology, cell), rows in failing.groupby(["region", "technology", "cell"]):
        worst = rows.sort_values("success", kind="stable").iloc[0]
        when = f"from {rows['year'].min()}"
        if _replications(access) > 1:
            held = _in_how_many(_replications(rows), _replications(access))
            when = f"{held}, {when} at the earliest"
        out.append(Finding(f"access success below {threshold} in the {cell} {region}/"
                           f"{technology} cell {when.strip()}; lowest "
                           f"{worst['success'] * 100:.1f} % in {worst['year']}",
                           warning=True))  # fmt: skip
    cells = ["year", "region", "technology", "cell"]
    measured = rated.dropna(subset=["success"]).groupby(cells).ngroups
    idle = rated.groupby(cells).ngroups - measured
    if failing.empty and measured:
        cells_text = f"all {measured} simulated cells" if measured > 1 else "the simulated cell"
        out.append(Finding(f"{cells_text} with attempts at or above {threshold} access "
                           "success", warning=False))  # fmt: skip
    if idle:
        out.append(Finding(f"{idle} simulated cell{'s' if idle > 1 else ''} saw no attempt "
                           "(nothing to measure)", warning=False))  # fmt: skip
    out.extend(_battery_findings(run))
    return out


def _battery_findings(run: Tables) -> list[Finding]:
    """Per battery-powered category (summary.csv's battery_* figures): the first year its
    worst-off terminals in the hottest simulated cell fall below the design life, where
    and why; or that they never do, with the lowest life seen."""
    figures = _summaries(run)
    if not figures:
        return []
    prefix = "battery_below_design_year_"
    out = []
    for metric in (m for m in figures[0] if m.startswith(prefix)):
        category = metric.removeprefix(prefix)
        short = [f for f in figures if f.get(metric)]
        if short:
            first = min(short, key=lambda f: int(f[metric]))
            held = _in_how_many(len(short), len(figures))
            out.append(Finding(
                f"{category}: battery life below its design life{held} from "
                f"{first[metric]} in the hottest simulated cell "
                f"({first['battery_below_design_where_' + category]}, region/technology/"
                f"coverage): {first['battery_below_design_why_' + category]}",
                warning=True))  # fmt: skip
        else:
            lowest = min(figures, key=lambda f: float(f["battery_life_lowest_years_" + category]))
            out.append(Finding(
                f"{category}: battery life meets its design life in every simulated cell; "
                f"lowest {float(lowest['battery_life_lowest_years_' + category]):.1f} "
                f"years ({lowest['battery_life_lowest_where_' + category]})",
                warning=False))  # fmt: skip
    return out


def warnings(runs: Sequence[Tables]) -> list[str]:
    """The warnings of "Read first", each prefixed with its scenario's label."""
    return [f"{label}: {finding.text}"
            for run, label in zip(runs, plots.labels(runs), strict=True)
            for finding in findings(run) if finding.warning]  # fmt: skip


def _read_first_html(runs: Sequence[Tables]) -> str:
    items = []
    for run, label in zip(runs, plots.labels(runs), strict=True):
        for finding in findings(run):
            css = ' class="warning"' if finding.warning else ""
            items.append(f"<li{css}>{html.escape(label)}: {html.escape(finding.text)}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _figure_html(name: str, runs: Sequence[Tables]) -> str:
    figure = plots.FIGURES[name](runs)
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=90)
    finally:
        plots.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    title = plots.caption(name)
    return (f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"/>'
            f"<figcaption>{html.escape(title)}</figcaption></figure>")  # fmt: skip


def _story_html(runs: Sequence[Tables]) -> str:
    """The opening sentences of each run, warnings in red."""
    parts = []
    for run, label in zip(runs, plots.labels(runs), strict=True):
        warning = ' class="warning"'
        items = "".join(
            f"<li{warning if line.warning else ''}>{html.escape(line.text)}</li>"
            for line in headlines(run)
        )
        heading = f"<h3>{html.escape(label)}</h3>" if len(runs) > 1 else ""
        parts.append(f'{heading}<ul class="story">{items}</ul>')
    return "".join(parts)


def _key_table(runs: Sequence[Tables], names: Sequence[str]) -> pd.DataFrame:
    """summary.csv's figures with labels and units, one column per scenario (the mean over
    replications for numbers, replication 0's text)."""
    columns: dict[str, dict[str, str]] = {}
    order: list[str] = []
    for run, label in zip(runs, names, strict=True):
        figures = _summaries(run)
        column: dict[str, str] = {}
        for metric in figures[0] if figures else {}:
            name, kind = metric_label(metric)
            values = [f.get(metric, "") for f in figures]
            if kind != TEXT and all(v != "" for v in values):
                try:
                    value: object = sum(float(v) for v in values) / len(values)
                except ValueError:
                    value = values[0]
            else:
                value = values[0]
            column[name] = metric_value(value, kind)
            order += [name] if name not in order else []
        columns[label] = column
    table = {label: [col.get(n, "") for n in order] for label, col in columns.items()}
    return pd.DataFrame(table, index=pd.Index(order, name="figure")).reset_index()


def build_report(runs: Sequence[Tables], comparison: pd.DataFrame | None = None) -> str:
    """The report as one HTML string (XHTML-compatible, no external resources): the
    story first (sentences built from the tables, `sim.report.story`), then the figures,
    then the findings in detail and the tables, labelled and formatted."""
    names = plots.labels(runs)
    provenance = pd.DataFrame(
        [
            {
                "scenario": label,
                "folder": str(run.path) if run.path else "",
                "file": run.manifest.get("scenario_file") or "",
                "seed": run.manifest.get("seed"),
                "replications": run.manifest.get("replications", 1),
                "started (UTC)": run.manifest.get("started_utc", ""),
                "wall time (s)": run.manifest.get("wall_time_s", ""),
                "iotsim": (run.manifest.get("versions") or {}).get("iotsim", ""),
                "sha-256": str(run.manifest.get("scenario_sha256", ""))[:16],
            }
            for run, label in zip(runs, names, strict=True)
        ]
    )
    mean = any(int(run.manifest.get("replications", 1) or 1) > 1 for run in runs)
    sections = [
        '<section id="summary"><h2>Summary</h2>' + _story_html(runs) + "</section>",
        '<section id="figures"><h2>Figures</h2>'
        + "".join(_figure_html(name, runs) for name in plots.available(runs))
        + "</section>",
        '<section id="warnings"><h2>Findings in detail</h2>' + _read_first_html(runs)
        + "</section>",
    ]  # fmt: skip
    regions = _region_table(runs, names)
    if not regions.empty:
        sections.append('<section id="regions"><h2>Official regions</h2>'
                        + _table(regions, "summary.csv's figures summed over each region's "
                                 "parts (replication 0 where there are several)")
                        + "</section>")  # fmt: skip
    sections.append('<section id="key-figures"><h2>Key figures</h2>'
                    + _table(_key_table(runs, names), "summary.csv, labelled"
                             + (" (numbers: the mean of the replications)" if mean else ""))
                    + "</section>")  # fmt: skip
    if comparison is not None and not comparison.empty:
        sections.append('<section id="comparison"><h2>Comparison with the first folder</h2>'
                        + _table(readable(comparison), "p (BH): Welch's t-test, "
                                 "Benjamini-Hochberg adjusted; exact: no spread over the "
                                 "replications, no test; ! flagged")
                        + "</section>")  # fmt: skip
    sections.append('<section id="provenance"><h2>Scenarios and provenance</h2>'
                    + _table(provenance) + "</section>")  # fmt: skip
    title = "iotsim report — " + ", ".join(names)
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:70em;color:#222}"
        "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
        "th,td{border:1px solid #ccc;padding:0.2em 0.5em;text-align:right}"
        "th{background:#eee}td:first-child{text-align:left}"
        "li.warning{color:#a00}figure{margin:1em 0}img{max-width:100%}"
        "ul.story li{margin:0.3em 0;font-size:1.05em}"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"/>'
        f"<title>{html.escape(title)}</title><style>{style}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>" + "".join(sections) + "</body></html>\n"
    )
