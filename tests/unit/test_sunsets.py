"""Sunsets as planners state them: retirement as a share of the sites in service at the
start of each year, and technologies switched off in some regions from a month on, with
the terminals left on them migrated (module replaced) or stranded (lost), counted.

Conservation, as implemented (sim/engine/world.py), on every row (category, region,
technology) and month t >= 1:

    connected(t) = connected(t-1) + joined - left - migrated - stranded + migrated_in

and per category and region, everyone offered so far is connected, waiting, blocked,
retired or stranded (migrated terminals stay in the category and region).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import TRAJECTORY_FLOWS, assert_books_kept

from sim import parse_scenario, run
from sim.demand.schedules import row_month_indices
from sim.engine import Plan, Trajectory, build_plan, simulate
from sim.scenario import ScenarioError, SiteSchedule, load_scenario
from sim.study.replications import replication_generator
from sim.supply.network import generation_sites


def _sites(schedule: dict[str, Any], start: str = "2023-01", end: str = "2025-12") -> np.ndarray:
    scenario = parse_scenario(
        {
            "start": start,
            "end": end,
            "network": {"sites": {"4G": schedule}},
            "categories": {"m": {"initial": 1, "technologies": ["nb-iot"]}},
        }
    )
    return generation_sites(SiteSchedule(**schedule), row_month_indices(scenario))


# ----------------------------------------------------------- percentage retirement


def test_twenty_percent_a_year_of_the_sites_at_the_start_of_each_year() -> None:
    sites = _sites({"initial": 1_000_000, "retire_share_per_year": 0.2})
    assert sites[0] == 1_000_000
    assert sites[12] == pytest.approx(800_000, rel=1e-12)  # end of 2023
    assert sites[24] == pytest.approx(640_000, rel=1e-12)  # end of 2024
    assert sites[36] == pytest.approx(512_000, rel=1e-12)
    # spread evenly over the year's months: a twelfth of 20 % of 1,000,000 each month
    np.testing.assert_allclose(np.diff(sites[:13]), -200_000 / 12, rtol=1e-12)
    np.testing.assert_allclose(np.diff(sites[12:25]), -160_000 / 12, rtol=1e-12)


def test_share_combines_with_build_and_retire_per_year() -> None:
    sites = _sites(
        {
            "initial": 1_000_000,
            "build_per_year": 120_000,
            "retire_per_year": 20_000,
            "retire_share_per_year": {2023: 0.2, 2024: 0.5},
        }
    )
    # 2023: +120,000 - 20,000 - 20 % of 1,000,000; 2024: 50 % of the 900,000 left
    assert sites[12] == pytest.approx(900_000, rel=1e-12)
    assert sites[24] == pytest.approx(900_000 + 100_000 - 450_000, rel=1e-12)
    assert sites[36] == pytest.approx(550_000 + 100_000, rel=1e-12)  # 2025: no share given


def test_a_horizon_starting_mid_year_takes_the_share_of_its_first_stock() -> None:
    sites = _sites({"initial": 1_000_000, "retire_share_per_year": 0.2}, start="2023-07")
    assert sites[6] == pytest.approx(900_000, rel=1e-12)  # six twelfths of 20 % of 1 M
    assert sites[18] == pytest.approx(720_000, rel=1e-12)  # 2024: 20 % of 900,000


def test_all_sites_retired_in_a_year_leaves_none_and_never_negative() -> None:
    sites = _sites({"initial": 1000, "retire_share_per_year": 1.0, "retire_per_year": 500})
    assert sites.min() >= 0
    assert sites[12] == 0


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (1.5, "above the allowed maximum 1"),
        (-0.1, "below the allowed minimum 0"),
        (True, "True"),
        ("0.2", "'0.2'"),
        ({2023: 2}, "in 2023"),
        ({"x": 0.1}, "'x'"),
    ],
)
def test_bad_retirement_shares_are_refused(value: Any, fragment: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        _sites({"initial": 10, "retire_share_per_year": value})
    assert "network.sites.4G.retire_share_per_year" in str(caught.value)
    assert fragment in str(caught.value)


def test_a_retirement_year_outside_the_horizon_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"retire_share_per_year: year 2031 lies outside"):
        _sites({"initial": 10, "retire_share_per_year": {2031: 0.1}})


# ----------------------------------------------------------- switch-off


def _scenario(**switch: Any) -> dict[str, Any]:
    """Two regions, NB-IoT and Cat.1 (and LTE-M) on 4G, a meter preferring NB-IoT then Cat.1
    and a tracker on LTE-M then Cat.1; NB-IoT switched off as `switch` says."""
    data: dict[str, Any] = {
        "name": "sunset",
        "start": "2023-01",
        "end": "2024-12",
        "seed": 5,
        "resolution": 7,
        "regions": {
            "east": {"terminal_share": 0.5, "site_share": 0.5},
            "west": {"terminal_share": 0.5, "site_share": 0.5},
        },
        "network": {
            "sectors_per_site": 1,
            "sites": {"4G": {"initial": 200}},
            "technologies": {
                "nb-iot": {"generation": "4G", "share": 1.0},
                "lte-cat1": {"generation": "4G", "share": 1.0},
                "lte-m": {"generation": "4G", "share": 0.5},
            },
        },
        "categories": {
            "meter": {
                "initial": 20_000,
                "growth": {"model": "cagr", "rate": 0.3},
                "lifetime_years": 3,
                "technologies": ["nb-iot", "lte-cat1"],
                "mix": {"nb-iot": 0.8, "lte-cat1": 0.2},
            },
            "tracker": {
                "initial": 5_000,
                "growth": {"model": "cagr", "rate": 0.2},
                "technologies": ["lte-m", "lte-cat1"],
            },
        },
    }
    if switch:
        data["network"]["switch_off"] = [{"technology": "nb-iot", "date": "2024-01"} | switch]
    return data


def _run(data: dict[str, Any], seed: int = 11) -> tuple[Trajectory, Plan]:
    plan = build_plan(parse_scenario(data))
    return simulate(plan, replication_generator(seed)), plan


FLOWS = TRAJECTORY_FLOWS


def _assert_conserved(trajectory: Trajectory) -> None:
    """The identities of the module docstring; counts never negative."""
    assert_books_kept(trajectory)


NB, CAT1, LTEM = 0, 1, 2
EAST, WEST = 0, 1
METER, TRACKER = 0, 1
SWITCH = 13
"""Row of 2024-01, the month the switch-off starts (row 0: 2022-12)."""


@pytest.mark.parametrize("policy", ["migrate", "stranded"])
def test_switch_off_takes_every_terminal_off_and_counts_them(policy: str) -> None:
    trajectory, plan = _run(_scenario(regions=["east"], policy=policy))
    _assert_conserved(trajectory)
    before = trajectory.connected[SWITCH - 1, METER, EAST, NB]
    assert before > 1000
    moved = trajectory.migrated[:, METER, EAST, NB].sum()
    lost = trajectory.stranded[:, METER, EAST, NB].sum()
    # every terminal on NB-IoT in the east just before the switch-off is moved or lost,
    # in the month of the switch-off and no other
    assert moved + lost == before
    assert trajectory.migrated[SWITCH, METER, EAST, NB] == moved
    assert trajectory.stranded[SWITCH, METER, EAST, NB] == lost
    if policy == "migrate":
        assert moved == before  # Cat.1 has room for them all
        assert trajectory.migrated_in[SWITCH, METER, EAST, CAT1] == before
    else:
        assert lost == before
        assert trajectory.migrated_in.sum() == 0
    # nothing on NB-IoT in the east afterwards: no terminal, no join, no site, no cell
    assert trajectory.connected[SWITCH:, :, EAST, NB].sum() == 0
    assert trajectory.joined[SWITCH:, :, EAST, NB].sum() == 0
    assert trajectory.offered[SWITCH:, :, EAST, NB].sum() == 0
    assert plan.network.sites[SWITCH:, EAST, NB].sum() == 0
    assert plan.network.cells[SWITCH:, EAST, NB].sum() == 0
    assert (plan.network.sites[:SWITCH, EAST, NB] > 0).all()
    # new meters drawn to NB-IoT join Cat.1 there, and are not turned away for it
    assert trajectory.joined[SWITCH + 1 :, METER, EAST, CAT1].sum() > 0
    assert trajectory.turned_away[SWITCH:, EAST, NB].sum() == 0
    # demand follows the terminals: none left on NB-IoT in the east
    assert plan.demand[SWITCH:, METER, EAST, NB].sum() == 0


@pytest.mark.parametrize("policy", ["migrate", "stranded"])
def test_other_regions_are_untouched(policy: str) -> None:
    """The west's pools and arrivals are its own: the same seed gives the west the same
    trajectory with or without a switch-off in the east."""
    switched, switched_plan = _run(_scenario(regions=["east"], policy=policy))
    plain, plain_plan = _run(_scenario())
    for name in (*FLOWS, "connected", "waiting"):
        np.testing.assert_array_equal(
            getattr(switched, name)[:, :, WEST], getattr(plain, name)[:, :, WEST], err_msg=name
        )
    np.testing.assert_array_equal(
        switched_plan.network.sites[:, WEST], plain_plan.network.sites[:, WEST]
    )
    assert switched.migrated[:, :, WEST].sum() == switched.stranded[:, :, WEST].sum() == 0
    # and before the switch-off, the east too
    np.testing.assert_array_equal(switched.connected[:SWITCH], plain.connected[:SWITCH])


def test_same_seed_same_outputs_and_the_seed_matters() -> None:
    data = _scenario(policy="migrate")
    first, _ = _run(data, seed=3)
    second, _ = _run(data, seed=3)
    other, _ = _run(data, seed=4)
    for name in (*FLOWS, "connected", "waiting", "pool_terminals"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert not np.array_equal(first.connected, other.connected)


def test_migrate_strands_what_finds_no_room() -> None:
    """Cat.1 on a carrier of tiny budgets: the meters moved off NB-IoT mostly do not fit."""
    data = _scenario(policy="migrate")
    data["network"]["carriers"] = {"lte": {"budget": {"uplink": 100.0, "contexts": 100.0}}}
    data["categories"]["meter"]["load"] = {
        "nb-iot": {"uplink": 0.0, "downlink": 0.0, "random_access": 0.0, "contexts": 0.0},
        "lte-cat1": {"uplink": 1.0, "downlink": 0.0, "random_access": 0.0, "contexts": 1.0},
    }
    trajectory, _ = _run(data)
    _assert_conserved(trajectory)
    before = trajectory.connected[SWITCH - 1, METER, :, NB]
    moved = trajectory.migrated[SWITCH, METER, :, NB]
    lost = trajectory.stranded[SWITCH, METER, :, NB]
    np.testing.assert_array_equal(moved + lost, before)
    assert lost.sum() > 0
    assert moved.sum() > 0
    np.testing.assert_array_equal(trajectory.migrated_in[SWITCH, METER, :, CAT1], moved)


def test_a_category_with_no_technology_left_is_stranded_and_its_joiners_blocked() -> None:
    data = _scenario(policy="migrate")
    data["categories"]["meter"]["technologies"] = ["nb-iot"]
    del data["categories"]["meter"]["mix"]
    trajectory, _ = _run(data)
    _assert_conserved(trajectory)
    before = trajectory.connected[SWITCH - 1, METER, :, NB]
    np.testing.assert_array_equal(trajectory.stranded[SWITCH, METER, :, NB], before)
    assert trajectory.migrated.sum() == 0
    assert trajectory.connected[SWITCH:, METER].sum() == 0
    # every later joiner is blocked (on the technology it was drawn to)
    np.testing.assert_array_equal(
        trajectory.blocked[SWITCH:, METER, :, NB], trajectory.offered[SWITCH:, METER, :, NB]
    )
    assert trajectory.offered[SWITCH + 1 :, METER].sum() > 0


def test_switching_off_a_shared_carrier_technology_raises_the_others_availability() -> None:
    """Cat.1 off in the east: the LTE carrier stays on LTE-M's half of the sites there, on
    which LTE-M is now on every cell of its carrier; the trackers on Cat.1 migrate to LTE-M
    (their next technology, before it in preference order)."""
    data = _scenario(technology="lte-cat1", regions=["east"], policy="migrate")
    data["categories"]["tracker"]["mix"] = {"lte-m": 0.5, "lte-cat1": 0.5}
    trajectory, plan = _run(data)
    _assert_conserved(trajectory)
    network = plan.network
    lte = network.carriers.index("lte")
    np.testing.assert_allclose(network.region_availability[SWITCH:, EAST, LTEM], 1.0)
    np.testing.assert_allclose(network.region_availability[SWITCH:, WEST, LTEM], 0.5)
    np.testing.assert_allclose(
        network.carrier_cells[SWITCH:, EAST, lte], network.carrier_cells[SWITCH:, WEST, lte] / 2
    )
    before = trajectory.connected[SWITCH - 1, TRACKER, EAST, CAT1]
    assert before > 0
    assert trajectory.migrated_in[SWITCH, TRACKER, EAST, LTEM] == before
    # the meters' next technology after Cat.1 is NB-IoT
    assert (
        trajectory.migrated_in[SWITCH, METER, EAST, NB]
        == trajectory.connected[SWITCH - 1, METER, EAST, CAT1]
    )


def test_switch_off_at_the_start_moves_the_initial_base() -> None:
    data = _scenario(policy="stranded", date="2023-01", regions=["west"])
    trajectory, _ = _run(data)
    _assert_conserved(trajectory)
    assert trajectory.stranded[1, METER, WEST, NB] == trajectory.connected[0, METER, WEST, NB] > 0
    assert trajectory.connected[1:, :, WEST, NB].sum() == 0


def test_waiting_terminals_of_a_switched_off_technology_are_blocked() -> None:
    data = _scenario(policy="migrate")
    meter = data["categories"]["meter"]
    meter["when_full"] = "wait"
    data["network"]["carriers"] = {"nb-iot": {"budget": {"contexts": 20.0}}}
    meter["load"] = {
        tech: {"uplink": 0.0, "downlink": 0.0, "random_access": 0.0, "contexts": 1.0}
        for tech in ("nb-iot", "lte-cat1")
    }
    trajectory, _ = _run(data)
    _assert_conserved(trajectory)
    assert trajectory.waiting[SWITCH - 1, METER, :, NB].sum() > 0
    assert trajectory.waiting[SWITCH:, METER, :, NB].sum() == 0


def test_results_carry_the_counts() -> None:
    result = run(_scenario(regions=["east"], policy="migrate"))
    connections = result.connections
    for column in ("migrated", "migrated_in", "stranded"):
        assert connections[column].dtype.kind == "i"
    at_switch = connections[(connections["date"] == "2024-01") & (connections["region"] == "east")]
    meter = at_switch[at_switch["category"] == "meter"].set_index("technology")
    moved = meter["migrated"].to_dict()
    assert moved["nb-iot"] > 0
    assert meter["migrated_in"].to_dict()["lte-cat1"] == moved["nb-iot"]
    summary: dict[str, str] = dict(
        zip(result.summary["metric"], result.summary["value"], strict=True)
    )
    assert summary["migrated_total"] == str(connections["migrated"].sum())
    assert summary["migrated_from_nb-iot"] == summary["migrated_total"]
    assert summary["stranded_total"] == summary["stranded_from_nb-iot"] == "0"
    network = result.network
    east_nb = network[(network["region"] == "east") & (network["technology"] == "nb-iot")]
    assert (east_nb.loc[east_nb["date"] >= "2024-01", ["sites", "cells", "connected"]] == 0).all(
        axis=None
    )
    assert (east_nb.loc[east_nb["date"] < "2024-01", "sites"] > 0).all()


# ----------------------------------------------------------- validation


SWITCH_YAML = """\
name: t
end: 2025-12
regions:
  east: {{terminal_share: 0.5, site_share: 0.5}}
  west: {{terminal_share: 0.5, site_share: 0.5}}
network:
  sites: {{4G: {{initial: 100}}}}
  switch_off:
    - {{technology: lte-cat1, date: 2024-01, policy: migrate}}
    - {switch}
categories:
  m: {{initial: 10, technologies: [nb-iot, lte-cat1]}}
"""


@pytest.mark.parametrize(
    ("switch", "path", "fragments"),
    [
        (
            "{technology: nb-iot, date: 2030-01, policy: migrate}",
            "network.switch_off[1].date",
            ("2030-01 lies outside the horizon 2023-01..2025-12",),
        ),
        (
            "{technology: nb-iott, date: 2024-01, policy: stranded}",
            "network.switch_off[1].technology",
            ("'nb-iott' is not carried", "did you mean 'nb-iot'"),
        ),
        (
            "{technology: nb-iot, date: 2024-01, policy: strand}",
            "network.switch_off[1].policy",
            ("'migrate'", "'stranded'"),
        ),
        (
            "{technology: nb-iot, date: 2024-01, regions: [easst], policy: migrate}",
            "network.switch_off[1].regions[0]",
            ("unknown region 'easst'", "did you mean 'east'"),
        ),
        (
            "{technology: lte-cat1, date: 2025-01, regions: [west], policy: stranded}",
            "network.switch_off[1].regions",
            ("already switched off in west by network.switch_off[0]",),
        ),
        (
            "{technology: nb-iot, policy: migrate}",
            "network.switch_off[1].date",
            ("required",),
        ),
        (
            "{technology: nb-iot, date: 2024-01, regions: [], policy: migrate}",
            "network.switch_off[1].regions",
            ("at least 1",),
        ),
    ],
)
def test_bad_switch_offs_point_to_file_line_and_field(
    tmp_path: Path, switch: str, path: str, fragments: tuple[str, ...]
) -> None:
    text = SWITCH_YAML.format(switch=switch)
    file = tmp_path / "s.yaml"
    file.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    problems = [problem for problem in caught.value.problems if problem.path == path]
    assert problems, [str(problem) for problem in caught.value.problems]
    problem = problems[0]
    assert problem.file == str(file)
    # the line of the switch-off as written (its list item), or of the field inside it
    assert problem.line == text.splitlines().index(f"    - {switch}") + 1
    for fragment in fragments:
        assert fragment in problem.message, problem.message


def test_nested_region_names_cover_their_leaves() -> None:
    """A group's name switches off all of its leaves, a leaf's path that leaf only
    (Scenario.leaves_of, the one resolver of region names); a near miss is refused."""
    data = copy.deepcopy(_scenario(policy="stranded", regions=["east"]))
    data["regions"]["east"]["regions"] = {
        "city": {"terminal_share": 0.5, "site_share": 0.5},
        "eastern_hills": {"terminal_share": 0.5, "site_share": 0.5},
    }
    network = build_plan(parse_scenario(data)).network
    assert network.regions == ("east/city", "east/eastern_hills", "west")
    nb_iot = network.technologies.index("nb-iot")
    assert network.switched_off[-1, :, nb_iot].tolist() == [True, True, False]
    data["network"]["switch_off"][0]["regions"] = ["east/city"]
    network = build_plan(parse_scenario(data)).network
    assert network.switched_off[-1, :, nb_iot].tolist() == [True, False, False]
    data["network"]["switch_off"][0]["regions"] = ["east/cty"]
    with pytest.raises(ScenarioError, match="did you mean 'east/city'"):
        parse_scenario(data)


def test_the_default_switches_off_every_region() -> None:
    data = copy.deepcopy(_scenario(policy="stranded"))
    plan = build_plan(parse_scenario(data))
    assert plan.network.switched_off[SWITCH:, :, NB].all()
    assert not plan.network.switched_off[:SWITCH].any()
    assert [(e.row, e.region, e.technology, e.policy) for e in plan.network.switch_offs] == [
        (SWITCH, EAST, NB, "stranded"),
        (SWITCH, WEST, NB, "stranded"),
    ]


def test_demand_moves_with_the_terminals_and_keeps_its_total() -> None:
    _, switched = _run(_scenario(regions=["east"], policy="migrate"))
    _, plain = _run(_scenario())
    np.testing.assert_allclose(switched.demand.sum(axis=3), plain.demand.sum(axis=3), rtol=1e-12)
    np.testing.assert_allclose(
        switched.demand[SWITCH:, METER, EAST, CAT1],
        plain.demand[SWITCH:, METER, EAST, CAT1] + plain.demand[SWITCH:, METER, EAST, NB],
        rtol=1e-12,
    )
    np.testing.assert_array_equal(switched.demand[:SWITCH], plain.demand[:SWITCH])


def test_sites_retired_by_schedule_displace_terminals_as_before_not_as_a_switch_off() -> None:
    """Retirement is capacity: the terminals the sites can no longer hold are displaced
    (left, then joined elsewhere or blocked), never migrated or stranded."""
    data = _scenario()
    data["network"]["sites"]["4G"]["retire_share_per_year"] = {2024: 1.0}
    data["network"]["carriers"] = {"nb-iot": {"budget": {"contexts": 30.0}}}
    data["categories"]["meter"]["load"] = {
        tech: {"uplink": 0.0, "downlink": 0.0, "random_access": 0.0, "contexts": 1.0}
        for tech in ("nb-iot", "lte-cat1")
    }
    trajectory, plan = _run(data)
    _assert_conserved(trajectory)
    assert plan.network.sites[-1].sum() == 0
    assert trajectory.migrated.sum() == trajectory.stranded.sum() == 0
    displaced = trajectory.left[SWITCH:] - trajectory.retired[SWITCH:]
    assert displaced.sum() > 0
