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
    replications: int = 1,
    jobs: int = 1,
    scheduler: str | None = None,
) -> Result:
    """Simulate a scenario (a Scenario, a YAML file path, or plain data).

    `seed` overrides the scenario's seed.  With `replications` > 1 the replications use
    the children of SeedSequence(seed).spawn(replications), run on `jobs` local processes
    or a Dask `scheduler`, and the result has a `replication` column and intervals; the
    bytes written do not depend on where they ran.  `progress(n)` is called after each
    month (one run) or each finished replication.  Raises `ScenarioError` for bad input.
    """
    if isinstance(scenario, str | Path):
        scenario = load_scenario(scenario)
    elif not isinstance(scenario, Scenario):
        scenario = parse_scenario(dict(scenario))
    used_seed = scenario.seed if seed is None else seed
    if used_seed < 0:
        raise ScenarioError([Problem("seed", f"got {used_seed}; a seed is a whole number >= 0")])
    if replications < 1:
        raise ScenarioError([Problem("replications", f"got {replications}; at least 1")])
    if replications == 1:  # the same bytes wherever a single run would have run
        return simulate_replication(scenario, used_seed, progress=progress)
    from sim.study import run_replications

    build_plan(scenario)  # refuse what cannot run before starting any worker

    return run_replications(scenario, used_seed, replications, jobs, scheduler, progress)


def simulate_replication(
    scenario: Scenario,
    seed: int,
    replication: int = 0,
    replications: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """One replication: child `replication` of SeedSequence(seed).spawn(replications)."""
    started_utc = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    plan = build_plan(scenario)
    # growth and access layers draw from independent children of the run's generator, so
    # switching the access layer on does not change the growth results
    growth_rng, access_rng = replication_generator(seed, replication, replications).spawn(2)
    trajectory = simulate(plan, growth_rng, progress)
    connections = connections_table(plan, trajectory)
    network = network_table(plan, trajectory)
    access = access_table(plan, trajectory, access_rng)
    targets = targets_table(scenario, connections)
    summary = summary_table(plan, trajectory, connections, network, targets, access, seed)
    return Result(
        scenario=scenario,
        seed=seed,
        connections=connections,
        network=network,
        targets=targets,
        access=access,
        summary=summary,
        trajectory=trajectory,
        wall_time_s=time.perf_counter() - started,
        started_utc=started_utc,
    )
