"""Hostile scenario files that raised tracebacks: a preset that is not a name."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import ScenarioError, load_scenario


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    return [str(problem) for problem in raised.value.problems]


@pytest.mark.parametrize(
    ("preset", "shown"),
    [
        pytest.param("[water_meter]", "got ['water_meter']", id="list"),
        pytest.param("{}", "got {}", id="mapping"),
        pytest.param("{water_meter: 1}", "got {'water_meter': 1}", id="mapping-with-a-name"),
        pytest.param("7", "got 7", id="number"),
        pytest.param("true", "got True", id="boolean"),
    ],
)
def test_a_preset_that_is_not_a_name_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], preset: str, shown: str
) -> None:
    """`preset: [water_meter]` raised TypeError (unhashable) in the preset hook."""
    path = _write(tmp_path, f"name: t\ncategories:\n  m: {{preset: {preset}, initial: 1000}}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    preset_errors = [line for line in errors if ": categories.m.preset: " in line]
    assert len(preset_errors) == 1, err
    assert preset_errors[0].startswith(f"error: {path}:3:")
    assert shown in preset_errors[0]
    assert "a preset name" in preset_errors[0]
