"""iotsim: IoT terminals of many kinds joining 4G/5G base-station capacity over the years."""

from sim.api import Result, run
from sim.scenario import Problem, Scenario, ScenarioError, load_scenario, parse_scenario

__version__ = "0.1.0"
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
