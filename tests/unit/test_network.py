"""Unit tests of sim.supply.network: site build-out, capacity per pool and the row calendar.

Expected values are computed by hand from the scenario figures.
"""

from __future__ import annotations

import math
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


def _scenario(**overrides: Any) -> sim.Scenario:
    """Two regions (site shares 0.3 / 0.7), 4G with a build table, 5G constant build."""
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
        "technologies": {"nb-iot": {"max_devices_per_cell": 7}},
        "categories": {"meter": {"initial": 1000, "technologies": ["nb-iot", "lte-cat1"]}},
    }
    data.update(overrides)
    return sim.parse_scenario(data)


def _pool(plan: Any, region: str, technology: str) -> tuple[int, int]:
    return plan.regions.index(region), plan.technologies.index(technology)


def test_build_network_axes() -> None:
    """Arrays are [t, region, technology] with t = 0..M, in the scenario's order."""
    plan = build_network(_scenario())
    assert plan.regions == ("city", "country")
    assert plan.technologies == ("nb-iot", "lte-cat1", "lte-m", "nr-redcap")
    assert plan.sites.shape == plan.cells.shape == plan.capacity.shape == (37, 2, 4)
    assert plan.capacity.dtype == np.int64


def test_build_network_capacity_hand_computed() -> None:
    """capacity = floor(sites x site share x tech share x sectors x devices per cell)."""
    plan = build_network(_scenario())
    city, nb = _pool(plan, "city", "nb-iot")
    country, cat1 = _pool(plan, "country", "lte-cat1")
    # nb-iot in the city at t=0: 1001 x 0.3 x 0.125 x 3 = 112.6125 cells; x 7 (override)
    assert plan.sites[0, city, nb] == pytest.approx(37.5375, rel=1e-12)
    assert plan.cells[0, city, nb] == pytest.approx(112.6125, rel=1e-12)
    assert plan.capacity[0, city, nb] == 788  # floor(788.2875)
    # nb-iot in the country at t=0: 1001 x 0.7 x 0.125 x 3 x 7 = 1839.3375
    assert plan.capacity[0, country, nb] == 1839
    # lte-cat1 in the country at the end of 2024: (1001 + 1200) x 0.7 x 1 x 3 x 20000 (catalog)
    t = month_index("2024-12") - START_INDEX + 1
    assert plan.capacity[t, country, cat1] == math.floor(2201 * 0.7 * 3 * 20_000 + 1e-6)
    assert plan.capacity[t, country, cat1] == 92_442_000
    # mid-2024 (t = 18, six months of 2024 built): 1601 x 0.3 x 0.125 x 3 x 7 = 1260.7875
    assert plan.capacity[18, city, nb] == 1260


def test_build_network_cells_are_sites_times_sectors() -> None:
    """cells = sites x sectors per site in every pool and month."""
    plan = build_network(_scenario())
    np.testing.assert_allclose(plan.cells, plan.sites * 3, rtol=1e-12)
    assert plan.sites[0, 0, 1] == pytest.approx(1001 * 0.3, rel=1e-12)


def test_build_network_sectors_per_site() -> None:
    """Six sectors per site: cells = 6 x sites, and capacity follows."""
    network = {
        "sectors_per_site": 6,
        "sites": {"4G": {"initial": 1001}},
        "technologies": {
            "nb-iot": {"generation": "4G", "share": 0.125},
            "lte-cat1": {"generation": "4G"},
        },
    }
    plan6 = build_network(_scenario(network=network))
    country, cat1 = _pool(plan6, "country", "lte-cat1")
    assert plan6.cells[0, country, cat1] == pytest.approx(1001 * 0.7 * 6, rel=1e-12)
    assert plan6.capacity[0, country, cat1] == 1001 * 7 * 6 * 2000


def test_build_network_dated_share_switches_at_its_month() -> None:
    """nr-redcap carries 0 before 2024-07 and half the 5G sites from the end of 2024-07."""
    plan = build_network(_scenario())
    city, redcap = _pool(plan, "city", "nr-redcap")
    switch = month_index("2024-07") - START_INDEX + 1  # row of 2024-07 = 19
    assert switch == 19
    np.testing.assert_array_equal(plan.capacity[:switch, :, redcap], 0)
    fiveg = 200.0 + 20.0 * switch  # 240 sites a year
    assert plan.sites[switch, city, redcap] == pytest.approx(fiveg * 0.5 * 0.3, rel=1e-12)
    expected = math.floor(fiveg * 0.5 * 0.3 * 3 * 52_547 * (1 + 1e-12))
    assert plan.capacity[switch, city, redcap] == expected


def test_build_network_zero_share_has_zero_capacity() -> None:
    """A technology carried on share 0 has no sites, cells or capacity."""
    plan = build_network(_scenario())
    _, ltem = _pool(plan, "city", "lte-m")
    assert np.all(plan.sites[:, :, ltem] == 0.0)
    assert np.all(plan.cells[:, :, ltem] == 0.0)
    assert np.all(plan.capacity[:, :, ltem] == 0)


def test_build_network_override_and_catalog_devices_per_cell() -> None:
    """An override of max_devices_per_cell replaces the catalog's 52,547 for nb-iot."""
    without = _scenario(technologies={})
    plan = build_network(without)
    city, nb = _pool(plan, "city", "nb-iot")
    assert plan.capacity[0, city, nb] == math.floor(112.6125 * 52_547)
    with_override = build_network(_scenario())
    assert with_override.capacity[0, city, nb] == 788


def test_build_network_capacity_not_lost_to_rounding() -> None:
    """0.7 x 3 x 10 x 0.1 cells-devices is exactly 21 terminals, not 20."""
    network = {
        "sectors_per_site": 3,
        "sites": {"4G": {"initial": 10}},
        "technologies": {"nb-iot": {"generation": "4G", "share": 0.1}},
    }
    scenario = _scenario(
        network=network,
        technologies={"nb-iot": {"max_devices_per_cell": 10}},
        categories={"meter": {"initial": 1000, "technologies": ["nb-iot"]}},
    )
    plan = build_network(scenario)
    country, nb = _pool(plan, "country", "nb-iot")
    assert plan.capacity[0, country, nb] == 21
    assert plan.capacity[0, 0, nb] == 9  # city: 10 x 0.1 x 0.3 x 3 x 10 = 9
