"""Executors that run study tasks serially, on local processes, or on a Dask cluster, and
yield each outcome as it finishes."""

from __future__ import annotations

import abc
import contextlib
import itertools
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sim.scenario import Problem, ScenarioError


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
