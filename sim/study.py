"""Studies: replications, sweeps of variants, and the executors that run them.

Every replication is a task that depends only on (scenario, seed, replication index), so
results are the same bytes whether tasks run serially, on local processes (`jobs`), or on a
Dask cluster (`scheduler`), and in whatever order they finish.
"""

from __future__ import annotations

import abc
import contextlib
import difflib
import itertools
import json
import math
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.engine import build_plan
from sim.results import KEYS, Result, interval_table, with_replication
from sim.scenario import Problem, Scenario, ScenarioError, parse_scenario

Task = tuple[dict[str, Any], int, int, int]
"""(resolved scenario as JSON data, seed, replication, replications)."""


def replicate(task: Task) -> Result:
    """Run one replication (in whatever process the executor chose)."""
    from sim.api import simulate_replication

    data, seed, replication, replications = task
    result = simulate_replication(parse_scenario(data), seed, replication, replications)
    result.trajectory = None  # the tables carry everything; keep what crosses processes small
    return result


# --------------------------------------------------------------------------- executors


class Executor(abc.ABC):
    """Runs tasks and yields (index, result or TaskFailure) as they finish."""

    @abc.abstractmethod
    def run(self, function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[
        tuple[int, Any]
    ]:  # fmt: skip
        """Yield (task index, outcome) for every task, in the order they finish."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release workers."""


class SerialExecutor(Executor):
    def run(self, function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[
        tuple[int, Any]
    ]:  # fmt: skip
        for index, task in enumerate(tasks):
            try:
                yield index, function(task)
            except Exception as error:
                yield index, _failure(error)


class ProcessExecutor(Executor):
    def __init__(self, jobs: int) -> None:
        self.pool = ProcessPoolExecutor(max_workers=jobs)
        self.window = 2 * jobs

    def run(self, function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[
        tuple[int, Any]
    ]:  # fmt: skip
        # a bounded window of tasks in flight: results are handed on and released one by
        # one, so a long sweep never holds more than a few results
        queue = iter(enumerate(tasks))
        running: dict[Future[Any], int] = {}
        for index, task in itertools.islice(queue, self.window):
            running[self.pool.submit(function, task)] = index
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as error:
                    outcome = _failure(error)
                for next_index, next_task in itertools.islice(queue, 1):
                    running[self.pool.submit(function, next_task)] = next_index
                yield index, outcome

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class DaskExecutor(Executor):
    """A Dask distributed cluster: `tcp://host:8786`, or `local:N` for a LocalCluster."""

    def __init__(self, scheduler: str) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ScenarioError(
                [Problem("--scheduler", "Dask is not installed: pip install 'iotsim[dask]'")]
            ) from None
        self.cluster = None
        if scheduler.startswith("local:"):
            workers = int(scheduler.removeprefix("local:"))
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                        processes=True, dashboard_address=None)  # fmt: skip
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(scheduler, timeout=10)
            except (OSError, TimeoutError) as error:
                message = f"cannot reach the Dask scheduler {scheduler}: {error}"
                raise ScenarioError([Problem("--scheduler", message)]) from None

    def run(self, function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[
        tuple[int, Any]
    ]:  # fmt: skip
        from dask.distributed import as_completed as dask_completed

        queue = iter(enumerate(tasks))
        window = 2 * max(1, len(self.client.scheduler_info().get("workers", {})))
        index_of: dict[Any, int] = {}
        pending = dask_completed()
        for index, task in itertools.islice(queue, window):
            future = self.client.submit(function, task, pure=False)
            index_of[future.key] = index
            pending.add(future)
        for future in pending:
            index = index_of.pop(future.key)
            try:
                outcome = future.result()
            except Exception as error:
                outcome = _failure(error)
            future.release()  # the cluster forgets the result once it is handed on
            for next_index, next_task in itertools.islice(queue, 1):
                next_future = self.client.submit(function, next_task, pure=False)
                index_of[next_future.key] = next_index
                pending.add(next_future)
            yield index, outcome

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised: what and where (the rest of the study goes on)."""

    message: str
    detail: str


def _failure(error: BaseException) -> TaskFailure:
    return TaskFailure(f"{type(error).__name__}: {error}", "".join(
        traceback.format_exception(type(error), error, error.__traceback__)))  # fmt: skip


@contextlib.contextmanager
def executor_for(jobs: int = 1, scheduler: str | None = None) -> Iterator[Executor]:
    """Serial (jobs 1), local processes (jobs > 1) or Dask (a scheduler address)."""
    executor: Executor
    if scheduler:
        executor = DaskExecutor(scheduler)
    elif jobs > 1:
        executor = ProcessExecutor(jobs)
    else:
        executor = SerialExecutor()
    try:
        yield executor
    finally:
        executor.close()


# --------------------------------------------------------------------------- replications


def combine(scenario: Scenario, seed: int, runs: list[Result]) -> Result:
    """Replications (in replication order) as one result with intervals."""
    tables = {
        name: with_replication([getattr(run, name) for run in runs])
        for name in ("connections", "network", "access", "targets", "summary")
    }
    intervals = {name: interval_table(name, table) for name, table in tables.items()}
    return Result(
        scenario=scenario,
        seed=seed,
        connections=tables["connections"],
        network=tables["network"],
        access=tables["access"],
        targets=tables["targets"],
        summary=tables["summary"],
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


# --------------------------------------------------------------------------- sweeps


@dataclass(frozen=True)
class Override:
    """`--set PATH=V1,V2,...`: a field path of the scenario and its values."""

    path: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return ".".join(str(step) for step in self.path)


def parse_override(text: str) -> Override:
    """Parse PATH=V1,V2 (values are YAML scalars: 0.1, true, fallback, 2025-01)."""
    if "=" not in text:
        raise ScenarioError([Problem("--set", f"expected PATH=V1,V2,..., got {text!r}")])
    path_text, _, values_text = text.partition("=")
    steps = [step.strip() for step in path_text.strip().split(".")]
    if not path_text.strip() or any(step == "" for step in steps):
        raise ScenarioError([Problem("--set", f"bad field path {path_text!r}")])
    values = []
    for item in values_text.split(","):
        if not item.strip():
            raise ScenarioError([Problem(path_text, f"an empty value in {values_text!r}")])
        try:
            values.append(yaml.safe_load(item.strip()))
        except yaml.YAMLError:
            values.append(item.strip())
    return Override(tuple(steps), tuple(values))


def _check_path(data: Any, override: Override) -> None:
    """The path must name a field of the resolved scenario (every field has a default)."""
    node = data
    for depth, step in enumerate(override.path):
        where = ".".join(str(s) for s in override.path[:depth]) or "the scenario"
        in_dict = isinstance(node, dict) and step in node
        in_list = isinstance(node, list) and step.isdigit() and int(step) < len(node)
        if in_dict or in_list:
            node = node[step] if in_dict else node[int(step)]
        else:
            choices = [str(k) for k in node] if isinstance(node, dict) else []
            close = difflib.get_close_matches(str(step), choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = f"; {where} has: {', '.join(choices)}" if choices else ""
            raise ScenarioError(
                [Problem(override.name, f"unknown field {step!r} in {where}{hint}{known}")]
            )


def _set(data: Any, path: tuple[str, ...], value: Any) -> None:
    node = data
    for step in path[:-1]:
        node = node[int(step)] if isinstance(node, list) else node[step]
    if isinstance(node, list):
        node[int(path[-1])] = value
    else:
        node[path[-1]] = value


@dataclass(frozen=True)
class Variant:
    """One point of a sweep."""

    index: int
    values: dict[str, Any]
    scenario: Scenario

    @property
    def folder_name(self) -> str:
        return f"v{self.index:04d}"


def variants(
    scenario: Scenario, overrides: Sequence[Override], zipped: bool = False
) -> list[Variant]:
    """Every combination (or, zipped, the element-wise pairs) of the overrides, each
    validated by the scenario schema before anything runs."""
    base = scenario.model_dump(mode="json")
    for override in overrides:
        _check_path(base, override)
    if zipped:
        lengths = {len(o.values) for o in overrides}
        if len(lengths) > 1:
            counts = ", ".join(f"{o.name}: {len(o.values)}" for o in overrides)
            raise ScenarioError([Problem("--zip", f"needs equally many values ({counts})")])
        combinations = list(zip(*(o.values for o in overrides), strict=True))
    else:
        combinations = list(itertools.product(*(o.values for o in overrides)))
    out, problems = [], []
    for index, combination in enumerate(combinations):
        data = json.loads(json.dumps(base))
        for override, value in zip(overrides, combination, strict=True):
            _set(data, override.path, value)
        values = {o.name: v for o, v in zip(overrides, combination, strict=True)}
        try:
            variant_scenario = parse_scenario(data)
            build_plan(variant_scenario)  # what needs the demand curves (cohort count)
            out.append(Variant(index, values, variant_scenario))
        except ScenarioError as error:
            label = ", ".join(f"{k}={v}" for k, v in values.items())
            problems += [Problem(p.path, f"{p.message} (variant {label})") for p in error.problems]
    if problems:
        raise ScenarioError(problems)
    return out


SWEEP_FIGURES = (
    "connected_end", "demand_end", "blocked_total", "waiting_end", "peak_utilization",
    "lowest_access_success",
)  # fmt: skip


def _complete(folder: Path, variant: Variant, seed: int, replications: int) -> bool:
    """Whether a folder already holds this variant's finished results (for resuming)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        manifest.get("status") == "complete"
        and manifest.get("seed") == seed
        and manifest.get("replications") == replications
        and manifest.get("resolved_scenario") == variant.scenario.model_dump(mode="json")
    )


@dataclass(frozen=True)
class SweepReport:
    variants: int
    skipped: int
    failed: dict[int, str]
    index: pd.DataFrame


def run_sweep(
    variant_list: Sequence[Variant],
    out: Path,
    seed: int | None,
    replications: int,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
    write: Callable[[Result, Path], None] | None = None,
) -> SweepReport:
    """Run every variant's replications; write each variant's folder as soon as its last
    replication is in (results are not kept), skip variants already complete, and index
    all variants in sweep.csv.  `seed` None: each variant's own scenario seed."""
    from sim.results import write_csv, write_result_folder

    writer = write or write_result_folder

    def seed_of(variant: Variant) -> int:
        return variant.scenario.seed if seed is None else seed

    pending = [
        v for v in variant_list if not _complete(out / v.folder_name, v, seed_of(v), replications)
    ]
    skipped = len(variant_list) - len(pending)
    tasks: list[Task] = []
    owner: list[Variant] = []
    for variant in pending:
        data = variant.scenario.model_dump(mode="json")
        for r in range(replications):
            tasks.append((data, seed_of(variant), r, replications))
            owner.append(variant)
    buckets: dict[int, dict[int, Result]] = {}
    failed: dict[int, str] = {}
    with executor_for(jobs, scheduler) as executor:
        for done, (task_index, outcome) in enumerate(executor.run(replicate, tasks), start=1):
            variant = owner[task_index]
            if progress is not None:
                progress(done)
            if variant.index in failed:
                continue
            if isinstance(outcome, TaskFailure):
                failed[variant.index] = outcome.message
                buckets.pop(variant.index, None)
                continue
            replication = tasks[task_index][2]
            bucket = buckets.setdefault(variant.index, {})
            bucket[replication] = outcome
            if len(bucket) == replications:
                runs = [bucket[r] for r in range(replications)]
                result = (
                    runs[0]
                    if replications == 1
                    else combine(variant.scenario, seed_of(variant), runs)
                )
                writer(result, out / variant.folder_name)
                del buckets[variant.index]
    index = sweep_index(variant_list, out, failed)
    write_csv(index, out / "sweep.csv")
    return SweepReport(len(variant_list), skipped, failed, index)


def sweep_index(variant_list: Sequence[Variant], out: Path, failed: dict[int, str]) -> pd.DataFrame:
    """sweep.csv: one row per variant: its values, folder, status and key figures (CIs)."""
    rows = []
    for variant in variant_list:
        folder = out / variant.folder_name
        row: dict[str, Any] = {"variant": variant.folder_name, **variant.values}
        row["status"] = "failed: " + failed[variant.index] if variant.index in failed \
            else "complete"  # fmt: skip
        row.update(_figures(folder) if variant.index not in failed else {})
        rows.append(row)
    return pd.DataFrame(rows)


def _figures(folder: Path) -> dict[str, Any]:
    """Key figures of a result folder (means and intervals when it has replications)."""
    summary_ci = folder / "summary_ci.csv"
    figures: dict[str, Any] = {}
    if summary_ci.exists():
        table = pd.read_csv(summary_ci).set_index("metric")
        for name in SWEEP_FIGURES:
            if name in table.index:
                for suffix in ("mean", "ci_low", "ci_high"):
                    figures[f"{name}_{suffix}"] = table.loc[name, f"value_{suffix}"]
        return figures
    summary = folder / "summary.csv"
    if summary.exists():
        values = pd.read_csv(summary, keep_default_na=False).set_index("metric")["value"]
        for name in SWEEP_FIGURES:
            if name in values.index:
                value = pd.to_numeric(values[name], errors="coerce")
                figures[f"{name}_mean"] = value
                figures[f"{name}_ci_low"] = figures[f"{name}_ci_high"] = math.nan
    return figures


__all__ = ["KEYS", "Override", "Variant", "parse_override", "run_replications", "run_sweep",
           "variants"]  # fmt: skip
