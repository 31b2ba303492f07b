"""Scenario files that cannot be abused (hypothesis): mutated scenario files - the bundled
scenarios' texts and parsed data with keys deleted, types swapped, booleans, NaN and inf,
huge and negative numbers, random strings, random YAML text and bytes, deep nesting and
aliases - go through `sim.scenario.load_scenario`.  Each must load or raise a clean
`ScenarioError` whose messages are single lines of bounded length: anything else (a
traceback of any other type, a warning, a multi-line message) fails the test."""

from __future__ import annotations

import copy
import datetime
import functools
import re
import tempfile
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.scenario.problems import MAX_MESSAGE_CHARACTERS, MAX_PATH_CHARACTERS
from sim.scenario.yaml_text import ScenarioLoader

ROOT = Path(__file__).resolve().parents[2]
NESTED_REGIONS = """\
name: nested
end: 2026-12
regions:
  east:
    terminal_share: 0.4
    site_share: {4G: 0.38, 5G: {2023-01: 0.43, 2024-06: 0.44}}
    regions:
      dense_urban: {terminal_share: 0.3, site_share: 0.2, spread_cv: 1.2}
      rest: {terminal_share: 0.7, site_share: 0.8}
  central:
    terminal_share: 0.6
    site_share: {4G: 0.62, 5G: {2023-01: 0.57, 2024-06: 0.56}}
network:
  sites: {4G: {initial: 6000000}, 5G: {initial: 2312000, build_per_year: 900000}}
categories:
  water_meter: {preset: water_meter, initial: 1000000, regions: {east: 0.5, central: 0.5}}
  tracker: {preset: water_meter, initial: 10000, regions: {east/dense_urban: 1}}
targets:
  - {name: east, date: 2026-12, region: east, at_least: 1}
"""
"""A seed with nested regions and per-generation, dated site shares (no bundled scenario
has them yet)."""
BUNDLED = {
    path.name: path.read_text(encoding="utf-8") for path in (ROOT / "scenarios").glob("*.yaml")
} | {"nested_regions": NESTED_REGIONS}


def _field_names(model: type[BaseModel], seen: set[str]) -> set[str]:
    """Every key the scenario schema knows, so mutations hit real fields."""
    if model.__name__ in seen:
        return set()
    seen.add(model.__name__)
    names = set(model.model_fields)
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names |= _field_names(annotation, seen)
            stack.extend(typing.get_args(annotation))
    return names


KEYS = sorted(_field_names(Scenario, set()) | {"on", "<<", "nb-iot", "4G", "2025", "2025-01"})

# ---------------------------------------------------------------------------- seeds


def _blocks(text: str) -> list[str]:
    """The text's top-level blocks (a key and its indented lines, comments kept)."""
    blocks: list[str] = []
    for line in text.splitlines(keepends=True):
        if blocks and (line[:1] in (" ", "#", "\n") or not line.strip()):
            blocks[-1] += line
        else:
            blocks.append(line)
    return blocks


def _entries(block: str) -> tuple[str, list[str]]:
    """A block's first line and its second-level entries (two spaces, then a key)."""
    head, *rest = block.splitlines(keepends=True)
    entries: list[str] = []
    for line in rest:
        if entries and not re.match(r"^  \S", line):
            entries[-1] += line
        else:
            entries.append(line)
    return head, entries


@st.composite
def seed_texts(draw: st.DrawFn) -> str:
    """A bundled scenario cut down (some top-level blocks, a few categories): still a
    realistic file, but a fifth of the text, so thousands of examples run in seconds."""
    text = BUNDLED[draw(st.sampled_from(sorted(BUNDLED)))]
    kept = []
    for block in _blocks(text):
        if block.startswith("categories:"):
            head, entries = _entries(block)
            count = draw(st.integers(1, min(3, len(entries))))
            start = draw(st.integers(0, len(entries) - count))
            kept.append(head + "".join(entries[start : start + count]))
        elif draw(st.booleans()):
            kept.append(block)
    return "".join(kept)


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> Any:
    return yaml.load(text, Loader=ScenarioLoader)


def _data(text: str) -> Any:
    """The data of a seed text (a fresh copy: mutations change it)."""
    return copy.deepcopy(_parsed(text))


# ---------------------------------------------------------------------------- hostile values

SPECIAL_SCALARS = [
    0, -1, 1, 0.5, -0.5, 1e9, 3.6e9, 1e300, -1e300, 10**13, 10**20, -(10**20), 2**63, 10**400,
    float("nan"), float("inf"), float("-inf"), True, False, None,
    "0.3", "1e9", "on", "yes", "no", "auto", "true", "2023-01", "2023-13", "1899-12",
    "2201-01", "0000-01", "9999-12", "p99", "p100", "nb-iot", "lte-cat9", "4G", "3G",
    "water_meter", "cagr", "logistic", "targets", "wait", "", " ", "=SUM(A1)", "a/b",
    "east/dense_urban", "x" * 300, "\n", "line\nbreak",
    "\t", "é", "\x00", "\x1b[31m", "☃", "*a", "&a", "<<",
    datetime.date(2024, 7, 1), datetime.date(1, 1, 1),
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(SPECIAL_SCALARS),
    st.booleans(),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(KEYS),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12), st.integers(-5, 3000), st.booleans())
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=12,
)


def _nested(depth: int, leaf: Any, as_list: bool) -> Any:
    for _ in range(depth):
        leaf = [leaf] if as_list else {"a": leaf}
    return leaf


# ---------------------------------------------------------------------------- data mutations


def _slots(data: Any) -> list[tuple[Any, Any]]:
    """(container, key or index) of every value in the data, each container once (shared
    and cyclic ones included) and at most 40 levels down."""
    slots: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen or depth > 40:
            continue
        seen.add(id(node))
        children = list(node) if isinstance(node, dict) else range(len(node))
        for key in children:
            slots.append((node, key))
            if isinstance(node[key], dict | list):
                stack.append((node[key], depth + 1))
    return slots if isinstance(data, dict | list) else []


MUTATIONS = ["delete", "replace", "boolean", "number-as-text", "wrap", "rename", "add", "deep",
             "share", "empty"]  # fmt: skip


@st.composite
def mutated_data(draw: st.DrawFn) -> Any:
    data = _data(draw(seed_texts()))
    for _ in range(draw(st.integers(1, 4))):
        slots = list(_slots(data))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        kind = draw(st.sampled_from(MUTATIONS))
        event(f"data: {kind}")
        old = container[key]
        if kind == "delete":
            del container[key]
        elif kind == "replace":
            container[key] = draw(values)
        elif kind == "boolean":
            container[key] = draw(st.booleans())
        elif kind == "number-as-text":
            container[key] = str(old) if not isinstance(old, dict | list) else draw(values)
        elif kind == "wrap":
            container[key] = draw(st.sampled_from([[old], {"x": old}, {str(key): old}]))
        elif kind == "rename" and isinstance(container, dict):
            container[draw(keys)] = container.pop(key)
        elif kind == "add" and isinstance(container, dict):
            container[draw(keys)] = draw(values)
        elif kind == "deep":
            depth = draw(st.integers(1, 120))
            container[key] = _nested(depth, old, draw(st.booleans()))
        elif kind == "share":  # the same object twice: the dump writes an anchor and alias
            other_container, other_key = draw(st.sampled_from(slots))
            container[key] = other_container[other_key]
        elif kind == "empty":
            container[key] = draw(st.sampled_from([{}, [], "", None]))
    return data


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, RecursionError, ValueError):
        # a structure PyYAML cannot write (e.g. a mapping shared into itself): as text
        return repr(data)[:5000]


# ---------------------------------------------------------------------------- text mutations

HOSTILE_LINES = [
    "x: &a [1, 2, 3]", "name: *a", "  <<: *a", "<<: {name: y}", "a: &a [*a]", "name: &n t",
    "    on: 4G", "  on: 5G", "on: yes", "? [a, b]\n: 1", "? {a: 1}\n: 2", ": :", "- - -",
    "%YAML 1.1", "---", "...", "!!python/object/apply:os.system ['true']", "x: !!binary aGk=",
    "x: !!set {a, b}", "x: !custom 1", "{", "}", "[", "'", '"', "&", "*", "|", ">", "#", "\t",
    "name: [[[[[[[[[[[[]]]]]]]]]]]]", "seed: 1e9", "seed: 1.5", "seed: true", "seed: '7'",
    "start: 0001-01", "end: 9999-12", "end: 2024-02-30", "rate: .nan", "rate: -.inf",
    "regions: {'=SUM(A1)': {terminal_share: 1, site_share: 1}}",
    "regions: {a: {terminal_share: 1, site_share: {4G: 1, 6G: 1}, regions: {b/c: {}}}}",
    "    regions: {x: {terminal_share: 1, site_share: 1, regions: {y: {regions: {z: {}}}}}}",
]  # fmt: skip
hostile_lines = st.one_of(
    st.sampled_from(HOSTILE_LINES),
    st.integers(50, 6000).map(lambda n: "initial: " + "9" * n),
    st.integers(90, 400).map(lambda n: "name: " + "n" * n),
    st.integers(2, 300).map(lambda n: "x: 1" * n),
    st.text(max_size=40),
)


def _laughs(width: int, depth: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, depth + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\nname: *l{depth}\n"


TEXT_MUTATIONS = ["delete-line", "duplicate-line", "swap-lines", "insert-line", "replace-span",
                  "truncate", "indent", "replace-number", "replace-word", "deep", "laughs",
                  "bytes"]  # fmt: skip


@st.composite
def mutated_texts(draw: st.DrawFn) -> bytes:
    text = draw(seed_texts())
    raw: bytes | None = None
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        kind = draw(st.sampled_from(TEXT_MUTATIONS))
        event(f"text: {kind}")
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == "delete-line":
            del lines[at]
        elif kind == "duplicate-line":
            lines.insert(at, lines[at])
        elif kind == "swap-lines":
            other = draw(st.integers(0, max(0, len(lines) - 1)))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "insert-line":
            lines.insert(at, draw(hostile_lines))
        elif kind == "replace-span":
            start = draw(st.integers(0, len(text)))
            end = draw(st.integers(start, min(len(text), start + 20)))
            text = text[:start] + draw(st.text(max_size=20)) + text[end:]
            continue
        elif kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
            continue
        elif kind == "indent":
            lines[at] = draw(st.sampled_from(["", " ", "  ", "\t", "    "])) + lines[at].lstrip()
        elif kind == "replace-number":
            numbers = list(re.finditer(r"-?\d[\d.e_+-]*", text))
            if numbers:
                match = draw(st.sampled_from(numbers))
                new = draw(st.sampled_from([str(v) for v in SPECIAL_SCALARS[:20]] + [".nan"]))
                text = text[: match.start()] + new + text[match.end() :]
            continue
        elif kind == "replace-word":
            words = list(re.finditer(r"[A-Za-z_][\w-]*", text))
            if words:
                match = draw(st.sampled_from(words))
                new = draw(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)))
                text = text[: match.start()] + new + text[match.end() :]
            continue
        elif kind == "deep":
            depth = draw(st.integers(10, 3000))
            opening, closing = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
            lines.insert(at, f"deep: {opening * depth}1{closing * depth}")
        elif kind == "laughs":
            width, depth = draw(st.integers(2, 12)), draw(st.integers(1, 10))
            lines = [line for line in lines if not line.startswith("name:")]
            lines.append(_laughs(width, depth))
        elif kind == "bytes":
            encoded = text.encode("utf-8")
            where = draw(st.integers(0, len(encoded)))
            raw = encoded[:where] + draw(st.binary(min_size=1, max_size=8)) + encoded[where:]
            break
        text = "\n".join(lines)
    return raw if raw is not None else text.encode("utf-8")


# ---------------------------------------------------------------------------- the property

hostile_files = st.one_of(
    mutated_data().map(lambda data: _dump(data).encode("utf-8")),
    mutated_texts(),
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8")),
    hostile_lines.map(lambda line: (line + "\n").encode("utf-8")),
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="iotsim-fuzz-") as name:
        yield Path(name)


def _check(folder: Path, content: bytes) -> None:
    """Load the file: success, or a ScenarioError of clean one-line messages."""
    path = folder / "fuzzed.yaml"
    path.write_bytes(content)
    problems = []
    try:
        load_scenario(path)
        event("loaded")
    except ScenarioError as error:  # any other exception fails the test (hypothesis shrinks it)
        event("ScenarioError")
        problems = error.problems
        assert problems, "a ScenarioError without problems"
    for problem in problems:
        line = str(problem)
        assert "\n" not in line, line[:500]
        assert "\r" not in line, line[:500]
        assert len(problem.path) <= MAX_PATH_CHARACTERS, line[:500]
        assert len(problem.message) <= MAX_MESSAGE_CHARACTERS, line[:500]
        assert problem.file == str(path), line[:500]


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(content=hostile_files)
def test_a_hostile_file_loads_or_is_a_clean_scenario_error(folder: Path, content: bytes) -> None:
    _check(folder, content)


@pytest.mark.slow
@settings(
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(content=hostile_files)
def test_many_hostile_files_load_or_are_clean_scenario_errors(folder: Path, content: bytes) -> None:
    _check(folder, content)


def test_the_seeds_are_valid_scenarios(folder: Path) -> None:
    """The cut-down bundled scenarios the mutations start from load as they are, so a
    mutation is what makes a file bad."""
    for text in BUNDLED.values():
        blocks = _blocks(text)
        assert "".join(blocks) == text
        for block in blocks:
            if block.startswith("categories:"):
                head, entries = _entries(block)
                assert head + "".join(entries) == block
                assert len(entries) >= 1
        (folder / "seed.yaml").write_text(text, encoding="utf-8")
        assert load_scenario(folder / "seed.yaml").categories
    data = _data(BUNDLED["minimal.yaml"])
    assert yaml.load(_dump(data), Loader=ScenarioLoader) == data
