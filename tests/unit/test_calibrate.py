"""`iotsim calibrate`: the history file's checks, filters, free-parameter paths, the
identifiability errors, the rewrite of the scenario text and the outputs (all or none)."""

from __future__ import annotations

import difflib
import errno
import math
import os
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.cli import main
from sim.engine import build_plan
from sim.scenario import ScenarioError, load_scenario
from sim.study.calibrate import (
    Observation,
    _Model,
    calibrate,
    calibrated_text,
    category_demand,
    free_parameters,
    parse_history,
)

SCENARIO = """\
# yaml-language-server: $schema=../sim/scenario.schema.json
# a small scenario for the calibration tests
name: calib-test
start: 2023-01
end: 2026-12

regions:
  east: {terminal_share: 0.6, site_share: 0.5}   # assumption
  west: {terminal_share: 0.4, site_share: 0.5}

categories:
  water_meter:
    preset: water_meter
    initial: 1000000      # one million meters (assumption)
    growth:
      model: logistic
      rate: 0.5           # per year (assumption)
      saturation: 3000000
  gas_meter: {preset: gas_meter, initial: 500000, growth: {model: cagr, rate: 0.2}}
  tracker: {preset: tracker, initial: 200000}   # growth: the default (cagr, rate 0)
"""

FLAGSHIP = Path(__file__).resolve().parents[2] / "scenarios" / "china_miit_2027.yaml"
OFFICIAL = Path(__file__).resolve().parents[1] / "validation" / "data" / "china_miit_history.csv"
TRUTH = {"categories.water_meter.growth.rate": 0.62, "categories.water_meter.growth.saturation":
         2_600_000, "categories.gas_meter.growth.rate": 0.15}  # fmt: skip


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "calib.yaml"
    path.write_text(SCENARIO)
    return path


def _true_total(path: Path, dates: list[str], category: str | None = None) -> list[float]:
    """Demand of the scenario with TRUTH's values at the month ends `dates` (no noise)."""
    scenario = load_scenario(path)
    data = scenario.model_dump(mode="json")
    for name, value in TRUTH.items():
        node = data
        *head, last = name.split(".")
        for step in head:
            node = node[step]
        node[last] = value
    from sim.scenario import parse_scenario

    true = parse_scenario(data)
    names = [category] if category else list(true.categories)
    total = sum(category_demand(true, name).sum(axis=(1, 2)) for name in names)
    start = 2022 * 12 + 11
    return [float(total[int(d[:4]) * 12 + int(d[5:]) - 1 - start]) for d in dates]


DATES = [f"{year}-{month:02d}" for year in (2023, 2024, 2025) for month in (3, 6, 9, 12)]


def _history(path: Path, tmp_path: Path, category: str | None = None, dates: list[str] = DATES,
             extra: str = "") -> Path:  # fmt: skip
    values = _true_total(path, dates, category)
    rows = [f"{d},{category or ''},{v:.0f},MIIT (test)" for d, v in zip(dates, values, strict=True)]
    history = tmp_path / "history.csv"
    history.write_text("date,category,value,source\n" + "\n".join(rows) + "\n" + extra)
    return history


# ---- the history file ----------------------------------------------------------------


def _problem(text: str, scenario_file: Path, metric: str | None = None) -> tuple[int | None, str]:
    with pytest.raises(ScenarioError) as caught:
        parse_history(text, "h.csv", load_scenario(scenario_file), metric)
    problem = caught.value.problems[0]
    assert problem.file == "h.csv"
    return problem.line, f"{problem.path}: {problem.message}"


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("2023/05,,1000", "date", "expected a month as YYYY-MM"),
        ("2023-13,,1000", "date", "expected a month as YYYY-MM"),
        ("2022-11,,1000", "date", "2022-11 is before the scenario's horizon"),
        ("2027-01,,1000", "date", "2027-01 is after the scenario's horizon"),
        ("2023-05,,abc", "value", "got 'abc': expected a number > 0"),
        ("2023-05,,0", "value", "got '0': expected a number > 0"),
        ("2023-05,,-5", "value", "expected a number > 0"),
        ("2023-05,,nan", "value", "expected a number > 0"),
        ("2023-05,,true", "value", "got 'true'"),
        ("2023-05,,", "value", "got ''"),
        ("2023-05,water_metre,1000", "category", "did you mean 'water_meter'?"),
        ("2023-05,water_meter++gas_meter,1000", "category", "an empty name"),
        ("2023-05,gas_meter+gas_meter,1000", "category", "a name given twice"),
    ],
)
def test_a_bad_row_names_file_line_column_and_what_is_allowed(
    row: str, column: str, words: str, scenario_file: Path
) -> None:
    line, message = _problem(f"date,category,value\n2023-01,,5\n{row}\n", scenario_file)
    assert line == 3
    assert message.startswith(f"{column}: ")
    assert words in message


def test_region_and_technology_filters_are_checked(scenario_file: Path) -> None:
    text = "date,region,technology,value\n2023-01,eats,,5\n2023-02,,nb-iott,5\n"
    with pytest.raises(ScenarioError) as caught:
        parse_history(text, "h.csv", load_scenario(scenario_file), None)
    (region, technology) = caught.value.problems
    assert (region.line, region.path) == (2, "region")
    assert "did you mean 'east'?" in region.message
    assert (technology.line, technology.path) == (3, "technology")
    assert "did you mean 'nb-iot'?" in technology.message


def test_a_row_spanning_lines_is_located_at_its_start(scenario_file: Path) -> None:
    text = 'date,value,source\n2023-01,5,"two\nlines"\n2023-02,x,ok\n'
    assert _problem(text, scenario_file)[0] == 4


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("date,values\n2023-01,5\n", 1, "no value column"),
        ("date,value\n2023-01,5,7\n", 2, "3 fields, the header has 2"),
        ("date,value\n2023-01,5\n2023-01,6\n", 3, "repeats line 2"),
        ("", None, "the file is empty"),
        ("date,value\n", None, "no rows to fit"),
    ],
)
def test_bad_files(text: str, line: int | None, words: str, scenario_file: Path) -> None:
    found_line, message = _problem(text, scenario_file)
    assert found_line == line
    assert words in message


def test_the_metric_column_selects_rows(scenario_file: Path) -> None:
    scenario = load_scenario(scenario_file)
    text = "date,metric,value\n2023-01,iot,5\n2023-02,sites,7\n2019-01,other,x\n"
    history = parse_history(text, "h.csv", scenario, "iot")
    assert [o.value for o in history.observations] == [5.0]  # the others are not even read
    assert "choose one with --metric" in _problem(text, scenario_file)[1]
    assert "did you mean 'iot'?" in _problem(text, scenario_file, "iott")[1]
    one = parse_history("date,metric,value\n2023-01,iot,5\n", "h.csv", scenario, None)
    assert one.metric == "iot"
    assert "no metric column" in _problem("date,value\n2023-01,5\n", scenario_file, "iot")[1]
    blank = "date,metric,value\n2023-01,iot,5\n2023-02,,7\n"
    assert _problem(blank, scenario_file) == (3, "metric: empty; name the row's metric (iot)")


# ---- filters and the model -----------------------------------------------------------


def test_filters_sum_what_they_name(scenario_file: Path) -> None:
    scenario = load_scenario(scenario_file)
    text = (
        "date,category,region,technology,value,unit\n"
        "2024-06,,,,1,x\n2024-06,water_meter+gas_meter,,,1,x\n"
        "2024-06,,east,,1,x\n2024-06,water_meter,west,nb-iot,1,x\n"
    )
    history = parse_history(text, "h.csv", scenario, None)
    values = _Model(scenario, [], history.observations)(np.zeros(0))
    plan = build_plan(scenario)
    at = history.observations[0].t
    assert at == 18  # 2024-06 is 18 month ends after 2022-12
    demand = plan.demand[at]  # [category, region, technology]
    cats, regions, techs = plan.categories, plan.network.regions, plan.network.technologies
    expected = [
        demand.sum(),
        demand[[cats.index("water_meter"), cats.index("gas_meter")]].sum(),
        demand[:, regions.index("east")].sum(),
        demand[cats.index("water_meter"), regions.index("west"), techs.index("nb-iot")],
    ]
    assert values == pytest.approx(expected, rel=1e-12)
    assert len(set(np.round(values))) == 4  # four different sums


def test_a_region_filter_takes_its_nested_regions(tmp_path: Path) -> None:
    """A group's name counts its leaves (by the scenario's one resolver, leaves_of)."""
    nested = SCENARIO.replace(
        "  east: {terminal_share: 0.6, site_share: 0.5}   # assumption",
        "  east:\n    terminal_share: 0.6\n    site_share: 0.5\n    regions:\n"
        "      dense_urban: {terminal_share: 0.25, site_share: 0.1}\n"
        "      rural: {terminal_share: 0.75, site_share: 0.9}",
    )
    path = tmp_path / "nested.yaml"
    path.write_text(nested)
    scenario = load_scenario(path)
    text = "date,region,value\n2024-12,east,1000\n2024-12,east/rural,1000\n"
    history = parse_history(text, "h.csv", scenario, None)
    model = _Model(scenario, [], history.observations)
    demand = build_plan(scenario).demand[24].sum(axis=(0, 2))  # [region] at 2024-12
    leaves = list(build_plan(scenario).network.regions)
    assert leaves == ["east/dense_urban", "east/rural", "west"]
    assert model(np.zeros(0)) == pytest.approx([demand[:2].sum(), demand[1]], rel=1e-12)
    with pytest.raises(ScenarioError, match="did you mean 'east/rural'"):
        parse_history("date,region,value\n2024-12,east/rurl,1\n", "h.csv", scenario, None)


@pytest.mark.parametrize(
    "path", sorted(p for p in (Path(__file__).parents[2] / "scenarios").glob("*.yaml"))
)
def test_category_demand_is_the_plans_demand(path: Path) -> None:
    scenario = load_scenario(path)
    plan = build_plan(scenario)
    for c, name in enumerate(plan.categories):
        assert np.array_equal(category_demand(scenario, name), plan.demand[:, c]), name


# ---- free parameters -----------------------------------------------------------------


def test_a_star_step_takes_every_category_with_the_field(scenario_file: Path) -> None:
    scenario = load_scenario(scenario_file)
    rates = free_parameters(scenario, ["categories.*.growth.rate"])
    assert [p.name for p in rates] == [
        "categories.water_meter.growth.rate", "categories.gas_meter.growth.rate",
        "categories.tracker.growth.rate",
    ]  # fmt: skip
    saturations = free_parameters(scenario, ["categories.*.growth.saturation"])
    assert [p.name for p in saturations] == ["categories.water_meter.growth.saturation"]
    logistic, cagr, _ = rates
    assert (logistic.lower, logistic.upper) == (5e-324, 10.0)  # Field(gt=0, le=10)
    assert cagr.lower == pytest.approx(-1.0)
    assert cagr.lower > -1.0
    (initial,) = free_parameters(scenario, ["categories.gas_meter.initial"])
    assert (initial.whole, initial.value, initial.unit) == (True, 500000.0, "terminals")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("categories.water_meter.growth.rte", "unknown field 'rte'"),
        ("categories.water_meter.growth.model", "is text ('logistic'), not a number"),
        ("categories.water_meter.growth", "is a mapping"),
        ("categories.water_meter.technologies", "is a list"),
        ("categories.water_meter.patience_months", "not set (null)"),
        ("categories.*.growth.nothing", "matches no field"),
        ("seed", "only fields of a category can be fitted"),
        ("categories..rate", "bad field path"),
    ],
)
def test_bad_free_paths(path: str, words: str, scenario_file: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        free_parameters(load_scenario(scenario_file), [path])
    assert words in str(caught.value)


def test_a_boolean_field_is_not_a_number(scenario_file: Path) -> None:
    scenario = load_scenario(scenario_file)
    flags = [
        name for name, value in scenario.categories["water_meter"].model_dump().items()
        if isinstance(value, bool)
    ]  # fmt: skip
    for name in flags:  # no category field is a boolean today; the check stands for one
        with pytest.raises(ScenarioError, match="true/false"):
            free_parameters(scenario, [f"categories.water_meter.{name}"])
    with pytest.raises(ScenarioError, match="given twice"):
        free_parameters(scenario, ["categories.*.growth.rate", "categories.gas_meter.growth.rate"])


# ---- identifiability -----------------------------------------------------------------


def _fit(scenario_file: Path, history: Path, free: list[str], cutoff: str | None = None):  # type: ignore[no-untyped-def]
    scenario = load_scenario(scenario_file)
    parsed = parse_history(history.read_text(), str(history), scenario, None)
    return calibrate(scenario, parsed, free_parameters(scenario, free), cutoff)


def test_fewer_points_than_parameters(scenario_file: Path, tmp_path: Path) -> None:
    history = _history(scenario_file, tmp_path, "water_meter", DATES[:1])
    with pytest.raises(ScenarioError, match="2 free parameters but only 1 point"):
        _fit(scenario_file, history, ["categories.water_meter.growth.*"])


def test_a_parameter_the_rows_do_not_see(scenario_file: Path, tmp_path: Path) -> None:
    history = _history(scenario_file, tmp_path, "gas_meter")
    with pytest.raises(ScenarioError) as caught:
        _fit(scenario_file, history, ["categories.gas_meter.growth.rate",
                                      "categories.water_meter.growth.rate"])  # fmt: skip
    assert "does not constrain categories.water_meter.growth.rate" in str(caught.value)
    assert "gas_meter.growth.rate" not in str(caught.value).split("constrain")[1]


def test_parameters_seen_only_through_a_total(scenario_file: Path, tmp_path: Path) -> None:
    # one month's total and its eastern part, 0.6 of it whatever the categories: two rows,
    # but one equation for the two initial bases
    history = tmp_path / "h.csv"
    history.write_text("date,region,value\n2024-06,,2000000\n2024-06,east,1200000\n")
    with pytest.raises(ScenarioError) as caught:
        _fit(scenario_file, history, ["categories.gas_meter.initial",
                                      "categories.tracker.initial"])  # fmt: skip
    message = str(caught.value)
    assert "cannot tell apart" in message
    assert "gas_meter.initial" in message
    assert "tracker.initial" in message


def test_as_many_points_as_parameters_fits_without_uncertainty(
    scenario_file: Path, tmp_path: Path
) -> None:
    history = _history(scenario_file, tmp_path, "water_meter", ["2024-06", "2025-06"])
    fit = _fit(scenario_file, history, ["categories.water_meter.growth.*"])
    assert fit.dof == 0
    assert all(math.isnan(p.se) and math.isnan(p.ci_low) for p in fit.parameters)
    assert any("uncertainty is undefined" in note for note in fit.notes)
    rate, saturation = (p.fitted for p in fit.parameters)
    assert rate == pytest.approx(0.62, rel=1e-4)  # two exact points: the true values
    assert saturation == pytest.approx(2_600_000, rel=1e-4)


def test_a_cutoff_leaving_nothing_to_predict(scenario_file: Path, tmp_path: Path) -> None:
    history = _history(scenario_file, tmp_path, "water_meter")
    with pytest.raises(ScenarioError, match=r"no point of .* is after 2026-01"):
        _fit(scenario_file, history, ["categories.water_meter.growth.rate"], "2026-01")


def test_a_backtest_predicts_the_later_points(scenario_file: Path, tmp_path: Path) -> None:
    history = _history(scenario_file, tmp_path, "water_meter")
    fit = _fit(scenario_file, history, ["categories.water_meter.growth.*"], "2024-06")
    points = fit.points
    assert list(points["used_in_fit"]) == [d <= "2024-06" for d in DATES]
    assert fit.used == 6
    assert fit.dof == 4
    mean, most = fit.backtest_summary() or (math.nan, math.nan)
    assert most < 0.01  # noise-free history of the same model: predicted to 0.01 %
    assert mean <= most
    assert fit.parameters[0].fitted == pytest.approx(0.62, rel=1e-4)


# ---- the calibrated scenario file ---------------------------------------------------


def test_the_rewrite_changes_only_the_fitted_numbers(scenario_file: Path, tmp_path: Path) -> None:
    history = _history(scenario_file, tmp_path, None)
    free = ["categories.water_meter.growth.rate", "categories.water_meter.growth.saturation",
            "categories.gas_meter.growth.rate"]  # fmt: skip
    fit = _fit(scenario_file, history, free)
    text = scenario_file.read_text()
    new = calibrated_text(text, str(scenario_file), fit, "o.yaml")
    old_lines, new_lines = text.splitlines(), new.splitlines()
    header = [line for line in new_lines if line not in old_lines and line.startswith("#")]
    assert any("Calibrated by `iotsim calibrate` on history.csv" in line for line in header)
    assert new_lines[0] == old_lines[0]  # the schema modeline stays first
    body = [line for line in new_lines if line not in header]
    changed = [(a, b) for a, b in zip(old_lines, body, strict=True) if a != b]
    assert len(body) == len(old_lines)  # nothing else added
    fitted = {p.name.split(".")[-1]: p.fitted for p in fit.parameters}
    assert changed == [
        ("      rate: 0.5           # per year (assumption)",
         f"      rate: {fit.parameters[0].fitted!r}           # per year (assumption)"),
        ("      saturation: 3000000", f"      saturation: {round(fitted['saturation'])}"),
        ("  gas_meter: {preset: gas_meter, initial: 500000, growth: {model: cagr, rate: 0.2}}",
         "  gas_meter: {preset: gas_meter, initial: 500000, growth: {model: cagr, rate: "
         f"{fit.parameters[2].fitted!r}}}}}"),
    ]  # fmt: skip
    assert [p.fitted for p in fit.parameters] == pytest.approx(
        [0.62, 2_600_000, 0.15], rel=1e-4
    )  # a noise-free history: the true values
    out = tmp_path / "o.yaml"
    out.write_text(new)
    reloaded = load_scenario(out)
    assert reloaded.categories["water_meter"].growth.rate == fit.parameters[0].fitted  # type: ignore[union-attr]
    assert reloaded.categories["gas_meter"].growth.rate == fit.parameters[2].fitted  # type: ignore[union-attr]


def test_a_field_from_a_default_is_inserted(scenario_file: Path, tmp_path: Path) -> None:
    text = "date,category,value\n2023-12,tracker,230000\n2024-12,tracker,264500\n"
    history = tmp_path / "h.csv"
    history.write_text(text)
    fit = _fit(scenario_file, history, ["categories.tracker.growth.rate"])
    new = calibrated_text(scenario_file.read_text(), str(scenario_file), fit, "o.yaml")
    line = next(line for line in new.splitlines() if line.startswith("  tracker:"))
    assert line == (
        "  tracker: {preset: tracker, initial: 200000, growth: {model: cagr, rate: 0.15}}"
        "   # growth: the default (cagr, rate 0)"
    )


def test_a_value_shared_through_an_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "aliased.yaml"
    path.write_text(SCENARIO.replace("      rate: 0.5 ", "      rate: &r 0.5 ").replace(
        "growth: {model: cagr, rate: 0.2}", "growth: {model: cagr, rate: *r}"))  # fmt: skip
    history = _history(path, tmp_path, "water_meter")
    fit = _fit(path, history, ["categories.water_meter.growth.rate"])
    with pytest.raises(ScenarioError, match=r"YAML alias .* write categories.water_meter"):
        calibrated_text(path.read_text(), str(path), fit, "o.yaml")


# ---- the command ---------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *arguments: object) -> tuple[int, str, str]:
    code = main([str(a) for a in arguments])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_the_command_writes_three_files(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _history(scenario_file, tmp_path, "water_meter")
    out = tmp_path / "out" / "fitted.yaml"
    code, printed, _ = _run(capsys, "calibrate", scenario_file, history, "--free",
                            "categories.water_meter.growth.*", "--cutoff", "2024-12",
                            "--out", out)  # fmt: skip
    assert code == 0
    assert "fitted to the demand (expected installed base with no capacity limit)" in printed
    assert "back-test: 4 point(s) after 2024-12 predicted with mean absolute error" in printed
    fit = (tmp_path / "out" / "fitted.fit.csv").read_text().splitlines()
    assert fit[0] == "parameter,unit,initial,fitted,se,ci_low,ci_high,at_bound"
    assert fit[1].startswith("categories.water_meter.growth.rate,1/year,0.5,0.62")
    points = (tmp_path / "out" / "fitted.points.csv").read_text().splitlines()
    assert points[0] == ("date,category,region,technology,observed,fitted,residual_log,"
                         "error_pct,used_in_fit")  # fmt: skip
    assert len(points) == 1 + len(DATES)
    assert points[-1].endswith(",False")
    assert points[1].endswith(",True")
    assert _run(capsys, "validate", out)[0] == 0


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ([], "give at least one --free PATH"),
        (["--free", "categories.water_meter.growth.rte"], "unknown field 'rte'"),
        (
            ["--free", "categories.*.growth.rate"],  # the rows are the water meters'
            "does not constrain categories.gas_meter.growth.rate, categories.tracker.growth.rate",
        ),
        (["--free", "categories.water_meter.growth.rate", "--cutoff", "2024"], "--cutoff"),
        (["--free", "categories.water_meter.growth.rate", "--metric", "x"], "no metric column"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    arguments: list[str], words: str, scenario_file: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    history = _history(scenario_file, tmp_path, "water_meter")
    out = tmp_path / "o.yaml"
    code, _, err = _run(capsys, "calibrate", scenario_file, history, *arguments, "--out", out)
    assert code == 2
    assert words in err
    assert "nothing was written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calib.yaml", "history.csv"]


def test_a_bad_history_row_exits_2_naming_its_line(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _history(scenario_file, tmp_path, "water_meter", extra="2025-13,water_meter,5,x\n")
    code, _, err = _run(capsys, "calibrate", scenario_file, history, "--free",
                        "categories.water_meter.growth.rate")  # fmt: skip
    assert code == 2
    assert f"error: {history}:{len(DATES) + 2}: date: got '2025-13'" in err


def test_the_output_may_not_replace_an_input(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _history(scenario_file, tmp_path, "water_meter")
    before = scenario_file.read_text()
    code, _, err = _run(capsys, "calibrate", scenario_file, history, "--free",
                        "categories.water_meter.growth.rate", "--out", scenario_file)  # fmt: skip
    assert code == 2
    assert "is an input" in err
    assert scenario_file.read_text() == before


def test_a_failed_write_leaves_every_output_as_it_was(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    history = _history(scenario_file, tmp_path, "water_meter")
    out = tmp_path / "out" / "fitted.yaml"
    arguments = ["calibrate", scenario_file, history, "--free",
                 "categories.water_meter.growth.rate", "--out", out]  # fmt: skip
    assert _run(capsys, *arguments)[0] == 0
    before = {p.name: p.read_bytes() for p in out.parent.iterdir()}
    assert len(before) == 3
    real = Path.write_bytes
    writes = []

    def third_fails(self: Path, data: bytes) -> int:  # the points table: the last one
        writes.append(self)
        if len(writes) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", third_fails)
    history.write_text(history.read_text().replace(",MIIT", "1,MIIT", 1))  # another fit
    code, _, err = _run(capsys, *arguments)
    assert code == 2
    assert "No space left on device" in err
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == before


def test_the_calibrated_file_header_is_valid_yaml_comment(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _history(scenario_file, tmp_path, "water_meter")
    out = tmp_path / "fitted.yaml"
    assert _run(capsys, "calibrate", scenario_file, history, "--free",
                "categories.water_meter.growth.rate", "--out", out)[0] == 0  # fmt: skip
    data = yaml.safe_load(out.read_text())
    assert data["categories"]["water_meter"]["growth"]["rate"] == pytest.approx(0.6, abs=0.1)
    diff = list(difflib.unified_diff(SCENARIO.splitlines(), out.read_text().splitlines(), n=0))
    added = [line for line in diff if line.startswith("+") and not line.startswith("+++")]
    assert all(line.startswith("+#") or "rate:" in line for line in added)


def test_observation_labels() -> None:
    row = Observation(2, "2023-01", 1, ("a", "b"), (), ("nb-iot",), 5.0)
    assert (row.label("category"), row.label("region"), row.label("technology")) == (
        "a+b", "", "nb-iot",
    )  # fmt: skip


def test_an_interval_is_cut_to_the_fields_bounds(scenario_file: Path, tmp_path: Path) -> None:
    # one degree of freedom and a point 30 % off: t(0.975, 1) = 12.7 standard errors
    history = _history(scenario_file, tmp_path, "water_meter", ["2023-06", "2024-06", "2025-06"])
    lines = history.read_text().splitlines()
    date, category, value, source = lines[1].split(",")
    lines[1] = ",".join([date, category, str(round(float(value) * 1.3)), source])
    history.write_text("\n".join(lines) + "\n")
    fit = _fit(scenario_file, history, ["categories.water_meter.growth.*"])
    rate = fit.parameters[0]
    assert fit.dof == 1
    assert rate.fitted - 12.7 * rate.se < 0  # the unclipped interval reaches below 0
    assert rate.ci_low == 0.0  # Field(gt=0): the interval is cut at 0


def test_the_readme_example_prints_what_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).resolve().parents[2]
    text = (root / "README.md").read_text()
    section = text[text.index("## Calibrate") : text.index("## How the model works")]
    (history,) = re.findall(r"```csv\n(.*?)```", section, flags=re.DOTALL)
    (command,) = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    (shown,) = re.findall(r"```text\n(.*?)```", section, flags=re.DOTALL)
    shutil.copytree(root / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    words = shlex.split(command)
    assert words[:2] == ["iotsim", "calibrate"]
    assert main(words[1:]) == 0
    assert capsys.readouterr().out == shown
    assert main(["validate", "results/china-backtest.yaml"]) == 0
    # the excerpt shown is the bundled history's first lines, and every total in that file
    # is the reference data's (MIIT, tests/validation/data/china_miit_history.csv)
    bundled = (root / "scenarios" / "history" / "china_miit.csv").read_text()
    assert bundled.startswith(history)
    official = pd.read_csv(OFFICIAL)
    official = official[official["metric"] == "cellular_iot_connections"]
    rows = pd.read_csv(root / "scenarios" / "history" / "china_miit.csv").fillna("")
    totals = rows[rows["category"] == ""]
    for row in totals.itertuples():
        assert official.loc[official["date"] == row.date, "value"].tolist() == [row.value]
    assert len(official[official["date"] >= "2022-12"]) == len(totals)


def test_official_points_before_the_flagships_start_are_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # MIIT's totals from 2017-12 to 2022-08 precede the flagship's t = 0 (2022-12): each is
    # named with its line; the fit is not run on the rest silently
    code, _, err = _run(capsys, "calibrate", FLAGSHIP, OFFICIAL, "--metric",
                        "cellular_iot_connections", "--free",
                        "categories.white_goods.growth.rate")  # fmt: skip
    assert code == 2
    official = pd.read_csv(OFFICIAL)
    before = official[(official["metric"] == "cellular_iot_connections")
                      & (official["date"] < "2022-12")]  # fmt: skip
    for index, date in before["date"].items():  # line: the header, then row `index`
        line = int(str(index)) + 2
        assert f"error: {OFFICIAL}:{line}: date: {date} is before the scenario's horizon" in err
    assert f"{len(before)} problems; nothing was written" in err
    assert "2022-12 is" not in err  # t = 0, the end of the month before start, is inside


def test_every_rate_of_the_flagship_from_totals_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "totals.csv"
    history.write_text("date,value\n2022-12,1845000000\n2023-06,2120000000\n"
                       "2024-07,2547000000\n2024-08,2565000000\n")  # fmt: skip
    code, _, err = _run(capsys, "calibrate", FLAGSHIP, history, "--free",
                        "categories.*.growth.rate", "--out", tmp_path / "o.yaml")  # fmt: skip
    assert code == 2
    assert "10 free parameters but only 4 point(s)" in err
    # white goods' rate explains the total; the wearables' shrinking rate runs to where
    # their curve falls faster than terminals leave (3-year lifetimes): no joins follow it
    # and no point depends on the rate any more: refused, and said so
    two = ["--free", "categories.white_goods.growth.rate", "--free",
           "categories.wearable.growth.rate"]  # fmt: skip
    code, _, err = _run(capsys, "calibrate", FLAGSHIP, history, *two, "--out", tmp_path / "o.yaml")
    assert code == 2
    assert "the history does not constrain categories.wearable.growth.rate" in err
    assert "a curve falling faster than terminals leave" in err


def test_the_same_fit_writes_the_same_bytes(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _history(scenario_file, tmp_path, None)
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name / "fitted.yaml"
        free = ["--free", "categories.*.growth.rate", "--cutoff", "2024-12"]
        assert _run(capsys, "calibrate", scenario_file, history, *free, "--out", out)[0] == 0
        outputs.append({p.name: p.read_bytes() for p in out.parent.iterdir()})
    assert outputs[0] == outputs[1]  # no date of fit, no absolute path in the files
    assert len(outputs[0]) == 3


# ---- scales: one factor for several fields -------------------------------------------


def _scaled_history(path: Path, tmp_path: Path, factor: float) -> Path:
    """Totals of the scenario with water and gas meters' rates both times `factor`."""
    from sim.scenario import parse_scenario

    data = load_scenario(path).model_dump(mode="json")
    for name in ("water_meter", "gas_meter"):
        data["categories"][name]["growth"]["rate"] *= factor
    true = parse_scenario(data)
    total = sum(category_demand(true, name).sum(axis=(1, 2)) for name in true.categories)
    start = 2022 * 12 + 11
    rows = [f"{d},{total[int(d[:4]) * 12 + int(d[5:]) - 1 - start]:.0f}" for d in DATES]
    history = tmp_path / "scaled.csv"
    history.write_text("date,value\n" + "\n".join(rows) + "\n")
    return history


def test_a_scale_multiplies_every_field_it_matches(scenario_file: Path, tmp_path: Path) -> None:
    """Rates 0.5 and 0.2 seen only through their total cannot both be fitted, but one factor
    on both can: a noise-free history made with factor 1.3 gives back 1.3 and both rates."""
    history = _scaled_history(scenario_file, tmp_path, 1.3)
    scenario = load_scenario(scenario_file)
    parsed = parse_history(history.read_text(), str(history), scenario, None)
    free = free_parameters(scenario, [], ["categories.{water_meter,gas_meter}.growth.rate"])
    assert [(p.unit, p.value) for p in free] == [("factor", 1.0)]
    fit = calibrate(scenario, parsed, free)
    assert fit.parameters[0].fitted == pytest.approx(1.3, rel=1e-5)
    assert fit.parameters[0].fields == (
        "categories.water_meter.growth.rate",
        "categories.gas_meter.growth.rate",
    )
    rates = {n: c.growth.rate for n, c in fit.scenario.categories.items() if n != "tracker"}  # type: ignore[union-attr]
    assert rates == pytest.approx({"water_meter": 0.65, "gas_meter": 0.26}, rel=1e-5)
    new = calibrated_text(scenario_file.read_text(), str(scenario_file), fit, "o.yaml")
    out = tmp_path / "o.yaml"
    out.write_text(new)
    reloaded = load_scenario(out)
    assert reloaded.categories["gas_meter"].growth.rate == rates["gas_meter"]  # type: ignore[union-attr]
    assert "    categories.water_meter.growth.rate = 0.65" in new


def test_a_scale_keeps_every_field_within_its_bounds(scenario_file: Path) -> None:
    scenario = load_scenario(scenario_file)
    (scale,) = free_parameters(scenario, [], ["categories.{water_meter,gas_meter}.growth.rate"])
    # logistic rate <= 10 (0.5 -> factor 20), cagr rate <= 10 (0.2 -> 50): the tighter holds
    assert scale.upper == pytest.approx(10 / 0.5)
    assert [p[1] for p, _, _ in scale.scaled] == ["water_meter", "gas_meter"]


@pytest.mark.parametrize(
    ("scale", "free", "words"),
    [
        (["categories.{water_meter,gas_metre}.growth.rate"], [], "did you mean 'gas_meter'"),
        (["categories.tracker.growth.rate"], [], "a scale multiplies values other than 0"),
        (["categories.water_meter.growth.rate"], ["categories.water_meter.growth.rate"],
         "given twice"),
    ],
)  # fmt: skip
def test_bad_scales(scale: list[str], free: list[str], words: str, scenario_file: Path) -> None:
    with pytest.raises(ScenarioError, match=re.escape(words)):
        free_parameters(load_scenario(scenario_file), free, scale)


def test_a_set_step_frees_each_named_field(scenario_file: Path) -> None:
    free = free_parameters(
        load_scenario(scenario_file), ["categories.{water_meter,gas_meter}.growth.rate"]
    )
    assert [p.name for p in free] == [
        "categories.water_meter.growth.rate",
        "categories.gas_meter.growth.rate",
    ]
