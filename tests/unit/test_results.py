"""Result folder: contract columns, byte-identical reruns, atomic writing, manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import sim.results.result
from sim import run
from sim.results import (
    CONNECTIONS_COLUMNS,
    NETWORK_COLUMNS,
    RESULT_FILES,
    TARGET_COLUMNS,
    read_tables,
)

SCENARIO = {
    "name": "small",
    "end": "2024-06",
    "regions": {
        "u": {"terminal_share": 0.6, "site_share": 0.3},
        "r": {"terminal_share": 0.4, "site_share": 0.7},
    },
    "categories": {
        "water_meter": {
            "preset": "water_meter",
            "initial": 2_000_000,
            "growth": {"model": "cagr", "rate": 0.3},
        },
        "tracker": {
            "preset": "tracker",
            "initial": 500_000,
            "growth": {"model": "linear", "per_year": 100_000},
        },
    },
    "targets": [
        {"name": "meters", "date": "2024-06", "at_least": 2_000_000, "category": "water_meter"}
    ],
}


def write(tmp_path: Path, name: str, seed: int | None = None) -> Path:
    return run(SCENARIO, seed=seed).write(tmp_path / name)


def test_contract_columns_and_whole_counts(tmp_path: Path) -> None:
    out = write(tmp_path, "a")
    # the access layer is off: no access.csv, no experience.csv
    written = [name for name in RESULT_FILES if name not in ("access.csv", "experience.csv")]
    assert sorted(p.name for p in out.iterdir()) == sorted([*written, "manifest.json"])
    connections = pd.read_csv(out / "connections.csv")
    assert list(connections.columns) == CONNECTIONS_COLUMNS
    for column in CONNECTIONS_COLUMNS[4:]:
        assert pd.api.types.is_integer_dtype(connections[column]), column
    assert connections["date"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert connections["date"].iloc[0] == "2022-12"  # the initial state row
    assert list(pd.read_csv(out / "network.csv").columns) == NETWORK_COLUMNS
    assert list(pd.read_csv(out / "targets.csv").columns) == TARGET_COLUMNS
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["metric", "value"]
    assert summary["metric"].is_unique


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first, second, other = write(tmp_path, "a"), write(tmp_path, "b"), write(tmp_path, "c", 99)
    off = ("access.csv", "experience.csv")  # the access layer is off
    for name in (name for name in RESULT_FILES if name not in off):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "connections.csv").read_bytes() != (other / "connections.csv").read_bytes()


def test_targets_are_evaluated_on_the_filtered_rows(tmp_path: Path) -> None:
    result = run(SCENARIO)
    target = result.targets.iloc[0]
    table = result.connections
    meters = table[(table["category"] == "water_meter") & (table["date"] == "2024-06")]
    assert target["achieved"] == meters["connected"].sum()
    assert bool(target["met"]) == (target["achieved"] >= 2_000_000)


def test_manifest_carries_the_resolved_scenario(tmp_path: Path) -> None:
    out = write(tmp_path, "a", seed=5)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5
    assert manifest["status"] == "complete"
    resolved = manifest["resolved_scenario"]
    assert resolved["categories"]["water_meter"]["lifetime_years"] == 6.0  # preset default
    assert resolved["network"]["sectors_per_site"] == 3  # schema default
    assert set(manifest["versions"]) >= {"iotsim", "python", "simpy", "numpy", "scipy"}
    assert len(manifest["scenario_sha256"]) == 64


def test_failed_write_leaves_the_previous_folder_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = write(tmp_path, "out")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run(SCENARIO, seed=3)
    calls = {"n": 0}
    real = sim.results.result.csv_bytes

    def failing(table: pd.DataFrame) -> bytes:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(table)

    monkeypatch.setattr(sim.results.result, "csv_bytes", failing)
    with pytest.raises(OSError, match="disk full"):
        result.write(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary left over


def test_rewrite_replaces_the_folder(tmp_path: Path) -> None:
    out = write(tmp_path, "out")
    (out / "stale.txt").write_text("from an older run")
    run(SCENARIO, seed=4).write(out)
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_resolved_scenario_round_trips(tmp_path: Path) -> None:
    """The manifest's resolved scenario is itself a valid scenario, equal to the original,
    so any result folder can be re-run from its manifest."""
    from sim import load_scenario, parse_scenario

    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "scenarios").glob("*.yaml")):
        scenario = load_scenario(path)
        again = parse_scenario(json.loads(json.dumps(scenario.model_dump(mode="json"))))
        assert again == scenario, path.name


def test_at_most_targets_and_cumulative_blocked() -> None:
    """`blocked` targets count losses up to the date; first_reached is the first month the
    target's condition held."""
    from helpers import single_pool_scenario

    scenario = single_pool_scenario(
        capacity=100,
        initial=100,
        lifetime_years=1,
        end="2023-12",
        growth={"model": "cagr", "rate": 1.0},
    )
    data = scenario.model_dump(mode="json")
    data["targets"] = [
        {"name": "few-lost", "metric": "blocked", "date": "2023-12", "at_most": 5},
        {"name": "many-lost", "metric": "blocked", "date": "2023-12", "at_least": 5},
    ]
    result = run(data)
    few, many = result.targets.iloc[0], result.targets.iloc[1]
    lost = int(result.connections["blocked"].sum())
    assert few["achieved"] == many["achieved"] == lost > 5
    assert not few["met"]
    assert many["met"]
    assert few["first_reached"] == "2022-12"  # nothing lost at the start
    cumulative = result.connections.groupby("date")["blocked"].sum().cumsum()
    assert many["first_reached"] == cumulative.index[cumulative >= 5][0]


def test_negative_seed_is_a_scenario_error() -> None:
    from sim import ScenarioError

    with pytest.raises(ScenarioError, match="seed"):
        run(SCENARIO, seed=-1)


def test_access_csv_only_where_the_access_layer_ran(tmp_path: Path) -> None:
    """With the access layer off there is no access.csv (nor access_ci.csv), and the
    manifest does not list one; with it on, both are there."""
    off = write(tmp_path, "off")
    assert not (off / "access.csv").exists()
    assert "access.csv" not in json.loads((off / "manifest.json").read_text())["files"]
    study = run(SCENARIO, replications=2).write(tmp_path / "study")
    assert not (study / "access.csv").exists()
    assert not (study / "access_ci.csv").exists()
    assert read_tables(off).access.empty  # a reader still gets an (empty) table

    access = {"years": [2024], "cells": ["p50"], "replications": 1, "window_s": 10}
    on = run({**SCENARIO, "access": access}).write(tmp_path / "on")
    table = pd.read_csv(on / "access.csv")
    assert len(table) > 0
    assert "access.csv" in json.loads((on / "manifest.json").read_text())["files"]


def _tear(file: Path, share: float = 2 / 3) -> None:
    """Cut a file as a crash or a full disk mid-copy would: at `share` of its bytes."""
    data = file.read_bytes()
    file.write_bytes(data[: int(len(data) * share)])


def test_the_manifest_lists_every_file_with_size_and_sha256(tmp_path: Path) -> None:
    import hashlib

    out = run(SCENARIO, replications=2).write(tmp_path / "a")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "iotsim result folder"
    assert set(manifest["checksums"]) == set(manifest["files"])
    assert "connections_ci.csv" in manifest["files"]
    for name, check in manifest["checksums"].items():
        data = (out / name).read_bytes()
        assert check == {"size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_a_torn_folder_is_refused_by_readers_naming_the_file(tmp_path: Path) -> None:
    from sim.results import ResultFolderError

    out = write(tmp_path, "a")
    assert len(read_tables(out).connections) > 0  # whole: reads
    _tear(out / "connections.csv")
    with pytest.raises(ResultFolderError, match=r"connections\.csv.*\d+ bytes.*manifest"):
        read_tables(out)
    out = write(tmp_path, "b")
    table = out / "network.csv"
    table.write_bytes(table.read_bytes().replace(b",", b";", 1))  # same size, other bytes
    with pytest.raises(ResultFolderError, match=r"network\.csv.*SHA-256"):
        read_tables(out)


def test_compare_check_plot_and_report_exit_2_on_a_torn_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reported case: connections.csv cut at two thirds passed `compare --check`."""
    from sim.cli import main

    a, b = write(tmp_path, "a"), write(tmp_path, "b")
    _tear(b / "connections.csv")
    out = tmp_path / "c.csv"
    assert main(["compare", str(a), str(b), "--check", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(b / "connections.csv") in err
    assert "Traceback" not in err
    assert not out.exists()
    pytest.importorskip("matplotlib")
    assert main(["plot", str(b)]) == 2
    assert not (b / "figures").exists()
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "r.html")]) == 2
    assert not (tmp_path / "r.html").exists()


def test_a_folder_swapped_while_it_is_read_is_read_again_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader never mixes two versions: it reads through one open handle, and reads
    the new version when the one it opened is replaced (and removed) under it."""
    import sim.results.reading as reading

    out = write(tmp_path, "out", seed=1)
    newer = run(SCENARIO, seed=2)
    real = reading._read_bytes
    swaps: list[int] = []

    def swapping(fd: int, name: str) -> bytes | None:
        content = real(fd, name)
        if name == "connections.csv" and not swaps:
            swaps.append(1)
            newer.write(out)  # a writer swaps the folder in now
        return content

    monkeypatch.setattr(reading, "_read_bytes", swapping)
    tables = read_tables(out)
    assert tables.manifest["seed"] == 2
    assert tables.connections.equals(read_tables(out).connections)
    assert len(tables.connections) == len(newer.connections)


def test_a_folder_from_before_checksums_still_reads_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.cli import main

    a, b = write(tmp_path, "a"), write(tmp_path, "b")
    manifest = json.loads((b / "manifest.json").read_text())
    del manifest["checksums"], manifest["kind"]
    (b / "manifest.json").write_text(json.dumps(manifest))
    assert len(read_tables(b).connections) > 0
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c.csv")]) == 0
    assert f"note: {b} was written by an older iotsim, without checksums" in capsys.readouterr().err
