"""Hostile scenario files that raised tracebacks: a preset that is not a name, nesting
hundreds of levels deep."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import ScenarioError, load_scenario
from sim.scenario.yaml_text import MAX_DEPTH


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


def _nested_flow(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


def _nested_block(levels: int) -> str:
    lines = [f"{'  ' * level}a:" for level in range(levels)]
    return "\n" + "\n".join(lines) + " 1"


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 300, 1200])
@pytest.mark.parametrize(
    ("make", "where"),
    [
        pytest.param(lambda n: f"name: {_nested_flow(n)}\n", "name", id="flow-in-name"),
        pytest.param(
            lambda n: (
                "name: t\ncategories:\n  m:\n    traffic:"
                + _nested_block(n).replace("\n", "\n      ")
                + "\n"
            ),
            "categories",
            id="block-in-a-category",
        ),
        pytest.param(lambda n: "{" * n + "}" * n + "\n", "top", id="flow-mappings"),
    ],
)
def test_deep_nesting_is_refused_with_a_clear_message(
    tmp_path: Path, levels: int, make: object, where: str
) -> None:
    """Hundreds of levels gave a RecursionError; beyond MAX_DEPTH is one clear line."""
    assert callable(make)
    path = _write(tmp_path, make(levels))
    (line,) = _problems(path)
    assert line.startswith(f"{path}:")
    assert f"nested more than {MAX_DEPTH} levels deep" in line


def test_nesting_within_the_bound_is_read(tmp_path: Path) -> None:
    """A deep (but bounded) value is read and reported as what it is: not a name."""
    path = _write(
        tmp_path,
        f"name: {_nested_flow(MAX_DEPTH - 2)}\ncategories:\n  m: {{preset: water_meter, "
        "initial: 1000}\n",
    )
    (line,) = _problems(path)
    assert ": name: " in line
    assert "nested" not in line


def test_an_aliased_value_counts_at_the_depth_it_is_used(tmp_path: Path) -> None:
    """A deep value defined shallow and aliased deep nests deeper than either."""
    half = MAX_DEPTH // 2 + 1
    text = f"deep: &d {_nested_flow(half)}\nname: {'[' * half}*d{']' * half}\n"
    (line,) = _problems(_write(tmp_path, text))
    assert f"nested more than {MAX_DEPTH} levels deep" in line
    assert line.startswith(f"{tmp_path / 's.yaml'}:2:")
