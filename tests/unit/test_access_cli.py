"""`iotsim access`: one experiment from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from sim.access import METRICS
from sim.access.energy import power_model
from sim.access.experiment import MAX_DEVICES
from sim.access.procedure import PARAMETERS
from sim.access.reference import tr37868_reference
from sim.cli import main
from sim.cli.commands import _parser


def test_access_writes_a_tidy_csv_with_reference_metric_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, cdf = tmp_path / "m.csv", tmp_path / "cdf.csv"
    options = ["--devices", "3000", "--traffic", "beta", "--window", "10", "--replications", "3"]
    code = main(["access", *options, "--seed", "4", "--out", str(out), "--cdf", str(cdf)])
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["metric", "mean", "ci_low", "ci_high", "replications"]
    assert set(tr37868_reference()["metric"]) <= set(table["metric"])
    rated = table.dropna(subset=["ci_low"])  # the pooled p95 has no interval
    assert (rated["ci_low"] <= rated["mean"]).all()
    assert (rated["mean"] <= rated["ci_high"]).all()
    assert (table["replications"] == 3).all()
    shares = pd.read_csv(cdf)["share"]
    assert shares.is_monotonic_increasing
    assert shares.iloc[-1] == pytest.approx(1.0)
    assert "access_success_probability" in capsys.readouterr().out


def test_procedure_parameters_are_options(tmp_path: Path) -> None:
    """Fewer preambles and grants make the same load worse."""
    out_default, out_tight = tmp_path / "a.csv", tmp_path / "b.csv"
    base = ["access", "--devices", "8000", "--replications", "3"]
    assert main([*base, "--out", str(out_default)]) == 0
    assert main([*base, "--preambles", "20", "--grants-per-subframe", "1",
                 "--out", str(out_tight)]) == 0  # fmt: skip

    def success(path: Path) -> float:
        table = pd.read_csv(path).set_index("metric")
        return float(table.loc["access_success_probability", "mean"])

    assert success(out_tight) < success(out_default)


def test_bad_procedure_parameters_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["access", "--preambles", "0"]) == 2
    assert "--preambles 0: must be a whole number from 1 to 64" in capsys.readouterr().err
    assert main(["access", "--devices", "-5"]) == 2
    assert "--devices -5: must be a whole number from 1" in capsys.readouterr().err


def test_reference_table_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ref.csv"
    assert main(["access", "--tr37868", "--replications", "1", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == len(tr37868_reference())
    assert {"mean", "reference", "reference_ci95"} <= set(table.columns)
    printed = capsys.readouterr().out
    assert "reference" in printed
    # one replication and the pooled p95 have no interval, nor does the reference's p95
    assert "nan" not in printed
    p95 = [line for line in printed.splitlines() if "p95_access_delay_ms" in line]
    assert len(p95) == 6
    assert not any("[" in line or "±" in line for line in p95)


def test_prach_configuration_index_sets_the_opportunity_period(tmp_path: Path) -> None:
    """Index 3 (one RAO per 10 ms) halves the opportunities of index 6: more collisions."""
    runs = {}
    for index in (6, 3):
        out = tmp_path / f"{index}.csv"
        options = ["--devices", "5000", "--replications", "3"]
        index_option = ["--prach-configuration-index", str(index)]
        assert main(["access", *options, *index_option, "--out", str(out)]) == 0
        runs[index] = pd.read_csv(out).set_index("metric")["mean"]
    name = "collision_probability_per_transmission"
    assert runs[3][name] > 1.5 * runs[6][name]


def test_collision_probability_per_opportunity_is_a_probability(tmp_path: Path) -> None:
    """1,000 terminals within 1 ms collide for many RAOs after the window: the probability
    stays in [0, 1] (it was 33.6 when all collisions were divided by the window's RAOs)."""
    out = tmp_path / "m.csv"
    options = ["--devices", "1000", "--window", "0.001", "--replications", "3"]
    assert main(["access", *options, "--out", str(out)]) == 0
    table = pd.read_csv(out).set_index("metric")
    row = table.loc["collision_probability_per_opportunity"]
    assert 0 < row["mean"] <= 1
    assert row["ci_high"] <= 1


def _run(argv: list[str]) -> int:
    """main's exit code, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def _access_parser() -> argparse.ArgumentParser:
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["access"]


def test_help_says_what_every_option_takes(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["access", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert "95 % intervals" in text
    assert "%%" not in text
    for word in ("tr37868", "certain", "undetected", "contention", "beta", "uniform"):
        assert word in text
    assert f"default 10000; a whole number from 1 to {MAX_DEVICES:,}" in text
    for action in _access_parser()._actions:
        assert action.help, action.option_strings  # --seed had none
    for name, parameter in PARAMETERS.items():
        option = "--" + name.replace("_", "-")
        action = next(a for a in _access_parser()._actions if option in a.option_strings)
        assert parameter.allowed in " ".join(str(action.help).split()), option


# one bad value of every option, and what its one-line error must name
BAD_OPTIONS = [
    (["--devices", "10000000000"], f"--devices 10000000000: must be a whole number from 1 to "
                                   f"{MAX_DEVICES:,}"),
    (["--devices", "0"], "--devices 0: must be"),
    (["--devices", "many"], "--devices many: must be"),
    (["--window", "0"], "--window 0: must be a number in (0, 86400]"),
    (["--window", "nan"], "--window nan: must be"),
    (["--replications", "0"], "--replications 0: must be"),
    (["--seed", "-1"], "--seed -1: must be a whole number >= 0"),
    (["--traffic", "poisson"], "--traffic poisson: must be one of beta, uniform"),
    (["--prach-configuration-index", "16"], "--prach-configuration-index 16: must be a whole "
                                            "number from 0 to 15"),
    (["--acb-factor", "2"], "--acb-factor 2: must be a number in (0, 1]"),
    (["--preambles", "1000"], "--preambles 1000: must be a whole number from 1 to 64"),
    (["--detection", "perfect"], "--detection perfect: must be one of tr37868, certain"),
    (["--collisions", "x"], "--collisions x: must be one of undetected, contention"),
    (["--rao-period-ms", "0.5"], "rao_offset_ms=1.0 (must be less than rao_period_ms=0.5)"),
    (["--coverage", "deep"], "--coverage deep: must be one of normal, robust, extreme"),
    (["--battery-wh", "0"], "--battery-wh 0: must be a number in (0, 1000000]"),
    # the profiles: an unknown technology, level or field, or a bad value of a level
    (["--technology", "nb-iot", "--level", "3.rao_period_ms=640"],
     "--level 3.rao_period_ms=640: --technology nb-iot has no level 3 (levels 1..2 can be "
     "changed)"),
    (["--level", "1.rao_period_ms=640"],
     "--level 1.rao_period_ms=640: --technology lte has no level 1 (it has one level only)"),
    (["--technology", "nb-iot", "--level", "0.preambles=4"],
     "--level 0.preambles=4: level 0 is set by the procedure options (here --preambles)"),
    (["--technology", "nb-iot", "--level", "1.colour=4"], "--level 1.colour=4: unknown field "
     "colour (one of preambles,"),
    (["--technology", "nb-iot", "--level", "2.rao_period_ms=abc"],
     "--level 2.rao_period_ms=abc: must be a number in [0.01, 2560]"),
    (["--technology", "nb-iot", "--level", "1.preambles=65"],
     "--level 1.preambles=65: must be a whole number from 1 to 64"),
    (["--technology", "nb-iot", "--level", "2.rao_period_ms"],
     "--level 2.rao_period_ms: expected L.FIELD=VALUE, e.g. 1.rao_period_ms=640"),
    (["--technology", "nb-iot", "--level", "2.rao_period_ms=100"],
     "--level 2.rao_period_ms=100: invalid coverage level: rao_offset_ms=256.0 (must be less "
     "than rao_period_ms=100.0)"),
    (["--technology", "nb-iot", "--level", "1.max_attempts=0"],
     "--level 1.max_attempts=0: must be a whole number from 1 to 200"),
    (["--technology", "wifi"], "--technology wifi: must be one of lte, lte-m, nb-iot"),
    (["--technology", "nb-iot", "--prach-configuration-index", "3"],
     "--prach-configuration-index is an LTE PRACH configuration (TS 36.211 Table 5.7.1-2) and "
     "does not apply to --technology nb-iot"),
    (["--technology", "nr", "--tr37868"],
     "--tr37868 runs TR 37.868's LTE setup and does not apply to --technology nr"),
] + [
    (["--" + name.replace("_", "-"), "abc"], f"--{name.replace('_', '-')} abc: must be")
    for name in PARAMETERS
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "says"), BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS]
)
def test_every_bad_option_value_exits_2_with_one_clear_line(
    options: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.csv"
    assert _run(["access", *options, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert captured.out == ""
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--rao-period-ms", "5"], "--rao-period-ms 5 conflicts with --prach-configuration-index "
                                   "3, which sets the RAO period to 10 ms"),
        (["--rao-offset-ms", "2"], "--rao-offset-ms 2 conflicts with --prach-configuration-index "
                                   "3, which sets the offset of the first RAO to 1 ms"),
    ],
)  # fmt: skip
def test_a_prach_configuration_index_and_a_conflicting_timing_are_refused(
    options: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["access", "--prach-configuration-index", "3", *options]) == 2
    error = capsys.readouterr().err
    assert says in error
    assert len(error.strip().splitlines()) == 1


def test_a_prach_configuration_index_agrees_with_its_own_timing(tmp_path: Path) -> None:
    out, same = tmp_path / "index.csv", tmp_path / "same.csv"
    base = ["access", "--devices", "300", "--replications", "2", "--prach-configuration-index", "3"]
    assert _run([*base, "--out", str(out)]) == 0
    assert _run([*base, "--rao-period-ms", "10", "--rao-offset-ms", "1", "--out", str(same)]) == 0
    assert out.read_bytes() == same.read_bytes()


@pytest.mark.parametrize("replications", ["1", "3"])
def test_no_interval_is_printed_where_there_is_none(
    replications: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["access", "--devices", "400", "--replications", replications]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    # the metrics, the pooled p95, then energy per report and battery life
    assert len(lines) == len(METRICS) + 3
    assert not any("nan" in line for line in lines)
    pooled = next(line for line in lines if "pooled_p95" in line)
    assert "[" not in pooled
    assert all(("[" in line) == (replications != "1") for line in lines if line != pooled)


@pytest.mark.parametrize(
    "options", [["--devices", "500"], ["--traffic", "uniform"], ["--window", "5"]]
)
def test_the_reference_table_refuses_options_it_would_ignore(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--tr37868 runs the reference's own cases: a --devices, --traffic or --window would
    be silently ignored, so it is refused, saying why."""
    assert _run(["access", "--tr37868", "--replications", "1", *options]) == 2
    captured = capsys.readouterr()
    assert f"{options[0]} does not apply to --tr37868" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""


def test_an_access_run_prints_energy_per_report_and_battery_life(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A lone-ish LTE cell (everyone succeeds at once, mostly): the energy per report is
    the access steps plus the data phase, and the battery life follows from it."""
    assert (
        _run(
            [
                "access",
                "--devices",
                "200",
                "--replications",
                "2",
                "--traffic",
                "uniform",
                "--window",
                "60",
                "--battery-wh",
                "5",
                "--reports-per-day",
                "24",
            ]
        )
        == 0
    )
    figures = {line.split()[0]: float(line.split()[1])
               for line in capsys.readouterr().out.splitlines()[1:]}  # fmt: skip
    assert figures["energy_per_report_mj"] > 0
    # 5 Wh = 18,000,000 mJ over a day of 24 reports (no tracking-area update: T3412 = 24 h
    # is restarted by each report) and the deep-sleep floor all day long
    sleep_mj = power_model("lte").deep_sleep_mw * 86_400
    day_mj = 24 * figures["energy_per_report_mj"] + sleep_mj
    assert figures["battery_life_years"] == pytest.approx(5 * 3.6e6 / (day_mj * 365.25), rel=1e-3)
    # a deeper coverage class costs more energy per report
    nb_iot = ["access", "--devices", "200", "--replications", "2", "--traffic", "uniform",
              "--window", "60", "--technology", "nb-iot"]  # fmt: skip
    deep = _printed_figures([*nb_iot, "--coverage", "extreme"], capsys)
    normal = _printed_figures(nb_iot, capsys)
    assert deep["energy_per_report_mj"] > normal["energy_per_report_mj"]


def _printed_figures(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    """The metric -> value lines an `iotsim access` run prints."""
    assert _run(args) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    return {line.split()[0]: float(line.split()[1]) for line in lines}
