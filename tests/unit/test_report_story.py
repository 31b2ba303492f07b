"""The report's opening sentences are true by construction: every fact a sentence states is
read again here, independently, from the tables it names, and found in the sentence."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from helpers import tiny_scenario

from sim import run
from sim.report.story import Fact, Headline, headlines
from sim.results import Tables, read_tables

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Tables]:
    """Runs where cells fill (the capacity crunch, with replications), where nothing fills
    and no access layer runs (the tiny scenario, a target missed) and with the access
    layer and batteries (the meter storm)."""
    base = tmp_path_factory.mktemp("story")
    tiny = {**tiny_scenario(), "targets": [
        {"name": "too-high", "metric": "connected", "date": "2024-12", "at_least": 10**9},
        {"name": "easy", "metric": "connected", "date": "2024-06", "at_least": 1000},
    ]}  # fmt: skip
    folders = {
        "crunch": run(ROOT / "scenarios" / "china_capacity_crunch.yaml", replications=2),
        "tiny": run(tiny, replications=3),
        "storm": run(ROOT / "scenarios" / "china_meter_storm.yaml"),
    }
    return {name: read_tables(result.write(base / name)) for name, result in folders.items()}


def _summary_values(run: Tables, metric: str) -> list[str]:
    summary = run.summary
    if "replication" in summary.columns:
        summary = summary.sort_values("replication", kind="stable")
    values = summary.loc[summary["metric"] == metric, "value"].tolist()
    return ["" if (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]


def _read_again(fact: Fact, run: Tables) -> object:
    """The fact's value, read from its table by this test's own code."""
    if fact.table == "summary.csv":
        values = _summary_values(run, fact.key)

        def numbers() -> list[float]:
            return [float(v) for v in values if v != ""]

        return {
            "mean": lambda: sum(numbers()) / len(numbers()),
            "max": lambda: max(numbers()),
            "min": lambda: min(numbers()),
            "earliest": lambda: min([v for v in values if v], default=""),
            "count": lambda: sum(1 for v in values if v),
            "first": lambda: values[0],
            # the value in the replication another fact was found in: one of the values
            "at": lambda: fact.value if fact.value in values else ("not among", values),
        }[fact.how]()
    assert fact.table == "targets.csv", fact
    rows = run.targets[run.targets["name"] == fact.key]
    if fact.column == "met":
        return int(rows["met"].astype(str).str.lower().isin(["true", "1"]).sum())
    column = pd.to_numeric(rows[fact.column])
    return float(column.mean()) if fact.how == "mean" else float(column.iloc[0])


def _check(line: Headline, run: Tables) -> None:
    for fact in line.facts:
        again = _read_again(fact, run)
        if isinstance(again, float):
            assert float(str(fact.value)) == pytest.approx(again, rel=1e-9), (fact, line.text)
        else:
            assert str(fact.value) == str(again), (fact, line.text)
        assert fact.shown in line.text, (fact, line.text)


@pytest.mark.parametrize("name", ["crunch", "tiny", "storm"])
def test_every_sentence_states_what_its_tables_hold(tables: dict[str, Tables], name: str) -> None:
    lines = headlines(tables[name])
    assert len(lines) >= 3
    for line in lines:
        _check(line, tables[name])


def test_filled_cells_are_told_with_when_where_and_how_often(tables: dict[str, Tables]) -> None:
    lines = [line.text for line in headlines(tables["crunch"])]
    first = next(text for text in lines if text.startswith("The first cells to fill"))
    earliest = min(v for v in _summary_values(tables["crunch"], "first_full_date") if v)
    assert earliest in first
    assert "of 2 replications" in first
    assert not any(text.startswith("No cell class fills") for text in lines)


def test_no_access_layer_no_access_claims(tables: dict[str, Tables]) -> None:
    """A run without the access layer says so and states no access or battery figure."""
    texts = [line.text for line in headlines(tables["tiny"])]
    assert any("access layer was not run" in text for text in texts)
    assert not any("access success" in text.lower() or "battery life" in text.lower()
                   for text in texts if "not run" not in text)  # fmt: skip
    assert any(text.startswith("No cell class fills by 2024-12") for text in texts)
    missed = next(text for text in texts if "too-high" in text)
    assert "missed in every replication" in missed
    assert "1.00 B" in missed  # the required billion, readable
    assert any("easy" in text and "met in every replication" in text for text in texts)


def test_battery_sentences_follow_the_summary(tables: dict[str, Tables]) -> None:
    storm = tables["storm"]
    texts = [line.text for line in headlines(storm)]
    prefix = "battery_life_lowest_years_"
    categories = [str(m).removeprefix(prefix) for m in storm.summary["metric"]
                  if str(m).startswith(prefix)]  # fmt: skip
    assert categories
    for category in categories:
        text = next(t for t in texts if t.startswith(f"{category}: battery life"))
        year = _summary_values(storm, f"battery_below_design_year_{category}")[0]
        assert (f"from {year}" in text) == bool(year)
