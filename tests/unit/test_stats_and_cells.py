"""Confidence intervals, and the representative cells of a scenario."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from sim import parse_scenario, run
from sim.access.hot_cells import cell_population, procedure_for
from sim.access.procedure import Procedure
from sim.access.profiles import profile
from sim.results.intervals import KEYS, interval_table
from sim.scenario.catalog import lte_prach_timing
from sim.stats import mean_ci, t_quantile_975


def test_t_quantiles_are_exact_not_rounded_table_values() -> None:
    """t(0.975, df) to six decimals (exact quantiles, not a short table's three decimals:
    4.303 for df = 2 is 3.5e-4 off); large df tend to the normal quantile."""
    assert t_quantile_975(1) == pytest.approx(12.706205, abs=1e-6)
    assert t_quantile_975(2) == pytest.approx(4.302653, abs=1e-6)
    assert t_quantile_975(9) == pytest.approx(2.262157, abs=1e-6)
    assert t_quantile_975(40) == pytest.approx(2.021075, abs=1e-6)
    assert t_quantile_975(120) == pytest.approx(1.979930, abs=1e-6)
    assert t_quantile_975(10**6) == pytest.approx(NormalDist().inv_cdf(0.975), abs=1e-5)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile_975(0)


def test_mean_ci_by_hand() -> None:
    """Values 1, 2, 3: mean 2, s = 1, half-width t(0.975, 2) / sqrt(3) = 4.302653 / 1.732."""
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert high - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert mean - low == pytest.approx(high - mean, rel=1e-12)
    assert mean_ci([5.0]) == (5.0, 5.0, 5.0)
    assert mean_ci([5.0, math.nan]) == (5.0, 5.0, 5.0)  # NaNs are ignored
    assert mean_ci([4.0, 4.0, 4.0]) == (4.0, 4.0, 4.0)  # no spread: no width
    assert all(math.isnan(v) for v in mean_ci([]))


def test_cell_population_is_the_lognormal_quantile() -> None:
    """With cv = 1: sigma^2 = ln 2, the median is m / sqrt(2), and the quantiles average
    (over a fine grid of q) to the mean m."""
    assert cell_population(100.0, 1.0, 0.5) == pytest.approx(100 / math.sqrt(2), rel=1e-12)
    assert cell_population(100.0, 0.0, 0.99) == 100.0
    assert cell_population(0.0, 1.0, 0.99) == 0.0
    grid = (np.arange(200_000) + 0.5) / 200_000
    mean = np.mean([cell_population(100.0, 1.0, q) for q in grid[::50]])
    assert mean == pytest.approx(100.0, rel=0.01)
    assert cell_population(100.0, 1.0, 0.99) > cell_population(100.0, 1.0, 0.9) > 100 / 1.5


def test_technology_profiles_drive_the_procedure() -> None:
    scenario = parse_scenario({"categories": {"m": {"preset": "water_meter", "initial": 5}},
                               "access": {"controls": {"backoff_indicator_ms": 60}}})  # fmt: skip
    nb_iot = procedure_for(scenario, "nb-iot")
    # the NB-IoT channel is the sourced nb-iot profile (three CE levels, each its own
    # NPRACH), with the scenario's backoff; Cat.1 uses the LTE carrier's PRACH
    assert nb_iot.levels == profile("nb-iot").levels
    assert len(nb_iot.levels) == 3
    assert nb_iot.backoff_indicator_ms == 60
    assert procedure_for(scenario, "lte-cat1") == Procedure(backoff_indicator_ms=60)
    assert procedure_for(scenario, "nr-redcap").levels == profile("nr").levels


def test_scenarios_can_set_prach_and_nprach_configurations() -> None:
    """TS 36.211 Table 5.7.1-2: index 3 = subframe 1 of every frame (10 ms), index 12 =
    subframes 0, 2, 4, 6, 8 (2 ms), index 0 = subframe 1 of even frames (20 ms)."""
    assert lte_prach_timing(3) == (10.0, 1.0)
    assert lte_prach_timing(12) == (2.0, 0.0)
    assert lte_prach_timing(0) == (20.0, 1.0)
    assert lte_prach_timing(6) == (5.0, 1.0)
    scenario = parse_scenario(
        {
            "categories": {"m": {"preset": "water_meter", "initial": 5}},
            "technologies": {"lte-cat1": {"prach_configuration_index": 3},
                             "nb-iot": {"nprach_periodicity_ms": 160, "nprach_subcarriers": 24}},
        }
    )  # fmt: skip
    cat1, nb_iot = procedure_for(scenario, "lte-cat1"), procedure_for(scenario, "nb-iot")
    assert (cat1.rao_period_ms, cat1.rao_offset_ms) == (10.0, 1.0)
    assert (nb_iot.rao_period_ms, nb_iot.preambles) == (160.0, 24)


# normal coverage keeps the meters' downlink cheap, so no growth-layer class fills and the
# access layer's cells hold the whole lognormal spread
SMALL = {
    "name": "cells",
    "end": "2025-12",
    "regions": {"city": {"terminal_share": 0.7, "site_share": 0.2},
                "land": {"terminal_share": 0.3, "site_share": 0.8}},
    "network": {"sites": {"4G": {"initial": 400}},
                "technologies": {"nb-iot": {"generation": "4G"}, "lte-cat1": {"generation": "4G"}}},
    "categories": {
        "meter": {"preset": "water_meter", "initial": 1_000_000,
                  "traffic": {"reports_per_day": 24, "synchronized": 1.0,
                              "coverage": {"normal": 1.0}}},
    },
    "access": {"years": [2023, 2025], "replications": 2, "window_s": 20},
}  # fmt: skip


def test_access_rows_for_every_year_region_technology_and_cell() -> None:
    result = run(SMALL)
    access = result.access
    assert len(access) == 2 * 2 * 2 * 3
    assert set(access["cell"]) == {"p50", "p90", "p99"}
    for (_, _, _), group in access.groupby(["year", "region", "technology"]):
        ordered = group.set_index("cell").loc[["p50", "p90", "p99"], "devices_per_cell"]
        assert ordered.is_monotonic_increasing
    city = access[(access["region"] == "city") & (access["technology"] == "nb-iot")]
    assert city["success_probability"].min() < 0.9  # 2,000 NB-IoT sites cannot carry this
    assert result.figure("first_access_failure_pool") == "city/nb-iot"
    assert result.figure("first_access_failure_year") == "2023"


def test_report_jitter_is_an_overload_control() -> None:
    storm = run(SMALL).access
    jitter = run({**SMALL, "access": {**SMALL["access"], "controls": {"jitter_s": 20}}}).access
    # the rural p90 NB-IoT cell: its CE0 NPRACH (12 preambles every 320 ms, the nb-iot
    # profile) is overrun by a 10 s burst, not by the same reports spread over 20 s
    key = (storm["region"] == "land") & (storm["technology"] == "nb-iot") & (storm["cell"] == "p90")
    assert (
        jitter.loc[key, "success_probability"].min() > storm.loc[key, "success_probability"].max()
    )
    assert (jitter["attempts"] == storm["attempts"]).mean() > 0.5  # same load, spread out


def test_access_layer_does_not_change_the_growth_results() -> None:
    without = run({**SMALL, "access": {}})
    with_access = run(SMALL)
    assert with_access.connections.equals(without.connections)
    assert without.access.empty


def test_interval_tables_ask_for_t_quantiles_once_not_per_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connections table has thousands of keys x figures; asking SciPy for t(0.975, df)
    cell by cell took seconds (a table lookup did not): one vectorised call per table."""
    from scipy import stats

    meters = {"water_meter": {"preset": "water_meter", "initial": 1000}}
    result = run(parse_scenario({"categories": meters, "end": "2024-12"}), replications=3)
    calls: list[int] = []
    real = stats.t.ppf

    def counted(q: float, df: object) -> object:
        calls.append(np.size(df))
        return real(q, df)

    monkeypatch.setattr(stats.t, "ppf", counted)
    table = interval_table("connections", result.connections)
    assert len(table) * 6 > 50  # many cells...
    assert len(calls) <= 1  # ...one call
    # the same numbers as cell by cell
    row = result.connections.groupby(KEYS["connections"]).get_group(
        tuple(table.loc[0, KEYS["connections"]])
    )
    mean, low, high = mean_ci(row["connected"])
    assert table.loc[0, "connected_mean"] == pytest.approx(mean, abs=1e-6)
    assert table.loc[0, "connected_ci_low"] == pytest.approx(low, abs=1e-6)
    assert table.loc[0, "connected_ci_high"] == pytest.approx(high, abs=1e-6)


def test_a_single_run_does_not_load_scipy() -> None:
    """SciPy takes about a second to import; a single run computes no interval and no test,
    so it must not pay for it (it did when sim.stats imported scipy.stats at the top)."""
    import subprocess
    import sys

    code = "import sys, sim; sim.run('scenarios/minimal.yaml'); print('scipy' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=root, check=True)  # fmt: skip
    assert done.stdout.strip() == "False"


def _class_fill_scenario(contexts: float) -> dict:
    """One region, 4 cell classes, spread_cv 1, NB-IoT pools of `contexts` per cell."""
    from helpers import unit_capacity

    unit = unit_capacity({"nb-iot": 1})
    unit["carriers"]["nb-iot"]["budget"]["contexts"] = contexts
    return {
        "name": "fill",
        "end": "2023-12",
        "resolution": 10,
        "regions": {"only": {"terminal_share": 1.0, "site_share": 1.0, "spread_cv": 1.0}},
        "network": {
            "sectors_per_site": 1,
            "sites": {"4G": {"initial": 100}},
            "technologies": {"nb-iot": {"generation": "4G"}},
            "carriers": unit["carriers"],
            "cell_classes": 4,
            "hottest_cells": 0.05,
        },
        "technologies": unit["technologies"],
        "categories": {"m": {"initial": 100_000, "technologies": ["nb-iot"], "when_full": "drop"}},
        "access": {
            "years": [2023],
            "cells": ["p99"],
            "replications": 1,
            "window_s": 1,
            "burst_s": 1,
        },
    }


def test_access_cells_hold_what_their_growth_class_holds() -> None:
    """The p99 access cell lies in the hottest class (top 5 % of cells).  With room for all
    it holds the lognormal quantile of 1,000 terminals per cell; when the classes are
    capped at 1,500 contexts per cell it holds what a full class holds per cell (1,500, less
    the last cohort's remainder), not the lognormal's 3,000-odd."""
    roomy = run(_class_fill_scenario(1e6))
    capped = run(_class_fill_scenario(1500))
    expected = cell_population(1000.0, 1.0, 0.99)
    roomy_cell = int(roomy.access["devices_per_cell"].iloc[0])
    capped_cell = int(capped.access["devices_per_cell"].iloc[0])
    # the initial base is split over classes exactly; a year of joins and departures
    # (cohorts of 10, 10-year lifetimes) moves the class's share by well under 3 %
    assert roomy_cell == pytest.approx(expected, rel=0.03)
    assert roomy_cell > 2000
    end = capped.cells[capped.cells["date"] == "2023-12"]
    hottest = end[end["cell_class"] == "p95-100"]
    assert bool(hottest["full"].iloc[0])
    assert 1500 - 10 <= capped_cell <= 1500


def test_access_cells_grow_with_their_quantile_when_classes_fill() -> None:
    """With every class above the median full, the p50, p90 and p99 cells are in order
    (the full classes cap them all at the same per-cell figure)."""
    data = _class_fill_scenario(1100)
    data["access"]["cells"] = ["p50", "p90", "p99"]
    access = run(data).access.set_index("cell")["devices_per_cell"]
    assert access["p50"] <= access["p90"] <= access["p99"] <= 1100
