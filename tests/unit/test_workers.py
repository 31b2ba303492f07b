"""Worker processes of a study: they end with the iotsim process that started them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from helpers import tiny_scenario

from sim import run
from sim.cli import main
from sim.study.executors import available_cpus

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "china_miit_2027.yaml"  # about 2 s a replication

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="finds child processes through Linux /proc"
)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the task or the process ended meanwhile
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        children = _children(todo.pop())
        found += children
        todo += children
    return found


def _start_time(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/<pid>/stat), None once it is gone or a
    zombie: with the pid it tells a process apart from a later one that reuses its pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in "ZX" else fields[19]


def _workers_after_kill(args: list[str], workers: int, cwd: Path) -> list[str]:
    """Start `iotsim ARGS`, wait until it has `workers` child processes, SIGKILL it, and
    return the command lines of those still alive 5 s later (then kill them)."""
    # a killed study cannot remove its temporary folders: keep them in the test's folder
    (cwd / "temp").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(cwd / "temp")}
    process = subprocess.Popen([sys.executable, "-m", "sim", *args, "--quiet"], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    seen: dict[int, str | None] = {}
    try:
        deadline = time.monotonic() + 60
        while len(seen) < workers and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            seen = {pid: _start_time(pid) for pid in _descendants(process.pid)}
        assert len(seen) >= workers, f"the study never had {workers} worker processes"
        time.sleep(0.5)  # workers that are still starting up
        seen = {pid: _start_time(pid) for pid in _descendants(process.pid)}
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 5
    alive = list(seen)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if _start_time(pid) == seen[pid]]
    left = []
    for pid in alive:  # orphans: say what they were, and do not leave them running
        command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
        left.append(f"{pid}: {command[:100]}")
        os.kill(pid, signal.SIGKILL)
    return left


@pytest.mark.parametrize(
    "args",
    [
        ["run", str(SCENARIO), "--replications", "4", "--jobs", "2"],
        ["sweep", str(SCENARIO), "--set", "seed=1,2", "--replications", "2", "--jobs", "2"],
    ],
    ids=["run", "sweep"],
)
@pytest.mark.skipif(available_cpus() < 2, reason="one CPU: the runs go in the iotsim process")
def test_worker_processes_end_when_iotsim_is_killed(tmp_path: Path, args: list[str]) -> None:
    assert _workers_after_kill([*args, "--out", str(tmp_path / "out")], 2, tmp_path) == []


def test_dask_local_cluster_ends_when_iotsim_is_killed(tmp_path: Path) -> None:
    args = ["run", str(SCENARIO), "--replications", "4", "--scheduler", "local:2"]
    assert _workers_after_kill([*args, "--out", str(tmp_path / "out")], 2, tmp_path) == []


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_worker_whose_parent_is_already_gone_ends_at_once() -> None:
    """The race: the parent died between the fork and the initializer, so the worker's
    parent is no longer the one expected; the initializer ends it."""
    code = "import os; from sim.study.executors import end_with_parent; " \
           "end_with_parent(os.getppid() + 1); print('lived on')"  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        _python(code), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "lived on" not in done.stdout


def test_without_the_death_signal_the_poll_ends_an_orphan() -> None:
    """The portable fallback alone (as on macOS, no prctl): a worker whose parent is
    SIGKILLed notices its new parent and ends within a poll interval or two."""
    worker = ("import os, time; parent = os.getppid(); import sim.study.executors as e; "
              "e._arm_death_signal = lambda: None; "  # no prctl: only the poll is left
              "e.end_with_parent(parent); print('armed', flush=True); time.sleep(60)")  # fmt: skip
    parent = ("import subprocess, sys, time; "
              f"child = subprocess.Popen({_python(worker)!r}); "
              "print(child.pid, flush=True); time.sleep(60)")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(_python(parent), env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            child = int(process.stdout.readline())
            started = _start_time(child)
            assert process.stdout.readline().strip() == "armed"  # the worker shares the pipe
            assert started is not None
            assert _start_time(child) == started  # alive while its parent is
        finally:
            process.kill()
    deadline = time.monotonic() + 5
    while _start_time(child) == started and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _start_time(child) == started
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive


TINY = tiny_scenario()


def _pid(_task: object) -> int:
    return os.getpid()


def test_the_process_pool_is_no_bigger_than_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """--jobs 8 on 2 CPUs starts 2 processes for 3 tasks; for one task, none at all."""
    import sim.study.executors as executors

    sizes: list[int] = []

    class Recorded(ProcessPoolExecutor):
        def __init__(self, max_workers: int, **kwargs: Any) -> None:
            sizes.append(max_workers)
            super().__init__(min(max_workers, 2), **kwargs)  # never fork more here

    monkeypatch.setattr(executors, "ProcessPoolExecutor", Recorded)
    monkeypatch.setattr(executors, "available_cpus", lambda: 2)
    with executors.executor_for(jobs=8) as executor:
        pids = dict(executor.run(_pid, ["a", "b", "c"]))
    assert sizes == [2]
    assert sorted(pids) == [0, 1, 2]
    assert os.getpid() not in pids.values()
    sizes.clear()
    with executors.executor_for(jobs=8) as executor:
        assert dict(executor.run(_pid, ["a"])) == {0: os.getpid()}  # ran here: no pool
    assert sizes == []


def test_a_local_dask_cluster_is_no_bigger_than_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import dask.distributed

    import sim.study.executors as executors

    sizes: list[int] = []

    class Recorded(dask.distributed.LocalCluster):  # type: ignore[misc]
        def __init__(self, n_workers: int, **kwargs: Any) -> None:
            sizes.append(n_workers)
            super().__init__(n_workers=n_workers, **kwargs)

    monkeypatch.setattr(dask.distributed, "LocalCluster", Recorded)
    monkeypatch.setattr(executors, "available_cpus", lambda: 2)
    result = run(TINY, replications=3, scheduler="local:6")
    assert sizes == [2]
    assert result.replications == 3


def test_jobs_beyond_the_work_are_reduced_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The note says what was asked and what is used; the bytes do not change."""
    import sim.study.executors as executors

    monkeypatch.setattr(executors, "available_cpus", lambda: 2)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(TINY))
    study = ["run", str(scenario), "--replications", "3", "--quiet"]
    assert main([*study, "--jobs", "8", "--out", str(tmp_path / "j8")]) == 0
    err = capsys.readouterr().err
    assert "note: --jobs 8 reduced to 2" in err
    assert "3 runs, 2 CPUs" in err
    assert main([*study, "--out", str(tmp_path / "j1")]) == 0
    assert "note:" not in capsys.readouterr().err
    for table in sorted((tmp_path / "j1").glob("*.csv")):
        assert (tmp_path / "j8" / table.name).read_bytes() == table.read_bytes(), table.name
    one = ["run", str(scenario), "--quiet", "--jobs", "4", "--out", str(tmp_path / "one")]
    assert main(one) == 0
    assert "note: --jobs 4 reduced to 1 (1 run, 2 CPUs)" in capsys.readouterr().err
    sweep = ["sweep", str(scenario), "--set", "seed=1,2", "--jobs", "3", "--quiet"]
    assert main([*sweep, "--out", str(tmp_path / "sweep")]) == 0
    assert "note: --jobs 3 reduced to 2 (2 runs, 2 CPUs)" in capsys.readouterr().err


def _leftovers(*folders: Path) -> list[str]:
    return sorted(str(p.relative_to(p.parents[1])) for f in folders for p in f.iterdir())


def test_a_local_dask_cluster_leaves_no_scratch_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dask's dask-scratch-space/ (worker folders and lock files, which outlive even a clean
    close) goes to a temporary folder that is removed when the study ends."""
    import dask

    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with dask.config.set({"temporary-directory": None}):
        result = run(TINY, replications=2, scheduler="local:2")
    assert result.replications == 2
    assert _leftovers(work, temp) == []


def test_a_remote_dask_scheduler_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a cluster of its own (`tcp://...`), iotsim writes nothing to the working
    folder or the temporary folder."""
    import dask
    from dask.distributed import LocalCluster

    work, temp, cluster_space = tmp_path / "work", tmp_path / "temp", tmp_path / "cluster"
    for folder in (work, temp, cluster_space):
        folder.mkdir()
    with dask.config.set({"temporary-directory": str(cluster_space)}):
        cluster = LocalCluster(n_workers=1, processes=False, dashboard_address=None,
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})  # fmt: skip
    try:
        monkeypatch.chdir(work)
        monkeypatch.setattr(tempfile, "tempdir", str(temp))
        result = run(TINY, replications=2, scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    assert result.replications == 2
    assert _leftovers(work, temp) == []


def test_a_local_dask_cluster_does_not_need_the_dashboard_port(tmp_path: Path) -> None:
    """Dask's scheduler opens an HTTP server on port 8787 unless told otherwise, and warns
    (an error under pytest) when something else has the port: a local cluster takes a
    free port instead, and iotsim prints no warning."""
    with socket.socket() as holder:
        with contextlib.suppress(OSError):  # someone else has it already: the same case
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind(("", 8787))
            holder.listen()
        result = run(TINY, replications=2, scheduler="local:1")
    assert result.replications == 2
