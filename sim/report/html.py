"""A self-contained HTML report of one or more result folders (figures embedded)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import pandas as pd

from sim.report import plots
from sim.results import Tables

ACCESS_FAILURE = 0.9


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


def warnings(runs: Sequence[Tables]) -> list[str]:
    """What a planner should read first: pools that fill, targets missed, failing cells."""
    found = []
    for run, label in zip(runs, plots.labels(runs), strict=True):
        network = run.network
        full = network[pd.to_numeric(network["turned_away"]) > 0]
        for pool, rows in full.groupby([full["region"], full["technology"]]):
            found.append(f"{label}: pool {pool[0]}/{pool[1]} is full from {rows['date'].min()} "
                         "(terminals fell back, waited or were blocked)")  # fmt: skip
        targets = run.targets
        if not targets.empty:
            missed = targets[~targets["met"].astype(str).str.lower().isin(["true", "1"])]
            for row in missed.drop_duplicates("name").itertuples():
                found.append(f"{label}: target {row.name} missed ({row.metric} {row.bound} "
                             f"{int(float(str(row.required))):,} at {row.date})")  # fmt: skip
        access = run.access
        if not access.empty:
            failing = access[pd.to_numeric(access["success_probability"]) < ACCESS_FAILURE]
            for row in failing.drop_duplicates(
                ["year", "region", "technology", "cell"]
            ).itertuples():
                success = float(str(row.success_probability))
                where = f"{row.cell} {row.region}/{row.technology} cell in {row.year}"
                found.append(f"{label}: access success {success:.1%} in the {where}")
    return found


def _figure_html(name: str, runs: Sequence[Tables]) -> str:
    figure = plots.FIGURES[name](runs)
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=90)
    finally:
        plots.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    title = name.replace("_", " ")
    return (f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"/>'
            f"<figcaption>{html.escape(title)}</figcaption></figure>")  # fmt: skip


def build_report(runs: Sequence[Tables], comparison: pd.DataFrame | None = None) -> str:
    """The report as one HTML string (XHTML-compatible, no external resources)."""
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
    columns = {}
    for run, label in zip(runs, names, strict=True):
        summary = run.summary
        if "replication" in summary.columns:
            summary = summary[summary["replication"] == summary["replication"].min()]
        columns[label] = summary.set_index("metric")["value"]
    key_table = pd.DataFrame(columns).reset_index(names="figure")
    found = warnings(runs)
    warning_html = ("<ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in found) + "</ul>"
                    if found else "<p>None: no pool filled, every target met, every cell "
                    "above 90 % access success.</p>")  # fmt: skip
    sections = [
        '<section id="warnings"><h2>Read first</h2>' + warning_html + "</section>",
        '<section id="provenance"><h2>Scenarios and provenance</h2>'
        + _table(provenance)
        + "</section>",
        '<section id="key-figures"><h2>Key figures</h2>'
        + _table(key_table, "summary.csv (replication 0 where there are several)")
        + "</section>",
    ]
    if comparison is not None and not comparison.empty:
        shown = comparison.drop(columns=["baseline", "folder"], errors="ignore")
        sections.append('<section id="comparison"><h2>Comparison with the first folder</h2>'
                        + _table(shown) + "</section>")  # fmt: skip
    sections.append('<section id="figures"><h2>Figures</h2>'
                    + "".join(_figure_html(name, runs) for name in plots.available(runs))
                    + "</section>")  # fmt: skip
    title = "iotsim report — " + ", ".join(names)
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:70em;color:#222}"
        "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
        "th,td{border:1px solid #ccc;padding:0.2em 0.5em;text-align:right}"
        "th{background:#eee}td:first-child{text-align:left}"
        "#warnings li{color:#a00}figure{margin:1em 0}img{max-width:100%}"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"/>'
        f"<title>{html.escape(title)}</title><style>{style}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>" + "".join(sections) + "</body></html>\n"
    )
