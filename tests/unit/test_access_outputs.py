"""`iotsim access --out FILE --cdf FILE`: files that cannot be written get one clear error,
exit code 2, and leave everything as it was."""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main

SMALL = ["access", "--devices", "300", "--replications", "2"]


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:  # pragma: no cover - the point is that it does not happen
        return int(stop.code or 0)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in captured.err
    return lines[0]


def test_an_existing_folder_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    assert run([*SMALL, "--out", str(folder)]) == 2
    line = one_error_line(capsys)
    assert f"--out: {folder} is a folder" in line
    assert capsys.readouterr().out == ""  # the experiment did not run
    assert list(folder.iterdir()) == []
    assert run([*SMALL, "--out", str(tmp_path / "m.csv"), "--cdf", str(folder)]) == 2
    assert f"--cdf: {folder} is a folder" in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # --out not written


def test_a_location_under_a_file_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "metrics.csv"
    blocker.write_text("keep me")
    target = blocker / "cdf.csv"
    assert run([*SMALL, "--out", str(tmp_path / "m.csv"), "--cdf", str(target)]) == 2
    line = one_error_line(capsys)
    assert f"--cdf: {target}: {blocker} is a file, not a folder" in line
    assert blocker.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]


def test_the_same_file_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = tmp_path / "x.csv"
    assert run([*SMALL, "--out", str(same), "--cdf", str(tmp_path / "." / "x.csv")]) == 2
    assert "--out and --cdf are the same file" in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_missing_folders_are_created(tmp_path: Path) -> None:
    out, cdf = tmp_path / "new" / "m.csv", tmp_path / "other" / "deep" / "cdf.csv"
    assert run([*SMALL, "--out", str(out), "--cdf", str(cdf)]) == 0
    assert "access_success_probability" in set(pd.read_csv(out)["metric"])
    assert pd.read_csv(cdf)["share"].iloc[-1] == pytest.approx(1.0)


def test_an_unwritable_location_is_reported_and_nothing_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permission denied where the temporary file would go (simulated: the tests may run as
    root, for whom no folder is read-only)."""
    out, cdf = tmp_path / "m.csv", tmp_path / "locked" / "cdf.csv"
    out.write_text("previous")
    real = tempfile.mkstemp

    def mkstemp(*args: object, dir: str | Path | None = None, **kwargs: object) -> object:
        if dir is not None and Path(dir).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    assert run([*SMALL, "--out", str(out), "--cdf", str(cdf)]) == 2
    line = one_error_line(capsys)
    assert f"cannot write --cdf {cdf}" in line
    assert "Permission denied" in line
    assert "nothing was written" in line
    assert out.read_text() == "previous"  # --out is kept as it was, not half of the pair
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"]  # no temporary, no folder


@pytest.mark.parametrize("failing", ["m.csv", "cdf.csv"])
def test_a_full_disk_is_reported_and_nothing_changes(
    failing: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No space left while writing either file (simulated): neither file changes, no
    temporary file is left behind."""
    out, cdf = tmp_path / "m.csv", tmp_path / "cdf.csv"
    out.write_text("previous metrics")
    cdf.write_text("previous cdf")
    real = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:
        if self.name.startswith(f".{failing}."):  # the temporary file of `failing`
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    assert run([*SMALL, "--out", str(out), "--cdf", str(cdf)]) == 2
    line = one_error_line(capsys)
    option = "--out" if failing == "m.csv" else "--cdf"
    assert f"cannot write {option} {tmp_path / failing}: No space left on device" in line
    assert out.read_text() == "previous metrics"
    assert cdf.read_text() == "previous cdf"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdf.csv", "m.csv"]


def test_the_reference_table_reports_an_unwritable_out_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    assert run(["access", "--tr37868", "--replications", "1", "--out", str(folder)]) == 2
    assert f"--out: {folder} is a folder" in one_error_line(capsys)


def test_the_reference_table_has_no_cdf_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cdf = tmp_path / "cdf.csv"
    assert run(["access", "--tr37868", "--replications", "1", "--cdf", str(cdf)]) == 2
    assert "--cdf does not apply to --tr37868" in one_error_line(capsys)
    assert not cdf.exists()


def test_an_interrupted_experiment_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.cli.commands.run_experiment", interrupted)
    out = tmp_path / "m.csv"
    assert run([*SMALL, "--out", str(out)]) == 130
    assert "interrupted: nothing was written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
