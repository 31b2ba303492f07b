"""Replications with intervals, executors, compare and sweeps."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_scenario, write_yaml

from sim import ScenarioError, parse_scenario, run
from sim.cli import main
from sim.results import write_result_folder
from sim.stats import t_quantile_975, welch_test
from sim.study.sweeps import parse_override, run_sweep, variants

TINY = tiny_scenario()


def test_intervals_are_the_student_t_interval_by_hand(tmp_path: Path) -> None:
    out = run(TINY, replications=3).write(tmp_path / "r")
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    values = summary[summary["metric"] == "connected_end"]["value"].astype(float).to_numpy()
    assert len(values) == 3
    assert list(summary["replication"].unique()) == [0, 1, 2]
    mean, s = values.mean(), values.std(ddof=1)
    assert s > 0  # replications differ, so the interval has a width to check
    half = 4.302653 * s / math.sqrt(3)  # t(0.975, 2), exact to the six decimals given
    row = pd.read_csv(out / "summary_ci.csv").set_index("metric").loc["connected_end"]
    assert row["value_mean"] == pytest.approx(mean, abs=1e-6)
    assert row["value_ci_high"] - row["value_mean"] == pytest.approx(half, rel=1e-6)
    assert row["value_mean"] - row["value_ci_low"] == pytest.approx(half, rel=1e-6)
    assert row["replications"] == 3
    ci = pd.read_csv(out / "connections_ci.csv")
    assert {"connected_mean", "connected_ci_low", "connected_ci_high"} <= set(ci.columns)
    assert json.loads((out / "manifest.json").read_text())["replications"] == 3


def test_interval_width_shrinks_as_one_over_root_r() -> None:
    """Width = 2 t(R-1) s / sqrt(R): with s estimating the same spread, the width over
    2 t(R-1) / sqrt(R) is s, the same (within sampling error) at R = 6 and R = 24."""
    spreads, widths = [], []
    for replications in (6, 24):
        row = run(TINY, replications=replications).intervals["summary"].set_index("metric")
        width = row.loc["connected_end", "value_ci_high"] - row.loc["connected_end", "value_ci_low"]
        widths.append(width)
        spreads.append(width * math.sqrt(replications) / (2 * t_quantile_975(replications - 1)))
    assert widths[1] < widths[0] / 1.5
    assert 0.4 < spreads[1] / spreads[0] < 2.5


def test_serial_processes_and_dask_write_the_same_bytes(tmp_path: Path) -> None:
    folders = {
        "serial": run(TINY, replications=4).write(tmp_path / "serial"),
        "jobs": run(TINY, replications=4, jobs=2).write(tmp_path / "jobs"),
        "dask": run(TINY, replications=4, scheduler="local:2").write(tmp_path / "dask"),
    }
    names = sorted(p.name for p in folders["serial"].glob("*.csv"))
    assert "connections_ci.csv" in names
    for name in names:
        reference = (folders["serial"] / name).read_bytes()
        assert (folders["jobs"] / name).read_bytes() == reference, name
        assert (folders["dask"] / name).read_bytes() == reference, name


def test_replication_zero_is_the_single_run() -> None:
    single = run(TINY)
    study = run(TINY, replications=3)
    first = study.connections[study.connections["replication"] == 0].drop(columns="replication")
    assert first.reset_index(drop=True).equals(single.connections)


def test_compare_check_fails_on_a_change_and_passes_on_a_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = write_yaml(tmp_path / "base.yaml", TINY)
    faster = {**TINY["categories"]["meter"], "growth": {"model": "cagr", "rate": 0.3}}
    changed = {**TINY, "categories": {"meter": faster}}
    other = write_yaml(tmp_path / "changed.yaml", changed)
    for scenario, out in ((base, "a"), (base, "b"), (other, "c")):
        assert main(["run", str(scenario), "--out", out, "--quiet", "--replications", "3"]) == 0
    assert main(["compare", "a", "b", "--check"]) == 0
    assert main(["compare", "a", "c", "--check", "--out", "ac.csv"]) == 1
    table = pd.read_csv(tmp_path / "ac.csv")
    assert list(table.columns)[:5] == ["figure", "key", "date", "baseline", "folder"]
    end = table[(table["figure"] == "connected") & (table["date"] == "2024-12")].iloc[0]
    assert end["difference"] > 0
    assert bool(end["significant"])  # 20 %/year vs 30 %/year: far beyond the noise
    assert end["p_adjusted"] < 0.05
    assert bool(end["flagged"])
    # loose tolerances let the same comparison pass
    assert main(["compare", "a", "c", "--check", "--rtol", "0.5", "--atol", "1e9"]) == 0
    assert "beyond the tolerance" in capsys.readouterr().out


def test_compare_flags_no_significance_between_seeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scenario under two seeds: the end-of-horizon totals do not differ
    significantly (the test is deterministic: these seeds)."""
    monkeypatch.chdir(tmp_path)
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    main(["run", str(scenario), "--out", "a", "--quiet", "--replications", "5", "--seed", "1"])
    main(["run", str(scenario), "--out", "b", "--quiet", "--replications", "5", "--seed", "2"])
    assert main(["compare", "a", "b", "--metric", "connected"]) == 0
    table = pd.read_csv(tmp_path / "results" / "comparison.csv")
    assert set(table["figure"]) == {"connected"}
    row = table[table["date"] == "2024-12"].iloc[0]
    assert row["p_adjusted"] > 0.05
    assert not bool(row["significant"])
    assert not table["flagged"].any()


def test_compare_says_what_cannot_be_aligned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = run(TINY).write(tmp_path / "a")
    b = run({**TINY, "end": "2025-06"}).write(tmp_path / "b")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "x.csv")]) == 0
    err = capsys.readouterr().err
    assert "horizons differ" in err
    assert "2023-01..2024-12" in err
    assert main(["compare", str(a), str(tmp_path)]) == 2  # not a result folder


def test_welch_test_matches_published_results() -> None:
    """Welch's t-test as published: R's t.test (ts1 vs ts2: t = -1.8325, df = 17.9,
    p = 0.08356) and Wikipedia's "Welch's t-test" example 1 (t = -2.46, p = 0.021).
    welch_test gives t of second minus first, so the signs flip."""
    ts1 = [11.0, 9, 10, 11, 10, 12, 9, 11, 12, 9]
    ts2 = [11.0, 13, 10, 13, 12, 9, 11, 12, 12, 11]
    t, p = welch_test(ts1, ts2)
    assert t == pytest.approx(1.8325, abs=5e-5)
    assert p == pytest.approx(0.08356, abs=5e-6)
    a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
    t, p = welch_test(a1, a2)
    assert t == pytest.approx(2.46, abs=5e-3)
    assert p == pytest.approx(0.021, abs=5e-4)
    assert welch_test(a2, a1)[0] == pytest.approx(-t, rel=1e-12)


def test_welch_test_edge_cases() -> None:
    """Fewer than two values: NaN; no spread: p = 1 for equal means, 0 for different ones;
    NaNs are left out."""
    assert welch_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == (0.0, 1.0)
    assert all(math.isnan(v) for v in welch_test([1.0], [2.0, 3.0]))
    assert all(math.isnan(v) for v in welch_test([1.0, 2.0], [math.nan, 3.0]))
    assert welch_test([4.0, 4.0], [4.0, 4.0, 4.0]) == (0.0, 1.0)
    assert welch_test([4.0, 4.0], [5.0, 5.0]) == (math.inf, 0.0)
    assert welch_test([5.0, 5.0], [4.0, 4.0]) == (-math.inf, 0.0)
    with_nan = welch_test([1.0, 2.0, 3.0, math.nan], [2.0, 4.0, 6.0])
    assert with_nan == pytest.approx(welch_test([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]), rel=1e-12)


def test_sweep_variants_are_validated_with_their_path() -> None:
    scenario = parse_scenario(TINY)
    ok = variants(scenario, [parse_override("categories.meter.growth.rate=0.1,0.2"),
                             parse_override("seed=1,2,3")])  # fmt: skip
    assert len(ok) == 6
    zipped = variants(scenario, [parse_override("categories.meter.growth.rate=0.1,0.2"),
                                 parse_override("seed=1,2")], zipped=True)  # fmt: skip
    assert [v.values for v in zipped] == [
        {"categories.meter.growth.rate": 0.1, "seed": 1},
        {"categories.meter.growth.rate": 0.2, "seed": 2},
    ]
    with pytest.raises(ScenarioError, match=r"categories\.meter\.growth\.rat.*did you mean 'rate'"):
        variants(scenario, [parse_override("categories.meter.growth.rat=0.1")])
    with pytest.raises(ScenarioError, match=r"categories\.meter\.growth\.rate.*-5"):
        variants(scenario, [parse_override("categories.meter.growth.rate=0.1,-5")])
    with pytest.raises(ScenarioError, match="--set"):
        parse_override("no-equals-sign")


def test_sweep_cli_rejects_bad_paths_and_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    bad = ["categories.metre.growth.rate=0.1", "categories.meter.when_full=queue"]
    for override in bad:
        assert main(["sweep", str(scenario), "--set", override, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert override.split("=")[0].split(".")[1] in err
    assert not (tmp_path / "o").exists()


def test_sweep_resumes_after_an_interruption(tmp_path: Path) -> None:
    rates = parse_override("categories.meter.growth.rate=0.1,0.2,0.3")
    variant_list = variants(parse_scenario(TINY), [rates])
    written: list[str] = []

    def interrupted(result: Any, folder: Path) -> None:
        if len(written) == 1:
            raise KeyboardInterrupt
        write_result_folder(result, folder)
        written.append(folder.name)

    with pytest.raises(KeyboardInterrupt):
        run_sweep(variant_list, tmp_path, seed=1, replications=2, write=interrupted)
    assert written == ["v0000"]
    report = run_sweep(variant_list, tmp_path, seed=1, replications=2)
    assert report.skipped == 1
    assert not report.failed
    index = pd.read_csv(tmp_path / "sweep.csv")
    assert list(index["status"]) == ["complete"] * 3
    assert index["connected_end_mean"].is_monotonic_increasing
    assert {"connected_end_ci_low", "connected_end_ci_high"} <= set(index.columns)
    # the resumed sweep wrote the same bytes as one that was never interrupted
    whole = tmp_path / "uninterrupted"
    run_sweep(variant_list, whole, seed=1, replications=2)
    for folder in ("v0000", "v0001", "v0002"):
        for table in sorted((whole / folder).glob("*.csv")):
            assert (tmp_path / folder / table.name).read_bytes() == table.read_bytes()
    assert (tmp_path / "sweep.csv").read_bytes() == (whole / "sweep.csv").read_bytes()


def test_a_resumed_sweep_runs_a_torn_variant_again(tmp_path: Path) -> None:
    """Resuming trusts a variant folder only when its files match the manifest's checksums:
    a torn connections.csv makes the variant run again, not count as complete."""
    rates = parse_override("categories.meter.growth.rate=0.1,0.2")
    variant_list = variants(parse_scenario(TINY), [rates])
    run_sweep(variant_list, tmp_path, seed=1, replications=1)
    torn = tmp_path / "v0001" / "connections.csv"
    whole = torn.read_bytes()
    torn.write_bytes(whole[: len(whole) * 2 // 3])
    report = run_sweep(variant_list, tmp_path, seed=1, replications=1)
    assert report.skipped == 1  # v0000 only
    assert torn.read_bytes() == whole  # v0001 was written again, whole


def test_a_failing_variant_is_reported_and_the_rest_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that raises for one variant: that variant is reported failed, with the
    error, and the others are written."""
    import sim.study.sweeps

    real = sim.study.sweeps.replicate

    def flaky(task: Any) -> Any:
        if task[0]["categories"]["meter"]["growth"]["rate"] == 0.2:
            raise RuntimeError("worker lost")
        return real(task)

    monkeypatch.setattr(sim.study.sweeps, "replicate", flaky)
    rates = parse_override("categories.meter.growth.rate=0.1,0.2,0.3")
    report = run_sweep(variants(parse_scenario(TINY), [rates]), tmp_path, seed=None,
                       replications=2)  # fmt: skip
    assert report.failed == {1: "RuntimeError: worker lost"}
    index = pd.read_csv(tmp_path / "sweep.csv")
    assert list(index["status"]) == ["complete", "failed: RuntimeError: worker lost", "complete"]
    assert not (tmp_path / "v0001").exists()
    assert (tmp_path / "v0002" / "connections.csv").exists()
    assert np.isfinite(index["connected_end_mean"].iloc[2])


def test_what_cannot_run_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """resolution 1 with 5 million terminals would be too many cohorts: a sweep or a study
    with that variant stops at once with exit 2, naming the variant."""
    big = {**TINY, "categories": {"meter": {**TINY["categories"]["meter"], "initial": 5_000_000}}}
    scenario = write_yaml(tmp_path / "s.yaml", big)
    code = main(
        ["sweep", str(scenario), "--set", "resolution=1,auto", "--out", str(tmp_path / "sw")]
    )
    assert code == 2
    assert "resolution=1" in capsys.readouterr().err
    assert not (tmp_path / "sw").exists()
    one = write_yaml(tmp_path / "one.yaml", {**big, "resolution": 1})
    assert main(["run", str(one), "--replications", "2", "--out", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()


def test_sweeping_the_seed_gives_each_variant_its_seed(tmp_path: Path) -> None:
    seeds = parse_override("seed=3,4")
    run_sweep(variants(parse_scenario(TINY), [seeds]), tmp_path, seed=None, replications=1)
    first = json.loads((tmp_path / "v0000" / "manifest.json").read_text())
    second = json.loads((tmp_path / "v0001" / "manifest.json").read_text())
    assert (first["seed"], second["seed"]) == (3, 4)
    a = (tmp_path / "v0000" / "connections.csv").read_bytes()
    assert a != (tmp_path / "v0001" / "connections.csv").read_bytes()


def test_run_with_replications_prints_the_key_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    assert main(["run", str(scenario), "--replications", "2", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "connected_end" in out


@pytest.mark.parametrize("address", ["local:x", "local:0", "bogus"])
def test_bad_scheduler_addresses_exit_2(tmp_path: Path, address: str) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    with pytest.raises(SystemExit) as raised:
        main(["run", str(scenario), "--replications", "2", "--scheduler", address])
    assert raised.value.code == 2


def test_compare_reads_names_as_text_and_aligns_horizons(tmp_path: Path) -> None:
    """Regions named like numbers stay names; folders with different horizons are read at
    the end of the shorter one (2024-12), not at their own ends."""
    regions = {"110000": {"terminal_share": 0.5, "site_share": 0.5},
               "120000": {"terminal_share": 0.5, "site_share": 0.5}}  # fmt: skip
    a = run({**TINY, "regions": regions}).write(tmp_path / "a")
    b = run({**TINY, "regions": regions, "end": "2025-06"}).write(tmp_path / "b")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c.csv")]) == 0
    table = pd.read_csv(tmp_path / "c.csv", dtype={"key": str, "date": str})
    assert not table["date"].str.contains("2025").any()
    assert (table.loc[table["figure"] == "connected_end", "date"] == "2024-12").all()
    pools = set(table.loc[table["figure"] == "utilization_end", "key"])
    assert {"110000/nb-iot", "120000/nb-iot"} <= pools


def test_sweep_option_errors_name_the_option_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad --set or --zip is reported as 'FILE: --set: ...' (not '--set: --set: ...'),
    with the bad text and what is expected; nothing is run or written."""
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    out = ["--out", str(tmp_path / "o")]
    assert main(["sweep", str(scenario), "--set", "no-equals-sign", *out]) == 2
    err = capsys.readouterr().err
    assert f"error: {scenario}: --set: expected PATH=V1,V2,..., got 'no-equals-sign'" in err
    assert "--set: --set" not in err
    zipped = ["--set", "seed=1,2", "--set", "resolution=100,200,300", "--zip"]
    assert main(["sweep", str(scenario), *zipped, *out]) == 2
    err = capsys.readouterr().err
    assert f"error: {scenario}: --zip: needs equally many values (seed: 2, resolution: 3)" in err
    assert main(["sweep", str(scenario), "--set", "categories.meter.growth.rate=0.1,-5", *out]) == 2
    err = capsys.readouterr().err
    assert f"error: {scenario}: categories.meter.growth.rate: got -5" in err
    assert "(variant categories.meter.growth.rate=-5)" in err
    assert not (tmp_path / "o").exists()


def test_a_scheduler_for_a_single_run_is_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One replication runs in this process: --scheduler is not used, and the run says so."""
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    args = ["run", str(scenario), "--scheduler", "local:2", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "note: --scheduler local:2 is not used for a single run" in err
    assert main(["run", str(scenario), "--quiet", "--out", str(tmp_path / "plain")]) == 0
    assert "note:" not in capsys.readouterr().err
    for table in sorted((tmp_path / "plain").glob("*.csv")):
        assert (tmp_path / "o" / table.name).read_bytes() == table.read_bytes(), table.name


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--jobs", "abc", "--jobs: must be a whole number >= 1, got abc"),
        ("--replications", "2.5", "--replications: must be a whole number >= 1, got 2.5"),
        ("--seed", "abc", "--seed: must be a whole number >= 0, got abc"),
        ("--seed", "-1", "--seed: must be a whole number >= 0, got -1"),
        ("--scheduler", "local:²", "local:N needs a whole number N >= 1 of workers, got 'local:²'"),
        ("--scheduler", "http://host:8786", "unknown scheme 'http' in 'http://host:8786'"),
        ("--scheduler", "tcp://host:port", "bad port 'port' in 'tcp://host:port'"),
        ("--scheduler", "tcp://host", "bad port '' in 'tcp://host'"),
    ],
)
def test_bad_study_options_say_what_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    """A clear message (no traceback, no Python function names), exit 2, nothing run."""
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    args = ["run", str(scenario), "--replications", "2", option, value]
    with pytest.raises(SystemExit) as raised:
        main([*args, "--out", str(tmp_path / "o")])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "_positive_int" not in err
    assert "_non_negative_int" not in err
    assert "_scheduler" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("address", ["foo://host:8786", "tcp://host:port"])
def test_an_unusable_scheduler_address_is_bad_input_for_the_api(address: str) -> None:
    with pytest.raises(ScenarioError, match="--scheduler"):
        run(TINY, replications=2, scheduler=address)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jobs": 0}, r"jobs: got 0; a whole number >= 1"),
        ({"scheduler": "local:x"}, r"--scheduler: local:N needs a whole number N >= 1"),
        ({"scheduler": "local:0"}, r"--scheduler: local:N needs a whole number N >= 1"),
    ],
)
def test_the_api_refuses_bad_study_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        run(TINY, replications=2, **options)


def test_set_values_are_read_as_scenario_files_read_them() -> None:
    """--set values are YAML as in a scenario file: 1e-1 is a number (YAML 1.2), `on` and
    `yes` stay words (only true/false are booleans)."""
    override = parse_override("categories.m.growth.rate=1e-1,2.5e-1")
    assert override.values == (0.1, 0.25)
    assert parse_override("a.b=on,yes,true").values == ("on", "yes", True)
