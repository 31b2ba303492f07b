"""The Python entry point: `sim.run(scenario) -> Result` for notebooks and scripts."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sim.cells import access_table
from sim.engine import build_plan, simulate
from sim.results import (
    Result,
    connections_table,
    network_table,
    summary_table,
    targets_table,
)
from sim.scenario import Problem, Scenario, ScenarioError, load_scenario, parse_scenario


def replication_generator(
    seed: int, replication: int = 0, replications: int = 1
) -> np.random.Generator:
    """The generator of one replication: child `replication` of SeedSequence(seed).spawn(R).

    A single run is replication 0 of 1, so it equals the first replication of any study.
    """
    children = np.random.SeedSequence(seed).spawn(replications)
    return np.random.default_rng(children[replication])


def run(
    scenario: Scenario | str | Path | Mapping[str, Any],
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Simulate a scenario (a Scenario, a YAML file path, or plain data) once.

    `seed` overrides the scenario's seed; `progress(t)` is called after each month.
    Raises `ScenarioError` for an invalid scenario.
    """
    if isinstance(scenario, str | Path):
        scenario = load_scenario(scenario)
    elif not isinstance(scenario, Scenario):
        scenario = parse_scenario(dict(scenario))
    used_seed = scenario.seed if seed is None else seed
    if used_seed < 0:
        raise ScenarioError([Problem("seed", f"got {used_seed}; a seed is a whole number >= 0")])
    started_utc = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    plan = build_plan(scenario)
    # growth and access layers draw from independent children of the run's generator, so
    # switching the access layer on does not change the growth results
    growth_rng, access_rng = replication_generator(used_seed).spawn(2)
    trajectory = simulate(plan, growth_rng, progress)
    connections = connections_table(plan, trajectory)
    network = network_table(plan, trajectory)
    access = access_table(plan, trajectory, access_rng)
    targets = targets_table(scenario, connections)
    summary = summary_table(plan, trajectory, connections, network, targets, access, used_seed)
    return Result(
        scenario=scenario,
        seed=used_seed,
        connections=connections,
        network=network,
        targets=targets,
        access=access,
        summary=summary,
        trajectory=trajectory,
        wall_time_s=time.perf_counter() - started,
        started_utc=started_utc,
    )
