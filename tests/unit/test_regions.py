"""Nested regions: leaf shares are the products of the shares down their paths, dated site
shares per generation give the site counts computed by hand, official-region totals in
summary.csv are the sums of their leaves' rows, a region split into one part of share 1
runs as the region itself, and bad nesting is a clear error at its field path."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from sim import run
from sim.report.html import build_report, findings
from sim.results.reading import Tables
from sim.scenario import Scenario, ScenarioError, load_scenario, month_index, parse_scenario
from sim.supply.network import build_network

ROOT = Path(__file__).resolve().parents[2]

NESTED: dict[str, Any] = {
    "name": "nested",
    "start": "2023-01",
    "end": "2023-12",
    "access": {"spread_cv": 0.9},
    "regions": {
        "east": {
            "terminal_share": 0.4,
            "site_share": {"4G": 0.4, "5G": {"2023-01": 0.5, "2023-07": 0.6}},
            "spread_cv": 1.5,
            "regions": {
                "city": {
                    "terminal_share": 0.25,
                    "site_share": {"4G": 0.25, "5G": {"2023-01": 0.5, "2023-10": 0.3}},
                    "regions": {
                        "core": {"terminal_share": 0.2, "site_share": 0.1, "spread_cv": 2.0},
                        "edge": {"terminal_share": 0.8, "site_share": 0.9},
                    },
                },
                "rest": {
                    "terminal_share": 0.75,
                    "site_share": {"4G": 0.75, "5G": {"2023-01": 0.5, "2023-10": 0.7}},
                },
            },
        },
        "central": {
            "terminal_share": 0.6,
            "site_share": {"4G": 0.6, "5G": {"2023-01": 0.5, "2023-07": 0.4}},
        },
    },
    "network": {
        "sites": {
            "4G": {"initial": 1000},
            "5G": {"initial": 600, "build_per_year": 120},  # 10 sites a month
        },
        "technologies": {
            "lte-cat1": {"generation": "4G", "share": 1.0},
            "nb-iot": {"generation": "4G", "share": 0.5},
            "nr-redcap": {"generation": "5G", "share": 1.0},
        },
    },
    "categories": {
        "water_meter": {
            "preset": "water_meter",
            "initial": 100_000,
            "technologies": ["nb-iot", "lte-cat1"],
            "regions": {"east": 0.5, "central": 0.5},
        },
        "tracker": {
            "preset": "water_meter",
            "initial": 10_000,
            "technologies": ["nr-redcap"],
            "regions": {"east/city": 0.2, "east/rest": 0.8},
        },
    },
    "targets": [{"name": "east", "date": "2023-12", "region": "east", "at_least": 1}],
}


def test_leaves_are_named_by_path_with_products_of_the_shares_down_it() -> None:
    scenario = parse_scenario(NESTED)
    assert scenario.leaf_names == ("east/city/core", "east/city/edge", "east/rest", "central")
    assert scenario.region_paths == (
        "east", "east/city", "east/city/core", "east/city/edge", "east/rest", "central",
    )  # fmt: skip
    leaves = scenario.leaf_regions
    by_hand = {
        "east/city/core": 0.4 * 0.25 * 0.2,
        "east/city/edge": 0.4 * 0.25 * 0.8,
        "east/rest": 0.4 * 0.75,
        "central": 0.6,
    }
    for name, share in by_hand.items():
        assert leaves[name].terminal_share == pytest.approx(share, rel=1e-12)
    assert math.fsum(leaf.terminal_share for leaf in leaves.values()) == pytest.approx(1.0)
    # spread_cv: the nearest region on the path that sets it, else access.spread_cv
    assert [leaves[name].spread_cv for name in by_hand] == [2.0, 1.5, 1.5, 0.9]
    assert scenario.region_spread_cv("east/city/edge") == 1.5
    # a group stands for its leaves; a leaf for itself; anything else is unknown
    assert scenario.leaves_of("east") == ("east/city/core", "east/city/edge", "east/rest")
    assert scenario.leaves_of("east/city") == ("east/city/core", "east/city/edge")
    assert scenario.leaves_of("central") == ("central",)
    with pytest.raises(KeyError):
        scenario.leaves_of("city")
    assert scenario.region_groups == {
        "east": ("east/city/core", "east/city/edge", "east/rest"),
        "east/city": ("east/city/core", "east/city/edge"),
    }
    # 5G site shares at every month sum to 1 over the leaves
    for month in ("2023-01", "2023-07", "2023-10", "2023-12"):
        index = month_index(month)
        for generation in ("4G", "5G"):
            total = math.fsum(leaf.site_share(generation, index) for leaf in leaves.values())
            assert total == pytest.approx(1.0, abs=1e-12), (month, generation)


def test_a_category_naming_a_group_spreads_it_over_its_leaves_by_their_terminal_shares() -> None:
    scenario = parse_scenario(NESTED)
    meters = scenario.category_region_shares("water_meter")
    assert meters == pytest.approx(
        {
            "east/city/core": 0.5 * 0.25 * 0.2,
            "east/city/edge": 0.5 * 0.25 * 0.8,
            "east/rest": 0.5 * 0.75,
            "central": 0.5,
        },
        rel=1e-12,
    )
    trackers = scenario.category_region_shares("tracker")
    assert trackers == pytest.approx(
        {
            "east/city/core": 0.2 * 0.2,
            "east/city/edge": 0.2 * 0.8,
            "east/rest": 0.8,
            "central": 0.0,
        },
        rel=1e-12,
    )


def _sites(plan: Any, month: str, region: str, technology: str) -> float:
    t = month_index(month) - month_index("2022-12")  # row 0 is the month before start
    return float(plan.sites[t, plan.regions.index(region), plan.technologies.index(technology)])


@pytest.mark.parametrize(
    ("month", "region", "technology", "by_hand"),
    [
        # 4G: 1,000 sites, never built; nb-iot on half of them
        ("2023-05", "east/city/core", "lte-cat1", 1000 * 0.4 * 0.25 * 0.1),
        ("2023-05", "east/city/edge", "nb-iot", 1000 * 0.5 * 0.4 * 0.25 * 0.9),
        ("2023-05", "central", "lte-cat1", 1000 * 0.6),
        # 5G: 600 + 10 a month; east 0.5 then 0.6 from 2023-07; east/city 0.5 then 0.3
        # from 2023-10
        ("2023-03", "east/city/core", "nr-redcap", 630 * 0.5 * 0.5 * 0.1),
        ("2023-06", "east/city/edge", "nr-redcap", 660 * 0.5 * 0.5 * 0.9),
        ("2023-07", "east/city/edge", "nr-redcap", 670 * 0.6 * 0.5 * 0.9),
        ("2023-10", "east/city/edge", "nr-redcap", 700 * 0.6 * 0.3 * 0.9),
        ("2023-10", "east/rest", "nr-redcap", 700 * 0.6 * 0.7),
        ("2023-06", "central", "nr-redcap", 660 * 0.5),
        ("2023-12", "central", "nr-redcap", 720 * 0.4),
    ],
)
def test_dated_site_shares_per_generation_give_the_sites_by_hand(
    month: str, region: str, technology: str, by_hand: float
) -> None:
    plan = build_network(parse_scenario(NESTED))
    assert _sites(plan, month, region, technology) == pytest.approx(by_hand, rel=1e-12)
    t = month_index(month) - month_index("2022-12")
    r, k = plan.regions.index(region), plan.technologies.index(technology)
    assert plan.cells[t, r, k] == pytest.approx(3 * by_hand, rel=1e-12)  # 3 sectors a site


def test_every_generations_sites_add_up_to_the_national_count_each_month() -> None:
    plan = build_network(parse_scenario(NESTED))
    national = {"4G": [1000.0] * 13, "5G": [600.0 + 10 * t for t in range(13)]}
    for g, generation in enumerate(plan.generations):
        totals = plan.generation_sites[:, :, g].sum(axis=1)
        assert totals == pytest.approx(national[generation], rel=1e-12)
    # carrier cells: each carrier on its generation's sites in the region, at its share
    nb = plan.carriers.index("nb-iot")
    core = plan.regions.index("east/city/core")
    assert plan.carrier_cells[5, core, nb] == pytest.approx(1000 * 0.5 * 0.4 * 0.25 * 0.1 * 3)


def _crunch() -> dict[str, Any]:
    """The bundled capacity crunch with its two city regions nested in one group, 'cities'
    (the same leaf shares: 0.7 x 0.25/0.7 = 0.25 ...), over a shorter horizon."""
    data = yaml.safe_load((ROOT / "scenarios" / "china_capacity_crunch.yaml").read_text())
    flat = data["regions"]
    data["regions"] = {
        "cities": {
            "terminal_share": 0.7,
            "site_share": 0.55,
            "regions": {
                name: {
                    **flat[name],
                    "terminal_share": flat[name]["terminal_share"] / 0.7,
                    "site_share": flat[name]["site_share"] / 0.55,
                }
                for name in ("dense_urban", "urban")
            },
        },
        "rural": flat["rural"],
    }
    return data


@pytest.fixture(scope="module")
def crunch() -> Any:
    return run(_crunch())


def test_official_region_totals_are_the_sums_of_their_leaf_rows(crunch: Any) -> None:
    summary = dict(zip(crunch.summary["metric"], crunch.summary["value"], strict=True))
    leaves = ["cities/dense_urban", "cities/urban"]
    end = crunch.scenario.end
    connections = crunch.connections[crunch.connections["region"].isin(leaves)]
    network = crunch.network[crunch.network["region"].isin(leaves)]
    cells = crunch.cells[crunch.cells["region"].isin(leaves)]
    at_end = connections[connections["date"] == end]
    assert int(summary["connected_end_cities"]) == at_end["connected"].sum() > 0
    assert int(summary["demand_end_cities"]) == at_end["demand"].sum()
    assert int(summary["waiting_end_cities"]) == at_end["waiting"].sum()
    assert float(summary["connected_share_of_demand_end_cities"]) == pytest.approx(
        at_end["connected"].sum() / at_end["demand"].sum(), abs=1e-6
    )
    assert int(summary["blocked_total_cities"]) == connections["blocked"].sum() > 0
    assert int(summary["turned_away_total_cities"]) == network["turned_away"].sum() > 0
    blocked = connections[connections["blocked"] > 0]
    assert summary["first_blocked_date_cities"] == blocked["date"].min()
    full = cells[cells["full"]]
    first = full.sort_values("date", kind="stable").iloc[0]
    assert summary["first_full_date_cities"] == first["date"]
    assert summary["first_full_cells_cities"] == (
        f"{first['region']}/{first['cell_class']}/{first['carrier']}"
    )
    # lte and nr are carried on every site of their generation: their rows are the sites
    for generation, technology in (("4G", "lte"), ("5G", "nr")):
        rows = network[(network["date"] == end) & (network["technology"] == technology)]
        assert abs(int(summary[f"sites_end_{generation}_cities"]) - rows["sites"].sum()) <= 1
    # the national figures are the group's plus the flat region's
    national = crunch.connections[crunch.connections["date"] == end]["connected"].sum()
    rural = crunch.connections[
        (crunch.connections["date"] == end) & (crunch.connections["region"] == "rural")
    ]["connected"].sum()
    assert int(summary["connected_end"]) == national == int(summary["connected_end_cities"]) + rural
    # a top-level region without parts has no group figures
    assert not any(metric.endswith("_rural") for metric in summary)


def test_the_report_reads_the_official_region_totals_first(crunch: Any) -> None:
    tables = Tables.of(crunch)
    first = findings(tables)[0]
    summary = dict(zip(crunch.summary["metric"], crunch.summary["value"], strict=True))
    blocked = int(summary["blocked_total_cities"])
    assert first.text.startswith("cities: ")
    assert " connected of " in first.text
    assert f"{blocked:,} blocked" in first.text or f"{blocked / 1e6:.3g} M blocked" in first.text
    assert "sites at the end: 4G " in first.text
    assert ", 5G " in first.text
    assert f"first full cell class from {summary['first_full_date_cities']}" in first.text
    page = build_report([tables])
    assert '<section id="regions"><h2>Official regions</h2>' in page
    assert "<td>cities</td>" in page


def _renamed(frame: pd.DataFrame, old: str, new: str) -> pd.DataFrame:
    return frame.replace({"region": {old: new}})


def test_a_region_split_into_one_part_of_share_one_runs_as_the_region_itself() -> None:
    """The same scenario, flat and with its one region holding one part of share 1: every
    table is equal once the leaf's path is read as the region's name, and the summary
    differs only by the group's own figures (which are then the national ones)."""
    flat = yaml.safe_load((ROOT / "scenarios" / "minimal.yaml").read_text())
    flat |= {"end": "2025-06", "regions": {"national": {"terminal_share": 1, "site_share": 1}}}
    nested = copy.deepcopy(flat)
    nested["regions"]["national"]["regions"] = {"all": {"terminal_share": 1, "site_share": 1}}
    one, two = run(flat), run(nested)
    assert two.scenario.leaf_names == ("national/all",)
    for table in ("connections", "network", "cells", "targets"):
        expected = getattr(one, table)
        got = _renamed(getattr(two, table), "national/all", "national")
        pd.testing.assert_frame_equal(expected, got, check_exact=True)
    left: dict[str, str] = dict(zip(one.summary["metric"], one.summary["value"], strict=True))
    right: dict[str, str] = {
        metric: value.replace("national/all/", "national/")
        for metric, value in zip(two.summary["metric"], two.summary["value"], strict=True)
    }
    group = {metric: value for metric, value in right.items() if metric.endswith("_national")}
    assert group["connected_end_national"] == left["connected_end"]
    assert group["demand_end_national"] == left["demand_end"]
    assert {m: v for m, v in right.items() if m not in group} == left


# ---------------------------------------------------------------------------- errors

CATEGORIES = "categories:\n  water_meter: {preset: water_meter, initial: 1000}\n"


def _problems(tmp_path: Path, text: str) -> list[Any]:
    path = tmp_path / "regions.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    return list(raised.value.problems)


EAST = (
    "regions:\n"
    "  east:\n"
    "    terminal_share: 0.4\n"
    "    site_share: {4G: 0.4, 5G: {2023-01: 0.5, 2024-06: 0.6}}\n"
    "    regions:\n"
)
WEST = "  west: {terminal_share: 0.6, site_share: {4G: 0.6, 5G: {2023-01: 0.5, 2024-06: 0.4}}}\n"


@pytest.mark.parametrize(
    ("text", "path", "line", "fragments"),
    [
        pytest.param(
            EAST + "      a: {terminal_share: 0.3, site_share: 0.5}\n"
            "      b: {terminal_share: 0.6, site_share: 0.5}\n" + WEST + CATEGORIES,
            "regions.east.regions.*.terminal_share",
            6,
            ("0.9", "a: 0.3", "b: 0.6"),
            id="children-terminal-shares-sum",
        ),
        pytest.param(
            EAST + "      a: {terminal_share: 0.5, site_share: {4G: 0.5, 5G: 0.5}}\n"
            "      b: {terminal_share: 0.5, site_share: {4G: 0.5, 5G: {2023-01: 0.5, "
            "2025-01: 0.6}}}\n" + WEST + CATEGORIES,
            "regions.east.regions.*.site_share.5G",
            6,
            ("at 2025-01", "1.1", "b: 0.6"),
            id="children-dated-site-shares-sum",
        ),
        pytest.param(
            EAST + "      a: {terminal_share: 1, site_share: 1}\n"
            "  west: {terminal_share: 0.6, site_share: {4G: 0.6, 5G: 0.5}}\n" + CATEGORIES,
            "regions.*.site_share.5G",
            2,
            ("at 2024-06", "1.1", "east: 0.6", "west: 0.5"),
            id="top-level-dated-site-shares-sum",
        ),
        pytest.param(
            "network:\n  sites: {4G: {initial: 100}}\n"
            "regions:\n  east: {terminal_share: 1, site_share: {4G: 1, 5G: 1}}\n"
            "categories:\n  water_meter: {preset: water_meter, initial: 1000, "
            "technologies: [lte-cat1]}\n",
            "regions.east.site_share.5G",
            4,
            ("5G has no sites", "network.sites has 4G"),
            id="generation-without-sites",
        ),
        pytest.param(
            EAST + "      a: {terminal_share: 1, site_share: {4G: 1}}\n" + WEST + CATEGORIES,
            "regions.east.regions.a.site_share",
            6,
            ("no share of the 5G sites",),
            id="generation-left-out",
        ),
        pytest.param(
            "regions:\n  r: {terminal_share: 1, site_share: {3G: 1}}\n" + CATEGORIES,
            "regions.r.site_share",
            2,
            ("'3G' is not a generation", "4G, 5G"),
            id="unknown-generation",
        ),
        pytest.param(
            "regions:\n  a:\n    terminal_share: 1\n    site_share: 1\n    regions:\n"
            "      b:\n        terminal_share: 1\n        site_share: 1\n        regions:\n"
            "          c:\n            terminal_share: 1\n            site_share: 1\n"
            "            regions:\n              d:\n                terminal_share: 1\n"
            "                site_share: 1\n                regions:\n"
            "                  e: {terminal_share: 1, site_share: 1}\n" + CATEGORIES,
            "regions.a.regions.b.regions.c.regions.d.regions",
            18,
            ("at most 4 levels deep",),
            id="too-deep",
        ),
        pytest.param(
            EAST + "      a/b: {terminal_share: 1, site_share: 1}\n" + WEST + CATEGORIES,
            "regions.east.regions.a/b",
            6,
            ("'a/b' is not a name",),
            id="slash-in-a-name",
        ),
        pytest.param(
            EAST + "      {}\n" + WEST + CATEGORIES,
            "regions.east.regions",
            6,
            ("no regions",),
            id="no-parts",
        ),
        pytest.param(
            EAST
            + "      a: {terminal_share: 1, site_share: 1}\n"
            + WEST
            + "categories:\n  water_meter: {preset: water_meter, initial: 1000, "
            "regions: {east: 0.5, east/a: 0.2, west: 0.3}}\n",
            "categories.water_meter.regions.east/a",
            9,
            ("inside 'east'",),
            id="category-names-a-group-and-its-part",
        ),
        pytest.param(
            EAST
            + "      a: {terminal_share: 1, site_share: 1}\n"
            + WEST
            + CATEGORIES
            + "targets:\n  - {name: t, date: 2025-01, region: east/b, at_least: 1}\n",
            "targets[0].region",
            11,
            ("unknown region 'east/b'", "east/a"),
            id="target-names-an-unknown-part",
        ),
    ],
)
def test_bad_nesting_is_an_error_at_its_field_path(
    tmp_path: Path, text: str, path: str, line: int, fragments: tuple[str, ...]
) -> None:
    problems = _problems(tmp_path, text)
    (problem,) = [p for p in problems if p.path == path]
    assert problem.line == line, str(problem)
    for fragment in fragments:
        assert fragment in problem.message, (fragment, str(problem))


def test_a_flat_scenario_with_per_generation_site_shares_loads() -> None:
    """`site_share` as one number keeps its meaning; per generation it may step by date."""
    scenario: Scenario = parse_scenario(
        {
            "regions": {
                "a": {"terminal_share": 0.5, "site_share": {"4G": 0.3, "5G": 0.5}},
                "b": {"terminal_share": 0.5, "site_share": {"4G": 0.7, "5G": 0.5}},
            },
            "categories": {"water_meter": {"preset": "water_meter", "initial": 1000}},
        }
    )
    leaves = scenario.leaf_regions
    assert leaves["a"].site_share("4G", scenario.start_index) == 0.3
    assert leaves["b"].site_share("5G", scenario.start_index) == 0.5
    assert scenario.region_groups == {}


def test_a_groups_sites_are_its_own_not_a_nested_groups() -> None:
    """`sites_end_4G_east/rest_of_east` ends in '_east' but is not the East's figure."""
    from sim.report.html import _group_sites

    figures = {"sites_end_4G_east": "1", "sites_end_5G_east": "2",
               "sites_end_4G_east/rest_of_east": "3", "sites_end_4G_northeast": "4"}  # fmt: skip
    assert _group_sites(figures, "east") == {"4G": "sites_end_4G_east", "5G": "sites_end_5G_east"}
    assert _group_sites(figures, "east/rest_of_east") == {"4G": "sites_end_4G_east/rest_of_east"}
