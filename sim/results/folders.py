"""Output folders on disk: which folders iotsim may replace, one writer per folder at a
time, and a swap into place that never leaves the folder missing.

A folder `X` is written as a sibling `.X.tmp-<random>` and swapped into place; writers of
`X` take an exclusive `flock` on the sibling `.X.lock` first, from before any work starts
until the new folder is in place.  Only an absent folder, an empty one, or one of the kind
being written (recognised by its manifest: a result folder by `manifest.json`, a sweep
folder by `sweep.json`, a figures folder by `figures.json`) is ever replaced.  Under the
lock, siblings of that naming left by a killed writer are recovered (a `.X.old-*` put back
when `X` is missing) or removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class OutputError(OSError):
    """An output that may not or cannot be written; the message names it, says why, and
    what was left as it was."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "output error"


class FolderBusyError(OutputError):
    """Another process (or thread) is writing the same folder."""


@dataclass(frozen=True)
class FolderKind:
    """A kind of folder iotsim writes, recognised by its manifest file."""

    name: str
    """What users call it: 'result folder'."""
    marker: str
    """The manifest file inside it: 'manifest.json'."""
    legacy: Callable[[Path], bool] | None = None
    """Recognises a folder of this kind written before manifests named their kind."""

    @property
    def kind(self) -> str:
        """The value of the manifest's `kind` field."""
        return f"iotsim {self.name}"


def _legacy_result(folder: Path) -> bool:
    manifest = _json_object(folder / "manifest.json")
    if manifest is None:
        return False
    versions = manifest.get("versions")
    return isinstance(versions, dict) and "iotsim" in versions and "resolved_scenario" in manifest


def _legacy_sweep(folder: Path) -> bool:
    try:
        with (folder / "sweep.csv").open(encoding="utf-8") as file:
            return file.readline().startswith("variant,")
    except (OSError, UnicodeDecodeError):
        return False


RESULT_FOLDER = FolderKind("result folder", "manifest.json", _legacy_result)
SWEEP_FOLDER = FolderKind("sweep folder", "sweep.json", _legacy_sweep)


def figures_folder(figure_names: Iterable[str]) -> FolderKind:
    """The kind of a figures folder; one holding nothing but figure files of these names
    (as written before figures folders had a manifest) counts as one too."""
    files = {f"{name}.{ext}" for name in figure_names for ext in ("png", "svg")}

    def legacy(folder: Path) -> bool:
        entries = list(folder.iterdir())
        return bool(entries) and all(p.name in files and p.is_file() for p in entries)

    return FolderKind("figures folder", "figures.json", legacy)


def _json_object(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_kind(folder: Path, kind: FolderKind) -> bool:
    """Whether `folder` is a folder of this kind (by its manifest)."""
    marker = _json_object(folder / kind.marker)
    if marker is not None and marker.get("kind") == kind.kind:
        return True
    return kind.legacy is not None and kind.legacy(folder)


def _absolute(out: str | Path) -> Path:
    """The folder as an absolute path, its last part not resolved (a link is refused)."""
    return Path(os.path.abspath(out))


def check_replaceable(out: str | Path, kind: FolderKind) -> None:
    """Raise OutputError unless `out` may be (re)written as a folder of `kind`: absent,
    empty, or such a folder.  Looks only; changes nothing."""
    path = _absolute(out)
    if not path.name:
        raise OutputError(f"{out}: cannot write a {kind.name} as the root folder")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise OutputError(f"{out}: {blocker} is a file, not a folder")
    if path.is_symlink():
        raise OutputError(f"{out} is a symbolic link; give the folder it points to, or a new one")
    if not path.exists():
        return
    if not path.is_dir():
        raise OutputError(f"{out} is a file, not a folder; give a new or empty folder")
    try:
        empty = not any(path.iterdir())
        if empty or is_kind(path, kind):
            return
    except OSError as error:
        raise OutputError(f"{out}: cannot read it: {error.strerror or error}") from error
    raise OutputError(
        f"{out} is not empty and is not an iotsim {kind.name} (no iotsim {kind.marker}); "
        f"iotsim writes a {kind.name} only to a new or empty folder or over a {kind.name} it "
        f"wrote: give another folder, or move {out} away yourself"
    )


def check_file_target(out: str | Path) -> None:
    """Raise OutputError unless `out` can name a file: not an existing folder, and no part
    of its parent path a file.  Looks only; changes nothing."""
    path = _absolute(out)
    if path.is_dir():
        raise OutputError(f"{out} is a folder; give a file name, e.g. {Path(out) / 'out.csv'}")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise OutputError(f"{out}: {blocker} is a file, not a folder")


# ---- what this process has put in place (for the message after an interrupt) ----------

_written: list[Path] = []
"""Outputs put in place since `take_written` was last called.  The command line reports
them when interrupted, so it never says "nothing was changed" when something was."""


def record_written(path: str | Path) -> None:
    _written.append(Path(path))


def take_written() -> list[Path]:
    """The outputs put in place since the last call (and forget them)."""
    taken = list(_written)
    _written.clear()
    return taken


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold back SIGINT (Ctrl-C) for a few system calls that must happen together; an
    interrupt that arrives meanwhile is delivered as soon as they are done."""
    main_thread = threading.current_thread() is threading.main_thread()
    if not main_thread or signal.getsignal(signal.SIGINT) is None:
        yield  # only the main thread gets signals; None: a handler Python did not set
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)


# ---- one writer per folder ------------------------------------------------------------


_HELD: dict[tuple[int, Path], int] = {}
"""Folders this process holds: (pid, folder) -> the thread holding it."""
_HELD_GUARD = threading.Lock()


def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


def _holder(fd: int) -> str:
    """The pid written in a lock file by its holder (it may not have written it yet)."""
    for _ in range(20):
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 64).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
        time.sleep(0.01)
    return "unknown"


def _lock(path: Path, shown: str | Path) -> int:
    """Take the folder's lock file (exclusive flock) and return its descriptor, or raise
    FolderBusyError naming the pid of the process holding it (and the folder as `shown`)."""
    lock_path = _lock_path(path)
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            os.close(fd)
            raise FolderBusyError(
                f"another iotsim process (pid {pid}) is writing {shown}; try again when it "
                "has finished"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # The holder before us unlinks the file before it lets go: if what we locked is no
        # longer the file at that path, someone else may lock the new one; start again.
        held = os.fstat(fd)
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            return fd
        os.close(fd)


def _unlock(path: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_lock_path(path))  # while still holding it: see _lock
    os.close(fd)


@contextlib.contextmanager
def claim(out: str | Path, kind: FolderKind) -> Iterator[Path]:
    """Hold `out` for writing a folder of `kind`, and yield its absolute path.

    Refuses (OutputError) a folder that may not be replaced, and (FolderBusyError) one that
    another process is writing.  Under the lock, recovers what a killed writer left
    behind.  Claims of the same folder nest within one thread.  Creates the parent folders.
    """
    path = _absolute(out)
    key = (os.getpid(), path)  # the pid: a forked child does not hold its parent's claims
    with _HELD_GUARD:
        holder = _HELD.get(key)
    if holder == threading.get_ident():
        yield path  # within a claim of the same folder: it is held already
        return
    if holder is not None:
        raise FolderBusyError(f"another thread of this process is writing {out}")
    check_replaceable(out, kind)  # before creating anything
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _lock(path, out)
    except OutputError:
        raise
    except OSError as error:
        raise OutputError(f"cannot write {out}: {_reason(error)}") from error
    with _HELD_GUARD:
        _HELD[key] = threading.get_ident()
    try:
        try:
            recover(path, kind)
            check_replaceable(out, kind)  # again, now that no other iotsim writer can change it
        except OutputError:
            raise
        except OSError as error:
            raise OutputError(f"cannot write {out}: {_reason(error)}") from error
        yield path
    finally:
        with _HELD_GUARD:
            del _HELD[key]
        _unlock(path, fd)


# ---- what a killed writer leaves behind ----------------------------------------------


def _debris_pattern(name: str) -> re.Pattern[str]:
    # exactly the names tempfile.mkdtemp gives our staging and old folders
    return re.compile(rf"\.{re.escape(name)}\.(tmp|old)-[a-z0-9_]{{8}}")


def recover(out: Path, kind: FolderKind) -> list[Path]:
    """Put back the previous folder if a writer was killed between the two renames of the
    fallback swap (`out` missing, a `.out.old-*` folder of `kind` present), and remove the
    other staging and old siblings of `out`.  Call only while holding the claim on `out`,
    so no live writer's staging folder is touched.  Returns what was removed."""
    pattern = _debris_pattern(out.name)
    debris = sorted(p for p in out.parent.iterdir() if pattern.fullmatch(p.name))
    if not os.path.lexists(out):
        olds = [p for p in debris if ".old-" in p.name and p.is_dir() and not p.is_symlink()]
        olds = [p for p in olds if is_kind(p, kind)]  # not the empty one a kill may leave
        if olds:
            newest = max(olds, key=lambda p: p.stat().st_mtime)
            os.rename(newest, out)
            debris.remove(newest)
    for path in debris:
        _remove(path)
    return debris


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# ---- swapping a finished folder into place -------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@functools.cache
def _renameat2() -> Any:
    """glibc's renameat2 (2.28+), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]  # fmt: skip
    function.restype = ctypes.c_int
    return function


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 RENAME_EXCHANGE).
    False where the system or the file system cannot; OSError on other failures."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(number, os.strerror(number), str(b))


def swap_into_place(staging: Path, out: Path) -> None:
    """Put the finished folder `staging` at `out`, replacing any folder there.

    Where renameat2 can exchange the two, `out` names the old folder until the instant it
    names the new one: it is never missing.  Elsewhere the old folder is renamed aside
    and kept until the new one is in place (a kill in between leaves it as `.out.old-*`,
    which the next writer's `recover` puts back).  Either way the old folder is removed
    only once the new one is in place.
    """
    with uninterrupted():
        if not os.path.lexists(out):
            os.rename(staging, out)
            previous = None
        elif exchange(staging, out):
            previous = staging  # the staging name now holds the old folder
        else:
            previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, previous)  # onto the empty folder mkdtemp made: atomic
            try:
                os.rename(staging, out)
            except BaseException:
                os.rename(previous, out)
                raise
        record_written(out)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _reason(error: OSError) -> str:
    """An OSError as a short reason ('No space left on device'), naming the file involved
    when there is one; for an OutputError raised for a file inside, the reason of that."""
    while isinstance(error, OutputError) and isinstance(error.__cause__, OSError):
        error = error.__cause__
    if isinstance(error, OutputError) or not error.strerror:
        return str(error)
    return f"{error.strerror} ({error.filename})" if error.filename else error.strerror


@contextlib.contextmanager
def staged_folder(out: str | Path, kind: FolderKind) -> Iterator[Path]:
    """Claim `out`, yield an empty staging folder beside it to fill, then swap it into
    place.  On any error or interrupt the staging folder goes and `out` stays as it was;
    errors of the file system come out as OutputError naming `out`."""
    with claim(out, kind) as path:
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
            readable(staging, folder=True)
        except OSError as error:
            raise OutputError(f"cannot write {out}: {_reason(error)}") from error
        try:
            yield staging
            _forget_written_under(staging)  # files put in place inside it are not outputs
            swap_into_place(staging, path)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            reason = _reason(error).replace(str(staging), str(path))
            raise OutputError(f"cannot write {out}: {reason}; {out} is as it was") from error
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            _forget_written_under(staging)


def _forget_written_under(folder: Path) -> None:
    _written[:] = [p for p in _written if not p.is_relative_to(folder)]


def atomic_file(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Create the file `path` atomically: `write` fills a temporary file beside it, which
    is then renamed into place.  On any error or interrupt the temporary goes and `path`
    stays as it was; errors of the file system come out as OutputError naming `path`, and
    so does a `path` that is an existing folder."""
    path = Path(path)
    check_file_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(handle)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {_reason(error)}") from error
    temporary = Path(name)
    try:
        write(temporary)
        readable(temporary)
        with uninterrupted():
            os.replace(temporary, path)
            record_written(path)
    except OutputError:  # already names its file (a write nested in `write`)
        temporary.unlink(missing_ok=True)
        raise
    except OSError as error:
        temporary.unlink(missing_ok=True)
        reason = _reason(error).replace(str(temporary), str(path))
        raise OutputError(f"cannot write {path}: {reason}; {path} is as it was") from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _read_umask() -> int:
    umask = os.umask(0)  # the only way to read it is to set it
    os.umask(umask)
    return umask


_UMASK = _read_umask()
"""The process's umask, read once at import: setting it to read it later could change the
mode of files other threads create at that instant."""


def readable(path: Path, folder: bool = False) -> None:
    """mkdtemp/mkstemp create private (0700/0600) entries; results are ordinary files."""
    path.chmod((0o777 if folder else 0o666) & ~_UMASK)


def checksum(data: bytes) -> dict[str, Any]:
    """What a manifest records of a file: its size and SHA-256."""
    return {"size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_marker(folder: Path, kind: FolderKind, fields: dict[str, Any]) -> Path:
    """Write (atomically) the manifest that makes `folder` a folder of `kind`."""
    text = json.dumps({"kind": kind.kind, **fields}, indent=2) + "\n"
    return atomic_file(folder / kind.marker, lambda file: file.write_text(text, encoding="utf-8"))
