"""A sweep's tables as one Parquet dataset partitioned by variant, and sweep.csv with
every summary figure."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_scenario

from sim import parse_scenario
from sim.results.dataset import TABLES, partition_path
from sim.study import sweeps
from sim.study.sweeps import parse_override, run_sweep, variants

TINY = tiny_scenario()
RATE = "categories.meter.growth.rate"
POLICY = "categories.meter.when_full"


def _sweep(out: Path, replications: int = 2) -> list[sweeps.Variant]:
    overrides = [parse_override(f"{RATE}=0.1,0.3"), parse_override(f"{POLICY}=fallback,drop")]
    variant_list = variants(parse_scenario(TINY), overrides)
    run_sweep(variant_list, out, seed=1, replications=replications)
    return variant_list


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[sweeps.Variant]]:
    out = tmp_path_factory.mktemp("sweep")
    return out, _sweep(out)


def _same(part: pd.DataFrame, csv: Path, context: str) -> None:
    """A partition holds the CSV's rows, in order, value for value."""
    text = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert list(part.columns) == list(text.columns), context
    assert len(part) == len(text), context
    for column in text.columns:
        if pd.api.types.is_float_dtype(part[column]) or pd.api.types.is_integer_dtype(part[column]):
            expected = pd.to_numeric(text[column].replace("", np.nan)).astype(float)
            np.testing.assert_array_equal(part[column].astype(float), expected, context + column)
        else:
            got = part[column].astype(object).where(part[column].notna(), "").astype(str)
            assert got.tolist() == text[column].tolist(), context + column


def test_the_dataset_equals_the_variant_csvs_row_for_row(
    swept: tuple[Path, list[sweeps.Variant]],
) -> None:
    out, variant_list = swept
    checked = 0
    for variant in variant_list:
        for table in TABLES:
            csv = out / variant.folder_name / f"{table}.csv"
            file = partition_path(out, table, variant.folder_name)
            assert file.exists() == csv.exists(), file
            if not csv.exists():
                continue
            part = pd.read_parquet(file)
            swept_values = part[[RATE, POLICY]]
            _same(part.drop(columns=[RATE, POLICY]), csv, f"{variant.folder_name}/{table}: ")
            assert (swept_values[RATE] == variant.values[RATE]).all()
            assert (swept_values[POLICY] == variant.values[POLICY]).all()
            checked += 1
    assert checked >= 4 * 5  # connections, network, cells, targets, summary of 4 variants


def test_pandas_and_duckdb_read_all_variants_as_one_table(
    swept: tuple[Path, list[sweeps.Variant]],
) -> None:
    out, variant_list = swept
    connections = pd.read_parquet(out / "dataset" / "connections")
    assert sorted(connections["variant"].astype(str).unique()) == [
        v.folder_name for v in variant_list
    ]
    assert pd.api.types.is_float_dtype(connections[RATE])
    assert pd.api.types.is_string_dtype(connections[POLICY])
    query = f"""
        select variant, "{RATE}" as rate, sum(connected) as connected
        from read_parquet('{out}/dataset/connections/*/*.parquet', hive_partitioning = true)
        where date = '2024-12' group by all order by variant
    """
    # DuckDB in a process of its own: its query engine handles SIGINT itself, and the
    # test process must keep Python's Ctrl-C handling for the interrupt tests
    code = "import duckdb, sys; duckdb.sql(sys.argv[1]).df().to_json(sys.stdout, orient='records')"
    done = subprocess.run([sys.executable, "-c", code, query], capture_output=True, text=True,
                          check=True)  # fmt: skip
    table = pd.read_json(io.StringIO(done.stdout), orient="records")
    for variant, row in zip(variant_list, table.itertuples(), strict=True):
        csv = pd.read_csv(out / variant.folder_name / "connections.csv")
        assert row.variant == variant.folder_name
        assert row.rate == pytest.approx(variant.values[RATE])  # through JSON
        assert row.connected == csv.loc[csv["date"] == "2024-12", "connected"].sum()


def test_sweep_csv_has_every_summary_figure(swept: tuple[Path, list[sweeps.Variant]]) -> None:
    out, variant_list = swept
    index = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert list(index.columns[:4]) == ["variant", RATE, POLICY, "status"]
    for variant, row in zip(variant_list, index.to_dict("records"), strict=True):
        summary = pd.read_csv(out / variant.folder_name / "summary.csv", keep_default_na=False)
        intervals = pd.read_csv(out / variant.folder_name / "summary_ci.csv").set_index("metric")
        for metric in summary["metric"].unique():
            if metric in intervals.index:
                assert float(row[f"{metric}_mean"]) == pytest.approx(
                    intervals.loc[metric, "value_mean"], nan_ok=True
                )
            else:
                values = set(summary.loc[summary["metric"] == metric, "value"])
                assert str(row[metric]) in values or ".." in str(row[metric]), metric


def test_each_variant_manifest_holds_its_swept_values(
    swept: tuple[Path, list[sweeps.Variant]],
) -> None:
    out, variant_list = swept
    for variant in variant_list:
        manifest = json.loads((out / variant.folder_name / "manifest.json").read_text())
        assert manifest["sweep_values"] == variant.values


def test_a_resumed_sweep_repairs_the_dataset_and_drops_other_variants(tmp_path: Path) -> None:
    _sweep(tmp_path, replications=1)
    lost = partition_path(tmp_path, "network", "v0001")
    whole = lost.read_bytes()
    lost.unlink()
    stale = partition_path(tmp_path, "network", "v0009")  # from another sweep
    stale.parent.mkdir(parents=True)
    stale.write_bytes(whole)
    _sweep(tmp_path, replications=1)
    assert lost.read_bytes() == whole
    assert not stale.parent.exists()


def test_a_failed_variant_leaves_no_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sweeps.replicate

    def failing(task: Any) -> Any:
        if task[0]["categories"]["meter"]["growth"]["rate"] == 0.3:
            raise RuntimeError("boom")
        return real(task)

    monkeypatch.setattr(sweeps, "replicate", failing)
    variant_list = variants(parse_scenario(TINY), [parse_override(f"{RATE}=0.1,0.3")])
    report = run_sweep(variant_list, tmp_path, seed=1, replications=1)
    assert list(report.failed) == [1]
    assert partition_path(tmp_path, "connections", "v0000").exists()
    assert not (tmp_path / "dataset" / "connections" / "variant=v0001").exists()
    index = pd.read_csv(tmp_path / "sweep.csv")
    assert index.loc[1, "status"].startswith("failed: RuntimeError: boom")
    assert math.isnan(index.loc[1, "connected_end_mean"])
