"""The scenario layer: typed models of a scenario file, its defaults, the catalog of sourced
figures, loading from YAML, and problems that name the file, line and field path."""

from sim.scenario.loading import json_schema, load_scenario, parse_scenario
from sim.scenario.model import (
    AccessSettings,
    Bass,
    Cagr,
    Category,
    GrowthModel,
    Linear,
    Logistic,
    Scenario,
    SiteSchedule,
    SwitchOff,
    Targets,
)
from sim.scenario.months import month_index, month_label
from sim.scenario.problems import Problem, ScenarioError

__all__ = [
    "AccessSettings",
    "Bass",
    "Cagr",
    "Category",
    "GrowthModel",
    "Linear",
    "Logistic",
    "Problem",
    "Scenario",
    "ScenarioError",
    "SiteSchedule",
    "SwitchOff",
    "Targets",
    "json_schema",
    "load_scenario",
    "month_index",
    "month_label",
    "parse_scenario",
]
