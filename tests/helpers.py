"""Small scenario builders shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim import Scenario, parse_scenario


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
    """One region, one technology on one single-cell site: capacity = max_devices_per_cell."""
    category: dict[str, Any] = {
        "initial": initial,
        "growth": growth or {"model": "cagr", "rate": 0.0},
        "lifetime_years": lifetime_years,
        "technologies": ["nb-iot"],
        "when_full": when_full,
    }
    if patience_months is not None:
        category["patience_months"] = patience_months
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
            },
            "technologies": {"nb-iot": {"max_devices_per_cell": capacity}},
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
