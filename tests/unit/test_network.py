"""Unit tests of sim.supply.network: site build-out, carriers, budgets per pool and the row
calendar.

Expected values are computed by hand from the scenario figures and the catalog's carrier
figures (sim/scenario/data/carriers.csv).  Each test builds one small plan (milliseconds).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sim
from sim.demand.schedules import row_month_indices
from sim.scenario import SiteSchedule, month_index
from sim.supply.network import build_network, generation_sites

START_INDEX = month_index("2023-01")
# rows t = 0..36: 2022-12 (the initial state), then every month of 2023..2025
ROWS = np.arange(START_INDEX - 1, START_INDEX + 36, dtype=np.int64)


# --------------------------------------------------------------------------- sites


def test_generation_sites_row0_is_initial() -> None:
    """Row 0 is the initial count, whatever is built in the first year."""
    sites = generation_sites(SiteSchedule(initial=1000, build_per_year=1200), ROWS)
    assert sites.shape == (37,)
    assert sites[0] == 1000.0


def test_generation_sites_constant_build() -> None:
    """A constant build b adds b/12 at the end of every month."""
    sites = generation_sites(SiteSchedule(initial=1000, build_per_year=600), ROWS)
    np.testing.assert_allclose(sites, 1000.0 + 50.0 * np.arange(37), rtol=1e-12)


def test_generation_sites_per_year_table() -> None:
    """{2024: 1200} adds 100 a month in the twelve months of 2024 only."""
    sites = generation_sites(SiteSchedule(initial=500, build_per_year={2024: 1200}), ROWS)
    expected = np.concatenate([np.full(13, 500.0), 500.0 + 100.0 * np.arange(1, 13), [1700.0] * 12])
    np.testing.assert_allclose(sites, expected, rtol=1e-12)
    assert sites[month_index("2024-12") - START_INDEX + 1] == pytest.approx(1700.0)


def test_generation_sites_retire_reduces() -> None:
    """Retirements take their share off every month; build and retire net out."""
    schedule = SiteSchedule(initial=1000, build_per_year=240, retire_per_year={2023: 480})
    sites = generation_sites(schedule, ROWS)
    months = np.arange(37)
    in_2023 = np.minimum(months, 12)
    expected = 1000.0 + 20.0 * months - 40.0 * in_2023
    np.testing.assert_allclose(sites, expected, rtol=1e-12)
    assert sites[12] == pytest.approx(760.0)


def test_generation_sites_never_negative() -> None:
    """Retiring more than there is stops at 0 sites."""
    schedule = SiteSchedule(initial=1000, retire_per_year=2400)
    sites = generation_sites(schedule, ROWS)
    np.testing.assert_allclose(sites, np.maximum(0.0, 1000.0 - 200.0 * np.arange(37)), atol=1e-9)
    assert np.all(sites >= 0.0)
    assert sites[5] == 0.0
    assert sites[-1] == 0.0


def test_generation_sites_rebuild_after_reaching_zero() -> None:
    """Sites cannot go below 0, so builds after the stock reached 0 add to 0."""
    schedule = SiteSchedule(initial=600, build_per_year={2024: 1200}, retire_per_year={2023: 2400})
    sites = generation_sites(schedule, ROWS)
    assert sites[3] == 0.0  # 600 - 3 * 200
    assert sites[12] == 0.0  # end of 2023
    assert sites[24] == pytest.approx(1200.0)  # 2024 builds 100/month from 0


def test_row_month_indices() -> None:
    """Row 0 is the month before start; then one row per month through end."""
    scenario = sim.parse_scenario(
        {
            "start": "2024-03",
            "end": "2025-02",
            "categories": {"meter": {"initial": 1000, "technologies": ["nb-iot"]}},
        }
    )
    assert scenario.months == 12
    rows = row_month_indices(scenario)
    assert rows[0] == month_index("2024-02")
    assert rows[1] == month_index("2024-03")
    assert rows[-1] == month_index("2025-02")
    np.testing.assert_array_equal(rows, month_index("2024-02") + np.arange(13))


# --------------------------------------------------------------------------- network

# Catalog figures (sim/scenario/data/carriers.csv) the hand computations below use.
HOUR_MS = 3_600_000.0
# LTE 20 MHz FDD: 92 uplink PRBs (100 less 8 for PUCCH), PRACH overhead 0.013; 100 downlink
# PRBs, overhead 0.1; thresholds 0.7 / 0.7 / 1 / 0.6; background from 2023-01 0.3 / 0.5 /
# 0.3 / 0.4, from 2026-01 0.25 / 0.4 / 0.25 / 0.3
LTE_UPLINK = 92 * 1.0 * HOUR_MS * (1 - 0.013)  # 326,894,400 PRB-ms
LTE_DOWNLINK = 100 * 1.0 * HOUR_MS * (1 - 0.1)  # 324,000,000 PRB-ms
# NB-IoT: 12 tones, NPRACH overhead 0.14; 1 downlink PRB, 472 of 640 subframes usable;
# 48 preambles every 40 ms at a 1 % collision target; 600 contexts; no background
NB_UPLINK = 12 * 1.0 * HOUR_MS * (1 - 0.14)  # 37,152,000 tone-ms
NB_DOWNLINK = 1 * 1.0 * HOUR_MS * (1 - 0.2625)  # 2,655,000 subframes
NB_RANDOM_ACCESS = 48 * (HOUR_MS / 40) * -np.log(1 - 0.01)  # 43,417.5 transmissions
NB_CONTEXTS = 600.0
# 8 classes, hottest 1 %: class k holds 0.01^(k/7) - 0.01^((k+1)/7) of the cells, the
# hottest 0.01 (see test_capacity.py for class_bounds itself)
COLDEST_SHARE = 1 - 0.01 ** (1 / 7)  # 0.48205...
HOTTEST_SHARE = 0.01


def _scenario(**overrides: Any) -> sim.Scenario:
    """Two regions (site shares 0.3 / 0.7), 4G with a build table, 5G constant build.

    4G: 1001 sites, +100 a month through 2024; 5G: 200 sites, +20 a month.  nb-iot on
    12.5 % of 4G sites, lte-cat1 on all, lte-m on none, nr-redcap on half the 5G sites from
    2024-07 (none before).
    """
    data: dict[str, Any] = {
        "name": "net",
        "start": "2023-01",
        "end": "2025-12",
        "regions": {
            "city": {"terminal_share": 0.5, "site_share": 0.3},
            "country": {"terminal_share": 0.5, "site_share": 0.7},
        },
        "network": {
            "sectors_per_site": 3,
            "sites": {
                "4G": {"initial": 1001, "build_per_year": {2024: 1200}},
                "5G": {"initial": 200, "build_per_year": 240},
            },
            "technologies": {
                "nb-iot": {"generation": "4G", "share": 0.125},
                "lte-cat1": {"generation": "4G"},
                "lte-m": {"generation": "4G", "share": 0.0},
                "nr-redcap": {"generation": "5G", "share": {"2023-01": 0.0, "2024-07": 0.5}},
            },
        },
        "categories": {"meter": {"initial": 1000, "technologies": ["nb-iot", "lte-cat1"]}},
    }
    data.update(overrides)
    return sim.parse_scenario(data)


def _network(**changes: Any) -> dict[str, Any]:
    """The `_scenario` network section with `changes` applied at its top level."""
    network: dict[str, Any] = {
        "sectors_per_site": 3,
        "sites": {
            "4G": {"initial": 1001, "build_per_year": {2024: 1200}},
            "5G": {"initial": 200, "build_per_year": 240},
        },
        "technologies": {
            "nb-iot": {"generation": "4G", "share": 0.125},
            "lte-cat1": {"generation": "4G"},
            "lte-m": {"generation": "4G", "share": 0.0},
            "nr-redcap": {"generation": "5G", "share": {"2023-01": 0.0, "2024-07": 0.5}},
        },
    }
    network.update(changes)
    return network


def _row(month: str) -> int:
    """Row t of the end of `month` (row 0 is the end of 2022-12)."""
    return month_index(month) - START_INDEX + 1


def _index(plan: Any, region: str, technology: str) -> tuple[int, int]:
    return plan.regions.index(region), plan.technologies.index(technology)


def _resource(name: str) -> int:
    return ("uplink", "downlink", "random_access", "contexts").index(name)


def test_build_network_axes() -> None:
    """Arrays follow the scenario's order; carriers in catalog order; t = 0..36."""
    plan = build_network(_scenario())
    assert plan.regions == ("city", "country")
    assert plan.technologies == ("nb-iot", "lte-cat1", "lte-m", "nr-redcap")
    assert plan.carriers == ("lte", "nb-iot", "nr")
    assert plan.carrier_of == (1, 0, 0, 2)
    assert len(plan.classes) == 8
    assert plan.sites.shape == plan.cells.shape == (37, 2, 4)
    assert plan.carrier_cells.shape == (37, 2, 3)
    assert plan.availability.shape == (37, 4)
    assert plan.cell_shares.shape == plan.terminal_shares.shape == (2, 8)
    assert plan.budget.shape == plan.threshold.shape == (3, 4)
    assert plan.background.shape == (37, 3, 4)
    assert plan.usable.shape == (37, 2, 8, 3, 4)
    assert plan.pools == 2 * 8 * 3


def test_build_network_sites_and_cells_hand_computed() -> None:
    """cells = generation sites x region site share x technology share x sectors."""
    plan = build_network(_scenario())
    city, nb = _index(plan, "city", "nb-iot")
    country, cat1 = _index(plan, "country", "lte-cat1")
    # nb-iot in the city at t=0: 1001 x 0.3 x 0.125 = 37.5375 sites, x 3 = 112.6125 cells
    assert plan.sites[0, city, nb] == pytest.approx(37.5375, rel=1e-12)
    assert plan.cells[0, city, nb] == pytest.approx(112.6125, rel=1e-12)
    # lte-cat1 in the country at the end of 2024: (1001 + 1200) x 0.7 x 1 x 3 = 4622.1
    assert plan.cells[_row("2024-12"), country, cat1] == pytest.approx(4622.1, rel=1e-12)
    # mid-2024 (t = 18, six months of 2024 built): 1601 x 0.3 x 0.125 x 3 = 180.1125
    assert plan.cells[18, city, nb] == pytest.approx(180.1125, rel=1e-12)


def test_build_network_cells_are_sites_times_sectors() -> None:
    """cells = sites x sectors per site in every region, technology and month."""
    plan = build_network(_scenario())
    np.testing.assert_allclose(plan.cells, plan.sites * 3, rtol=1e-12)
    assert plan.sites[0, 0, 1] == pytest.approx(1001 * 0.3, rel=1e-12)


def test_build_network_sectors_per_site() -> None:
    """Six sectors per site: cells and carrier cells are 6 x sites."""
    network = {
        "sectors_per_site": 6,
        "sites": {"4G": {"initial": 1001}},
        "technologies": {
            "nb-iot": {"generation": "4G", "share": 0.125},
            "lte-cat1": {"generation": "4G"},
        },
    }
    plan = build_network(_scenario(network=network))
    country, cat1 = _index(plan, "country", "lte-cat1")
    assert plan.cells[0, country, cat1] == pytest.approx(1001 * 0.7 * 6, rel=1e-12)
    lte = plan.carriers.index("lte")
    assert plan.carrier_cells[0, country, lte] == pytest.approx(4204.2, rel=1e-12)  # 1001x0.7x6


def test_carrier_is_on_the_largest_share_of_its_technologies() -> None:
    """LTE carrier: max(lte-cat1 1.0, lte-m 0.0) = 1; NB-IoT: 0.125; NR: nr-redcap's."""
    plan = build_network(_scenario())
    lte, nb, nr = (plan.carriers.index(name) for name in ("lte", "nb-iot", "nr"))
    # city at t=0: 1001 x 0.3 x 1 x 3 = 900.9 LTE cells; 1001 x 0.3 x 0.125 x 3 = 112.6125
    assert plan.carrier_cells[0, 0, lte] == pytest.approx(900.9, rel=1e-12)
    assert plan.carrier_cells[0, 0, nb] == pytest.approx(112.6125, rel=1e-12)
    # NR: share 0 before 2024-07, 0.5 from it; at t=19, (200 + 20 x 19) x 0.5 x 0.3 x 3 = 261
    assert np.all(plan.carrier_cells[:19, :, nr] == 0.0)
    assert plan.carrier_cells[19, 0, nr] == pytest.approx(261.0, rel=1e-12)

    # two LTE technologies on 0.4 and 0.6: the carrier is on 0.6, cat1 on 2/3 of its cells
    mixed = _network(
        technologies={
            "lte-cat1": {"generation": "4G", "share": 0.4},
            "lte-m": {"generation": "4G", "share": 0.6},
        }
    )
    plan = build_network(
        _scenario(
            network=mixed,
            categories={"meter": {"initial": 1000, "technologies": ["lte-cat1"]}},
        )
    )
    lte = plan.carriers.index("lte")
    assert plan.carriers == ("lte",)
    # 1001 x 0.7 x 0.6 x 3 = 1261.26 LTE cells in the country at t=0
    assert plan.carrier_cells[0, 1, lte] == pytest.approx(1261.26, rel=1e-12)
    cat1, ltem = plan.technologies.index("lte-cat1"), plan.technologies.index("lte-m")
    np.testing.assert_allclose(plan.availability[:, cat1], 0.4 / 0.6, rtol=1e-12)
    np.testing.assert_allclose(plan.availability[:, ltem], 1.0, rtol=1e-12)


def test_carrier_share_given_by_the_scenario() -> None:
    """network.carriers.nb-iot.share 0.5 puts the carrier on half the 4G sites."""
    plan = build_network(_scenario(network=_network(carriers={"nb-iot": {"share": 0.5}})))
    nb_carrier = plan.carriers.index("nb-iot")
    city, nb = _index(plan, "city", "nb-iot")
    # 1001 x 0.3 x 0.5 x 3 = 450.45 carrier cells; the technology is on 0.125 / 0.5 of them
    assert plan.carrier_cells[0, city, nb_carrier] == pytest.approx(450.45, rel=1e-12)
    np.testing.assert_allclose(plan.availability[:, nb], 0.25, rtol=1e-12)
    # the technology's own cells do not change: 1001 x 0.3 x 0.125 x 3
    assert plan.cells[0, city, nb] == pytest.approx(112.6125, rel=1e-12)


def test_availability_is_technology_share_over_carrier_share() -> None:
    """nr on every 5G site, nr-redcap on half from 2024-07: RedCap has 0.5 of NR's cells."""
    technologies = dict(_network()["technologies"])
    technologies["nr"] = {"generation": "5G"}
    plan = build_network(_scenario(network=_network(technologies=technologies)))
    nr_carrier = plan.carriers.index("nr")
    city, redcap = _index(plan, "city", "nr-redcap")
    nr = plan.technologies.index("nr")
    switch = _row("2024-07")
    np.testing.assert_allclose(plan.availability[:switch, redcap], 0.0, atol=0)
    np.testing.assert_allclose(plan.availability[switch:, redcap], 0.5, rtol=1e-12)
    np.testing.assert_allclose(plan.availability[:, nr], 1.0, rtol=1e-12)
    # carrier cells: 5G sites x 1 (nr's share) x 0.3 x 3; RedCap cells are half of them
    assert plan.carrier_cells[0, city, nr_carrier] == pytest.approx(200 * 0.3 * 3, rel=1e-12)
    np.testing.assert_allclose(
        plan.cells[switch:, city, redcap], 0.5 * plan.carrier_cells[switch:, city, nr_carrier]
    )


def test_build_network_dated_share_switches_at_its_month() -> None:
    """nr-redcap carries 0 before 2024-07 and half the 5G sites from the end of 2024-07."""
    plan = build_network(_scenario())
    city, redcap = _index(plan, "city", "nr-redcap")
    nr = plan.carriers.index("nr")
    switch = _row("2024-07")
    assert switch == 19
    np.testing.assert_array_equal(plan.sites[:switch, :, redcap], 0.0)
    np.testing.assert_array_equal(plan.cells[:switch, :, redcap], 0.0)
    np.testing.assert_array_equal(plan.usable[:switch, :, :, nr, :], 0.0)
    fiveg = 200.0 + 20.0 * switch  # 240 sites a year: 580 at the end of 2024-07
    assert plan.sites[switch, city, redcap] == pytest.approx(fiveg * 0.5 * 0.3, rel=1e-12)
    assert plan.cells[switch, city, redcap] == pytest.approx(fiveg * 0.5 * 0.3 * 3, rel=1e-12)
    assert plan.availability[switch - 1, redcap] == 0.0
    assert plan.availability[switch, redcap] == 1.0  # the only NR technology: all its cells
    assert np.all(plan.usable[switch:, :, :, nr, :] > 0.0)


def test_build_network_zero_share_has_no_cells_and_no_availability() -> None:
    """A technology carried on share 0 has no sites or cells, and availability 0."""
    plan = build_network(_scenario())
    _, ltem = _index(plan, "city", "lte-m")
    assert np.all(plan.sites[:, :, ltem] == 0.0)
    assert np.all(plan.cells[:, :, ltem] == 0.0)
    assert np.all(plan.availability[:, ltem] == 0.0)
    # its carrier is still on lte-cat1's sites
    assert np.all(plan.carrier_cells[:, :, plan.carriers.index("lte")] > 0.0)


def test_usable_hand_computed_with_the_catalog_budget() -> None:
    """usable = carrier cells x cell share x budget x max(0, threshold - background)."""
    plan = build_network(_scenario())
    t = 18  # end of 2024-06: 1001 + 600 = 1601 4G sites
    city = plan.regions.index("city")
    nb, lte = plan.carriers.index("nb-iot"), plan.carriers.index("lte")
    up, down = _resource("uplink"), _resource("downlink")
    hottest, coldest = len(plan.classes) - 1, 0
    # NB-IoT uplink, hottest class: 1601 x 0.3 x 0.125 x 3 = 180.1125 cells x 0.01 of them
    # x 37,152,000 tone-ms x (0.7 - 0 background) = 46,840,777.2 tone-ms
    assert plan.budget[nb, up] == pytest.approx(NB_UPLINK, rel=1e-12)
    expected = 180.1125 * HOTTEST_SHARE * NB_UPLINK * 0.7
    assert expected == pytest.approx(46_840_777.2, rel=1e-12)
    assert plan.usable[t, city, hottest, nb, up] == pytest.approx(expected, rel=1e-12)
    # LTE downlink, coldest class: 1601 x 0.3 x 3 = 1440.9 cells x 0.48205 of them
    # x 324,000,000 PRB-ms x (0.7 - 0.5 smartphones' share from 2023-01)
    assert plan.budget[lte, down] == pytest.approx(LTE_DOWNLINK, rel=1e-12)
    assert plan.threshold[lte, down] == 0.7
    assert plan.background[t, lte, down] == 0.5
    expected = 1440.9 * COLDEST_SHARE * LTE_DOWNLINK * (0.7 - 0.5)
    assert plan.usable[t, city, coldest, lte, down] == pytest.approx(expected, rel=1e-12)


def test_usable_with_a_scenario_budget_and_threshold() -> None:
    """A carrier's budget and threshold given by the scenario replace the catalog's."""
    carriers = {"nb-iot": {"budget": {"uplink": 5000}, "threshold": {"uplink": 0.8}}}
    plan = build_network(_scenario(network=_network(carriers=carriers)))
    nb = plan.carriers.index("nb-iot")
    up, down = _resource("uplink"), _resource("downlink")
    assert plan.budget[nb, up] == 5000.0
    assert plan.threshold[nb, up] == 0.8
    # the other resources keep the catalog's figures
    assert plan.budget[nb, down] == pytest.approx(NB_DOWNLINK, rel=1e-12)
    assert plan.threshold[nb, down] == 0.7
    # 180.1125 cells x 0.01 x 5000 tone-ms x 0.8 = 7204.5 tone-ms at t = 18, city, hottest
    assert plan.usable[18, 0, 7, nb, up] == pytest.approx(7204.5, rel=1e-12)
    # downlink: 180.1125 x 0.01 x 2,655,000 x 0.7 = 3,347,390.8125 subframes
    assert plan.usable[18, 0, 7, nb, down] == pytest.approx(3_347_390.8125, rel=1e-12)


def test_background_dated_steps() -> None:
    """A dated background changes the headroom from its month; above the threshold it is 0."""
    carriers = {
        "lte": {"background": {"uplink": {"2023-01": 0.1, "2024-03": 0.4}, "contexts": 0.9}}
    }
    plan = build_network(_scenario(network=_network(carriers=carriers)))
    lte = plan.carriers.index("lte")
    up, contexts = _resource("uplink"), _resource("contexts")
    switch = _row("2024-03")  # t = 15
    np.testing.assert_array_equal(plan.background[:switch, lte, up], 0.1)
    np.testing.assert_array_equal(plan.background[switch:, lte, up], 0.4)
    # city, coldest class: 4G sites 1201 at t = 14, 1301 at t = 15; x 0.3 x 3 LTE cells
    before = 1201 * 0.3 * 3 * COLDEST_SHARE * LTE_UPLINK * (0.7 - 0.1)
    after = 1301 * 0.3 * 3 * COLDEST_SHARE * LTE_UPLINK * (0.7 - 0.4)
    assert plan.usable[switch - 1, 0, 0, lte, up] == pytest.approx(before, rel=1e-12)
    assert plan.usable[switch, 0, 0, lte, up] == pytest.approx(after, rel=1e-12)
    # contexts: smartphones take 0.9 of a budget planned to 0.6: nothing is left, not < 0
    assert plan.threshold[lte, contexts] == 0.6
    np.testing.assert_array_equal(plan.usable[:, :, :, lte, contexts], 0.0)


def test_catalog_background_steps_at_its_dates() -> None:
    """The catalog's LTE uplink background falls 0.3 -> 0.25 and NR's rises at 2026-01."""
    plan = build_network(_scenario(end="2026-06"))
    lte, nr = plan.carriers.index("lte"), plan.carriers.index("nr")
    up, down = _resource("uplink"), _resource("downlink")
    step = _row("2026-01")
    assert plan.background[step - 1, lte, up] == 0.3
    assert plan.background[step, lte, up] == 0.25
    assert plan.background[step - 1, nr, down] == 0.15
    assert plan.background[step, nr, down] == 0.3
    # NB-IoT carriers carry no smartphones
    assert np.all(plan.background[:, plan.carriers.index("nb-iot"), :] == 0.0)


def test_carrier_count_scales_data_budgets_only() -> None:
    """count: 2 doubles the uplink and downlink budgets, not random access or contexts."""
    plan = build_network(_scenario(network=_network(carriers={"nb-iot": {"count": 2}})))
    nb = plan.carriers.index("nb-iot")
    # 2 x 37,152,000 tone-ms; 2 x 2,655,000 subframes; 48 x 90,000 x 0.01005 = 43,417.5; 600
    expected = [2 * NB_UPLINK, 2 * NB_DOWNLINK, NB_RANDOM_ACCESS, NB_CONTEXTS]
    np.testing.assert_allclose(plan.budget[nb], expected, rtol=1e-12)
    single = build_network(_scenario())
    np.testing.assert_allclose(plan.usable[..., nb, :2], 2 * single.usable[..., nb, :2], rtol=1e-12)
    np.testing.assert_allclose(plan.usable[..., nb, 2:], single.usable[..., nb, 2:], rtol=1e-12)


def test_carrier_generation_follows_its_technologies() -> None:
    """lte-cat1 carried on 5G puts the LTE carrier on 5G sites (the catalog says 4G)."""
    network = _network(
        technologies={
            "nb-iot": {"generation": "4G", "share": 0.125},
            "lte-cat1": {"generation": "5G"},
        }
    )
    plan = build_network(_scenario(network=network))
    lte = plan.carriers.index("lte")
    country, cat1 = _index(plan, "country", "lte-cat1")
    # 5G: 200 sites + 20 a month; x 0.7 x 3 = 420 cells at t = 0, 672 at t = 6
    assert plan.carrier_cells[0, country, lte] == pytest.approx(420.0, rel=1e-12)
    assert plan.carrier_cells[6, country, lte] == pytest.approx(672.0, rel=1e-12)
    np.testing.assert_allclose(plan.cells[:, country, cat1], plan.carrier_cells[:, country, lte])
    # NB-IoT stays on 4G: 1001 x 0.7 x 0.125 x 3
    nb = plan.carriers.index("nb-iot")
    assert plan.carrier_cells[0, country, nb] == pytest.approx(262.7625, rel=1e-12)


def test_partial_background_keeps_the_catalogs_other_resources() -> None:
    """background: {uplink: 0.2} on LTE leaves the catalog's downlink 0.5 (and others)."""
    carriers = {"lte": {"background": {"uplink": 0.2}}}
    plan = build_network(_scenario(network=_network(carriers=carriers)))
    lte = plan.carriers.index("lte")
    assert plan.background[0, lte, _resource("uplink")] == 0.2
    # catalog LTE background from 2023-01: downlink 0.5, random access 0.3, contexts 0.4
    np.testing.assert_array_equal(plan.background[0, lte, 1:], [0.5, 0.3, 0.4])


def test_dated_counts_are_interpolated_then_the_tables_apply() -> None:
    """in_service: 1,000 at the start, 1,240 at 2023-12 (20 a month), 1,300 at 2024-06
    (10 a month); after it, 120 built a year (10 a month) and 10 % of 2025's first stock
    retired in 2025 (a twelfth a month)."""
    schedule = SiteSchedule(
        initial=1000,
        in_service={"2024-06": 1300, "2023-12": 1240},
        build_per_year={2023: 5000, 2024: 120, 2025: 120},
        retire_share_per_year={2025: 0.1},
    )
    months = 2022 * 12 + 11 + np.arange(0, 37)  # 2022-12 .. 2025-12
    sites = generation_sites(schedule, months)
    assert sites[:13] == pytest.approx(1000 + 20 * np.arange(13))  # 2023: the counts, not 5000
    assert sites[18] == pytest.approx(1300)  # 2024-06
    assert sites[24] == pytest.approx(1360)  # 2024-12: 10 a month built after the last count
    assert sites[36] == pytest.approx(1360 + 120 - 136)


def test_dated_counts_outside_the_horizon_are_refused() -> None:
    from sim.scenario import ScenarioError, parse_scenario

    refused = r"network\.sites\.5G\.in_service\.2022-12: date 2022-12 lies outside"
    with pytest.raises(ScenarioError, match=refused):
        parse_scenario(
            {
                "start": "2023-01",
                "end": "2024-12",
                "network": {"sites": {"5G": {"initial": 10, "in_service": {"2022-12": 5}}}},
                "categories": {"meter": {"preset": "water_meter", "initial": 10}},
            }
        )
