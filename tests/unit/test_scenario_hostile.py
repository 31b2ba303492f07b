"""Hostile scenario files that raised tracebacks: a preset that is not a name, nesting
hundreds of levels deep; and YAML merge keys, whose explicit keys override merged ones."""

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


MERGED = """\
name: t
end: 2023-12
categories:
  water_meter: &meter
    preset: water_meter
    initial: 1000
    lifetime_years: 8
  gas_meter:
    <<: *meter
    preset: gas_meter
{extra}"""


def test_a_merge_key_is_overridden_by_an_explicit_key(tmp_path: Path) -> None:
    """YAML merge: keys written beside `<<: *base` win over the merged ones."""
    scenario = load_scenario(_write(tmp_path, MERGED.format(extra="")))
    gas = scenario.categories["gas_meter"]
    assert gas.preset == "gas_meter"  # explicit, over the merged water_meter
    assert (gas.initial, gas.lifetime_years) == (1000, 8)  # merged
    assert scenario.categories["water_meter"].preset == "water_meter"


def test_a_key_written_twice_beside_a_merge_is_still_a_duplicate(tmp_path: Path) -> None:
    path = _write(tmp_path, MERGED.format(extra="    preset: smoke_detector\n"))
    assert _problems(path) == [f"{path}:11:5: YAML syntax error: duplicate key 'preset'"]


def test_the_first_of_several_merged_mappings_wins(tmp_path: Path) -> None:
    """`<<: [*a, *b]`: a key in both comes from the first (YAML merge key spec)."""
    text = (
        "name: t\nend: 2023-12\n"
        "regions:\n"
        "  a: &a {terminal_share: 0.5, site_share: 0.25}\n"
        "  b: &b {terminal_share: 0.5, site_share: 0.75}\n"
        "  c: {<<: [*a, *b], terminal_share: 0.0, site_share: 0.0}\n"
        "  d: {<<: [*b, *a], terminal_share: 0.0}\n"
        "categories:\n  m: {preset: water_meter, initial: 1000}\n"
    )
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_write(tmp_path, text))
    # the shares no longer sum to 1: d took site_share 0.75 from b, its first merge
    (problem,) = [p for p in raised.value.problems if p.path == "regions.*.site_share"]
    assert "a: 0.25, b: 0.75, c: 0, d: 0.75" in problem.message


def test_an_anchor_flattened_inside_a_merge_reads_the_same_when_reused(tmp_path: Path) -> None:
    """An anchor defined inside a merge (flattened before it is read on its own) keeps its
    explicit key over the one it merged, and no duplicate is seen."""
    text = (
        "name: t\nend: 2023-12\n"
        "regions:\n"
        "  a: &a {terminal_share: 0.5, site_share: 0.5}\n"
        "  b: {<<: &b {<<: *a, site_share: 0.25}}\n"
        "  c: *b\n"
        "categories:\n  m: {preset: water_meter, initial: 1000}\n"
    )
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_write(tmp_path, text))
    # site shares 0.5 + 0.25 + 0.25 sum to 1; terminal shares 3 x 0.5 do not
    assert [(p.path, p.message) for p in raised.value.problems] == [
        (
            "regions.*.terminal_share",
            "shares sum to 1.5, they must sum to 1 (got a: 0.5, b: 0.5, c: 0.5)",
        )
    ]


def test_an_aliased_value_counts_at_the_depth_it_is_used(tmp_path: Path) -> None:
    """A deep value defined shallow and aliased deep nests deeper than either."""
    half = MAX_DEPTH // 2 + 1
    text = f"deep: &d {_nested_flow(half)}\nname: {'[' * half}*d{']' * half}\n"
    (line,) = _problems(_write(tmp_path, text))
    assert f"nested more than {MAX_DEPTH} levels deep" in line
    assert line.startswith(f"{tmp_path / 's.yaml'}:2:")


def test_an_error_in_an_overriding_key_points_at_that_key(tmp_path: Path) -> None:
    """The line of a bad value is that of the key that won, not of the merged one."""
    path = _write(tmp_path, MERGED.format(extra="    initial: -5\n"))
    (line,) = _problems(path)
    assert line.startswith(f"{path}:11:14: categories.gas_meter.initial: got -5"), line


@pytest.mark.parametrize("key", ["[a, b]", "{a: 1}"])
def test_a_collection_as_a_key_is_a_clear_error(tmp_path: Path, key: str) -> None:
    """A list or mapping as a key (`? [a, b]`) cannot be looked up: refused, not a
    TypeError."""
    path = _write(tmp_path, f"name: t\ncategories:\n  ? {key}\n  : 1\n")
    assert _problems(path) == [
        f"{path}:3:5: YAML syntax error: a key must be a name or a number, got "
        + ("['a', 'b']" if key.startswith("[") else "{'a': 1}")
    ]


@pytest.mark.parametrize(
    ("text", "where", "code"),
    [
        pytest.param("\x00", "1:1", "0000", id="nul-alone"),
        pytest.param("name: t\ncategories: \x1b[31m\n", "2:13", "001b", id="escape-in-a-value"),
    ],
)
def test_a_control_character_is_a_clear_error(
    tmp_path: Path, text: str, where: str, code: str
) -> None:
    """PyYAML refuses control characters while it is set up, before the parse: one line
    with the character and where it is (found by the fuzz test)."""
    path = _write(tmp_path, text)
    assert _problems(path) == [
        f"{path}:{where}: YAML error: the character #x{code} is not allowed in YAML"
    ]


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/name:os.system",
        "!!python/object/new:os.system ['touch {marker}']",
    ],
)
def test_python_tags_are_refused_and_never_run(tmp_path: Path, tag: str) -> None:
    """What held and must keep holding: a !!python tag is a clear error, and nothing in it
    runs (the file is read with a safe loader)."""
    marker = tmp_path / "ran"
    path = _write(
        tmp_path,
        f"name: {tag.format(marker=marker)}\ncategories: {{m: {{preset: water_meter}}}}\n",
    )
    problems = _problems(path)
    assert len(problems) == 1
    assert "python" in problems[0]
    assert not marker.exists()
