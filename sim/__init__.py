"""iotsim: IoT terminals of many kinds joining 4G/5G base-station capacity over the years.

The names below are loaded on first use (PEP 562), so `import sim` (and the command line
starting up) does not pull in numpy, pandas and the simulator until they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim.version import __version__

if TYPE_CHECKING:
    from sim.api import Result, run
    from sim.scenario import Problem, Scenario, ScenarioError, load_scenario, parse_scenario

_EXPORTS = {
    "Problem": "sim.scenario",
    "Result": "sim.api",
    "Scenario": "sim.scenario",
    "ScenarioError": "sim.scenario",
    "load_scenario": "sim.scenario",
    "parse_scenario": "sim.scenario",
    "run": "sim.api",
}
_SUBPACKAGES = {"access", "api", "cli", "demand", "engine", "report", "results", "scenario",
                "stats", "study", "supply"}  # fmt: skip
"""Reachable as attributes (`sim.results`) without importing them first, as before."""

__all__ = [
    "Problem",
    "Result",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_scenario",
    "parse_scenario",
    "run",
]


def __getattr__(name: str) -> Any:
    """Load an export on first use, and keep it (the next look-up does not come here)."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"sim.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBPACKAGES})
