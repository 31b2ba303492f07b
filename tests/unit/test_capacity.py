"""Unit tests of sim.supply.capacity: report costs, terminal loads, budgets and cell classes.

Every expected value is worked out by hand in a comment from the catalog figures
(sim/scenario/data/links.csv, technologies.csv, carriers.csv) and the 3GPP table entries
they come from.  The tables were read in srsRAN_4G (lib/src/phy/phch/tbs_tables_nbiot.h
and tbs_tables.h, copies of 3GPP TS 36.213 v13.2.0 / v12.13.0) and in a reprint of
TS 36.211 clause 10.1.2.3; the entries used are transcribed below and the catalog is
checked against them first.

Cost: about 5 s for the file on one core: scipy's first import takes about 2 s, the three
hypothesis properties (60-100 examples each, microseconds per example) about 1 s, the
lognormal quadratures a second.
"""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.scenario import Category, catalog
from sim.scenario.base import RESOURCES, Resource, ResourceFigures
from sim.scenario.radio import COVERAGE_CLASSES, CarrierOverride, Shares
from sim.supply.capacity import (
    cell_budget,
    class_bounds,
    class_labels,
    report_cost,
    terminal_load,
    terminal_shares,
    thresholds,
)

HOUR_MS = 3_600_000.0

# 3GPP TS 36.213 Table 16.5.1.2-2 (NPUSCH TBS, bits), entries (I_TBS, N_RU) used here
NPUSCH_TBS = {(10, 2): 328, (6, 4): 392, (2, 6): 256}
# 3GPP TS 36.213 Table 16.4.1.5.1-1 (NPDSCH TBS, bits), entry (I_TBS, N_SF)
NPDSCH_TBS = {(10, 2): 328}
# 3GPP TS 36.211 Table 10.1.2.3-1: a 15 kHz NPUSCH format 1 resource unit is 12 tones x
# 2 slots of 0.5 ms = 1 ms, or 1 tone x 16 slots of 0.5 ms = 8 ms
RU_TONE_MS = {12: 12 * 1.0, 1: 1 * 8.0}
# 3GPP TS 36.213 Table 7.1.7.2.1-1 (LTE TBS, bits), column N_PRB = 1, by I_TBS
LTE_TBS_1PRB = {0: 16, 5: 72, 10: 144, 15: 280}


def _scenario(category: dict[str, Any] | None = None, **top: Any) -> sim.Scenario:
    """A scenario with one category 'm' (default network: every catalog technology)."""
    data: dict[str, Any] = {
        "name": "capacity",
        "categories": {"m": category or {"initial": 1000, "technologies": ["nb-iot"]}},
    }
    data.update(top)
    return sim.parse_scenario(data)


def _load(scenario: sim.Scenario, technology: str) -> dict[Resource, float]:
    return terminal_load(scenario, scenario.categories["m"], technology)


# --------------------------------------------------------------------------- the catalog


def test_link_figures_are_the_3gpp_table_entries() -> None:
    """links.csv holds the spec entries its sources name (a guard for the tests below)."""
    nb = catalog.LINKS["nb-iot"]
    # normal: 12-tone, I_TBS 10 over 2 RUs; robust: single tone, I_TBS 6 over 4 RUs;
    # extreme: single tone, I_TBS 2 over 6 RUs
    assert nb["normal"].uplink_bits_per_tb == NPUSCH_TBS[(10, 2)]
    assert nb["normal"].uplink_units_per_tb == 2 * RU_TONE_MS[12]  # 24 tone-ms
    assert nb["robust"].uplink_bits_per_tb == NPUSCH_TBS[(6, 4)]
    assert nb["robust"].uplink_units_per_tb == 4 * RU_TONE_MS[1]  # 32 tone-ms
    assert nb["extreme"].uplink_bits_per_tb == NPUSCH_TBS[(2, 6)]
    assert nb["extreme"].uplink_units_per_tb == 6 * RU_TONE_MS[1]  # 48 tone-ms
    for level in COVERAGE_CLASSES:  # NPDSCH I_TBS 10 over N_SF = 2 subframes
        assert nb[level].downlink_bits_per_tb == NPDSCH_TBS[(10, 2)]
        assert nb[level].downlink_units_per_tb == 2
    cat1 = catalog.LINKS["lte-cat1"]
    assert cat1["normal"].uplink_bits_per_tb == LTE_TBS_1PRB[15]  # 16QAM
    assert cat1["robust"].uplink_bits_per_tb == LTE_TBS_1PRB[5]  # QPSK
    assert cat1["extreme"].uplink_bits_per_tb == LTE_TBS_1PRB[0]
    assert catalog.LINKS["lte-m"]["normal"].uplink_bits_per_tb == LTE_TBS_1PRB[10]


# --------------------------------------------------------------------------- report costs

# NB-IoT, 20 bytes of user data + 85 bytes of overhead (TR 45.820 via Sauter: 105 bytes)
# = 840 bits up; 0 + 60 bytes = 480 bits down (downlink: 2 blocks of 328 bits everywhere).
# uplink:   normal  ceil(840/328) = 3 blocks x 24 tone-ms x 1 rep   =   72 tone-ms
#           robust  ceil(840/392) = 3 blocks x 32 tone-ms x 8 reps  =  768 tone-ms
#           extreme ceil(840/256) = 4 blocks x 48 tone-ms x 32 reps = 6144 tone-ms
# downlink: data 2 blocks x 2 subframes x R_dl, control (up + down blocks) x NPDCCH units:
#           normal  2 x 2 x 1   + (3 + 2) x 2   =    4 +  10 =   14 subframes
#           robust  2 x 2 x 16  + (3 + 2) x 16  =   64 +  80 =  144 subframes
#           extreme 2 x 2 x 128 + (4 + 2) x 128 =  512 + 768 = 1280 subframes
NB_REPORT = {
    "normal": (72.0, 14.0, 10.0),
    "robust": (768.0, 144.0, 12.0),
    "extreme": (6144.0, 1280.0, 20.0),
}


@pytest.mark.parametrize("coverage", COVERAGE_CLASSES)
def test_nb_iot_report_of_20_bytes(coverage: str) -> None:
    """One 20-byte NB-IoT report: tone-ms up, subframes down (data and NPDCCH)."""
    cost = report_cost("nb-iot", coverage, uplink_bytes=20, downlink_bytes=0)
    uplink, downlink, connected = NB_REPORT[coverage]
    assert cost.uplink == pytest.approx(uplink, rel=1e-12)
    assert cost.downlink == pytest.approx(downlink, rel=1e-12)
    assert cost.connected_s == connected


def test_nb_iot_downlink_bytes_add_blocks() -> None:
    """100 bytes down + 60 = 1280 bits: ceil(1280/328) = 4 blocks x 2 = 8 subframes, plus
    control (3 up + 4 down blocks) x 2 = 14: 22 subframes at normal coverage."""
    cost = report_cost("nb-iot", "normal", uplink_bytes=20, downlink_bytes=100)
    assert cost.uplink == 72.0
    assert cost.downlink == pytest.approx(22.0, rel=1e-12)


def test_exact_multiple_of_a_block_takes_no_extra_block() -> None:
    """38 + 85 = 123 bytes = 984 bits = exactly 3 x 328: 3 blocks (72 tone-ms), not 4."""
    assert report_cost("nb-iot", "normal", 38, 0).uplink == 72.0
    assert report_cost("nb-iot", "normal", 39, 0).uplink == 96.0  # 992 bits: 4 x 24


# LTE Cat.1, 100 bytes + 90 overhead = 1520 bits up; 0 + 100 = 800 bits down; 1 PRB-ms per
# block; PDCCH 0.43 PRB-ms per block (aggregation level 2), 1.71 (level 8):
#   normal  (I_TBS 15, 280 bits): up ceil(1520/280) = 6; down ceil(800/280) = 3
#           + (6 + 3) x 0.43 = 6.87 PRB-ms
#   robust  (I_TBS 5, 72 bits):   up ceil(1520/72) = 22; down 12 + (22 + 12) x 1.71 = 70.14
#   extreme (I_TBS 0, 16 bits, 4 transmissions): up 95 x 4 = 380;
#           down 50 x 4 + (95 + 50) x 1.71 = 447.95
CAT1_REPORT = {"normal": (6.0, 6.87), "robust": (22.0, 70.14), "extreme": (380.0, 447.95)}


@pytest.mark.parametrize("coverage", COVERAGE_CLASSES)
def test_lte_cat1_report_in_prb_ms(coverage: str) -> None:
    """One 100-byte Cat.1 report in PRB-ms up and down."""
    cost = report_cost("lte-cat1", coverage, uplink_bytes=100, downlink_bytes=0)
    uplink, downlink = CAT1_REPORT[coverage]
    assert cost.uplink == pytest.approx(uplink, rel=1e-12)
    assert cost.downlink == pytest.approx(downlink, rel=1e-12)
    assert cost.connected_s == 10.0


# --------------------------------------------------------------------------- terminal loads


def test_terminal_load_averages_the_coverage_mix() -> None:
    """load = reports/day x busy-hour share x cost, averaged over the coverage mix.

    24 reports a day, 0.1 of them in the busy hour: 2.4 reports in the hour; 20 bytes on
    NB-IoT at coverage normal 0.5 / robust 0.3 / extreme 0.2 (costs from NB_REPORT):
      uplink   2.4 x (0.5 x 72 + 0.3 x 768 + 0.2 x 6144) = 2.4 x 1495.2 = 3588.48 tone-ms
      downlink 2.4 x (0.5 x 14 + 0.3 x 144 + 0.2 x 1280) = 2.4 x 306.2  =  734.88 subframes
      random access 2.4 x 1 preamble transmission per report = 2.4
      contexts (Little) 2.4/h x (0.5 x 10 + 0.3 x 12 + 0.2 x 20) s / 3600 = 0.0084 erlang
    """
    traffic = {
        "reports_per_day": 24,
        "busy_hour_share": 0.1,
        "payload_bytes": 20,
        "coverage": {"normal": 0.5, "robust": 0.3, "extreme": 0.2},
    }
    scenario = _scenario({"initial": 1000, "technologies": ["nb-iot"], "traffic": traffic})
    load = _load(scenario, "nb-iot")
    assert load["uplink"] == pytest.approx(3588.48, rel=1e-12)
    assert load["downlink"] == pytest.approx(734.88, rel=1e-12)
    # 2.4 reports an hour x 1.43 preamble transmissions each (the access procedure's)
    assert load["random_access"] == pytest.approx(2.4 * 1.43, rel=1e-12)
    assert load["contexts"] == pytest.approx(0.0084, rel=1e-12)


def test_lte_cat1_terminal_load() -> None:
    """48 reports a day, 1/24 in the busy hour = 2 an hour of 100 bytes at normal coverage:
    2 x 6 = 12 PRB-ms up, 2 x 6.87 = 13.74 down, 2 x 1.43 preamble transmissions,
    2 x 10 / 3600 erlang."""
    traffic = {"reports_per_day": 48, "busy_hour_share": 1 / 24, "payload_bytes": 100}
    scenario = _scenario({"initial": 1000, "technologies": ["lte-cat1"], "traffic": traffic})
    load = _load(scenario, "lte-cat1")
    assert load["uplink"] == pytest.approx(12.0, rel=1e-12)
    assert load["downlink"] == pytest.approx(13.74, rel=1e-12)
    assert load["random_access"] == pytest.approx(2.0 * 1.43, rel=1e-12)
    assert load["contexts"] == pytest.approx(20 / 3600, rel=1e-12)


def test_contexts_follow_littles_law() -> None:
    """Contexts = arrival rate x holding time: 12 reports/h x 20 s (extreme) / 3600 s."""
    traffic = {
        "reports_per_day": 120,
        "busy_hour_share": 0.1,
        "coverage": {"extreme": 1.0},
    }
    scenario = _scenario({"initial": 1000, "technologies": ["nb-iot"], "traffic": traffic})
    assert _load(scenario, "nb-iot")["contexts"] == pytest.approx(12 * 20 / 3600, rel=1e-12)


def test_technology_load_override_replaces_the_computed_figure() -> None:
    """technologies.nb-iot.load.uplink replaces the uplink load for every category only."""
    computed = _load(_scenario(), "nb-iot")
    scenario = _scenario(technologies={"nb-iot": {"load": {"uplink": 50}}})
    load = _load(scenario, "nb-iot")
    assert load["uplink"] == 50.0
    assert computed["uplink"] != 50.0
    for resource in ("downlink", "random_access", "contexts"):
        assert load[resource] == computed[resource]


def test_category_load_override_wins_over_the_technology_one() -> None:
    """categories.m.load.nb-iot beats technologies.nb-iot.load for the same resource."""
    category = {
        "initial": 1000,
        "technologies": ["nb-iot"],
        "load": {"nb-iot": {"uplink": 70, "contexts": 0.2}},
    }
    scenario = _scenario(category, technologies={"nb-iot": {"load": {"uplink": 50, "downlink": 9}}})
    load = _load(scenario, "nb-iot")
    assert load["uplink"] == 70.0  # category over technology
    assert load["downlink"] == 9.0  # technology over computed
    assert load["contexts"] == 0.2  # category over computed
    assert load["random_access"] == _load(_scenario(), "nb-iot")["random_access"]


def test_new_technology_load_is_the_one_given() -> None:
    """A technology outside the catalog has exactly the load the scenario gives."""
    given = {"uplink": 1.5, "downlink": 2.5, "random_access": 0.5, "contexts": 0.01}
    scenario = _scenario(
        {"initial": 1000, "technologies": ["lora"]},
        technologies={"lora": {"carrier": "nb-iot", "load": given}},
        network={
            "sites": {"4G": {"initial": 100}},
            "technologies": {"lora": {"generation": "4G"}},
        },
    )
    assert _load(scenario, "lora") == given


# --------------------------------------------------------------------------- budgets


def test_lte_uplink_budget() -> None:
    """92 PRBs x 1 (FDD) x 3.6e6 ms x (1 - 0.013 PRACH) = 326,894,400 PRB-ms an hour."""
    budget = cell_budget("lte", None)
    assert budget["uplink"] == pytest.approx(92 * 1 * 3.6e6 * (1 - 0.013), rel=1e-12)
    assert budget["uplink"] == pytest.approx(326_894_400.0, rel=1e-12)
    # downlink: 100 PRBs x 3.6e6 x (1 - 0.1) = 324,000,000; contexts: the licence, 1200
    assert budget["downlink"] == pytest.approx(324_000_000.0, rel=1e-12)
    assert budget["contexts"] == 1200.0


def test_nb_iot_downlink_budget() -> None:
    """1 PRB x 3.6e6 subframes x (1 - 0.2625: NPBCH, NPSS, NSSS, SIB1-NB) = 2,655,000."""
    budget = cell_budget("nb-iot", None)
    assert budget["downlink"] == pytest.approx(1 * 3.6e6 * (1 - 0.2625), rel=1e-12)
    assert budget["downlink"] == pytest.approx(2_655_000.0, rel=1e-12)
    # uplink: 12 tones x 3.6e6 x (1 - 0.14 NPRACH) = 37,152,000 tone-ms
    assert budget["uplink"] == pytest.approx(37_152_000.0, rel=1e-12)


@pytest.mark.parametrize(
    ("carrier", "preambles", "per_hour"),
    [("lte", 54, 3.6e6 / 5), ("nb-iot", 48, 3.6e6 / 40), ("nr", 54, 3.6e6 / 5)],
)
def test_random_access_budget_meets_the_collision_target(
    carrier: str, preambles: int, per_hour: float
) -> None:
    """Budget = preambles x opportunities/hour x -ln(1 - 0.01).

    LTE: 54 x 720,000 x 0.0100503 = 390,757.1 transmissions an hour.  Check with Poisson
    (scipy): x transmissions per opportunity over M preambles put Poisson(x/M) on each; the
    share of transmissions that meet another on their preamble, sum_{k>=2} k p(k) / (x/M),
    must be 1 - exp(-x/M) = the 1 % target.
    """
    from scipy import stats  # imported here: scipy is slow to import

    budget = cell_budget(carrier, None)["random_access"]
    assert budget == pytest.approx(preambles * per_hour * -math.log(1 - 0.01), rel=1e-12)
    per_preamble = budget / per_hour / preambles  # x / M, Poisson mean per preamble
    k = np.arange(2, 60)
    collided = float(np.sum(k * stats.poisson.pmf(k, per_preamble))) / per_preamble
    assert collided == pytest.approx(0.01, rel=1e-9)
    assert 1 - math.exp(-per_preamble) == pytest.approx(0.01, rel=1e-12)


def test_scenario_budget_and_threshold_replace_the_catalogs() -> None:
    """network.carriers.<c>.budget / threshold replace the catalog figure per resource."""
    override = CarrierOverride(
        budget=ResourceFigures(uplink=1000.0), threshold=Shares(contexts=0.5)
    )
    budget = cell_budget("nb-iot", override)
    assert budget["uplink"] == 1000.0
    assert budget["downlink"] == pytest.approx(2_655_000.0, rel=1e-12)  # catalog's
    limits = thresholds("nb-iot", override)
    assert limits["contexts"] == 0.5
    # the catalog's others: 0.7, 0.7, 1 (random access is planned by its collision target)
    assert (limits["uplink"], limits["downlink"], limits["random_access"]) == (0.7, 0.7, 1.0)
    assert thresholds("nb-iot", None)["contexts"] == 0.9


def test_carrier_count_scales_uplink_and_downlink_only() -> None:
    """count: 3 NB-IoT carriers: 3 x tone-ms and subframes; same preambles and licence."""
    one, three = cell_budget("nb-iot", None), cell_budget("nb-iot", CarrierOverride(count=3))
    assert three["uplink"] == pytest.approx(3 * one["uplink"], rel=1e-12)
    assert three["downlink"] == pytest.approx(3 * one["downlink"], rel=1e-12)
    assert three["random_access"] == one["random_access"]
    assert three["contexts"] == one["contexts"]


# --------------------------------------------------------------------------- cell classes


def test_class_bounds_default() -> None:
    """8 classes, hottest 1 %: 9 increasing bounds from 0, ending 0.99, 1."""
    bounds = class_bounds(8, 0.01)
    assert len(bounds) == 9
    assert bounds[0] == 0.0
    assert bounds[-2] == pytest.approx(0.99, rel=1e-12)
    assert bounds[-1] == 1.0
    assert np.all(np.diff(bounds) > 0)
    # cells above bound k: 0.01^(k/7), e.g. k = 1: 1 - 0.01^(1/7) = 0.48205
    assert bounds[1] == pytest.approx(1 - 0.01 ** (1 / 7), rel=1e-12)


def test_class_bounds_by_hand() -> None:
    """3 classes, hottest 1 %: above-shares 1, 0.1, 0.01 -> bounds 0, 0.9, 0.99, 1."""
    np.testing.assert_allclose(class_bounds(3, 0.01), [0.0, 0.9, 0.99, 1.0], rtol=1e-12)
    np.testing.assert_array_equal(class_bounds(1, 0.01), [0.0, 1.0])
    np.testing.assert_array_equal(class_bounds(1, 0.3), [0.0, 1.0])


def test_class_labels() -> None:
    """Labels name the cell quantiles in percent."""
    assert class_labels(np.array([0.0, 0.9, 0.99, 1.0])) == ("p0-90", "p90-99", "p99-100")
    assert class_labels(np.array([0.0, 1.0])) == ("p0-100",)
    labels = class_labels(class_bounds(8, 0.01))
    assert labels[0] == "p0-48.21"
    assert labels[-1] == "p99-100"
    assert len(set(labels)) == 8


@pytest.mark.parametrize("cv", [0.3, 1.0, 2.0])
def test_terminal_shares_sum_to_one_and_increase_in_density(cv: float) -> None:
    """Shares sum to 1; terminals per cell (share / cell share) grow class by class."""
    bounds = class_bounds(8, 0.01)
    shares = terminal_shares(bounds, cv)
    assert shares.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(shares > 0)
    density = shares / np.diff(bounds)
    assert np.all(np.diff(density) > 0)


def test_terminal_shares_at_cv_zero_are_the_cell_shares() -> None:
    """No spread: every cell holds as many terminals, so a class holds its share of cells."""
    bounds = class_bounds(8, 0.01)
    np.testing.assert_allclose(terminal_shares(bounds, 0.0), np.diff(bounds), rtol=1e-12)


def test_terminal_shares_two_halves_by_hand() -> None:
    """cv = 1: s = sqrt(ln 2) = 0.8326; the busier half of the cells holds
    1 - Phi(0 - s) = Phi(0.8326) = 0.79745 of the terminals (lognormal partial expectation)."""
    shares = terminal_shares(np.array([0.0, 0.5, 1.0]), 1.0)
    expected = NormalDist().cdf(math.sqrt(math.log(2.0)))
    assert expected == pytest.approx(0.79745, abs=1e-5)
    assert shares[1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("cv", [0.5, 1.0, 2.0])
def test_terminal_shares_match_a_numerical_lognormal_integration(cv: float) -> None:
    """Share of class (q0, q1) = E[X 1{q0 < F(X) < q1}] / E[X] for X lognormal with
    coefficient of variation cv (scipy.stats.lognorm, s^2 = ln(1 + cv^2)), integrated by
    quadrature; the closed form must agree to 1e-9."""
    from scipy import stats  # imported here: scipy is slow to import

    bounds = class_bounds(8, 0.01)
    dist = stats.lognorm(s=math.sqrt(math.log1p(cv * cv)))
    numeric = [
        dist.expect(
            lambda x: x,
            lb=dist.ppf(q0),
            ub=dist.ppf(q1),
            epsabs=1e-13,
            epsrel=1e-12,
            limit=200,
        )
        / dist.mean()
        for q0, q1 in itertools.pairwise(bounds)
    ]
    np.testing.assert_allclose(terminal_shares(bounds, cv), numeric, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- properties

TECHNOLOGIES = tuple(catalog.TECHNOLOGIES)
BASE = _scenario()


def _category(
    technology: str, reports: float, payload: float, downlink: float, mix: tuple[float, ...]
) -> Category:
    total = sum(mix)
    coverage = dict(zip(COVERAGE_CLASSES, (share / total for share in mix), strict=True))
    coverage["normal"] = 1.0 - coverage["robust"] - coverage["extreme"]
    return Category.model_validate(
        {
            "initial": 1,
            "technologies": [technology],
            "traffic": {
                "reports_per_day": reports,
                "payload_bytes": payload,
                "downlink_bytes": downlink,
                "coverage": coverage,
            },
        }
    )


mixes = st.tuples(*(st.floats(0.01, 1.0) for _ in COVERAGE_CLASSES))


@settings(max_examples=100, deadline=None)
@given(
    technology=st.sampled_from(TECHNOLOGIES),
    reports=st.floats(0.0, 1000.0),
    more_reports=st.floats(0.0, 1000.0),
    payload=st.floats(0.0, 5000.0),
    more_payload=st.floats(0.0, 5000.0),
    downlink=st.floats(0.0, 5000.0),
    more_downlink=st.floats(0.0, 5000.0),
    mix=mixes,
)
def test_more_reports_or_bytes_never_lower_a_load(
    technology: str,
    reports: float,
    more_reports: float,
    payload: float,
    more_payload: float,
    downlink: float,
    more_downlink: float,
    mix: tuple[float, ...],
) -> None:
    base = terminal_load(BASE, _category(technology, reports, payload, downlink, mix), technology)
    bigger = _category(
        technology, reports + more_reports, payload + more_payload, downlink + more_downlink, mix
    )
    grown = terminal_load(BASE, bigger, technology)
    for resource in RESOURCES:
        assert grown[resource] >= base[resource] * (1 - 1e-12), resource


@settings(max_examples=100, deadline=None)
@given(
    technology=st.sampled_from(TECHNOLOGIES),
    coverage=st.sampled_from(COVERAGE_CLASSES),
    payload=st.floats(0.0, 5000.0),
    more=st.floats(0.0, 5000.0),
    downlink=st.floats(0.0, 5000.0),
    up_factor=st.integers(1, 64),
    down_factor=st.integers(1, 64),
)
def test_a_cost_never_falls_with_more_bytes_or_more_repetitions(
    technology: str,
    coverage: str,
    payload: float,
    more: float,
    downlink: float,
    up_factor: int,
    down_factor: int,
) -> None:
    """Bigger payloads cost no less; catalog repetitions multiplied cost no less."""
    cost = report_cost(technology, coverage, payload, downlink)
    larger = report_cost(technology, coverage, payload + more, downlink)
    assert larger.uplink >= cost.uplink
    assert larger.downlink >= cost.downlink
    link = catalog.LINKS[technology][coverage]  # type: ignore[index]
    repeated = link.model_copy(
        update={
            "uplink_repetitions": link.uplink_repetitions * up_factor,
            "downlink_repetitions": link.downlink_repetitions * down_factor,
        }
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(catalog.LINKS[technology], coverage, repeated)  # type: ignore[misc]
        more_repeated = report_cost(technology, coverage, payload, downlink)
    assert more_repeated.uplink >= cost.uplink
    assert more_repeated.downlink >= cost.downlink
    assert more_repeated.uplink == pytest.approx(cost.uplink * up_factor, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    classes=st.integers(2, 16),
    hottest=st.floats(0.001, 0.5),
    cv=st.floats(0.0, 5.0),
    more=st.floats(0.01, 5.0),
)
def test_hottest_class_share_grows_with_the_spread(
    classes: int, hottest: float, cv: float, more: float
) -> None:
    """A wider spread of terminals across cells puts more of them in the hottest class."""
    bounds = class_bounds(classes, hottest)
    assert terminal_shares(bounds, cv + more)[-1] > terminal_shares(bounds, cv)[-1] - 1e-12
