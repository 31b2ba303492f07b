"""Dates and names that validated but broke later: years outside 1900-2200 (pandas
timestamps in plot and report), a scenario name too long for a folder, and region,
technology and target names that were not checked at all (line breaks, '/', a leading '='
that a spreadsheet runs as a formula)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import ScenarioError, load_scenario
from sim.scenario.fields import FIRST_YEAR, LAST_YEAR, MAX_NAME_CHARACTERS

CATEGORY = "categories:\n  m: {preset: water_meter, initial: 1000, technologies: [nb-iot]}\n"
NAME_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit"


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


# --------------------------------------------------------------------------- the scenario name


def test_a_name_too_long_for_a_folder_is_refused_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 300-character name validated, then `run` failed after simulating."""
    path = _write(tmp_path, "name: " + "n" * 300 + "\n" + CATEGORY)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}:1:7: name: " in err
    assert f"at most {MAX_NAME_CHARACTERS} characters" in err
    assert "nothing was run or written" in err
    assert not out.exists()


def test_a_name_of_the_longest_length_is_fine(tmp_path: Path) -> None:
    name = "n" * MAX_NAME_CHARACTERS
    assert load_scenario(_write(tmp_path, f"name: {name}\nend: 2023-12\n" + CATEGORY)).name == name


def test_a_file_name_too_long_for_a_default_name_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path, "end: 2023-12\n" + CATEGORY, name="f" * 150 + ".yaml")
    ((field, message, _),) = _problems(path)
    assert field == "name"
    assert f"at most {MAX_NAME_CHARACTERS} characters" in message
    assert "the file name" in message
    assert "name:" in message


# --------------------------------------------------------------------------- other names

BAD_NAMES = [
    pytest.param('"a/b"', "'a/b'", id="slash"),
    pytest.param('"=SUM(A1)"', "'=SUM(A1)'", id="formula"),
    pytest.param('"+1"', "'+1'", id="leading-plus"),
    pytest.param('"-x"', "'-x'", id="leading-minus"),
    pytest.param('"@cmd"', "'@cmd'", id="leading-at"),
    pytest.param('"line\\nbreak"', "'line\\nbreak'", id="line-break"),
    pytest.param('"with space"', "'with space'", id="space"),
    pytest.param('""', "''", id="empty"),
    pytest.param("x" * (MAX_NAME_CHARACTERS + 1), "101 characters", id="too-long"),
]


def _region_text(name: str) -> str:
    return f"name: t\nregions:\n  {name}: {{terminal_share: 1, site_share: 1}}\n" + CATEGORY


def _carried_text(name: str) -> str:
    return (
        f"name: t\nnetwork:\n  technologies:\n    nb-iot: {{generation: 4G}}\n"
        f"    {name}: {{generation: 4G}}\n" + CATEGORY
    )


NEW_TECHNOLOGY = (
    "{carrier: nb-iot, load: {uplink: 1, downlink: 1, random_access: 0.1, contexts: 0.01}}"
)


def _override_text(name: str) -> str:
    return f"name: t\ntechnologies:\n  {name}: {NEW_TECHNOLOGY}\n" + CATEGORY


def _target_text(name: str) -> str:
    return "name: t\n" + CATEGORY + f"targets:\n  - {{name: {name}, date: 2025-01, at_least: 1}}\n"


def _category_text(name: str) -> str:
    return f"name: t\ncategories:\n  {name}: {{preset: water_meter, initial: 1000}}\n"


WHERE = [
    pytest.param(_region_text, "regions", id="region"),
    pytest.param(_carried_text, "network.technologies", id="carried-technology"),
    pytest.param(_override_text, "technologies", id="technology-override"),
    pytest.param(_target_text, "targets[0].name", id="target"),
    pytest.param(_category_text, "categories", id="category"),
]


@pytest.mark.parametrize(("make", "where"), WHERE)
@pytest.mark.parametrize(("name", "shown"), BAD_NAMES)
def test_a_bad_name_is_refused_where_the_scenario_is_read(
    tmp_path: Path, make: object, where: str, name: str, shown: str
) -> None:
    assert callable(make)
    path = _write(tmp_path, make(name))
    problems = _problems(path)
    named = [p for p in problems if p[0] == where or p[0].startswith(where + ".")]
    assert len(named) == 1, problems
    field, message, line = named[0]
    assert shown in message or shown in field, named
    assert NAME_RULE in message or f"at most {MAX_NAME_CHARACTERS} characters" in message
    assert line is not None


@pytest.mark.parametrize(("make", "where"), WHERE)
def test_good_names_are_read(tmp_path: Path, make: object, where: str) -> None:
    assert callable(make)
    name = "Dense_urban-2.0"
    text = make(name)
    if where == "network.technologies":  # a new technology needs a carrier and loads
        text += f"technologies:\n  {name}: {NEW_TECHNOLOGY}\n"
    scenario = load_scenario(_write(tmp_path, text))
    names = {
        "regions": scenario.regions,
        "network.technologies": scenario.network.technologies,
        "technologies": scenario.technologies,
        "targets[0].name": [target.name for target in scenario.targets],
        "categories": scenario.categories,
    }[where]
    assert name in names


@pytest.mark.parametrize("date", ["2024-02-30", "0000-01-01", "2024-13-01"])
def test_a_date_that_does_not_exist_is_a_clear_error(tmp_path: Path, date: str) -> None:
    """PyYAML raised a bare ValueError (a traceback) building such a date."""
    path = _write(tmp_path, f"name: t\nend: {date}\n" + CATEGORY)
    ((field, message, line),) = _problems(path)
    assert (field, line) == ("", 2)
    assert f"'{date}' is not a date" in message
