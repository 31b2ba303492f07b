"""`network.technologies.<tech>.generation` (formerly `on`, which every YAML 1.1 loader reads
as the boolean True): the new key, the old one accepted with a deprecation note that the
command line prints as a warning, and neither written back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

CARRIED = (
    "name: t\nend: 2023-12\n"
    "network:\n"
    "  technologies:\n"
    "    nb-iot: {{{nb_iot}}}\n"
    "    lte-cat1: {{generation: 4G}}\n"
    "categories:\n"
    "  m: {{preset: water_meter, initial: 1000}}\n"
)


def _write(tmp_path: Path, nb_iot: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(CARRIED.format(nb_iot=nb_iot), encoding="utf-8")
    return path


def test_generation_names_the_generation(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, "generation: 4G, share: 0.5"))
    carriage = scenario.network.technologies["nb-iot"]
    assert (carriage.generation, carriage.share) == ("4G", 0.5)
    assert scenario.notes == ()


def test_on_is_accepted_with_a_deprecation_note(tmp_path: Path) -> None:
    path = _write(tmp_path, "on: 4G, share: 0.5")
    scenario = load_scenario(path)
    assert scenario.network.technologies["nb-iot"].generation == "4G"
    assert [str(note) for note in scenario.notes] == [
        f"{path}:5:14: network.technologies.nb-iot.on: 'on' is deprecated, write 'generation'"
    ]


def test_on_read_as_true_by_a_yaml_1_1_loader_is_accepted(tmp_path: Path) -> None:
    """yaml.safe_load turns the key `on` into True; parse_scenario still understands it."""
    data = yaml.safe_load(_write(tmp_path, "on: 5G").read_text())
    assert True in data["network"]["technologies"]["nb-iot"]
    data["network"]["sites"] = {"4G": {"initial": 10}, "5G": {"initial": 10}}
    scenario = parse_scenario(data)
    assert scenario.network.technologies["nb-iot"].generation == "5G"
    assert [(note.path, note.message) for note in scenario.notes] == [
        ("network.technologies.nb-iot.on", "'on' is deprecated, write 'generation'")
    ]


def test_on_and_generation_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_write(tmp_path, "on: 4G, generation: 5G"))
    (problem,) = raised.value.problems
    assert problem.path == "network.technologies.nb-iot"
    assert "'on' is the deprecated name of 'generation'" in problem.message
    assert problem.line == 5


def test_a_missing_generation_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_write(tmp_path, "share: 0.5"))
    (problem,) = raised.value.problems
    assert (problem.path, problem.message) == (
        "network.technologies.nb-iot.generation",
        "required key is missing",
    )


def test_generation_without_sites_is_named(tmp_path: Path) -> None:
    text = CARRIED.format(nb_iot="generation: 5G").replace(
        "network:\n", "network:\n  sites: {4G: {initial: 10}}\n"
    )
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "s.yaml")
    assert [problem.path for problem in raised.value.problems] == [
        "network.technologies.nb-iot.generation"
    ]
    assert "5G has no sites" in raised.value.problems[0].message


def test_the_resolved_scenario_writes_generation(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, "on: 4G"))
    resolved = scenario.model_dump(mode="json")
    assert resolved["network"]["technologies"]["nb-iot"] == {"generation": "4G", "share": 1.0}
    assert '"on"' not in json.dumps(resolved)
    again = parse_scenario(json.loads(json.dumps(resolved)))
    assert again.notes == ()
    assert again.model_dump(mode="json") == resolved


def test_the_default_network_uses_generation() -> None:
    scenario = parse_scenario({"categories": {"m": {"preset": "water_meter", "initial": 5}}})
    carried = scenario.model_dump(mode="json")["network"]["technologies"]
    assert carried["nb-iot"]["generation"] == "4G"
    assert scenario.notes == ()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_bundled_scenarios_load_with_any_yaml_loader(path: Path) -> None:
    """The bundled scenarios write `generation:`; PyYAML's safe_load (YAML 1.1) reads them to
    the same scenario as iotsim's own loader, with no notes."""
    own = load_scenario(path)
    assert own.notes == ()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    other = parse_scenario(data, default_name=path.stem)
    assert other.notes == ()
    assert other.model_dump(mode="json") == own.model_dump(mode="json")


def test_readme_example_writes_generation() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "{generation: 4G" in text
    assert "{on: " not in text


def test_validate_prints_the_note_as_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "on: 4G")
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"warning: {path}:5:14: network.technologies.nb-iot.on: 'on' is deprecated, write "
        "'generation'"
    ]
    assert captured.out.splitlines() == [f"{path}: ok"]


def test_run_prints_the_note_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "on: 4G")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert f"warning: {path}:5:14: network.technologies.nb-iot.on: 'on' is deprecated" in (
        captured.err
    )
    manifest = json.loads((out / "manifest.json").read_text())
    carried = manifest["resolved_scenario"]["network"]["technologies"]
    assert carried["nb-iot"]["generation"] == "4G"
    assert "on" not in carried["nb-iot"]


def test_sweep_prints_the_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "on: 4G")
    out = tmp_path / "sweep"
    code = main(["sweep", str(path), "--set", "seed=1,2", "--out", str(out), "--quiet"])
    assert code == 0
    assert "network.technologies.nb-iot.on: 'on' is deprecated" in capsys.readouterr().err
