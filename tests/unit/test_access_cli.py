"""`iotsim access`: one experiment from the command line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.access.reference import tr37868_reference
from sim.cli import main


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
    assert "preambles=0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["access", "--devices", "-5"])
    assert exit_info.value.code == 2


def test_reference_table_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ref.csv"
    assert main(["access", "--tr37868", "--replications", "1", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == len(tr37868_reference())
    assert {"mean", "reference", "reference_ci95"} <= set(table.columns)
    assert "reference" in capsys.readouterr().out


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
