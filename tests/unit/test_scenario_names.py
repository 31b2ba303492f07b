"""Dates that validated but broke later: years outside 1900-2200 (pandas timestamps in
plot and report), and dates that do not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load_scenario
from sim.scenario.fields import FIRST_YEAR, LAST_YEAR

CATEGORY = "categories:\n  m: {preset: water_meter, initial: 1000, technologies: [nb-iot]}\n"


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[tuple[str, str, int | None]]:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    for problem in raised.value.problems:
        assert "\n" not in str(problem)
    return [(p.path, p.message, p.line) for p in raised.value.problems]


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("lines", "path", "month"),
    [
        pytest.param("start: 0001-01\nend: 0002-12\n", "start", "0001-01", id="start-year-1"),
        pytest.param("start: 9990-01\nend: 9999-12\n", "start", "9990-01", id="start-year-9990"),
        pytest.param("end: 9999-12\n", "end", "9999-12", id="end-year-9999"),
        pytest.param("start: 1899-12\n", "start", "1899-12", id="start-before-1900"),
        pytest.param("start: 2201-01\nend: 2201-12\n", "start", "2201-01", id="start-after-2200"),
        pytest.param(
            "targets:\n  - {name: x, date: 0003-01, at_least: 1}\n",
            "targets[0].date",
            "0003-01",
            id="target-date",
        ),
        pytest.param(
            "network:\n  technologies:\n    nb-iot: {generation: 4G, share: {0000-01: 0.5}}\n",
            "network.technologies.nb-iot.share",
            "0000-01",
            id="share-schedule-key",
        ),
    ],
)
def test_a_month_outside_1900_2200_is_refused(
    tmp_path: Path, lines: str, path: str, month: str
) -> None:
    problems = _problems(_write(tmp_path, "name: t\n" + lines + CATEGORY))
    matching = [p for p in problems if p[0] == path]
    assert len(matching) == 1, problems
    assert month in matching[0][1]
    assert f"{FIRST_YEAR}-01" in matching[0][1]
    assert f"{LAST_YEAR}-12" in matching[0][1]
    assert matching[0][2] is not None


@pytest.mark.parametrize(
    ("category", "path"),
    [
        pytest.param(
            "  m:\n    preset: water_meter\n    initial: 1000\n"
            "    growth: {model: targets, values: {9990-01: 5000}}\n",
            "categories.m.growth.values",
            id="targets-anchor",
        ),
        pytest.param(
            "  m:\n    preset: water_meter\n    initial: 1000\n    mix: {0001-01: {nb-iot: 1.0}}\n",
            "categories.m.mix",
            id="dated-mix",
        ),
    ],
)
def test_a_dated_key_outside_1900_2200_is_refused(tmp_path: Path, category: str, path: str) -> None:
    problems = _problems(_write(tmp_path, "name: t\ncategories:\n" + category))
    assert len(problems) == 1, problems
    assert problems[0][0] == path or problems[0][0].startswith(path + "."), problems
    assert f"from {FIRST_YEAR}-01 to {LAST_YEAR}-12" in problems[0][1]


def test_the_first_and_last_allowed_years_are_fine(tmp_path: Path) -> None:
    first = load_scenario(_write(tmp_path, "name: t\nstart: 1900-01\nend: 1901-12\n" + CATEGORY))
    assert first.start == "1900-01"
    last = load_scenario(_write(tmp_path, "name: t\nstart: 2199-01\nend: 2200-12\n" + CATEGORY))
    assert last.end == "2200-12"


@pytest.mark.parametrize("date", ["2024-02-30", "0000-01-01", "2024-13-01"])
def test_a_date_that_does_not_exist_is_a_clear_error(tmp_path: Path, date: str) -> None:
    """PyYAML raised a bare ValueError (a traceback) building such a date."""
    path = _write(tmp_path, f"name: t\nend: {date}\n" + CATEGORY)
    ((field, message, line),) = _problems(path)
    assert (field, line) == ("", 2)
    assert f"'{date}' is not a date" in message
