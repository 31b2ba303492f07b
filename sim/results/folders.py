"""Output folders on disk: which folders iotsim may replace, and writing one whole.

A folder `X` is written as a sibling `.X.tmp-<random>` and swapped into place.  Only an
absent folder, an empty one, or one of the kind being written (recognised by its manifest:
a result folder by `manifest.json`, a sweep folder by `sweep.json`, a figures folder by
`figures.json`) is ever replaced; `claim` checks that before any work starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class OutputError(OSError):
    """An output that may not or cannot be written; the message names it, says why, and
    what was left as it was."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "output error"


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


def figures_folder(figure_names: Iterator[str] | list[str] | tuple[str, ...]) -> FolderKind:
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


@contextlib.contextmanager
def claim(out: str | Path, kind: FolderKind) -> Iterator[Path]:
    """Check that `out` may be written as a folder of `kind` (else OutputError, before
    anything is created), create its parent folders, and yield its absolute path."""
    path = _absolute(out)
    check_replaceable(out, kind)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot write {out}: {_reason(error)}") from error
    yield path


# ---- swapping a finished folder into place -------------------------------------------


def swap_into_place(staging: Path, out: Path) -> None:
    """Put the finished folder `staging` at `out`, replacing any folder there: the old one
    is renamed aside and removed once the new one is in place."""
    if not os.path.lexists(out):
        os.rename(staging, out)
        return
    previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, previous)  # onto the empty folder mkdtemp made: atomic
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(previous, out)
        raise
    shutil.rmtree(previous, ignore_errors=True)


def _reason(error: OSError) -> str:
    """An OSError as a short reason ('No space left on device'), naming the file involved
    when there is one."""
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
            swap_into_place(staging, path)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            reason = _reason(error).replace(str(staging), str(path))
            raise OutputError(f"cannot write {out}: {reason}; {out} is as it was") from error
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


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
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        reason = _reason(error).replace(str(temporary), str(path))
        raise OutputError(f"cannot write {path}: {reason}; {path} is as it was") from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def readable(path: Path, folder: bool = False) -> None:
    """mkdtemp/mkstemp create private (0700/0600) entries; results are ordinary files."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if folder else 0o666) & ~umask)


def checksum(data: bytes) -> dict[str, Any]:
    """What a manifest records of a file: its size and SHA-256."""
    return {"size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_marker(folder: Path, kind: FolderKind, fields: dict[str, Any]) -> Path:
    """Write (atomically) the manifest that makes `folder` a folder of `kind`."""
    text = json.dumps({"kind": kind.kind, **fields}, indent=2) + "\n"
    return atomic_file(folder / kind.marker, lambda file: file.write_text(text, encoding="utf-8"))
