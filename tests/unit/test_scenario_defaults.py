"""Every key has a documented default; presets fill categories; overrides win."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import ScenarioError, load_scenario, parse_scenario
from sim.scenario import Category, catalog

ROOT = Path(__file__).resolve().parents[2]


def test_minimal_file_resolves_to_the_documented_defaults() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "minimal.yaml")
    assert scenario.name == "minimal"  # the file name
    assert (scenario.start, scenario.end, scenario.seed) == ("2023-01", "2030-12", 1)
    assert scenario.months == 96
    assert scenario.resolution == "auto"
    assert list(scenario.regions) == ["national"]
    assert scenario.regions["national"].terminal_share == 1.0
    network = scenario.network
    assert network.sectors_per_site == 3
    assert network.sites["4G"].initial == 6_000_000
    assert network.sites["5G"].initial == 2_312_000  # MIIT, end of 2022
    assert set(network.technologies) == set(catalog.TECHNOLOGIES)
    assert scenario.targets == []


def test_preset_fills_a_category_and_fields_override_it() -> None:
    scenario = parse_scenario(
        {
            "categories": {
                "meters": {
                    "preset": "gas_meter",
                    "initial": 5,
                    "lifetime_years": 7,
                    "traffic": {"reports_per_day": 4},
                },
            }
        }
    )
    meters = scenario.categories["meters"]
    preset = catalog.CATEGORY_PRESETS["gas_meter"]
    assert meters.technologies == preset["technologies"]
    assert meters.mix == preset["mix"]
    assert meters.lifetime_years == 7  # overridden
    assert meters.traffic.reports_per_day == 4  # overridden inside a nested block
    assert meters.traffic.synchronized == preset["traffic"]["synchronized"]  # kept
    assert meters.growth.model == "cagr"
    assert meters.growth.rate == 0.0  # type: ignore[union-attr]


def test_overriding_a_presets_technologies_drops_its_mix() -> None:
    """The preset's mix names the preset's technologies; with new ones, all go to the first."""
    scenario = parse_scenario(
        {"categories": {"m": {"preset": "water_meter", "initial": 5, "technologies": ["lte"]}}}
    )
    assert scenario.categories["m"].mix is None
    assert scenario.categories["m"].mix_schedule() == {None: {"lte": 1.0}}


def test_network_defaults_follow_the_generations_given() -> None:
    scenario = parse_scenario(
        {
            "network": {"sites": {"4G": {"initial": 10}}},
            "categories": {"m": {"initial": 5, "technologies": ["nb-iot"]}},
        }
    )
    carried = scenario.network.technologies
    assert set(carried) == {n for n, s in catalog.TECHNOLOGIES.items() if s.generation == "4G"}


def test_every_catalog_figure_names_its_source() -> None:
    """Every figure of the data tables carries a source (a label needs none)."""
    for name, sources in catalog.TECHNOLOGY_SOURCES.items():
        # nested figures (power.transmit_mw) are sourced one by one under their field
        given = {field.split(".")[0] for field in sources}
        assert given == set(catalog.TECHNOLOGIES[name].model_fields_set), name
        for field, source in sources.items():
            assert field == "label" or len(source) >= 10, (name, field)
    for name, sources in catalog.PRESET_SOURCES.items():
        assert {"lifetime_years", "technologies", "mix", "traffic.reports_per_day"} <= set(sources)
        for field, source in sources.items():
            assert len(source) >= 10, (name, field)


def test_catalog_tables_are_validated_by_the_scenario_schema() -> None:
    """A preset is a category a user could have written: Category accepts it whole."""
    for name in catalog.CATEGORY_PRESETS:
        category = Category.model_validate({"preset": name})
        assert category.technologies == catalog.CATEGORY_PRESETS[name]["technologies"]
    assert catalog.TECHNOLOGIES["nb-iot"].preambles == 48
    assert catalog.TECHNOLOGIES["nb-iot"].rao_period_ms == 40.0
    assert catalog.lte_prach_timing(6) == (5.0, 1.0)


def test_a_broken_preset_table_names_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = {**catalog.CATEGORY_PRESETS, "bad": {"technologies": [], "lifetime_years": -1}}
    monkeypatch.setattr(catalog, "CATEGORY_PRESETS", broken)
    with pytest.raises(catalog.CatalogError, match=r"category_presets\.csv: preset bad"):
        catalog.check_presets(Category.model_validate)


def test_random_access_period_has_the_access_layers_lower_bound() -> None:
    """A period the access layer cannot simulate (below 0.01 ms) is refused where the
    scenario is read, not halfway through a run."""
    data = {
        "technologies": {"nb-iot": {"rao_period_ms": 0.001}},
        "categories": {"m": {"initial": 5, "technologies": ["nb-iot"]}},
    }
    with pytest.raises(ScenarioError, match=r"technologies\.nb-iot\.rao_period_ms"):
        parse_scenario(data)
