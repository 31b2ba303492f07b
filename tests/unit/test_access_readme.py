"""The README's `iotsim access` examples run as written and print what it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "README.md").read_text()
SECTION = TEXT[TEXT.index("One cell's random access") : TEXT.index("From Python")]
COMMANDS, EXCERPT = re.findall(r"```(?:bash)?\n(.*?)```", SECTION, flags=re.DOTALL)[:2]


def commands(reference: bool) -> list[list[str]]:
    """The example commands (without `iotsim`), those of --tr37868 or the others."""
    lines = [line.split("#")[0].split() for line in COMMANDS.splitlines()]
    return [words[1:] for words in lines if words and ("--tr37868" in words) == reference]


def test_the_first_example_prints_the_excerpt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    first = commands(reference=False)[0]
    assert main(first) == 0
    assert (tmp_path / "results" / "access-30000.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["results"]  # nothing in the root
    printed = capsys.readouterr().out.splitlines()
    shown = [line for line in EXCERPT.splitlines() if line.strip() != "..."]
    assert printed[: len(shown)] == shown


@pytest.mark.slow
def test_the_other_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    others = commands(reference=False)[1:] + commands(reference=True)
    assert len(others) == 3
    for words in others:
        assert main(words) == 0, " ".join(words)
    assert {p.name for p in tmp_path.iterdir()} <= {"results"}  # nothing in the root
