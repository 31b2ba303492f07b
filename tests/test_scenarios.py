"""Every bundled scenario runs; the reference scenario matches official statistics;
the README's examples run as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim import Result, load_scenario, run
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
REFERENCE = pd.read_csv(ROOT / "tests" / "validation" / "data" / "china_miit_history.csv")


def reference(date: str, metric: str) -> float:
    row = REFERENCE[(REFERENCE["date"] == date) & (REFERENCE["metric"] == metric)]
    return float(row["value"].iloc[0])


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_bundled_scenario_runs_from_the_command_line(path: Path, tmp_path: Path) -> None:
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    for name in ("connections.csv", "network.csv", "targets.csv", "summary.csv", "manifest.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert path.read_text().startswith(
        "# yaml-language-server: $schema=../sim/scenario.schema.json"
    )


def test_scenarios_readme_describes_every_scenario() -> None:
    text = (ROOT / "scenarios" / "README.md").read_text()
    for path in SCENARIOS:
        assert f"`{path.name}`" in text


@pytest.fixture(scope="module")
def china_run() -> Result:
    """One run of the flagship for every test of it (a run takes several seconds)."""
    return run(ROOT / "scenarios" / "china_miit_2027.yaml")


@pytest.fixture(scope="module")
def china(china_run: Result) -> pd.DataFrame:
    return china_run.connections


def test_china_starts_from_the_end_2022_statistics(china: pd.DataFrame) -> None:
    start = china[china["date"] == "2022-12"]
    assert start["connected"].sum() == reference("2022-12", "cellular_iot_connections")


def test_china_demand_passes_the_july_2024_figure_within_2_percent(china: pd.DataFrame) -> None:
    """MIIT: 2.547 B cellular IoT connections at the end of July 2024."""
    demand = china.loc[china["date"] == "2024-07", "demand"].sum()
    observed = reference("2024-07", "cellular_iot_connections")
    assert abs(demand / observed - 1) < 0.02


def test_china_checks_the_2027_target(china: pd.DataFrame, china_run: Result) -> None:
    """MIIT's target of more than 3.6 B by 2027 is in the file and checked; on the trend
    fitted to MIIT's figures to 2025-12 it is missed (scenarios/README.md says by how much),
    and targets.csv says so, with the figure it read."""
    scenario = load_scenario(ROOT / "scenarios" / "china_miit_2027.yaml")
    target = reference("2027-12", "cellular_iot_connections_target")
    assert any(t.date == "2027-12" and t.at_least == target for t in scenario.targets)
    connected = china.loc[china["date"] == "2027-12", "connected"].sum()
    targets = china_run.targets.set_index("name")
    assert targets.loc["miit-2027", "achieved"] == connected
    assert bool(targets.loc["miit-2027", "met"]) == (connected >= target)
    assert "3.6 B" in (ROOT / "scenarios" / "README.md").read_text()


def test_china_network_starts_from_the_end_2022_5g_count(china_run: Result) -> None:
    network = china_run.network
    nr = network[(network["date"] == "2022-12") & (network["technology"] == "nr")]
    assert nr["sites"].sum() == pytest.approx(reference("2022-12", "base_stations_5g"), abs=2)
    nr_2023 = network[(network["date"] == "2023-12") & (network["technology"] == "nr")]
    assert nr_2023["sites"].sum() == pytest.approx(reference("2023-12", "base_stations_5g"), abs=2)


def test_capacity_crunch_shows_filling_fallback_and_blocking() -> None:
    """The hottest dense-urban NB-IoT cells fill on their downlink (deep-coverage meters'
    repetitions); the three when_full policies show in the CSVs.  Cost: one run, ~5 s."""
    result = run(ROOT / "scenarios" / "china_capacity_crunch.yaml")
    assert result.figure("first_full_cells") == "dense_urban/p99-100/nb-iot"
    assert result.figure("first_full_resource") == "downlink"
    assert result.figure("first_full_date") < "2030-01"
    cells = result.cells
    full = cells[cells["full"]]
    # only the hottest class of dense-urban NB-IoT cells fills; rural cells never do
    assert set(full["region"] + "/" + full["cell_class"] + "/" + full["carrier"]) == {
        "dense_urban/p99-100/nb-iot"
    }
    assert full["turned_away"].sum() > 0
    assert float(result.figure("cells_full_share_end_nb-iot")) > 0
    table = result.connections
    dense = table[table["region"] == "dense_urban"]
    assert dense.loc[dense["category"] == "smoke_detector", "blocked"].sum() > 0  # drop
    assert dense.loc[dense["category"] == "gas_meter", "waiting"].max() > 0  # wait
    # waiting gas meters take freed capacity before new arrivals, so within their 6 months'
    # patience they are not lost (none were in 8 replications), as scenarios/README says
    assert table.loc[table["category"] == "gas_meter", "blocked"].sum() == 0
    readme = (ROOT / "scenarios" / "README.md").read_text()
    assert "Gas meters are not blocked" in readme
    # fallback: dense-urban water meters on Cat.1 beyond their 15 % mix share (connected /
    # demand was 1.11 to 1.21 over 8 replications; without fallback it is about 1)
    meters = dense[(dense["category"] == "water_meter") & (dense["date"] == "2030-12")]
    cat1 = meters[meters["technology"] == "lte-cat1"].iloc[0]
    assert cat1["connected"] > 1.05 * cat1["demand"]


def _readme_blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_readme_cli_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    shutil.copytree(ROOT / "sim", tmp_path / "sim", ignore=shutil.ignore_patterns("*.py*"))
    monkeypatch.chdir(tmp_path)
    usage = next(block for block in _readme_blocks("bash") if "iotsim validate" in block)
    commands = [line.split("#")[0].strip() for line in usage.splitlines()]
    ran = 0
    for command in filter(None, commands):
        words = command.split()
        if words[:1] == ["iotsim"]:
            words = words[1:]
        elif words[:3] == ["python", "-m", "sim"]:
            words = words[3:]
        if ">" in words:
            words = words[: words.index(">")]
        if words[:1] == ["validate"]:
            words = ["validate", *map(str, sorted(Path("scenarios").glob("*.yaml")))]
        assert main(words) == 0, command
        ran += 1
    assert ran == 5


def test_readme_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    run(ROOT / "scenarios" / "china_capacity_crunch.yaml").write("results/china-capacity-crunch")
    # the worked study's block reads a sweep: test_readme_worked_study_runs runs it
    blocks = [block for block in _readme_blocks("python") if "duckdb" not in block]
    assert len(blocks) == 2
    names: dict[str, object] = {}
    for code in blocks:
        namespace: dict[str, object] = {}
        exec(compile(code, "README.md", "exec"), namespace)
        names.update(namespace)
    assert (tmp_path / "results" / "crunch-seed3" / "connections.csv").exists()
    figure = names["figure"]
    assert figure.axes[0].get_ylabel()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def storms() -> dict[str, Result]:
    """The two meter-storm runs, shared by the tests that read them (each takes seconds)."""
    return {name: run(ROOT / "scenarios" / f"{name}.yaml")
            for name in ("china_meter_storm", "china_meter_storm_jitter")}  # fmt: skip


@pytest.mark.slow
def test_readme_figure_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storms: dict[str, Result]
) -> None:
    monkeypatch.chdir(tmp_path)
    run(ROOT / "scenarios" / "china_capacity_crunch.yaml").write("results/china-capacity-crunch")
    for result in storms.values():
        result.write(f"results/{result.scenario.name}")
    block = next(b for b in _readme_blocks("bash") if "iotsim report" in b)
    commands = [line.split("#")[0].split() for line in block.splitlines()]
    for words in filter(None, commands):
        assert main(words[1:]) == 0, " ".join(words)
    assert (
        len(list((tmp_path / "results" / "china-capacity-crunch" / "figures").glob("*.png"))) >= 5
    )
    from sim.report import plots
    from sim.results import read_tables

    storms = [read_tables(tmp_path / "results" / name)
              for name in ("china-meter-storm", "china-meter-storm-jitter")]  # fmt: skip
    drawn = sorted(p.stem for p in (tmp_path / "results" / "storm-figures").glob("*.svg"))
    assert drawn == sorted(plots.available(storms))
    assert "access_by_year" in drawn
    assert "cells_nb-iot" in drawn
    assert (tmp_path / "results" / "report.html").stat().st_size > 100_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # nothing in the root


def test_meter_storm_fails_in_dense_urban_nb_iot_and_jitter_puts_it_off(
    storms: dict[str, Result],
) -> None:
    storm, jitter = storms["china_meter_storm"], storms["china_meter_storm_jitter"]
    assert storm.figure("first_access_failure_pool") == "dense_urban/nb-iot"
    first = int(storm.figure("first_access_failure_year"))
    assert 2023 <= first <= 2030
    # spreading the reads over a minute fails later, if at all
    later = jitter.figure("first_access_failure_year")
    assert later == "" or int(later) > first
    # the same terminals and reports: only their timing differs
    assert storm.connections.equals(jitter.connections)
    hot = (
        (storm.access["region"] == "dense_urban")
        & (storm.access["technology"] == "nb-iot")
        & (storm.access["cell"] == "p99")
    )
    spread = jitter.access.loc[hot, "success_probability"].to_numpy()
    burst = storm.access.loc[hot, "success_probability"].to_numpy()
    assert (spread > burst).all()
    assert burst.min() < 0.9


def test_readme_shows_the_storm_excerpts() -> None:
    text = (ROOT / "scenarios" / "README.md").read_text()
    assert "china_meter_storm.yaml" in text
    assert "china_meter_storm_jitter.yaml" in text
    assert "success_probability" in text


@pytest.mark.slow
@pytest.mark.slow
def test_readme_worked_study_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner study as the README gives it: the sweep (5 variants x 3 replications of
    the flagship), the pandas and DuckDB reading, the comparison and report of the two
    extremes; what the README says of them holds."""
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    blocks = [b for b in _readme_blocks("bash") if "iotsim sweep scenarios/china_miit" in b]
    blocks += [b for b in _readme_blocks("bash") if "water-meter-reports.html" in b]
    commands = [line.split() for block in blocks for line in block.splitlines() if line.strip()]
    assert [words[:2] for words in commands] == [
        ["iotsim", "sweep"],
        ["iotsim", "compare"],
        ["iotsim", "report"],
    ]
    assert main(commands[0][1:]) == 0
    sweep = tmp_path / "results" / "china-miit-2027-sweep"
    index = pd.read_csv(sweep / "sweep.csv")
    assert list(index["status"]) == ["complete"] * 5
    study = next(b for b in _readme_blocks("python") if "duckdb" in b)
    # in a process of its own, as a reader would run it: DuckDB's query engine handles
    # SIGINT itself, and this process must keep Python's Ctrl-C handling for other tests
    printed = subprocess.run([sys.executable, "-c", study], capture_output=True, text=True,
                             check=True, cwd=tmp_path).stdout  # fmt: skip
    rate = "categories.water_meter.traffic.reports_per_day"
    # as the README reads it: nothing fills up to 8 reports a day, the hottest cells fill
    # from 2024-07 at 16, and water meters move to Cat.1
    assert index[rate].tolist() == [1, 2, 4, 8, 16]
    assert index["first_full_date"].isna().tolist() == [True] * 4 + [False]
    assert str(index["first_full_date"].iloc[4]).startswith("2024-07")
    assert index["peak_headroom_used_mean"].is_monotonic_increasing
    assert "2024-07..2025-07" in printed
    assert "68.49" in printed
    for words in commands[1:]:
        assert main(words[1:]) == 0, " ".join(words)
    comparison = pd.read_csv(tmp_path / "results" / "comparison.csv")
    flagged = comparison[comparison["flagged"]]
    assert set(flagged["figure"]) == {"utilization_end", "first_full"}
    assert flagged.loc[flagged["figure"] == "utilization_end", "key"].str.endswith("/nb-iot").all()
    assert (tmp_path / "results" / "water-meter-reports.html").stat().st_size > 100_000


def test_run_prints_the_first_access_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The meter storm's headline is an access failure: `run` prints it with the other key
    figures (year and pool, as in summary.csv)."""
    path = ROOT / "scenarios" / "china_meter_storm.yaml"
    assert main(["run", str(path), "--out", str(tmp_path / "storm")]) == 0
    summary = pd.read_csv(tmp_path / "storm" / "summary.csv", dtype=str, keep_default_na=False)
    figures = dict(zip(summary["metric"], summary["value"], strict=True))
    lines = capsys.readouterr().out.splitlines()
    year, pool = figures["first_access_failure_year"], figures["first_access_failure_pool"]
    assert year  # the storm fails
    assert pool
    assert any(line.split() == ["first_access_failure_year", year] for line in lines), lines
    assert any(line.split() == ["first_access_failure_pool", pool] for line in lines), lines


def test_run_with_replications_prints_text_figures_as_ranges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Text figures have no mean: with replications `run` prints the range seen."""
    path = ROOT / "scenarios" / "china_capacity_crunch.yaml"
    out = tmp_path / "crunch"
    assert main(["run", str(path), "--out", str(out), "--replications", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = pd.read_csv(out / "summary.csv", dtype=str, keep_default_na=False)
    dates = sorted(set(summary.loc[summary["metric"] == "first_full_date", "value"]))
    shown = next(line.split()[1] for line in lines if line.split()[0] == "first_full_date")
    assert shown == (dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}")
    cells = sorted(set(summary.loc[summary["metric"] == "first_full_cells", "value"]))
    shown_cells = next(line.split()[1] for line in lines if line.split()[0] == "first_full_cells")
    assert shown_cells == (cells[0] if len(cells) == 1 else f"{cells[0]}..{cells[-1]}"), lines
