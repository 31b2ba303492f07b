"""Output folders: only an empty folder, a new one, or one iotsim wrote is replaced; anything
else is refused with exit 2 before anything runs, and left exactly as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import tiny_scenario, write_yaml

from sim import run
from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = tiny_scenario(end="2023-06", initial=20_000)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def forbid_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, fail the test if anything is simulated."""
    import sim.api

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("simulated although the output was refused")

    monkeypatch.setattr(sim.api, "simulate_replication", refuse)
    monkeypatch.setattr(sim.api, "run_replications", refuse)


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_simulation(monkeypatch)


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    """A folder that is not iotsim's: a copy of the bundled scenarios, as if a checkout."""
    folder = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", folder)
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return folder


@pytest.mark.usefixtures("no_simulation")
def test_run_refuses_a_folder_it_did_not_write(
    tmp_path: Path, foreign: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(foreign)
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    assert main(["run", str(scenario), "--out", str(foreign), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(foreign) in err
    assert "not an iotsim result folder" in err
    assert "empty" in err  # what is allowed
    assert "Traceback" not in err
    assert snapshot(foreign) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml", "scenarios"]  # no debris


def test_run_refuses_the_bundled_scenarios_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, foreign: Path
) -> None:
    """The reported case, word for word: `--out scenarios` from the repository folder."""
    monkeypatch.chdir(tmp_path)
    before = snapshot(foreign)
    assert main(["run", "scenarios/minimal.yaml", "--out", "scenarios", "--quiet"]) == 2
    assert snapshot(foreign) == before


def test_run_replaces_an_empty_folder_a_new_one_and_its_own(tmp_path: Path) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (empty, tmp_path / "new" / "deeper"):
        assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
        assert (out / "manifest.json").exists()
    own = tmp_path / "empty"
    (own / "stale.txt").write_text("left by an older run")  # inside a folder iotsim wrote
    assert main(["run", str(scenario), "--out", str(own), "--quiet", "--seed", "2"]) == 0
    assert not (own / "stale.txt").exists()
    assert json.loads((own / "manifest.json").read_text())["seed"] == 2


def test_a_manifest_that_is_not_iotsims_does_not_count(tmp_path: Path) -> None:
    """A folder holding some other tool's manifest.json is not a result folder."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text('{"name": "my web app", "icons": []}')
    (other / "index.html").write_text("<html></html>")
    before = snapshot(other)
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    assert main(["run", str(scenario), "--out", str(other), "--quiet"]) == 2
    assert snapshot(other) == before


def test_the_python_api_refuses_too(tmp_path: Path, foreign: Path) -> None:
    before = snapshot(foreign)
    with pytest.raises(OSError, match="not an iotsim result folder"):
        run(TINY).write(foreign)
    assert snapshot(foreign) == before


def test_sweep_refuses_a_folder_that_is_not_a_sweep_folder(
    tmp_path: Path,
    foreign: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = run(TINY).write(tmp_path / "result")  # a result folder is not a sweep folder
    forbid_simulation(monkeypatch)
    before = snapshot(foreign)
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    options = ["--set", "seed=1,2", "--quiet"]
    assert main(["sweep", str(scenario), *options, "--out", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert "not an iotsim sweep folder" in err
    assert snapshot(foreign) == before
    result_before = snapshot(result)
    assert main(["sweep", str(scenario), *options, "--out", str(result)]) == 2
    assert snapshot(result) == result_before


def test_a_sweep_folder_is_recognised_and_resumed(tmp_path: Path) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    out = tmp_path / "sweep"
    command = ["sweep", str(scenario), "--set", "seed=1,2", "--quiet", "--out", str(out)]
    assert main(command) == 0
    assert json.loads((out / "sweep.json").read_text())["variants"] == ["v0000", "v0001"]
    assert main(command) == 0  # its own folder: resumed, nothing refused


@pytest.mark.usefixtures("no_simulation")
def test_a_sweep_refuses_a_variant_folder_it_did_not_write(tmp_path: Path) -> None:
    """Inside a sweep folder, a vNNNN that is not a result folder is refused before any
    variant runs."""
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"kind": "iotsim sweep folder", "variants": []}))
    (out / "v0001").mkdir()
    (out / "v0001" / "notes.txt").write_text("mine")
    before = snapshot(out)
    assert main(["sweep", str(scenario), "--set", "seed=1,2", "--quiet", "--out", str(out)]) == 2
    assert snapshot(out) == before


def test_plot_refuses_a_folder_that_is_not_a_figures_folder(
    tmp_path: Path, foreign: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    result = run(TINY).write(tmp_path / "result")
    before = snapshot(foreign)
    assert main(["plot", str(result), "--out", str(foreign)]) == 2
    assert "not an iotsim figures folder" in capsys.readouterr().err
    assert snapshot(foreign) == before
    assert main(["plot", str(result)]) == 0  # default: <folder>/figures, then replaced
    assert main(["plot", str(result), "--format", "svg"]) == 0
    figures = [p for p in (result / "figures").iterdir() if p.name != "figures.json"]
    assert {p.suffix for p in figures} == {".svg"}  # the png figures went with the old folder


@pytest.mark.parametrize("command", ["compare", "report", "access"])
def test_file_outputs_refuse_an_existing_folder(
    tmp_path: Path, foreign: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if command == "report":
        pytest.importorskip("matplotlib")
    a = run(TINY).write(tmp_path / "a")
    b = run(TINY, seed=2).write(tmp_path / "b")
    arguments = {
        "compare": ["compare", str(a), str(b)],
        "report": ["report", str(a)],
        "access": ["access", "--devices", "100", "--replications", "1"],
    }[command]
    before = snapshot(foreign)
    assert main([*arguments, "--out", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert f"{foreign} is a folder" in err
    assert "Traceback" not in err
    assert snapshot(foreign) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*arguments, "--out", str(empty)]) == 2  # an empty folder is still a folder
    assert empty.is_dir()
    assert not any(empty.iterdir())
