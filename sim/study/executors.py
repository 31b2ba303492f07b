"""Executors that run study tasks serially, on local processes, or on a Dask cluster, and
yield each outcome as it finishes."""

from __future__ import annotations

import abc
import contextlib
import ctypes
import itertools
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
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


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_POLL_S = 1.0
"""How often (s) a worker checks, as a fallback, that its parent is still there."""


def end_with_parent(parent: int | None) -> None:
    """Initializer of a worker process: end the worker as soon as its parent is gone.

    Without it, workers of a study whose process is SIGKILLed wait for work for good.  On
    Linux the kernel kills the worker when the parent ends (PR_SET_PDEATHSIG); everywhere a
    daemon thread also polls `os.getppid()`, which changes when the parent dies and the
    worker is re-parented.  `parent` is the pid the parent must have (None: whatever it is
    now, for a fork server that ends with iotsim in turn).
    """
    _arm_death_signal()
    expected = os.getppid() if parent is None else parent
    # the parent may have died between the fork and the prctl call, before the signal was
    # armed: then we are already someone else's child
    if os.getppid() != expected:
        os._exit(1)
    watch = threading.Thread(target=_watch_parent, args=(expected,), daemon=True,
                             name="iotsim-watch-parent")  # fmt: skip
    watch.start()


def _arm_death_signal() -> None:
    """Linux: have the kernel SIGKILL this process when its parent ends.

    Strictly, when the parent's thread that started it ends: here the thread that runs the
    study, which outlives the pool (`executor_for` closes it in that thread).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # then the poll alone must do
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGKILL))


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)  # no clean-up to do: the results had nowhere to go


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13+
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(requested: int, tasks: int) -> int:
    """Workers to start: as requested, but never more than tasks or CPUs (at least 1).

    More would only cost start-up time and memory (1,000 processes for three runs took
    37 s and 3.7 GB); the results are the same bytes whatever the count.
    """
    return max(1, min(requested, tasks, available_cpus()))


def executor_notes(jobs: int, scheduler: str | None, tasks: int) -> list[str]:
    """What `executor_for(jobs, scheduler)` does otherwise than asked, for `tasks` runs."""
    notes = []
    if scheduler and jobs > 1:
        notes.append(f"--jobs {jobs} is not used with --scheduler (the Dask workers do the work)")
    if scheduler and scheduler.startswith("local:"):
        asked, option = int(scheduler.removeprefix("local:")), f"--scheduler {scheduler}"
    elif not scheduler:
        asked, option = jobs, f"--jobs {jobs}"
    else:
        return notes  # a remote cluster has the workers it has
    workers = worker_count(asked, tasks)
    if workers < asked:
        runs = f"{tasks} run{'s' if tasks != 1 else ''}"
        cpus = f"{available_cpus()} CPU{'s' if available_cpus() != 1 else ''}"
        notes.append(f"{option} reduced to {workers} ({runs}, {cpus}): never more workers "
                     "than runs or CPUs; the results are the same")  # fmt: skip
    return notes


class ProcessExecutor(Executor):
    """Local worker processes, started for the first `run`: no more than its tasks or the
    CPUs (one task or one CPU: it runs in this process)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: ProcessPoolExecutor | None = None

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        if self.pool is None:
            context = multiprocessing.get_context()
            # workers are children of this process, except under a fork server (the default
            # from Python 3.14 on Linux), whose workers are its children; it ends with us
            parent = None if context.get_start_method() == "forkserver" else os.getpid()
            self.pool = ProcessPoolExecutor(
                workers, mp_context=context, initializer=end_with_parent, initargs=(parent,)
            )
        return self.pool

    def run(self, function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[
        tuple[int, Any]
    ]:  # fmt: skip
        workers = worker_count(self.jobs, len(tasks))
        if workers == 1 and self.pool is None:
            yield from SerialExecutor().run(function, tasks)
            return
        pool = self._pool(workers)
        # a bounded window of tasks in flight: results are handed on and released one by
        # one, so a long sweep never holds more than a few results
        queue = iter(enumerate(tasks))
        running: dict[Future[Any], int] = {}
        for index, task in itertools.islice(queue, 2 * workers):
            running[pool.submit(function, task)] = index
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as error:
                    outcome = _failure(error)
                for next_index, next_task in itertools.islice(queue, 1):
                    running[pool.submit(function, next_task)] = next_index
                yield index, outcome

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


class DaskExecutor(Executor):
    """A Dask distributed cluster: `tcp://host:8786`, or `local:N` for a LocalCluster.

    A LocalCluster's scheduler and nannies run in this process; each worker process
    watches a pipe from it and exits when the pipe closes, SIGKILL included (Dask's
    `AsyncProcess`), and `distributed.worker.daemon` (default true) ends them at a normal
    exit; so nothing outlives iotsim (tests/unit/test_workers.py checks it).
    """

    def __init__(self, scheduler: str) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ScenarioError(
                [Problem("--scheduler", "Dask is not installed: pip install 'iotsim[dask]'")]
            ) from None
        self.cluster: Any = None
        self.client: Any = None
        self.scratch: tempfile.TemporaryDirectory[str] | None = None
        self.local_workers = 0
        if scheduler.startswith("local:"):
            count = scheduler.removeprefix("local:")
            if not (count.isascii() and count.isdigit()) or int(count) < 1:
                message = f"local:N needs a whole number N >= 1 of workers, got {scheduler!r}"
                raise ScenarioError([Problem("--scheduler", message)])
            self.local_workers = int(count)
        else:
            try:
                self.client = Client(scheduler, timeout=10)
            except (OSError, TimeoutError) as error:
                message = f"cannot reach the Dask scheduler {scheduler}: {error}"
                raise ScenarioError([Problem("--scheduler", message)]) from None
            except ValueError as error:  # an unknown scheme, a port that is no number
                message = f"not a Dask scheduler address: {scheduler}: {error}"
                raise ScenarioError([Problem("--scheduler", message)]) from None

    def _start_local_cluster(self, tasks: int) -> None:
        """The LocalCluster, for the first run: no more workers than tasks or CPUs, and its
        scratch space in a temporary folder of ours."""
        import dask
        from dask.distributed import Client, LocalCluster

        workers = worker_count(self.local_workers, tasks)
        # Dask's dask-scratch-space/ (worker folders, and lock files that outlive even a
        # clean close) would stay in the temporary folder; this one goes with the study
        self.scratch = tempfile.TemporaryDirectory(prefix="iotsim-dask-",
                                                   ignore_cleanup_errors=True)  # fmt: skip
        # the scheduler has no local_directory of its own: it reads Dask's configuration
        with dask.config.set({"temporary-directory": self.scratch.name}):
            self.cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, local_directory=self.scratch.name,
                # even without a dashboard the scheduler serves HTTP, on port 8787 unless
                # told otherwise, and warns when another cluster has that port: any free
                # port on this machine will do
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )  # fmt: skip
        self.client = Client(self.cluster)

    def run(self, function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[
        tuple[int, Any]
    ]:  # fmt: skip
        from dask.distributed import as_completed as dask_completed

        if not tasks:  # e.g. a resumed sweep with every variant complete: no cluster
            return
        if self.client is None:
            self._start_local_cluster(len(tasks))
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
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.scratch is not None:
            self.scratch.cleanup()


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
