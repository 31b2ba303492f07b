"""Numbers are numbers: every numeric field of a scenario refuses booleans and text, counts
take whole numbers (1e9 included), and YAML floats are read as YAML 1.2 reads them."""

from __future__ import annotations

import copy
import json
import typing
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel

from sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from sim.scenario.yaml_text import ScenarioLoader

ROOT = Path(__file__).resolve().parents[2]

# A valid scenario that reaches every numeric field; each case below sets one of them.
BASE: dict[str, Any] = {
    "name": "numbers",
    "start": "2023-01",
    "end": "2025-12",
    "seed": 3,
    "resolution": 1000,
    "regions": {"national": {"terminal_share": 1.0, "site_share": 1.0}},
    "network": {
        "sectors_per_site": 3,
        "sites": {
            "4G": {
                "initial": 1000,
                "build_per_year": {2024: 10},
                "retire_per_year": 5,
                "retire_share_per_year": {2025: 0.1},
            },
            "5G": {"initial": 100, "in_service": {"2024-06": 150}},
        },
        "technologies": {
            "nb-iot": {"generation": "4G", "share": {"2023-01": 0.5}},
            "lte-cat1": {"generation": "4G", "share": 1.0},
        },
        "carriers": {
            "nb-iot": {
                "share": 0.5,
                "count": 2,
                "budget": {"uplink": 1e7, "downlink": 1e6, "random_access": 4e4, "contexts": 600},
                "threshold": {"uplink": 0.7, "downlink": 0.7, "random_access": 1, "contexts": 0.9},
                "background": {
                    "uplink": 0.1,
                    "downlink": {"2023-01": 0.1},
                    "random_access": 0,
                    "contexts": 0,
                },
            },
        },
        "cell_classes": 4,
        "hottest_cells": 0.05,
    },
    "technologies": {
        "nb-iot": {
            "load": {"uplink": 10.0},
            "nprach_periodicity_ms": 80,
            "nprach_subcarriers": 48,
            "preambles": 48,
            "rao_period_ms": 80.0,
            "power": {
                "transmit_mw": 500.0,
                "receive_mw": 80.0,
                "light_sleep_mw": 3.0,
                "deep_sleep_mw": 0.015,
                "connected_mw": 10.0,
                "uplink_width": {"normal": 12, "robust": 1, "extreme": 1},
                "downlink_width": {"normal": 1},
            },
        },
        "lte-cat1": {"prach_configuration_index": 6},
    },
    "categories": {
        "m": {
            "initial": 1000,
            "growth": {"model": "cagr", "rate": 0.1},
            "lifetime_years": 6.0,
            "lifetime": "weibull",
            "weibull_shape": 2.0,
            "technologies": ["nb-iot", "lte-cat1"],
            "mix": {"nb-iot": 0.5, "lte-cat1": 0.5},
            "when_full": "wait",
            "patience_months": 3.0,
            "traffic": {
                "reports_per_day": 1.0,
                "payload_bytes": 100.0,
                "synchronized": 0.0,
                "busy_hour_share": 0.1,
                "downlink_bytes": 20.0,
                "coverage": {"normal": 0.5, "robust": 0.3, "extreme": 0.2},
            },
            "regions": {"national": 1.0},
            "load": {"lte-cat1": {"contexts": 0.001}},
            "energy": {
                "battery_wh": 5.0,
                "design_life_years": 10.0,
                "self_discharge_per_year": 0.01,
                "tau_hours": 24.0,
                "edrx_cycle_s": 163.84,
                "paging_ms": 10.0,
            },
        },
    },
    "targets": [
        {"name": "low", "date": "2025-12", "at_least": 10.0},
        {"name": "high", "date": "2025-12", "at_most": 1e12},
    ],
    "access": {
        "years": [2024],
        "spread_cv": 1.0,
        "window_s": 60.0,
        "burst_s": 10.0,
        "replications": 2,
        "controls": {
            "acb_factor": 0.5,
            "acb_time_s": 4.0,
            "backoff_indicator_ms": 20.0,
            "jitter_s": 1.0,
        },
    },
}

GROWTH = {
    "logistic": {"model": "logistic", "rate": 0.3, "saturation": 1e6},
    "bass": {"model": "bass", "p": 0.01, "q": 0.3, "market": 1e6},
    "linear": {"model": "linear", "per_year": 100.0},
    "targets": {"model": "targets", "values": {"2024-12": 2000.0}},
}

# (model field it checks, path in BASE, growth model the path needs or None)
NUMERIC_FIELDS = [
    ("Scenario.seed", "seed", None),
    ("Scenario.resolution", "resolution", None),
    ("Region.terminal_share", "regions.national.terminal_share", None),
    ("Region.site_share", "regions.national.site_share", None),
    ("Network.sectors_per_site", "network.sectors_per_site", None),
    ("SiteSchedule.initial", "network.sites.4G.initial", None),
    ("SiteSchedule.build_per_year", "network.sites.4G.build_per_year.2024", None),
    ("SiteSchedule.retire_per_year", "network.sites.4G.retire_per_year", None),
    (
        "SiteSchedule.retire_share_per_year",
        "network.sites.4G.retire_share_per_year.2025",
        None,
    ),
    ("SiteSchedule.in_service", "network.sites.5G.in_service.2024-06", None),
    ("Carriage.share", "network.technologies.lte-cat1.share", None),
    ("Carriage.share[dated]", "network.technologies.nb-iot.share.2023-01", None),
    ("Region.spread_cv", "regions.national.spread_cv", None),
    ("Network.cell_classes", "network.cell_classes", None),
    ("Network.hottest_cells", "network.hottest_cells", None),
    ("CarrierOverride.share", "network.carriers.nb-iot.share", None),
    ("CarrierOverride.count", "network.carriers.nb-iot.count", None),
    ("ResourceFigures.uplink", "network.carriers.nb-iot.budget.uplink", None),
    ("ResourceFigures.downlink", "network.carriers.nb-iot.budget.downlink", None),
    ("ResourceFigures.random_access", "network.carriers.nb-iot.budget.random_access", None),
    ("ResourceFigures.contexts", "categories.m.load.lte-cat1.contexts", None),
    ("Shares.uplink", "network.carriers.nb-iot.threshold.uplink", None),
    ("Shares.downlink", "network.carriers.nb-iot.threshold.downlink", None),
    ("Shares.random_access", "network.carriers.nb-iot.threshold.random_access", None),
    ("Shares.contexts", "network.carriers.nb-iot.threshold.contexts", None),
    ("Background.uplink", "network.carriers.nb-iot.background.uplink", None),
    ("Background.downlink", "network.carriers.nb-iot.background.downlink.2023-01", None),
    ("Background.random_access", "network.carriers.nb-iot.background.random_access", None),
    ("Background.contexts", "network.carriers.nb-iot.background.contexts", None),
    ("ResourceFigures.uplink[technology load]", "technologies.nb-iot.load.uplink", None),
    ("Traffic.downlink_bytes", "categories.m.traffic.downlink_bytes", None),
    ("CoverageMix.normal", "categories.m.traffic.coverage.normal", None),
    ("CoverageMix.robust", "categories.m.traffic.coverage.robust", None),
    ("CoverageMix.extreme", "categories.m.traffic.coverage.extreme", None),
    (
        "TechnologyOverride.prach_configuration_index",
        "technologies.lte-cat1.prach_configuration_index",
        None,
    ),
    ("TechnologyOverride.nprach_periodicity_ms", "technologies.nb-iot.nprach_periodicity_ms", None),
    ("TechnologyOverride.nprach_subcarriers", "technologies.nb-iot.nprach_subcarriers", None),
    ("TechnologyOverride.preambles", "technologies.nb-iot.preambles", None),
    ("TechnologyOverride.rao_period_ms", "technologies.nb-iot.rao_period_ms", None),
    ("PowerFigures.transmit_mw", "technologies.nb-iot.power.transmit_mw", None),
    ("PowerFigures.receive_mw", "technologies.nb-iot.power.receive_mw", None),
    ("PowerFigures.light_sleep_mw", "technologies.nb-iot.power.light_sleep_mw", None),
    ("PowerFigures.deep_sleep_mw", "technologies.nb-iot.power.deep_sleep_mw", None),
    ("PowerFigures.connected_mw", "technologies.nb-iot.power.connected_mw", None),
    ("PerCoverage.normal", "technologies.nb-iot.power.uplink_width.normal", None),
    ("PerCoverage.robust", "technologies.nb-iot.power.uplink_width.robust", None),
    ("PerCoverage.extreme", "technologies.nb-iot.power.uplink_width.extreme", None),
    ("EnergySettings.battery_wh", "categories.m.energy.battery_wh", None),
    ("EnergySettings.design_life_years", "categories.m.energy.design_life_years", None),
    (
        "EnergySettings.self_discharge_per_year",
        "categories.m.energy.self_discharge_per_year",
        None,
    ),
    ("EnergySettings.tau_hours", "categories.m.energy.tau_hours", None),
    ("EnergySettings.edrx_cycle_s", "categories.m.energy.edrx_cycle_s", None),
    ("EnergySettings.paging_ms", "categories.m.energy.paging_ms", None),
    ("Category.initial", "categories.m.initial", None),
    ("Category.lifetime_years", "categories.m.lifetime_years", None),
    ("Category.weibull_shape", "categories.m.weibull_shape", None),
    ("Category.patience_months", "categories.m.patience_months", None),
    ("Category.mix", "categories.m.mix.nb-iot", None),
    ("Category.regions", "categories.m.regions.national", None),
    ("Traffic.reports_per_day", "categories.m.traffic.reports_per_day", None),
    ("Traffic.payload_bytes", "categories.m.traffic.payload_bytes", None),
    ("Traffic.synchronized", "categories.m.traffic.synchronized", None),
    ("Traffic.busy_hour_share", "categories.m.traffic.busy_hour_share", None),
    ("Cagr.rate", "categories.m.growth.rate", None),
    ("Logistic.rate", "categories.m.growth.rate", "logistic"),
    ("Logistic.saturation", "categories.m.growth.saturation", "logistic"),
    ("Bass.p", "categories.m.growth.p", "bass"),
    ("Bass.q", "categories.m.growth.q", "bass"),
    ("Bass.market", "categories.m.growth.market", "bass"),
    ("Linear.per_year", "categories.m.growth.per_year", "linear"),
    ("Targets.values", "categories.m.growth.values.2024-12", "targets"),
    ("Target.at_least", "targets[0].at_least", None),
    ("Target.at_most", "targets[1].at_most", None),
    ("AccessSettings.years", "access.years[0]", None),
    ("AccessSettings.spread_cv", "access.spread_cv", None),
    ("AccessSettings.window_s", "access.window_s", None),
    ("AccessSettings.burst_s", "access.burst_s", None),
    ("AccessSettings.replications", "access.replications", None),
    ("OverloadControls.acb_factor", "access.controls.acb_factor", None),
    ("OverloadControls.acb_time_s", "access.controls.acb_time_s", None),
    ("OverloadControls.backoff_indicator_ms", "access.controls.backoff_indicator_ms", None),
    ("OverloadControls.jitter_s", "access.controls.jitter_s", None),
]

FIXED_CHOICES = {
    "TechnologyOverride.nprach_periodicity_ms",
    "TechnologyOverride.nprach_subcarriers",
}


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            steps.append(int(part[1:-1]))
        elif part.isdigit():
            steps.append(int(part))  # a year key of a per-year table
        else:
            steps.append(part)
    return steps


def _with(path: str, value: Any, growth: str | None = None) -> dict[str, Any]:
    """BASE with the value at `path` replaced (and the growth model switched if needed)."""
    data = copy.deepcopy(BASE)
    if growth is not None:
        data["categories"]["m"]["growth"] = copy.deepcopy(GROWTH[growth])
    node: Any = data
    *parents, last = _steps(path)
    for step in parents:
        node = node[step]
    node[last] = value
    return data


def _load(tmp_path: Path, data: dict[str, Any]) -> Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_scenario(path)


def _numeric_fields(model: type[BaseModel], seen: set[str]) -> set[str]:
    """'Model.field' of every field of the scenario's models whose type holds a number."""
    found: set[str] = set()

    def holds_number(annotation: Any) -> bool:
        if annotation in (int, float):
            return True
        origin = typing.get_origin(annotation)
        if origin is typing.Literal:
            return any(isinstance(arg, int | float) for arg in typing.get_args(annotation))
        if origin is Annotated:
            return holds_number(typing.get_args(annotation)[0])
        return any(holds_number(arg) for arg in typing.get_args(annotation))

    def models_in(annotation: Any) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for arg in typing.get_args(annotation) for m in models_in(arg)]

    if model.__name__ in seen:
        return found
    seen.add(model.__name__)
    for name, field in model.model_fields.items():
        if holds_number(field.annotation):
            found.add(f"{model.__name__}.{name}")
        for inner in models_in(field.annotation):
            found |= _numeric_fields(inner, seen)
    return found


def test_the_cases_cover_every_numeric_field() -> None:
    """A new numeric field of the schema must be added to NUMERIC_FIELDS (and so tested)."""
    listed = {label.split("[")[0] for label, _, _ in NUMERIC_FIELDS}
    assert listed == _numeric_fields(Scenario, set())


def test_the_base_scenario_is_valid(tmp_path: Path) -> None:
    for growth in (None, *GROWTH):
        data = _with("seed", 3, growth)
        assert _load(tmp_path, data).seed == 3


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(True, "got True: expected", id="true"),
        pytest.param(False, "got False: expected", id="false"),
        pytest.param("0.3", "got '0.3': expected", id="numeric-string"),
        pytest.param("12", "got '12': expected", id="integer-string"),
    ],
)
@pytest.mark.parametrize(
    ("label", "path", "growth"), NUMERIC_FIELDS, ids=[case[0] for case in NUMERIC_FIELDS]
)
def test_a_numeric_field_refuses_booleans_and_text(
    tmp_path: Path, label: str, path: str, growth: str | None, value: Any, shown: str
) -> None:
    """One line naming the file, line, field path and the bad value: no True-as-1.0.

    An entry of a table (a year of build_per_year, a technology of a mix) is reported at
    the table, the message naming the entry; a field of fixed choices (nprach_subcarriers)
    says which numbers it takes.
    """
    with pytest.raises(ScenarioError) as raised:
        _load(tmp_path, _with(path, value, growth))
    problems = raised.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert path == problem.path or path.startswith(problem.path + "."), problem
    line = str(problem)
    assert "\n" not in line
    assert line.startswith(f"{tmp_path / 's.yaml'}:{problem.line}:{problem.column}: ")
    assert problem.line is not None
    if problem.path != path:  # the table's message names the entry
        assert path.rsplit(".", 1)[1] in problem.message, line
    if label in FIXED_CHOICES:
        assert shown.replace(": expected", "; must be") in line, line
    else:
        assert shown in line, line
        assert "number" in line, line


def test_rate_true_is_not_a_growth_of_100_percent(tmp_path: Path) -> None:
    """The case from the issue: `rate: true` ran as 100 %/year."""
    text = (
        "name: t\ncategories:\n  m:\n    preset: water_meter\n    initial: 1000\n"
        "    growth: {model: cagr, rate: true}\n"
    )
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "s.yaml")
    assert str(raised.value) == (
        f"{tmp_path / 's.yaml'}:6:33: categories.m.growth.rate: got True: expected a number "
        "(true/false is not a number)"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e9", 1e9),
        ("3.6e9", 3.6e9),
        ("1E9", 1e9),
        ("1e+9", 1e9),
        ("-2.5e-3", -2.5e-3),
        ("1.0e+9", 1e9),
        (".5", 0.5),
        ("1_000.5", 1000.5),
        (".inf", float("inf")),
        ("0.3", 0.3),
    ],
)
def test_yaml_floats_are_read_as_yaml_1_2_reads_them(text: str, value: float) -> None:
    assert yaml.load(f"x: {text}", Loader=ScenarioLoader) == {"x": value}


@pytest.mark.parametrize(
    ("text", "value"),
    [("1000", 1000), ("1_000", 1000), ("-5", -5), ("0x10", 16), ("2024-07", "2024-07"),
     ("e9", "e9"), ("1e", "1e"), ("nb-iot", "nb-iot"), ("4G", "4G")],
)  # fmt: skip
def test_other_scalars_are_unchanged(text: str, value: Any) -> None:
    assert yaml.load(f"x: {text}", Loader=ScenarioLoader) == {"x": value}


def test_a_count_takes_a_whole_float(tmp_path: Path) -> None:
    """`initial: 1e9` is 1,000,000,000 terminals (PyYAML read it as the text '1e9')."""
    text = "name: t\ncategories:\n  m: {preset: water_meter, initial: 1e9}\n"
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    scenario = load_scenario(tmp_path / "s.yaml")
    initial = scenario.categories["m"].initial
    assert initial == 1_000_000_000
    assert type(initial) is int
    assert json.dumps(scenario.model_dump(mode="json")["categories"]["m"]["initial"]) == (
        "1000000000"
    )


@pytest.mark.parametrize(
    "path",
    ["categories.m.initial", "network.sites.4G.initial", "seed", "resolution",
     "access.replications", "network.carriers.nb-iot.count", "network.cell_classes"],
)  # fmt: skip
def test_a_count_refuses_a_fraction(tmp_path: Path, path: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        _load(tmp_path, _with(path, 1.5))
    lines = [str(problem) for problem in raised.value.problems]
    matching = [line for line in lines if f": {path}: " in line]
    assert matching, lines
    assert "got 1.5: expected" in matching[0]
    assert "a whole number" in matching[0]


def test_whole_floats_are_counts_everywhere(tmp_path: Path) -> None:
    data = _with("seed", 7.0)
    data["categories"]["m"]["initial"] = 2e3
    data["access"]["years"] = [2024.0]
    scenario = _load(tmp_path, data)
    assert (scenario.seed, scenario.categories["m"].initial) == (7, 2000)
    assert scenario.access.years == [2024]


@pytest.mark.parametrize("growth", [None, *GROWTH])
def test_the_resolved_scenario_validates_again_from_json(growth: str | None) -> None:
    """manifest.json's resolved_scenario (JSON: string keys, ints as ints) is re-read by
    replications and sweeps: it must validate to the same scenario."""
    scenario = parse_scenario(_with("seed", 3, growth))
    again = parse_scenario(json.loads(json.dumps(scenario.model_dump(mode="json"))))
    assert again == scenario


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=str)
def test_bundled_scenarios_round_trip_through_json(path: Path) -> None:
    scenario = load_scenario(path)
    again = parse_scenario(json.loads(json.dumps(scenario.model_dump(mode="json"))))
    assert again.model_dump(mode="json") == scenario.model_dump(mode="json")


def test_a_plain_float_or_int_field_is_strict_too() -> None:
    """Strict mode is the net under Number/WholeNumber: a field declared plain `float` or
    `int` refuses booleans and text with the same message."""
    from pydantic import ValidationError

    from sim.scenario.loading import _problems_from_validation
    from sim.scenario.technology import ScenarioModel

    class Plain(ScenarioModel):
        x: float = 0.0
        n: int = 0

    with pytest.raises(ValidationError) as raised:
        Plain.model_validate({"x": True, "n": "12"})
    messages = {p.path: p.message for p in _problems_from_validation(raised.value, None, None)}
    assert messages == {
        "x": "got True: expected a number (true/false is not a number)",
        "n": "got '12': expected a whole number (text is not a number: write it without quotes)",
    }


def test_the_json_schema_states_bounds_in_json_schema_words() -> None:
    """Bounds of optional numbers are `minimum`/`exclusiveMinimum`/..., not pydantic's own
    `ge`/`gt`/... (which editors ignore)."""
    from sim.scenario import json_schema

    def keys(node: Any) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for value in node.values() for k in keys(value)}
        if isinstance(node, list):
            return {k for value in node for k in keys(value)}
        return set()

    schema = json_schema()
    assert not keys(schema) & {"gt", "ge", "lt", "le"}
    patience = schema["$defs"]["Category"]["properties"]["patience_months"]
    assert {"type": "number", "exclusiveMinimum": 0} in patience["anyOf"]
