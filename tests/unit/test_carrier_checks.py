"""Cross-field checks of the carrier section: its dates lie in the horizon."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sim import parse_scenario
from sim.scenario import ScenarioError

BASE: dict[str, Any] = {
    "name": "x",
    "network": {
        "sites": {"4G": {"initial": 1}},
        "technologies": {"nb-iot": {"generation": "4G"}},
    },
    "categories": {"m": {"initial": 10, "technologies": ["nb-iot"]}},
}


@pytest.mark.parametrize(
    ("carriers", "path", "words"),
    [
        ({"nb-iot": {"share": {"2040-01": 0.5}}}, "network.carriers.nb-iot.share", "2040-01"),
        (
            {"nb-iot": {"background": {"uplink": {"1999-01": 0.1}}}},
            "network.carriers.nb-iot.background.uplink",
            "1999-01 lies outside the horizon",
        ),
    ],
)
def test_carrier_sections_are_checked(carriers: dict, path: str, words: str) -> None:
    data = copy.deepcopy(BASE)
    data["network"]["carriers"] = carriers
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(data)
    problems = [str(problem) for problem in raised.value.problems]
    assert any(f": {path}: " in line and words in line for line in problems), problems


def test_a_carrier_in_use_with_dated_figures_in_the_horizon_is_read() -> None:
    data = copy.deepcopy(BASE)
    data["network"]["technologies"]["nb-iot"]["share"] = 0.5
    data["network"]["carriers"] = {
        "nb-iot": {"share": {"2023-01": 0.5}, "background": {"uplink": {"2025-01": 0.1}}}
    }
    scenario = parse_scenario(data)
    assert scenario.network.carriers["nb-iot"].share == {"2023-01": 0.5}


def test_a_technology_is_only_where_its_carrier_is() -> None:
    """nb-iot on 0.125 of the 4G sites cannot use an NB-IoT carrier on 0.05 of them."""
    data = copy.deepcopy(BASE)
    data["network"]["technologies"]["nb-iot"]["share"] = {"2023-01": 0.05, "2025-07": 0.125}
    data["network"]["carriers"] = {"nb-iot": {"share": 0.05}}
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(data)
    problems = [str(problem) for problem in raised.value.problems]
    assert any(
        ": network.technologies.nb-iot.share: 0.125 of the 4G sites from 2025-07" in line
        and "network.carriers.nb-iot.share" in line
        for line in problems
    ), problems
    data["network"]["carriers"] = {"nb-iot": {"share": {"2023-01": 0.05, "2025-07": 0.2}}}
    assert parse_scenario(data).network.carriers["nb-iot"].share == {
        "2023-01": 0.05,
        "2025-07": 0.2,
    }


def test_technologies_on_one_carrier_say_one_thing_about_its_random_access_channel() -> None:
    """LTE and LTE Cat.1 share the LTE carrier's PRACH: one period, given once."""
    base = {"categories": {"m": {"preset": "water_meter", "initial": 5}}}
    agreed = {"lte": {"rao_period_ms": 10}, "lte-cat1": {"rao_period_ms": 10}}
    parse_scenario({**base, "technologies": agreed})
    with pytest.raises(ScenarioError) as error:
        parse_scenario({**base, "technologies": {"lte": {"rao_period_ms": 10},
                                                 "lte-cat1": {"rao_period_ms": 5}}})  # fmt: skip
    message = str(error.value)
    assert "technologies.lte-cat1.rao_period_ms" in message
    assert "share the lte carrier's one random-access channel" in message
    # different carriers may differ
    parse_scenario({**base, "technologies": {"lte": {"rao_period_ms": 10},
                                             "nr": {"rao_period_ms": 5}}})  # fmt: skip
