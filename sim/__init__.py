"""iotsim: IoT terminals of many kinds joining 4G/5G base-station capacity over the years."""

from sim.api import Result, run
from sim.scenario import Problem, Scenario, ScenarioError, load_scenario, parse_scenario
from sim.version import __version__

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
