"""The tools hold the line: ruff (lint and format), mypy, and the shipped JSON Schema."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.scenario import json_schema

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "sim", "tests", "bench"),
        ("ruff", "format", "--check", "sim", "tests", "bench"),
    ],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff_is_clean(command: tuple[str, ...]) -> None:
    executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert executable, "ruff is part of the dev extra: pip install -e '.[dev]'"
    result = _run(executable, *command[1:])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_schema_is_the_generated_one() -> None:
    """sim/scenario.schema.json is what `iotsim schema` prints (regenerate it if not)."""
    shipped = json.loads((ROOT / "sim" / "scenario.schema.json").read_text())
    assert shipped == json_schema(), "run: iotsim schema > sim/scenario.schema.json"


def test_no_print_in_the_core() -> None:
    """Only the command line talks to the terminal."""
    for path in (ROOT / "sim").rglob("*.py"):
        if "cli" not in path.relative_to(ROOT / "sim").parts:
            assert "print(" not in path.read_text(), path
