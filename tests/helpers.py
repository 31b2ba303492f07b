"""Small scenario builders shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim import Scenario, parse_scenario

UNIT_LOAD = {"uplink": 0.0, "downlink": 0.0, "random_access": 0.0, "contexts": 1.0}
"""One context per terminal and nothing else: a budget of N contexts holds N terminals."""


def unit_capacity(capacities: dict[str, int]) -> dict[str, Any]:
    """Scenario parts giving each technology's carrier a budget of N terminals per cell.

    Every terminal of the technology loads one context and nothing else; the carrier's
    context budget is N at a planning threshold of 1 with no smartphones.  Technologies
    must be on different carriers (a shared carrier would share the budget).  Returns the
    `technologies` section and `network.carriers` entries; one cell class.
    """
    from sim.scenario import catalog

    carriers = {}
    for tech, capacity in capacities.items():
        carrier = catalog.TECHNOLOGIES[tech].carrier
        assert carrier not in carriers, f"{tech} shares carrier {carrier}"
        carriers[carrier] = {
            "budget": {"contexts": capacity},
            "threshold": {"contexts": 1.0},
            "background": {"uplink": 0, "downlink": 0, "random_access": 0, "contexts": 0},
        }
    return {
        "technologies": {tech: {"load": UNIT_LOAD} for tech in capacities},
        "carriers": carriers,
    }


def single_pool_scenario(
    *,
    capacity: int,
    initial: int,
    lifetime_years: float,
    when_full: str = "drop",
    end: str = "2030-12",
    resolution: int | str = 1,
    seed: int = 1,
    growth: dict[str, Any] | None = None,
    patience_months: float | None = None,
) -> Scenario:
    """One region, one technology on one single-cell site, one cell class: a pool holding
    `capacity` terminals (each loads one context of a budget of `capacity`)."""
    category: dict[str, Any] = {
        "initial": initial,
        "growth": growth or {"model": "cagr", "rate": 0.0},
        "lifetime_years": lifetime_years,
        "technologies": ["nb-iot"],
        "when_full": when_full,
    }
    if patience_months is not None:
        category["patience_months"] = patience_months
    unit = unit_capacity({"nb-iot": capacity})
    return parse_scenario(
        {
            "name": "single-pool",
            "start": "2023-01",
            "end": end,
            "seed": seed,
            "resolution": resolution,
            "network": {
                "sectors_per_site": 1,
                "sites": {"4G": {"initial": 1}},
                "technologies": {"nb-iot": {"generation": "4G", "share": 1.0}},
                "carriers": unit["carriers"],
                "cell_classes": 1,
            },
            "technologies": unit["technologies"],
            "categories": {"meter": category},
        }
    )


def tiny_scenario(end: str = "2024-12", initial: int = 200_000) -> dict[str, Any]:
    """A water-meter scenario that runs in well under a second (cohorts of 200)."""
    return {
        "name": "tiny",
        "end": end,
        "resolution": 200,
        "categories": {
            "meter": {
                "preset": "water_meter",
                "initial": initial,
                "growth": {"model": "cagr", "rate": 0.2},
            }
        },
    }


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    """Write scenario data as a file (JSON is YAML)."""
    path.write_text(json.dumps(data))
    return path


def with_unit_capacity(data: dict[str, Any], capacities: dict[str, int]) -> dict[str, Any]:
    """A scenario dict with `unit_capacity` pools (one cell class) merged in."""
    unit = unit_capacity(capacities)
    network = data.setdefault("network", {})
    network.setdefault("carriers", {}).update(unit["carriers"])
    network["cell_classes"] = 1
    technologies = data.setdefault("technologies", {})
    for tech, fields in unit["technologies"].items():
        technologies[tech] = {**technologies.get(tech, {}), **fields}
    return data
