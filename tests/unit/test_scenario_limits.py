"""Bounds on what is read: the bytes of a file, the values its YAML aliases expand to, and
the characters of a value a message quotes; each refusal is one fast, clear line."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import ScenarioError, load_scenario, loading
from sim.scenario.loading import MAX_FILE_BYTES
from sim.scenario.problems import SHOWN_CHARACTERS
from sim.scenario.yaml_text import MAX_VALUES

ROOT = Path(__file__).resolve().parents[2]
CATEGORY = "categories:\n  m: {preset: water_meter, initial: 1000}\n"

# nine levels of nine aliases: 9^9 (387 million) strings from 351 bytes
LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + LAUGHS


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _only_problem(path: Path) -> str:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    (problem,) = raised.value.problems
    return str(problem)


def test_billion_laughs_fails_fast(tmp_path: Path) -> None:
    """Aliases expanding to 387 million values: refused at once, not after minutes of
    formatting an error message (and a MemoryError)."""
    path = _write(tmp_path, BILLION_LAUGHS.replace("i: &i", "name: &i"))
    started = time.monotonic()
    line = _only_problem(path)
    assert time.monotonic() - started < 2
    assert line.startswith(f"{path}:")
    assert f"more than {MAX_VALUES:,} values" in line
    assert "alias" in line
    assert len(line) < 300


def test_aliases_within_the_bound_are_fine(tmp_path: Path) -> None:
    text = (
        "name: t\nend: 2023-12\n"
        "regions:\n"
        "  a: &half {terminal_share: 0.5, site_share: 0.5}\n"
        "  b: *half\n" + CATEGORY
    )
    scenario = load_scenario(_write(tmp_path, text))
    assert scenario.regions["b"].terminal_share == 0.5


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: t\nregions: &r {a: *r}\n" + CATEGORY)
    line = _only_problem(path)
    assert line.startswith(f"{path}:2:")
    assert "alias" in line
    assert "contains it" in line


def test_a_file_larger_than_the_bound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    comment = b"# " + b"x" * 997 + b"\n"
    path.write_bytes(b"name: t\n" + comment * (MAX_FILE_BYTES // len(comment) + 1))
    assert path.stat().st_size > MAX_FILE_BYTES
    line = _only_problem(path)
    assert line == (
        f"{path}: the file is larger than {MAX_FILE_BYTES // 1_000_000} MB; a scenario is a "
        "few kB (is this the right file?)"
    )


def test_a_file_at_the_bound_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exactly the bound is read, one byte more is not (a small bound: parsing 10 MB of
    YAML takes seconds)."""
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "padded.yaml"
    text = ("name: t\nend: 2023-12\n" + CATEGORY).encode()
    path.write_bytes(text + b"#" * (1000 - len(text)))
    assert load_scenario(path).name == "t"
    path.write_bytes(text + b"#" * (1001 - len(text)))
    assert "the file is larger than" in _only_problem(path)


def _limit_memory() -> None:
    # an unbounded read of /dev/zero must fail here, not take the shared machine's memory
    resource.setrlimit(resource.RLIMIT_AS, (2_000_000_000, 2_000_000_000))


def test_validate_dev_zero_fails_fast() -> None:
    """An endless stream is read up to the bound, not without limit."""
    completed = subprocess.run(
        [sys.executable, "-m", "sim", "validate", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_limit_memory,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "error: /dev/zero: the file is larger than" in completed.stderr


def test_an_endless_fifo_is_cut_off(tmp_path: Path) -> None:
    fifo = tmp_path / "endless.yaml"
    os.mkfifo(fifo)
    stop = threading.Event()

    def feed() -> None:
        chunk = b"# more and more\n" * 4096
        try:
            with fifo.open("wb") as stream:
                # "endless" for the reader: twice the bound (an unbounded reader would read
                # it all; a finite amount keeps a failing test from taking the machine)
                for _ in range(2 * MAX_FILE_BYTES // len(chunk)):
                    if stop.is_set():
                        break
                    stream.write(chunk)
        except BrokenPipeError:
            pass  # the reader stopped reading: what the test wants

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        line = _only_problem(fifo)
    finally:
        stop.set()
        writer.join(timeout=10)
    assert "the file is larger than" in line
    assert not writer.is_alive()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("name: '" + "x" * 5000 + "/'\n" + CATEGORY, id="long-bad-name"),
        pytest.param(
            "name: t\ncategories:\n  m: {preset: water_meter, initial: 1000,"
            " growth: {model: cagr, rate: [" + ", ".join(["1"] * 5000) + "]}}\n",
            id="long-list-for-a-number",
        ),
        pytest.param(
            "name: t\ncategories:\n  m: {preset: water_meter, initial: '" + "9" * 5000 + "'}\n",
            id="long-numeric-text",
        ),
        pytest.param(
            "name: t\ncategories:\n  m: {preset: water_meter, initial: " + "9" * 5000 + "}\n",
            id="5000-digit-number",
        ),
        pytest.param(
            "name: t\ncategories:\n  m: {preset: water_meter, initial: 1000, "
            + "x" * 1000  # a YAML key without ? is at most 1024 characters
            + ": 1}\n",
            id="long-unknown-key",
        ),
        pytest.param(
            "name: t\ncategories:\n  m: {preset: water_meter, initial: 1000, mix: {"
            + "n" * 1000
            + ": true}}\n",
            id="long-mix-key",
        ),
        pytest.param(
            "name: t\ncategories:\n  m: {preset: '" + "w" * 5000 + "', initial: 1000}\n",
            id="long-preset",
        ),
        pytest.param("name: t\n" + "x" * 5000 + ": [\n", id="long-yaml-error"),
        pytest.param("name: t\nregions: *" + "r" * 5000 + "\n" + CATEGORY, id="long-alias"),
        pytest.param("name: t\n" + ("x" * 1000 + ": 1\n") * 2, id="long-duplicate-key"),
    ],
)
def test_a_message_quotes_at_most_80_characters_of_a_value(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    for problem in raised.value.problems:
        line = str(problem)
        assert "\n" not in line
        assert len(line) - len(str(path)) < 500, line[:600]
        # no run of the value's characters longer than the quoting bound
        for char in "x9rnw1":
            assert char * (SHOWN_CHARACTERS + 1) not in line.replace(", ", ""), line[:400]


def test_the_cli_reports_the_billion_laughs_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, BILLION_LAUGHS + "name: *i\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    # the first collection beyond the bound: f, on line 6 (9^5 + ... values)
    assert errors[0].startswith(f"error: {path}:6:"), errors
    assert errors[0].endswith(
        f": YAML error: its aliases expand to more than {MAX_VALUES:,} values; write the "
        "values out, or use fewer aliases"
    ), errors


def test_a_problem_is_one_line_of_bounded_length() -> None:
    """The net under every message: whatever a path or message holds, one bounded line."""
    from sim.scenario import Problem
    from sim.scenario.problems import MAX_MESSAGE_CHARACTERS, MAX_PATH_CHARACTERS

    problem = Problem("regions.a\nb" * 100, "bad\r\nvalue " * 1000, "f.yaml", 3, 4)
    text = str(problem)
    assert "\n" not in text
    assert "\r" not in text
    assert problem.path.startswith("regions.a\\nbregions")
    assert len(problem.path) == MAX_PATH_CHARACTERS
    assert len(problem.message) == MAX_MESSAGE_CHARACTERS
    assert problem.message.endswith("...")


def test_a_listing_names_at_most_twelve() -> None:
    from sim.scenario.problems import listing

    assert listing(["a", "b"]) == "a, b"
    assert listing(f"r{n}" for n in range(20)) == (
        "r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, ... (8 more)"
    )
    assert listing(["x" * 200]) == "'" + "x" * 37 + "..." + "x" * 38 + "'"
