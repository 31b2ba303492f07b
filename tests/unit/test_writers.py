"""Writers of result folders under stress: readers polling during rewrites, writers killed
or interrupted at chosen moments, and two writers of one folder.

The moments are chosen, not timed: a child process runs the real command line with one
function wrapped to print a marker and wait, and the test acts when it reads the marker.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import tiny_scenario, write_yaml

import sim.results.folders as folders
from sim import run
from sim.cli import main
from sim.results import Result

ROOT = Path(__file__).resolve().parents[2]
TINY = tiny_scenario(end="2023-06", initial=20_000)

CHILD = r"""
import builtins, json, sys

config = json.loads(sys.argv[1])
pause = config["pause"]


def wait(marker):
    print(marker, flush=True)
    sys.stdin.readline()  # until the test says go on, or a signal arrives


if pause == "import":  # the first heavy module the command line loads
    real_import = builtins.__import__

    def slow_import(name, *args, **kwargs):
        if name in ("numpy", "pandas") and name not in sys.modules:
            builtins.__import__ = real_import
            wait("importing")
        return real_import(name, *args, **kwargs)

    builtins.__import__ = slow_import
elif pause == "simulate":
    import sim.api

    real_simulate = sim.api.simulate_replication

    def slow_simulate(*args, **kwargs):
        wait("simulating")
        return real_simulate(*args, **kwargs)

    sim.api.simulate_replication = slow_simulate
elif pause == "write":  # inside the staging folder, before its first file
    import sim.results.result

    real_bytes = sim.results.result.csv_bytes
    calls = []

    def slow_bytes(table):
        calls.append(1)
        if len(calls) == 1:
            wait("writing")
        return real_bytes(table)

    sim.results.result.csv_bytes = slow_bytes

from sim.cli import main

sys.exit(main(config["argv"]))
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}"))


def start_child(tmp_path: Path, pause: str, argv: list[str]) -> subprocess.Popen[bytes]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    config = json.dumps({"pause": pause, "argv": argv})
    # a test run started in the background (`pytest &`) ignores SIGINT, and its children
    # would inherit that: the child must be what a user runs at a terminal
    return subprocess.Popen(
        [sys.executable, str(script), config], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env, cwd=tmp_path, bufsize=0,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )  # fmt: skip


def wait_for(child: subprocess.Popen[bytes], marker: str, timeout: float = 120) -> None:
    """Read the child's output until `marker`; fail with its stderr if it never comes."""
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([child.stdout], [], [], 0.5)
        if ready:
            line = child.stdout.readline()
            if line.strip() == marker.encode():
                return
            if not line:
                break
    child.kill()
    _, err = child.communicate()
    raise AssertionError(f"the child never reached {marker!r}: {err.decode()}")


def finish(child: subprocess.Popen[bytes]) -> tuple[int, str]:
    _, err = child.communicate(input=b"go on\n", timeout=120)
    return child.returncode, err.decode()


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """A result folder from an earlier run, to be rewritten."""
    return run(TINY, seed=7).write(tmp_path / "out")


# ---- item: the folder never disappears, and debris of killed writers is cleaned up ------


def _poll(out: Path, stop: threading.Event, seen: dict[str, int]) -> None:
    """Like a dashboard reading the folder while it is rewritten: open it (one version),
    read its manifest, and check that every file the manifest lists is there, whole."""
    while not stop.is_set():
        try:
            fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            seen["missing"] += 1
            continue
        try:
            manifest_fd = os.open("manifest.json", os.O_RDONLY, dir_fd=fd)
            with os.fdopen(manifest_fd, "rb") as file:
                manifest = json.loads(file.read())
            checks = manifest.get("checksums") or {}  # an older manifest: presence only
            sizes = [os.stat(name, dir_fd=fd).st_size for name in manifest["files"]]
            expected = [checks.get(name, {}).get("size_bytes") for name in manifest["files"]]
            whole = not checks or sizes == expected
            seen["whole" if whole else "partial"] += 1
        except FileNotFoundError:
            # the version this reader opened was replaced and removed while it read: it
            # must then be a different folder from the one the path names now
            try:
                replaced = os.fstat(fd).st_ino != os.stat(out).st_ino
            except FileNotFoundError:
                seen["missing"] += 1
                continue
            seen["replaced while reading" if replaced else "partial"] += 1
        finally:
            os.close(fd)


def test_a_reader_never_sees_the_folder_missing_or_partial(tmp_path: Path) -> None:
    versions: list[Result] = [run(TINY, seed=1), run(TINY, seed=2)]  # of different sizes
    out = versions[0].write(tmp_path / "out")
    stop = threading.Event()
    seen = dict.fromkeys(["whole", "missing", "partial", "replaced while reading"], 0)
    reader = threading.Thread(target=_poll, args=(out, stop, seen))
    reader.start()
    try:
        for rewrite in range(40):
            versions[rewrite % 2].write(out)
    finally:
        stop.set()
        reader.join()
    assert seen["missing"] == 0, seen
    assert seen["partial"] == 0, seen
    assert seen["whole"] > 40, seen
    assert siblings(out) == []  # nothing left beside it


def test_a_writer_killed_mid_write_leaves_debris_the_next_run_removes(
    tmp_path: Path, previous: Path
) -> None:
    before = snapshot(previous)
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    argv = ["run", str(scenario), "--out", str(previous), "--quiet"]
    child = start_child(tmp_path, "write", argv)
    wait_for(child, "writing")
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert snapshot(previous) == before  # the previous results are as they were
    left = siblings(previous)
    assert any(name.startswith(".out.tmp-") for name in left), left  # the killed staging
    assert main(argv) == 0  # the next run removes it
    assert siblings(previous) == []
    assert json.loads((previous / "manifest.json").read_text())["seed"] == 1


def test_a_kill_between_the_two_renames_is_recovered(tmp_path: Path, previous: Path) -> None:
    """Without renameat2 the old folder is renamed aside before the new one goes in: a
    writer killed in between leaves `.out.old-*` and no `out`.  The next writer puts the
    old folder back before anything else, so even when it fails itself the results are
    there."""
    before = snapshot(previous)
    old = previous.parent / ".out.old-abcd1234"
    previous.rename(old)
    (previous.parent / ".out.tmp-wxyz9876").mkdir()  # the killed writer's new folder
    (previous.parent / ".out.tmp-wxyz9876" / "connections.csv").write_text("date\n")
    scenario = write_yaml(tmp_path / "s.yaml", TINY)

    def full(_path: Path, *_args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "write_bytes", full)
        assert main(["run", str(scenario), "--out", str(previous), "--quiet"]) == 2
    assert snapshot(previous) == before
    assert siblings(previous) == []


def test_only_a_whole_old_folder_is_put_back(tmp_path: Path) -> None:
    """A kill just after the fallback swap made its empty `.out.old-*` (before renaming
    the old folder onto it) leaves an empty one; with `out` missing for another reason,
    that is not put back as the result folder, only removed."""
    out = tmp_path / "out"
    (tmp_path / ".out.old-abcd1234").mkdir()
    with folders.claim(out, folders.RESULT_FOLDER):
        assert not out.exists()
    assert siblings(out) == []


def test_without_renameat2_the_old_folder_stays_until_the_new_is_in(
    tmp_path: Path, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback swap: a failure of the second rename puts the old folder back."""
    before = snapshot(previous)
    monkeypatch.setattr(folders, "exchange", lambda _a, _b: False)
    real_rename = os.rename
    renames: list[tuple[str, str]] = []

    def second_fails(source: Any, target: Any) -> None:
        renames.append((Path(source).name, Path(target).name))
        if len(renames) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(target))
        real_rename(source, target)

    monkeypatch.setattr(folders.os, "rename", second_fails)
    with pytest.raises(OSError, match="Input/output error"):
        run(TINY).write(previous)
    assert renames[0][0] == "out"  # the old folder went aside first,
    assert renames[0][1].startswith(".out.old-")
    assert renames[2] == (renames[0][1], "out")  # and came back when the new one failed
    assert snapshot(previous) == before
    monkeypatch.setattr(folders.os, "rename", real_rename)
    run(TINY, seed=3).write(previous)  # and without failures it replaces the folder
    assert json.loads((previous / "manifest.json").read_text())["seed"] == 3
    assert siblings(previous) == []


# ---- item: one writer per folder --------------------------------------------------------


def test_a_second_writer_is_refused_and_the_first_completes(
    tmp_path: Path, previous: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    argv = ["run", str(scenario), "--out", str(previous), "--quiet"]
    first = start_child(tmp_path, "write", argv)
    wait_for(first, "writing")
    staging = [name for name in siblings(previous) if name.startswith(".out.tmp-")]
    assert main([*argv, "--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert f"another iotsim process (pid {first.pid}) is writing {previous}" in err
    assert "Traceback" not in err
    assert all((previous.parent / name).is_dir() for name in staging)  # not touched
    code, err = finish(first)
    assert code == 0, err
    assert json.loads((previous / "manifest.json").read_text())["seed"] == 1  # the first's
    assert siblings(previous) == []


def test_the_lock_is_taken_on_the_file_at_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock file can be unlinked by its releasing holder between our open and our
    flock; the lock is then on a file no one else will open.  The claim must notice and
    take the lock file that is at the path."""
    out = tmp_path / "out"
    lock = tmp_path / ".out.lock"
    real_flock = fcntl.flock
    calls: list[int] = []

    def racing_flock(fd: int, operation: int) -> None:
        calls.append(fd)
        if len(calls) == 1:  # another writer finishes: unlinks the file we opened
            lock.unlink()
            lock.write_text("")  # and a third creates a new one
        real_flock(fd, operation)

    monkeypatch.setattr(folders.fcntl, "flock", racing_flock)
    with folders.claim(out, folders.RESULT_FOLDER):
        monkeypatch.setattr(folders.fcntl, "flock", real_flock)
        assert len(calls) == 2  # it tried again
        probe = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):  # the file at the path is the one held
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
    assert not lock.exists()  # released: removed by its holder


def test_another_thread_of_the_process_is_refused_too(tmp_path: Path) -> None:
    """Claims nest within one thread (a command claims, then its writer); another thread
    of the same process is a second writer."""
    out = tmp_path / "out"
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with folders.claim(out, folders.RESULT_FOLDER):
            holding.set()
            done.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(folders.FolderBusyError, match="another thread of this process"):
            run(TINY).write(out)
    finally:
        done.set()
        holder.join()
    with folders.claim(out, folders.RESULT_FOLDER), folders.claim(out, folders.RESULT_FOLDER):
        run(TINY).write(out)  # nested in one thread: fine
    assert (out / "manifest.json").exists()


# ---- item: Ctrl-C at any moment ---------------------------------------------------------


@pytest.mark.parametrize("moment", ["import", "simulate", "write"])
def test_an_interrupt_ends_with_one_line_and_changes_nothing(
    tmp_path: Path, previous: Path, moment: str
) -> None:
    before = snapshot(previous)
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    child = start_child(tmp_path, moment, ["run", str(scenario), "--out", str(previous)])
    wait_for(child, {"import": "importing", "simulate": "simulating", "write": "writing"}[moment])
    child.send_signal(signal.SIGINT)
    code, err = finish(child)
    assert code == 130, err
    assert err.strip().splitlines() == [err.strip()], err  # one line
    assert err.startswith("interrupted"), err
    assert "Traceback" not in err
    assert snapshot(previous) == before
    assert siblings(previous) == []  # no staging folder, no lock file


def test_an_interrupt_held_back_for_a_swap_comes_after_it() -> None:
    done = []

    def swap() -> None:
        with folders.uninterrupted():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal has arrived, and waits
            done.append("swapped")

    # Python's own Ctrl-C handling, even in a test run started in the background, where
    # the shell has SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            swap()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done == ["swapped"]


def test_importing_sim_and_its_command_line_loads_nothing_heavy() -> None:
    code = (
        "import json, sys; import sim, sim.cli; "
        "heavy = {'numpy', 'pandas', 'simpy', 'pydantic', 'yaml', 'tqdm', 'matplotlib'}; "
        "print(json.dumps(sorted(heavy & set(sys.modules)))); "
        "print(sim.__version__, sim.run.__name__, sim.Scenario.__name__)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True)  # fmt: skip
    loaded, names = done.stdout.splitlines()
    assert json.loads(loaded) == []
    assert names.split()[1:] == ["run", "Scenario"]  # the lazy exports still work
