"""Small scenario builders shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sim import Scenario, parse_scenario
from sim.engine import Trajectory

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


TRAJECTORY_FLOWS = (
    "joined", "left", "blocked", "offered", "retired", "migrated", "migrated_in", "stranded",
)  # fmt: skip
"""The trajectory's monthly flows (the levels are connected and waiting)."""


def assert_books_kept(trajectory: Trajectory) -> None:
    """Counts never negative, and the identities switch-offs keep:
    connected(t) = connected(t-1) + joined - left - migrated - stranded + migrated_in for
    every category, region and technology; migrated out = migrated in per category and
    region each month; everyone offered so far is connected, waiting, or was blocked,
    retired or stranded."""
    counts = {name: getattr(trajectory, name) for name in (*TRAJECTORY_FLOWS, "connected",
                                                           "waiting")}  # fmt: skip
    for name, values in counts.items():
        assert values.min() >= 0, f"{name} went negative"
    connected = counts["connected"]
    np.testing.assert_array_equal(
        connected[1:],
        connected[:-1]
        + counts["joined"][1:]
        - counts["left"][1:]
        - counts["migrated"][1:]
        - counts["stranded"][1:]
        + counts["migrated_in"][1:],
    )
    np.testing.assert_array_equal(counts["migrated"].sum(axis=3), counts["migrated_in"].sum(axis=3))
    arrived = np.cumsum(counts["offered"].sum(axis=3), axis=0)
    lost = (counts["blocked"] + counts["retired"] + counts["stranded"]).sum(axis=3)
    accounted = connected.sum(axis=3) + counts["waiting"].sum(axis=3) + np.cumsum(lost, axis=0)
    np.testing.assert_array_equal(arrived, accounted)
