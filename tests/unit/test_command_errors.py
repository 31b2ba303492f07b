"""plot, report and compare on bad input and bad output locations: one error line that
names the file (and field or column), exit code 2, no traceback, nothing half-written."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import tiny_scenario

from sim import run
from sim.cli import main

TINY = tiny_scenario(end="2023-06", initial=20_000)
COMMANDS = ["compare", "plot", "report"]


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("originals")
    return run(TINY).write(base / "a"), run(TINY, seed=2).write(base / "b")


@pytest.fixture
def folders(tmp_path: Path, originals: tuple[Path, Path]) -> tuple[Path, Path]:
    """Two result folders of this test's own, to spoil."""
    return (shutil.copytree(originals[0], tmp_path / "a"),
            shutil.copytree(originals[1], tmp_path / "b"))  # fmt: skip


def command(name: str, inputs: list[Path], out: Path) -> list[str]:
    if name == "compare":
        return ["compare", *map(str, inputs), "--out", str(out)]
    if name == "plot":
        return ["plot", *map(str, inputs), "--out", str(out)]
    return ["report", *map(str, inputs), "--out", str(out)]


def outcome(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> tuple[int, str]:
    """Exit code and stderr of one command; stderr must be one error line, no traceback."""
    code = main(arguments)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code != 2 or len(errors) == 1, err
    return code, err


def rewrite(file: Path, change: Callable[[str], str]) -> None:
    """Change a file and record its new checksum in the manifest, as a consistent but
    wrong folder (hand-made, or from another tool) would be."""
    text = change(file.read_text())
    file.write_text(text)
    manifest_file = file.parent / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    data = text.encode()
    manifest["checksums"][file.name] = {
        "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()
    }  # fmt: skip
    manifest_file.write_text(json.dumps(manifest))


def needs(name: str) -> None:
    if name != "compare":
        pytest.importorskip("matplotlib")


# ---- bad input folders ------------------------------------------------------------------


def _drop_last_column(text: str) -> str:
    return "".join(line.rsplit(",", 1)[0] + "\n" for line in text.splitlines())


def _words_in_numbers(text: str) -> str:
    lines = text.splitlines()
    fields = lines[1].split(",")
    fields[5] = "lots"  # `connected` of the first row
    return "\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n"


SPOILS: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing folder": (shutil.rmtree, r"b: no such result folder"),
    "file, not a folder": (
        lambda b: (shutil.rmtree(b), b.write_text("x")),
        r"b is a file, not a result folder",
    ),
    "no manifest": (lambda b: (b / "manifest.json").unlink(), r"b: not a result folder"),
    "missing csv": (
        lambda b: (b / "network.csv").unlink(),
        r"b/network\.csv: missing, though manifest",
    ),
    "truncated csv": (
        lambda b: (b / "summary.csv").write_text("metric,va"),
        r"b/summary\.csv: 9 bytes",
    ),
    "manifest not json": (
        lambda b: (b / "manifest.json").write_text("{not json"),
        r"b/manifest\.json: not valid JSON",
    ),
    "wrong column": (
        lambda b: rewrite(b / "connections.csv", _drop_last_column),
        r"b/connections\.csv: .*waiting",
    ),
    "text in a number column": (
        lambda b: rewrite(b / "connections.csv", _words_in_numbers),
        r"b/connections\.csv: column connected.*'lots'",
    ),
}


def _manifest_change(field: str, value: Any) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest[field] = value
        (folder / "manifest.json").write_text(json.dumps(manifest))

    return change


MANIFEST_TYPES: dict[str, Any] = {
    "files": "connections.csv",
    "checksums": ["connections.csv"],
    "replications": "two",
    "resolved_scenario": [1, 2],
    "versions": ["0.1.0"],
    "seed": 1.5,
}
for _field, _value in MANIFEST_TYPES.items():
    SPOILS[f"manifest {_field}"] = (
        _manifest_change(_field, _value), rf"b/manifest\.json: {_field}: got"
    )  # fmt: skip
SPOILS["manifest listing a file outside"] = (
    _manifest_change("files", ["../a/connections.csv"]),
    r"b/manifest\.json: files: got",
)
SPOILS["manifest checksum entry"] = (
    _manifest_change("checksums", {"connections.csv": "abc"}),
    r"checksums\.connections\.csv",
)


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("spoil", list(SPOILS))
def test_a_bad_input_folder_exits_2_naming_the_file(
    name: str, spoil: str, folders: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    needs(name)
    a, b = folders
    damage, message = SPOILS[spoil]
    damage(b)
    entries = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / ("figures" if name == "plot" else "out.x")
    code, err = outcome(capsys, command(name, [a, b], out))
    assert code == 2, err
    assert re.search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == entries  # nothing written, no debris


# ---- bad output locations ---------------------------------------------------------------


@pytest.mark.parametrize("name", COMMANDS)
def test_a_missing_output_folder_is_created(
    name: str, folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs(name)
    out = tmp_path / "new" / "deeper" / ("figures" if name == "plot" else "out.x")
    code, err = outcome(capsys, command(name, list(folders), out))
    assert code == 0, err
    assert out.exists()


@pytest.mark.parametrize("name", COMMANDS)
def test_an_output_under_a_file_exits_2(
    name: str, folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs(name)
    (tmp_path / "plain").write_text("a file")
    out = tmp_path / "plain" / ("figures" if name == "plot" else "out.x")
    code, err = outcome(capsys, command(name, list(folders), out))
    assert code == 2
    assert f"{tmp_path / 'plain'} is a file, not a folder" in err
    assert (tmp_path / "plain").read_text() == "a file"


def _fail_writes(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """Every write of an output's bytes to a file fails with this errno (as a full disk or
    a read-only folder would make it); figures drawn into memory (the report's) do not."""
    import matplotlib.figure

    def failing(*_args: object, **_kwargs: object) -> None:
        raise OSError(number, os.strerror(number))

    real_savefig = matplotlib.figure.Figure.savefig

    def savefig(figure: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(target, str | Path):
            failing()
        real_savefig(figure, target, *args, **kwargs)

    monkeypatch.setattr(Path, "write_bytes", failing)
    monkeypatch.setattr(Path, "write_text", failing)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)


@pytest.mark.parametrize("name", COMMANDS)
def test_a_full_disk_exits_2_and_keeps_the_previous_output(
    name: str, folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    pytest.importorskip("matplotlib")
    out = tmp_path / "output" / ("figures" if name == "plot" else "out.x")
    assert outcome(capsys, command(name, list(folders), out))[0] == 0
    before = {p.name: p.read_bytes() for p in out.parent.rglob("*") if p.is_file()}
    with monkeypatch.context() as patch:
        _fail_writes(patch, errno.ENOSPC)
        code, err = outcome(capsys, command(name, list(folders), out))
    assert code == 2
    assert f"cannot write {out}: No space left on device" in err
    after = {p.name: p.read_bytes() for p in out.parent.rglob("*") if p.is_file()}
    assert after == before  # the previous output as it was, and no temporary beside it


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unwritable_output_folder_exits_2(
    name: str, folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    needs(name)
    locked = tmp_path / "locked"
    locked.mkdir()
    out = locked / ("figures" if name == "plot" else "out.x")
    if os.geteuid() == 0:  # root writes through any mode bits: make the writes fail instead
        _fail_writes(monkeypatch, errno.EACCES)
    else:
        locked.chmod(0o500)
    try:
        code, err = outcome(capsys, command(name, list(folders), out))
    finally:
        locked.chmod(0o700)
    assert code == 2
    assert f"cannot write {out}: Permission denied" in err
    assert list(locked.iterdir()) == []


def test_a_failed_plot_leaves_no_empty_figures_folder(
    folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The default figures folder is inside the result folder: a plot that fails there
    leaves the result folder as it was."""
    pytest.importorskip("matplotlib")
    a = folders[0]
    before = sorted(p.name for p in a.iterdir())
    _fail_writes(monkeypatch, errno.ENOSPC)
    code, _ = outcome(capsys, ["plot", str(a)])
    assert code == 2
    assert sorted(p.name for p in a.iterdir()) == before


def test_a_sweep_folder_with_a_bad_sweep_json_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(TINY))
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(scenario), "--set", "seed=1,2", "--out", str(sweep)]) == 0
    capsys.readouterr()
    (sweep / "sweep.json").write_text('{"kind": "iotsim sweep folder", "variants": 3')
    code, err = outcome(capsys, ["report", str(sweep), "--out", str(tmp_path / "r.html")])
    assert code == 2
    assert "sweep.json" in err


def test_a_sweep_folder_with_no_variant_written_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({"kind": "iotsim sweep folder",
                                                  "variants": ["v0000"]}))  # fmt: skip
    code, err = outcome(capsys, ["plot", str(sweep)])
    assert code == 2
    assert f"no result folders in {sweep}" in err
    assert sorted(p.name for p in sweep.iterdir()) == ["sweep.json"]
