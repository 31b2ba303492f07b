"""Bad scenarios and bad command lines: exit code 2, a clear message, nothing written.

Every bad scenario is run through `sim.cli.main` in-process; the message must name the
file, the field path and the bad value, and the result folder must not be created.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main

CATEGORY = "categories:\n  water_meter: {preset: water_meter, initial: 1000}\n"
VALID = "name: t\nend: 2023-12\n" + CATEGORY
TWO_REGIONS = (
    "regions:\n"
    "  a: {terminal_share: 0.5, site_share: 0.5}\n"
    "  b: {terminal_share: 0.5, site_share: 0.5}\n"
)


def _scenario(*lines: str, category: str = CATEGORY, head: str = "name: t\n") -> str:
    """The minimal scenario with extra top-level `lines` between the name and categories."""
    return head + "".join(f"{line}\n" for line in lines) + category


def _water_meter(*lines: str, head: str = "name: t\n") -> str:
    """The minimal scenario whose water_meter block gets the extra (block-style) `lines`."""
    body = "".join(f"    {line}\n" for line in lines)
    return f"{head}categories:\n  water_meter:\n    preset: water_meter\n    initial: 1000\n{body}"


def _flow(fields: str) -> str:
    """A categories block: water_meter from its preset with extra flow-style `fields`."""
    return f"categories:\n  water_meter: {{preset: water_meter, initial: 1000, {fields}}}\n"


def _target(fields: str) -> str:
    """The minimal scenario with one target of the given flow-style `fields`."""
    return _scenario() + f"targets:\n  - {{name: x, {fields}}}\n"


def _write(tmp_path: Path, text: str, name: str = "bad-scenario.yaml") -> Path:
    """Write a scenario file into tmp_path and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(
    scenario: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    """`iotsim run scenario --out out` in-process: (exit code, stdout, stderr)."""
    code = main(["run", str(scenario), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_rejected(code: int, stdout: str, stderr: str, out: Path) -> None:
    """Exit 2, no traceback anywhere, and no result folder."""
    assert code == 2, stderr
    assert "Traceback" not in stdout
    assert "Traceback" not in stderr
    assert not out.exists()


def _line_of(text: str, marker: str) -> int:
    """1-based number of the first line of `text` containing `marker`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in the scenario text")


def _error_lines(stderr: str) -> list[str]:
    """The `error:` lines of the CLI's report."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _xfail(reason: str) -> pytest.MarkDecorator:
    """A strict xfail: the case documents a known bug in sim/."""
    return pytest.mark.xfail(strict=True, reason=reason)


# --------------------------------------------------------------------------- the table

# (scenario text, field path the message names, substrings the message must show)
BAD_SCENARIOS = [
    # horizon
    pytest.param(_scenario("end: 2023-13"), "end", ("2023-13",), id="month-13"),
    pytest.param(
        _scenario("end: 2024-07-01"), "end", ("2024-07-01", "write 2024-07"), id="full-date"
    ),
    pytest.param(
        _scenario("start: 2024-01", "end: 2023-06"),
        "end",
        ("2023-06", "2024-01"),
        id="end-before-start",
    ),
    # keys
    pytest.param(
        "name: t\ncategores:\n  water_meter: {preset: water_meter, initial: 1000}\n",
        "categores",
        ("'categores'", "did you mean 'categories'"),
        id="unknown-top-level-key",
    ),
    pytest.param(
        _scenario(
            "regions:",
            "  a: {terminal_share: 0.5, site_share: 0.5}",
            "  b: {terminal_share: 0.5, site_shar: 0.5}",
        ),
        "regions.b.site_shar",
        ("'site_shar'", "did you mean 'site_share'"),
        id="unknown-nested-key",
    ),
    pytest.param(
        _scenario(category="categories:\n  water_meter: {initial: 1000}\n"),
        "categories.water_meter.technologies",
        ("required key is missing",),
        id="missing-technologies",
    ),
    pytest.param(
        _scenario(category="categories:\n  water_meter: {preset: water_metre, initial: 1000}\n"),
        "categories.water_meter.preset",
        ("'water_metre'", "did you mean 'water_meter'"),
        id="unknown-preset",
    ),
    # category numbers
    pytest.param(
        _scenario(category="categories:\n  water_meter: {preset: water_meter, initial: -5}\n"),
        "categories.water_meter.initial",
        ("-5",),
        id="negative-initial",
    ),
    pytest.param(
        _scenario(category="categories:\n  water_meter: {preset: water_meter, initial: 1.5}\n"),
        "categories.water_meter.initial",
        ("got 1.5", "whole number"),
        id="initial-fraction",
    ),
    pytest.param(
        _scenario(category="categories:\n  water_meter: {preset: water_meter, initial: '9'}\n"),
        "categories.water_meter.initial",
        ("got '9'", "write it without quotes"),
        id="initial-quoted",
    ),
    pytest.param(
        _scenario(category=_flow("lifetime_years: true")),
        "categories.water_meter.lifetime_years",
        ("got True", "expected a number"),
        id="lifetime-years-true",
    ),
    pytest.param(
        _scenario(category=_flow("lifetime_years: 0")),
        "categories.water_meter.lifetime_years",
        ("got 0",),
        id="lifetime-years-0",
    ),
    pytest.param(
        _scenario(category=_flow("lifetime: gamma")),
        "categories.water_meter.lifetime",
        ("'gamma'", "weibull"),
        id="lifetime-gamma",
    ),
    # growth
    pytest.param(
        _water_meter("growth: {model: cagr, rate: -2}"),
        "categories.water_meter.growth.rate",
        ("-2",),
        id="cagr-rate-below-minus-1",
    ),
    pytest.param(
        _water_meter("growth: {model: cagr, rate: true}"),
        "categories.water_meter.growth.rate",
        ("got True: expected a number", "true/false is not a number"),
        id="cagr-rate-true",
    ),
    pytest.param(
        _water_meter("growth: {model: cagr, rate: '0.3'}"),
        "categories.water_meter.growth.rate",
        ("got '0.3': expected a number",),
        id="cagr-rate-quoted",
    ),
    pytest.param(
        _water_meter("growth: {model: cagr, rate: -1}"),
        "categories.water_meter.growth.rate",
        ("got -1",),
        id="cagr-rate-minus-1",
    ),
    pytest.param(
        _water_meter("growth: {model: logistic, rate: 0.3}"),
        "categories.water_meter.growth.saturation",
        ("required key is missing",),
        id="logistic-without-saturation",
    ),
    pytest.param(
        _water_meter("growth: {model: logistik, rate: 0.3}"),
        "categories.water_meter.growth.model",
        ("'logistik'", "did you mean 'logistic'"),
        id="unknown-growth-model",
    ),
    pytest.param(
        _water_meter("growth: {rate: 0.3}"),
        "categories.water_meter.growth",
        ("needs model",),
        id="growth-without-model",
    ),
    pytest.param(
        _water_meter("growth: {model: bass, p: 0.01, q: 0.3, market: 500}"),
        "categories.water_meter.growth.market",
        ("500", "1000"),
        id="bass-market-below-initial",
    ),
    pytest.param(
        _water_meter("growth: {model: targets, values: {2035-01: 5000}}"),
        "categories.water_meter.growth.values.2035-01",
        ("2035-01", "outside"),
        id="targets-anchor-outside-horizon",
    ),
    pytest.param(
        _water_meter("growth: {model: targets, values: {2025-01: 0}}"),
        "categories.water_meter.growth.values",
        ("2025-01 is 0",),
        id="targets-anchor-zero",
    ),
    # regions
    pytest.param(
        _scenario(
            "regions:",
            "  a: {terminal_share: 0.5, site_share: 0.5}",
            "  b: {terminal_share: 0.4, site_share: 0.5}",
        ),
        "regions.*.terminal_share",
        ("0.9", "a: 0.5", "b: 0.4"),
        id="terminal-shares-sum",
    ),
    pytest.param(
        _scenario(
            "regions:",
            "  a: {terminal_share: 0.5, site_share: 0.5}",
            "  b: {terminal_share: 0.5, site_share: 0.7}",
        ),
        "regions.*.site_share",
        ("1.2", "a: 0.5", "b: 0.7"),
        id="site-shares-sum",
    ),
    pytest.param(
        _water_meter("regions: {nationl: 1.0}"),
        "categories.water_meter.regions.nationl",
        ("did you mean 'national'",),
        id="category-region-unknown",
    ),
    pytest.param(
        _water_meter("regions: {a: 0.5, b: 0.2}", head="name: t\n" + TWO_REGIONS),
        "categories.water_meter.regions",
        ("0.7", "a: 0.5", "b: 0.2"),
        id="category-regions-sum",
    ),
    # technologies and mixes
    pytest.param(
        _water_meter("mix: {nb-iot: 0.7, lte-cat1: 0.2}"),
        "categories.water_meter.mix",
        ("sum to 0.9", "nb-iot: 0.7", "lte-cat1: 0.2"),
        id="mix-sum",
    ),
    pytest.param(
        _water_meter("mix: {nb-iot: 0.7, lte-m: 0.3}"),
        "categories.water_meter.mix.lte-m",
        ("'lte-m'",),
        id="mix-technology-not-listed",
    ),
    pytest.param(
        _water_meter("mix:", "  2023-01: {nb-iot: 1.0}", "  2040-01: {nb-iot: 0.5, lte-cat1: 0.5}"),
        "categories.water_meter.mix.2040-01",
        ("2040-01", "outside"),
        id="dated-mix-outside-horizon",
    ),
    pytest.param(
        _water_meter("technologies: [nb-iot, lte-cat9]"),
        "categories.water_meter.technologies[1]",
        ("'lte-cat9'", "did you mean 'lte-cat1'"),
        id="technology-not-carried",
    ),
    pytest.param(
        _water_meter("technologies: [nb-iot, nb-iot]"),
        "categories.water_meter.technologies[1]",
        ("'nb-iot'", "twice"),
        id="duplicate-technology",
    ),
    # when full
    pytest.param(
        _scenario(category=_flow("when_full: queue")),
        "categories.water_meter.when_full",
        ("'queue'",),
        id="when-full-invalid",
    ),
    pytest.param(
        _scenario(category=_flow("patience_months: 3")),
        "categories.water_meter.patience_months",
        ("when_full: wait", "fallback"),
        id="patience-without-wait",
    ),
    pytest.param(
        _scenario(category=_flow("when_full: wait, patience_months: 0")),
        "categories.water_meter.patience_months",
        ("got 0",),
        id="patience-zero",
    ),
    # network
    pytest.param(
        _scenario(
            "network:",
            "  technologies:",
            "    nb-iot: {generation: 4G, share: 1.5}",
            "    lte-cat1: {generation: 4G}",
        ),
        "network.technologies.nb-iot.share",
        ("1.5",),
        id="carriage-share-above-1",
    ),
    pytest.param(
        _scenario(
            "network:",
            "  technologies:",
            "    nb-iot: {generation: 3G}",
            "    lte-cat1: {generation: 4G}",
        ),
        "network.technologies.nb-iot.generation",
        ("'3G'",),
        id="carriage-generation-3G",
    ),
    pytest.param(
        _scenario(
            "network:",
            "  technologies:",
            "    nb-iot: {generation: 4G, share: {2023-01: 0.1, 2040-01: 0.5}}",
            "    lte-cat1: {generation: 4G}",
        ),
        "network.technologies.nb-iot.share",
        ("2040-01", "outside"),
        id="share-schedule-outside-horizon",
    ),
    pytest.param(
        _scenario(
            "network:",
            "  technologies:",
            "    nb-iot: {generation: 4G}",
            "    lorawan: {generation: 4G}",
        ),
        "network.technologies.lorawan",
        ("'lorawan'",),
        id="carriage-unknown-technology",
    ),
    pytest.param(
        _scenario(
            "network:",
            "  sites:",
            "    4G: {initial: 1000, build_per_year: {2050: 10}}",
            "    5G: {initial: 1000}",
        ),
        "network.sites.4G.build_per_year",
        ("2050",),
        id="build-year-outside-horizon",
    ),
    pytest.param(
        _scenario("network:", "  sites:", "    4G: {initial: 1000, build_per_year: -10}"),
        "network.sites.4G.build_per_year",
        ("-10",),
        id="build-per-year-negative",
    ),
    pytest.param(
        _scenario("network:", "  sectors_per_site: 0"),
        "network.sectors_per_site",
        ("got 0",),
        id="sectors-per-site-0",
    ),
    pytest.param(
        _scenario("technologies:", "  lora: {}"),
        "technologies.lora.carrier",
        ("'lora'", "needs a carrier", "a load for every resource"),
        id="new-technology-without-carrier",
    ),
    pytest.param(
        _scenario("technologies:", "  lora: {carrier: nb-iot, load: {uplink: 1}}"),
        "technologies.lora.load",
        ("'lora'", "a load for every resource"),
        id="new-technology-without-every-load",
    ),
    pytest.param(
        _scenario("technologies:", "  nb-iot: {max_devices_per_cell: 600}"),
        "technologies.nb-iot",
        ("max_devices_per_cell was removed", "network.carriers.<carrier>.budget"),
        id="max-devices-per-cell-removed",
    ),
    pytest.param(
        _scenario("network:", "  carriers: {nb-iot: {budget: {uplink: -1}}}"),
        "network.carriers.nb-iot.budget.uplink",
        ("-1",),
        id="negative-budget",
    ),
    pytest.param(
        _scenario("network:", "  carriers: {lora: {count: 2}}"),
        "network.carriers.lora",
        ("'lora'", "'nb-iot'"),
        id="unknown-carrier",
    ),
    pytest.param(
        _scenario("network:", "  carriers: {lte: {threshold: {uplink: 1.5}}}"),
        "network.carriers.lte.threshold.uplink",
        ("got 1.5", "less than or equal to 1"),
        id="threshold-above-1",
    ),
    pytest.param(
        _scenario("network:", "  cell_classes: 0"),
        "network.cell_classes",
        ("got 0", "greater than or equal to 1"),
        id="cell-classes-0",
    ),
    pytest.param(
        _scenario("network:", "  hottest_cells: 0"),
        "network.hottest_cells",
        ("got 0", "greater than or equal to 0.000001"),
        id="hottest-cells-0",
    ),
    pytest.param(
        _scenario(
            "network:",
            "  technologies:",
            "    nb-iot: {generation: 4G}",
            "    lte-cat1: {generation: 4G}",
            "    lte-m: {generation: 5G}",
        ),
        "network.technologies.lte-m.generation",
        ("lte carrier", "lte-cat1: 4G", "lte-m: 5G"),
        id="carrier-on-two-generations",
    ),
    # traffic and loads
    pytest.param(
        _water_meter("traffic: {coverage: {normal: 0.5, robust: 0.3}}"),
        "categories.water_meter.traffic.coverage",
        ("sum to 0.8", "normal: 0.5", "robust: 0.3"),
        id="coverage-sum",
    ),
    pytest.param(
        _water_meter("load: {lte-m: {uplink: 1}}"),
        "categories.water_meter.load.lte-m",
        ("'lte-m'", "not in this category's technologies"),
        id="load-for-technology-not-listed",
    ),
    # targets
    pytest.param(
        _target("date: 2040-01, at_least: 5"),
        "targets[0].date",
        ("2040-01", "outside"),
        id="target-date-outside-horizon",
    ),
    pytest.param(
        _target("date: 2025-01-01, at_least: 5"),
        "targets[0].date",
        ("2025-01-01", "write 2025-01"),
        id="target-full-date",
    ),
    pytest.param(
        _target("date: 2025-01, at_least: 5, at_most: 10"),
        "targets[0]",
        ("exactly one of at_least or at_most",),
        id="target-both-bounds",
    ),
    pytest.param(
        _target("date: 2025-01"),
        "targets[0]",
        ("exactly one of at_least or at_most",),
        id="target-no-bound",
    ),
    pytest.param(
        _target("date: 2025-01, at_least: 5, category: water_metre"),
        "targets[0].category",
        ("'water_metre'", "did you mean 'water_meter'"),
        id="target-unknown-category",
    ),
    # run settings
    pytest.param(_scenario("resolution: 0"), "resolution", ("got 0",), id="resolution-0"),
    pytest.param(_scenario("resolution: fast"), "resolution", ("'fast'",), id="resolution-fast"),
    pytest.param(_scenario("seed: -1"), "seed", ("got -1",), id="seed-negative"),
    pytest.param(_scenario("seed: yes"), "seed", ("got 'yes'", "whole number"), id="seed-yes"),
    pytest.param(
        _scenario("network:", "  sectors_per_site: true"),
        "network.sectors_per_site",
        ("got True", "whole number"),
        id="sectors-per-site-true",
    ),
    pytest.param(_scenario(head="name: a/b\n"), "name", ("'a/b'",), id="name-with-slash"),
    # non-finite and out-of-range numbers
    pytest.param(
        _water_meter("growth: {model: linear, per_year: .nan}", head="name: t\nend: 2023-12\n"),
        "categories.water_meter.growth.per_year",
        ("nan",),
        id="linear-per-year-nan",
    ),
    pytest.param(
        _water_meter(
            "growth: {model: logistic, rate: 0.3, saturation: .inf}",
            head="name: t\nend: 2023-12\n",
        ),
        "categories.water_meter.growth.saturation",
        ("inf",),
        id="logistic-saturation-inf",
    ),
    pytest.param(
        "name: t\nend: 2023-12\n"
        "categories:\n  water_meter: {preset: water_meter, initial: 10000000000000000000}\n",
        "categories.water_meter.initial",
        ("10000000000000000000",),
        id="initial-beyond-int64",
    ),
    pytest.param(
        _scenario("end: 2023-12", "resolution: 1000000000000000000000000"),
        "resolution",
        ("1000000000000000000000000",),
        id="resolution-beyond-int64",
    ),
]


@pytest.mark.parametrize(("text", "field", "shown"), BAD_SCENARIOS)
def test_bad_scenario_is_rejected_with_a_clear_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    field: str,
    shown: tuple[str, ...],
) -> None:
    """Exit 2; the message names the file, the field path and the bad value; no output."""
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert f": {field}: " in stderr
    assert str(scenario) in stderr
    for fragment in shown:
        assert fragment in stderr
    assert "nothing was run or written" in stderr


def test_the_table_is_large_enough() -> None:
    """The brief asks for at least 30 bad scenarios."""
    assert len(BAD_SCENARIOS) >= 30


# --------------------------------------------------------------------------- YAML and files


def test_unclosed_flow_mapping_is_a_syntax_error_with_its_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The parser notices the missing `}` at the `:` of the next line (line 4, column 8)."""
    text = "name: t\ncategories:\n  water_meter: {preset: water_meter, initial: 1000\ntargets: []\n"
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert "YAML syntax error" in stderr
    assert f"{scenario}:4:8:" in stderr


def test_unclosed_flow_mapping_at_end_of_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unclosed `{` on the last line is reported at the end of the stream."""
    text = "name: t\ncategories:\n  water_meter: {preset: water_meter, initial: 1000\n"
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert "YAML syntax error" in stderr
    assert f"{scenario}:4:1:" in stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("name: t\nname: u\n" + CATEGORY, 2, id="top-level"),
        pytest.param(_scenario(category=_flow("initial: 5")), 3, id="nested"),
    ],
)
def test_duplicate_key_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int
) -> None:
    """A key given twice is an error at the second occurrence, not a silent override."""
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert "duplicate key" in stderr
    assert f"{scenario}:{line}:" in stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "the file is empty", id="empty"),
        pytest.param("# only a comment\n", "the file is empty", id="only-comment"),
        pytest.param("- a\n- b\n", "a scenario is a mapping of keys, got list", id="list"),
        pytest.param("hello\n", "a scenario is a mapping of keys, got str", id="scalar"),
        pytest.param("name: t\n---\nname: u\n", "YAML syntax error", id="two-documents"),
        pytest.param("name: t\ncategories:\n\twm: {}\n", "YAML syntax error", id="tab"),
    ],
)
def test_file_that_is_not_a_scenario_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    """Empty files, lists and scalars at the top level are bad input, not tracebacks."""
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert message in stderr
    assert str(scenario) in stderr


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scenario path that does not exist: exit 2, 'no such file', the path."""
    scenario = tmp_path / "nowhere.yaml"
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert "no such file" in stderr
    assert str(scenario) in stderr


def test_folder_given_as_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder in place of the scenario file cannot be read: exit 2."""
    folder = tmp_path / "a-folder.yaml"
    folder.mkdir()
    out = tmp_path / "out"
    code, stdout, stderr = _run(folder, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert "cannot read the file" in stderr


# --------------------------------------------------------------------------- several problems


def test_every_problem_of_a_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three independent mistakes give three `error:` lines and '3 problems'."""
    text = (
        "name: t\nseed: -1\n"
        "categories:\n"
        "  water_meter:\n"
        "    preset: water_meter\n"
        "    initial: -5\n"
        "    growth: {model: cagr, rate: -2}\n"
    )
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    errors = _error_lines(stderr)
    assert len(errors) == 3, stderr
    assert "3 problems; nothing was run or written" in stderr
    for field in ("seed", "categories.water_meter.initial", "categories.water_meter.growth.rate"):
        assert any(f": {field}: " in line for line in errors), field


def test_every_consistency_problem_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cross-field problems (shares, references, dates) are all reported together too."""
    text = _water_meter(
        "technologies: [nb-iot, lte-cat9]",
        "mix: {nb-iot: 0.5, lte-cat9: 0.2}",
        head="name: t\n" + TWO_REGIONS.replace("0.5, site", "0.4, site", 1),
    )
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    errors = _error_lines(stderr)
    assert len(errors) == 3, stderr
    assert "3 problems" in stderr
    assert any("regions.*.terminal_share" in line for line in errors)
    assert any("categories.water_meter.technologies[1]" in line for line in errors)
    assert any("categories.water_meter.mix: shares sum to 0.7" in line for line in errors)


def test_cross_field_rules_are_checked_once_types_are_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the README says: a range error is reported first; once fixed, the share-sum
    error that spans fields is reported."""
    text = _water_meter("mix: {nb-iot: 0.7, lte-cat1: 0.2}", head="name: t\nseed: -1\n")
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert len(_error_lines(stderr)) == 1, stderr
    assert "seed" in stderr
    fixed = _write(tmp_path, text.replace("seed: -1", "seed: 1"), "fixed.yaml")
    code, stdout, stderr = _run(fixed, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert "categories.water_meter.mix: shares sum to 0.9" in stderr


# --------------------------------------------------------------------------- validate


def test_validate_reports_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate a b c`: problems of both bad files, 'ok' for the good one, exit 2."""
    first = _write(tmp_path, _water_meter("growth: {model: cagr, rate: -2}"), "first.yaml")
    good = _write(tmp_path, VALID, "good.yaml")
    second = _write(tmp_path, _water_meter("mix: {nb-iot: 0.7, lte-cat1: 0.2}"), "second.yaml")
    code = main(["validate", str(first), str(good), str(second)])
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.out + captured.err
    assert f"{first}:" in captured.err
    assert "categories.water_meter.growth.rate" in captured.err
    assert f"{second}:" in captured.err
    assert "categories.water_meter.mix" in captured.err
    assert f"{first} is invalid" in captured.err
    assert f"{second} is invalid" in captured.err
    assert f"{good}: ok" in captured.out
    assert str(good) not in captured.err


def test_validate_all_valid_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every file valid: exit 0 and one 'ok' line per file."""
    first = _write(tmp_path, VALID, "first.yaml")
    second = _write(tmp_path, _scenario(), "second.yaml")
    code = main(["validate", str(first), str(second)])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.splitlines() == [f"{first}: ok", f"{second}: ok"]
    assert captured.err == ""


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file among valid ones makes `validate` exit 2 and name it."""
    good = _write(tmp_path, VALID, "good.yaml")
    missing = tmp_path / "missing.yaml"
    code = main(["validate", str(good), str(missing)])
    captured = capsys.readouterr()
    assert code == 2
    assert f"{missing}: no such file" in captured.err
    assert f"{good}: ok" in captured.out


# --------------------------------------------------------------------------- line numbers


@pytest.mark.parametrize(
    ("text", "field", "marker"),
    [
        pytest.param(
            _water_meter("lifetime_years: 6", "growth: {model: cagr, rate: -2}"),
            "categories.water_meter.growth.rate",
            "rate: -2",
            id="range-error",
        ),
        pytest.param(
            _water_meter("traffic:", "  reports_per_day: -1"),
            "categories.water_meter.traffic.reports_per_day",
            "reports_per_day: -1",
            id="deep-range-error",
        ),
        pytest.param(
            _water_meter("when_full: drop", "mix: {nb-iot: 0.7, lte-cat1: 0.2}"),
            "categories.water_meter.mix",
            "mix:",
            id="mix-sum",
        ),
        pytest.param(
            _water_meter("when_full: drop", "technologies:", "  - nb-iot", "  - lte-cat9"),
            "categories.water_meter.technologies[1]",
            "lte-cat9",
            id="list-item",
        ),
        pytest.param(
            _scenario("regions:", "  a: {terminal_share: 1, site_share: 1}")
            + "targets:\n  - {name: x, date: 2025-01, at_least: 5}\n"
            + "  - {name: y, date: 2045-01, at_most: 5}\n",
            "targets[1].date",
            "2045-01",
            id="second-target",
        ),
    ],
)
def test_message_gives_the_line_of_the_bad_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str, marker: str
) -> None:
    """The error line for a field starts with `file:LINE:` of that value."""
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    line = _line_of(text, marker)
    matching = [error for error in _error_lines(stderr) if f": {field}: " in error]
    assert len(matching) == 1, stderr
    assert matching[0].startswith(f"error: {scenario}:{line}:"), matching[0]


@pytest.mark.parametrize(
    ("text", "field", "marker"),
    [
        pytest.param(
            _water_meter("growth:", "  model: targets", "  values: {2023-06-01: 5000}"),
            "categories.water_meter.growth.values",
            "2023-06-01",
            id="date-as-anchor-key",
        ),
        pytest.param(
            _scenario("network:", "  sites:", "    6G: {initial: 5}"),
            "network.sites",
            "6G",
            id="unknown-generation-key",
        ),
        pytest.param(
            "name: t\ncategories:\n  1: {preset: water_meter, initial: 1000}\n",
            "categories",
            "1:",
            id="number-as-category-key",
        ),
    ],
)
def test_bad_mapping_key_is_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str, marker: str
) -> None:
    """A bad key: the path is plain YAML (no '[key]', no Python repr) and has its line."""
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    code, stdout, stderr = _run(scenario, out, capsys)
    _assert_rejected(code, stdout, stderr, out)
    assert "[key]" not in stderr
    assert "datetime.date(" not in stderr
    assert f"{scenario}:{_line_of(text, marker)}:" in stderr
    assert f": {field}." in stderr


# --------------------------------------------------------------------------- a real process


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _water_meter("growth: {model: cagr, rate: -2}"),
            "categories.water_meter.growth.rate",
            id="bad-value",
        ),
        pytest.param(
            _water_meter("traffic: {coverage: {normal: 0.5, robust: 0.3}}"),
            "categories.water_meter.traffic.coverage: shares sum to 0.8",
            id="coverage-shares-sum",
        ),
        pytest.param("name: t\ncategories: {water_meter: {\n", "YAML syntax error", id="bad-yaml"),
    ],
)
def test_subprocess_exit_code_is_2(tmp_path: Path, text: str, expected: str) -> None:
    """`python -m sim run bad.yaml` exits 2 with a message and no traceback or output."""
    scenario = _write(tmp_path, text)
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(scenario), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "Traceback" not in completed.stdout
    assert expected in completed.stderr
    assert str(scenario) in completed.stderr
    assert not out.exists()
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- the result folder


def test_out_is_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--out` naming a file: exit 2 and the file is left as it was."""
    scenario = _write(tmp_path, VALID, "good.yaml")
    target = tmp_path / "precious.txt"
    target.write_bytes(b"do not overwrite\n")
    code, stdout, stderr = _run(scenario, target, capsys)
    assert code == 2
    assert "Traceback" not in stdout + stderr
    assert "not a folder" in stderr
    assert str(target) in stderr
    assert target.read_bytes() == b"do not overwrite\n"


def test_failed_run_leaves_previous_results_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad scenario run into an existing result folder changes none of its files."""
    out = tmp_path / "out"
    good = _write(tmp_path, VALID, "good.yaml")
    code, _, stderr = _run(good, out, capsys, "--quiet")
    assert code == 0, stderr
    connections = (out / "connections.csv").read_bytes()
    before = _tree_bytes(out)
    assert connections

    bad = _write(tmp_path, _water_meter("growth: {model: cagr, rate: -2}"), "bad.yaml")
    code, stdout, stderr = _run(bad, out, capsys)
    assert code == 2
    assert "Traceback" not in stdout + stderr
    assert (out / "connections.csv").read_bytes() == connections
    assert _tree_bytes(out) == before


# --------------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["frobnicate"], id="unknown-subcommand"),
        pytest.param([], id="no-subcommand"),
        pytest.param(["run"], id="run-without-scenario"),
        pytest.param(["run", "x.yaml", "--seed", "abc"], id="seed-not-a-number"),
        pytest.param(["run", "x.yaml", "--speed", "3"], id="unknown-option"),
        pytest.param(["validate"], id="validate-without-files"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """argparse errors exit 2 with the usage on stderr."""
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    captured = capsys.readouterr()
    assert "usage: iotsim" in captured.err
    assert "Traceback" not in captured.err


def test_negative_seed_option_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--seed -1` is bad input: exit 2, nothing written."""
    scenario = _write(tmp_path, VALID, "good.yaml")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as raised:
        _run(scenario, out, capsys, "--seed", "-1")
    assert raised.value.code == 2
    assert "must be a whole number >= 0, got -1" in capsys.readouterr().err
    assert not out.exists()


def test_validate_checks_what_needs_the_curves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A resolution that would mean millions of cohorts is caught by validate, with the file."""
    text = "name: t\nresolution: 1\ncategories:\n  m: {preset: water_meter, initial: 100000000}\n"
    scenario = _write(tmp_path, text)
    assert main(["validate", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert f"{scenario}:" in err
    assert "resolution" in err
    assert "cohorts" in err


def test_out_below_a_file_is_refused_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    scenario = _write(tmp_path, VALID)
    assert main(["run", str(scenario), "--out", str(blocker / "sub"), "--quiet"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert blocker.read_text() == "x"


def test_prach_index_on_nb_iot_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = VALID + "technologies:\n  nb-iot: {prach_configuration_index: 3}\n"
    assert main(["validate", str(_write(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert "technologies.nb-iot.prach_configuration_index" in err
    assert "LTE" in err


@pytest.mark.parametrize(
    "hottest",
    [
        pytest.param("1", id="hottest-cells-1"),
        pytest.param("1.0e-20", id="hottest-cells-tiny"),
    ],
)
def test_extreme_hottest_cells_is_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hottest: str
) -> None:
    """hottest_cells outside 1e-6..0.5 (a hottest class of every cell, or of less than a
    cell in a million: bounds at 0 or 1 where the lognormal has no quantile) is refused
    with exit 2, the field path and the allowed range, never a traceback."""
    text = _scenario("end: 2023-03", "network:", f"  hottest_cells: {hottest}")
    scenario = _write(tmp_path, text)
    code = main(["validate", str(scenario)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "network.hottest_cells" in err
    assert ("less than or equal to 0.5" in err) or ("greater than or equal to 0.000001" in err)
