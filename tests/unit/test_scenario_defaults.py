"""Every key has a documented default; presets fill categories; overrides win."""

from __future__ import annotations

from pathlib import Path

from sim import catalog, load_scenario, parse_scenario

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
    for name, spec in catalog.TECHNOLOGIES.items():
        assert len(spec.source) > 20, name
    for name, preset in catalog.CATEGORY_PRESETS.items():
        assert set(preset["sources"]) >= {"lifetime_years", "mix", "traffic"}, name
