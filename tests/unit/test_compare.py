"""Honest comparisons: exact differences without p-values, Welch's test only where there is
spread, Benjamini–Hochberg across the table, a smallest difference that matters, and
horizons aligned on what the figures mean."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from helpers import tiny_scenario
from hypothesis import given
from hypothesis import strategies as st

from sim import run
from sim.cli import main
from sim.results import read_tables
from sim.study.compare import _test, compare_folders, folder_figures

TINY = tiny_scenario()
METER = TINY["categories"]["meter"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Five replications each: seed 1 and seed 2 of the same scenario, the same with 10 %
    more meters at the start (the whole curve 10 % higher), and a longer horizon."""
    root = tmp_path_factory.mktemp("compare")
    more = {**TINY, "categories": {"meter": {**METER, "initial": METER["initial"] * 11 // 10}}}
    return {
        "a": run(TINY, replications=5, seed=1).write(root / "a"),
        "b": run(TINY, replications=5, seed=2).write(root / "b"),
        "more": run(more, replications=5, seed=2).write(root / "more"),
        "long": run({**TINY, "end": "2026-06"}, replications=5, seed=2).write(root / "long"),
    }


def _compare(*paths: Path, **options: float) -> pd.DataFrame:
    return compare_folders([folder_figures(read_tables(p)) for p in paths], **options).table


@given(
    st.floats(-1e12, 1e12, allow_nan=False),
    st.floats(-1e12, 1e12, allow_nan=False),
    st.integers(2, 8),
    st.integers(2, 8),
)
def test_a_figure_without_spread_is_never_given_a_p_value(
    a: float, b: float, count_a: int, count_b: int
) -> None:
    """Identical in every replication on both sides: an exact difference, no test (a t-test
    would call one terminal in four billion 'p = 0')."""
    test, p_value = _test([a] * count_a, [b] * count_b)
    assert test == "exact"
    assert math.isnan(p_value)


def test_deterministic_rows_have_no_p_value(folders: dict[str, Path]) -> None:
    table = _compare(folders["a"], folders["more"])
    demand = table[table["figure"] == "demand"]
    assert len(demand)
    assert (demand["test"] == "exact").all()
    assert demand["p_value"].isna().all()
    assert demand["p_adjusted"].isna().all()
    assert (demand["significant"] == "").all()
    tested = table[table["test"] == "welch"]
    assert tested["p_value"].notna().all()
    assert tested["p_adjusted"].notna().all()
    # Benjamini–Hochberg never lowers a p-value
    assert (tested["p_adjusted"] >= tested["p_value"] - 1e-9).all()


def test_two_seeds_of_one_scenario_flag_nothing(folders: dict[str, Path]) -> None:
    """The same scenario under seeds 1 and 2, five replications each: after the correction
    nothing is flagged (these seeds; the run is deterministic)."""
    table = _compare(folders["a"], folders["b"])
    assert (table["test"] == "welch").sum() >= 3  # there was something to test
    assert not table["flagged"].any(), table[table["flagged"]]
    assert not table["significant"].astype(str).eq("True").any()


def test_a_true_ten_percent_change_is_flagged(folders: dict[str, Path]) -> None:
    table = _compare(folders["a"], folders["more"])
    end = table[(table["figure"] == "connected_end") & (table["key"] == "meter")].iloc[0]
    assert end["relative_difference"] == pytest.approx(0.10, abs=0.02)
    assert end["test"] == "welch"
    assert bool(end["significant"])
    assert bool(end["flagged"])
    demand = table[(table["figure"] == "demand") & (table["date"] == "2024-12")].iloc[0]
    assert demand["relative_difference"] == pytest.approx(0.10, rel=1e-6)
    assert bool(demand["flagged"])


def test_min_difference_keeps_small_differences_unflagged(folders: dict[str, Path]) -> None:
    """Ten per cent is real but below a 20 % threshold: nothing flagged."""
    table = _compare(folders["a"], folders["more"], min_difference=0.2)
    assert not table["flagged"].any()
    assert table["significant"].astype(str).eq("True").any()  # still significant


def test_different_horizons_compare_per_category_pool_and_blocked(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """2023-01..2024-12 against 2023-01..2026-06: read at 2024-12, the end of the shorter
    horizon, per category, per pool and in total."""
    table = _compare(folders["a"], folders["long"])
    for figure in ("connected_end", "utilization_end", "blocked_total", "waiting_end"):
        rows = table[table["figure"] == figure]
        assert len(rows), figure
        assert (rows["date"] == "2024-12").all(), figure
    assert "meter" in set(table.loc[table["figure"] == "connected_end", "key"])
    assert set(table.loc[table["figure"] == "connected", "date"]) == {"2023-12", "2024-12"}
    assert not table["flagged"].any()  # the same scenario, read at the same months
    assert main(["compare", str(folders["a"]), str(folders["long"]),
                 "--out", str(tmp_path / "c.csv")]) == 0  # fmt: skip
    assert "read at 2024-12, the end of the shorter horizon" in capsys.readouterr().err


def test_the_terminal_shows_readable_numbers(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "c.csv"
    assert main(["compare", str(folders["a"]), str(folders["more"]), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "e+" not in text
    assert "e-0" not in text
    assert "Benjamini-Hochberg" in text
    assert "+10" in text  # the relative difference as a percentage
    table = pd.read_csv(out)
    assert pd.api.types.is_float_dtype(table["value"])  # the CSV keeps plain numbers


@pytest.mark.parametrize("bad", ["-0.1", "x", "nan", "true"])
def test_a_bad_min_difference_exits_2(
    folders: dict[str, Path], bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["compare", str(folders["a"]), str(folders["b"]), "--min-difference", bad])
    assert raised.value.code == 2
    assert "--min-difference" in capsys.readouterr().err
