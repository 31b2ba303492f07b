"""The Python entry point: `sim.run(scenario) -> Result` for notebooks and scripts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sim.engine import build_plan
from sim.results import Result
from sim.scenario import Problem, Scenario, ScenarioError, load_scenario, parse_scenario
from sim.study.replications import run_replications, simulate_replication


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
    (never more than replications or CPUs) or a Dask `scheduler` (`tcp://host:8786`, or
    `local:N` for a local cluster), and the result has a `replication` column and
    intervals; the bytes written do not depend on where they ran.  A single run runs in
    this process (`jobs` and `scheduler` are not used).  `progress(n)` is called after each
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
    if jobs < 1:
        raise ScenarioError([Problem("jobs", f"got {jobs}; a whole number >= 1 of processes")])
    if replications == 1:  # the same bytes wherever a single run would have run
        return simulate_replication(scenario, used_seed, progress=progress)
    build_plan(scenario)  # refuse what cannot run before starting any worker

    return run_replications(scenario, used_seed, replications, jobs, scheduler, progress)
