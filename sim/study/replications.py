"""Replications: independent runs of one scenario (children of SeedSequence(seed)), each a
task that depends only on (scenario, seed, replication index), combined with intervals.

Results are the same bytes whether tasks run serially, on local processes (`jobs`), or on a
Dask cluster (`scheduler`), and in whatever order they finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sim.access.hot_cells import access_tables
from sim.engine import build_plan, simulate
from sim.results import (
    Result,
    cells_table,
    connections_table,
    interval_table,
    network_table,
    pool_state,
    summary_table,
    targets_table,
    with_replication,
)
from sim.scenario import Scenario, parse_scenario
from sim.study.executors import TaskFailure, executor_for

Task = tuple[dict[str, Any], int, int, int]
"""(resolved scenario as JSON data, seed, replication, replications)."""


def replication_generator(
    seed: int, replication: int = 0, replications: int = 1
) -> np.random.Generator:
    """The generator of one replication: child `replication` of SeedSequence(seed).spawn(R).

    A single run is replication 0 of 1, so it equals the first replication of any study.
    """
    children = np.random.SeedSequence(seed).spawn(replications)
    return np.random.default_rng(children[replication])


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
    state = pool_state(plan, trajectory)
    network = network_table(plan, trajectory, state)
    cells = cells_table(plan, state)
    access, experience = access_tables(plan, trajectory, access_rng)
    targets = targets_table(scenario, connections)
    summary = summary_table(plan, trajectory, connections, cells, targets, access, experience,
                            seed)  # fmt: skip
    return Result(
        scenario=scenario,
        seed=seed,
        connections=connections,
        network=network,
        cells=cells,
        targets=targets,
        access=access,
        summary=summary,
        experience=experience,
        trajectory=trajectory,
        wall_time_s=time.perf_counter() - started,
        started_utc=started_utc,
    )


def replicate(task: Task) -> Result:
    """Run one replication (in whatever process the executor chose)."""
    data, seed, replication, replications = task
    result = simulate_replication(parse_scenario(data), seed, replication, replications)
    result.trajectory = None  # the tables carry everything; keep what crosses processes small
    return result


TABLES = ("connections", "network", "cells", "access", "experience", "targets", "summary")
"""The tables of a replication, combined over replications."""


def combine(scenario: Scenario, seed: int, runs: list[Result]) -> Result:
    """Replications (in replication order) as one result with intervals."""
    tables = {name: with_replication([getattr(run, name) for run in runs]) for name in TABLES}
    intervals = {name: interval_table(name, table) for name, table in tables.items()}
    return Result(
        scenario=scenario,
        seed=seed,
        connections=tables["connections"],
        network=tables["network"],
        cells=tables["cells"],
        access=tables["access"],
        targets=tables["targets"],
        summary=tables["summary"],
        experience=tables["experience"],
        wall_time_s=sum(run.wall_time_s for run in runs),
        started_utc=runs[0].started_utc,
        replications=len(runs),
        intervals=intervals,
    )


def run_replications(
    scenario: Scenario,
    seed: int,
    replications: int,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """R independent replications (children of SeedSequence(seed)), combined."""
    data = scenario.model_dump(mode="json")
    tasks: list[Task] = [(data, seed, r, replications) for r in range(replications)]
    runs: list[Result | None] = [None] * replications
    with executor_for(jobs, scheduler) as executor:
        for done, (index, outcome) in enumerate(executor.run(replicate, tasks), start=1):
            if isinstance(outcome, TaskFailure):
                raise RuntimeError(f"replication {index} failed: {outcome.detail}")
            runs[index] = outcome
            if progress is not None:
                progress(done)
    return combine(scenario, seed, [run for run in runs if run is not None])
