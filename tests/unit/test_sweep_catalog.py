"""Catalog figures in studies: a sweep may vary a figure the scenario takes from the
catalog, and a result folder's manifest records the catalog figures the run used."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import tiny_scenario, write_yaml

from sim import run
from sim.cli import main
from sim.results import read_tables
from sim.scenario import catalog

TINY = tiny_scenario()


def _nb_iot_downlink(folder: Path) -> float:
    cells = pd.read_csv(folder / "cells.csv")
    rows = cells[(cells["carrier"] == "nb-iot") & (cells["date"] == cells["date"].max())]
    return float(rows["downlink_utilization"].max())


@pytest.mark.parametrize(
    ("path", "values", "direction"),
    [
        # NB-IoT carriers per cell (anchor + non-anchor): the downlink budget doubles
        ("network.carriers.nb-iot.count", "1,2", -1),
        # a terminal's busy-hour NB-IoT downlink load, replacing the computed one
        ("technologies.nb-iot.load.downlink", "100,1000", +1),
    ],
)
def test_a_catalog_figure_the_scenario_does_not_set_can_be_swept(
    tmp_path: Path, path: str, values: str, direction: int
) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    assert "technologies" not in TINY  # the scenario overrides nothing: catalog figures
    out = tmp_path / "sweep"
    assert main(["sweep", str(scenario), "--set", f"{path}={values}", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    first, second = _nb_iot_downlink(out / "v0000"), _nb_iot_downlink(out / "v0001")
    assert first > 0
    assert (second - first) * direction > 0, (first, second)
    manifest = json.loads((out / "v0001" / "manifest.json").read_text())
    node = manifest["resolved_scenario"]
    for step in path.split("."):
        node = node[step]
    assert float(node) == float(values.split(",")[1])


def test_technology_access_figures_can_be_swept(tmp_path: Path) -> None:
    """The NB-IoT NPRACH period is the catalog's unless set; swept, it lands in each
    variant's scenario and in its manifest's catalog figures."""
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    out = tmp_path / "sweep"
    path = "technologies.nb-iot.nprach_periodicity_ms"
    assert main(["sweep", str(scenario), "--set", f"{path}=80,640", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    for variant, value in (("v0000", 80), ("v0001", 640)):
        figures = read_tables(out / variant).manifest["catalog_figures"]["technologies"]
        assert figures["nb-iot"]["figures"]["nprach_periodicity_ms"] == value
        assert figures["nb-iot"]["overridden"] == ["nprach_periodicity_ms"]


def test_a_catalog_figure_no_scenario_may_set_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_yaml(tmp_path / "s.yaml", TINY)
    out = ["--out", str(tmp_path / "o"), "--quiet"]
    bad = "technologies.nb-iot.uplink_overhead_bytes=10,20"
    assert main(["sweep", str(scenario), "--set", bad, *out]) == 2
    err = capsys.readouterr().err
    assert "'uplink_overhead_bytes' is a catalog figure" in err
    assert "technologies.csv" in err
    assert "nprach_periodicity_ms" in err  # what may be set instead
    assert main(["sweep", str(scenario), "--set", "technologies.nb-iot.preambels=4", *out]) == 2
    assert "did you mean 'preambles'" in capsys.readouterr().err
    assert main(["sweep", str(scenario), "--set", "technologies.nb-iotx.preambles=4", *out]) == 2
    assert "did you mean 'nb-iot'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_manifest_holds_the_catalog_figures_used(tmp_path: Path) -> None:
    scenario = {**TINY, "technologies": {"lte-cat1": {"preambles": 40}}}
    folder = run(scenario).write(tmp_path / "r")
    figures = json.loads((folder / "manifest.json").read_text())["catalog_figures"]
    assert set(figures["technologies"]) == {"nb-iot", "lte-cat1"}  # the meter's two
    nb_iot = figures["technologies"]["nb-iot"]
    assert nb_iot["figures"] == catalog.TECHNOLOGIES["nb-iot"].model_dump(mode="json")
    assert nb_iot["overridden"] == []
    assert nb_iot["sources"] == catalog.TECHNOLOGY_SOURCES["nb-iot"]
    cat1 = figures["technologies"]["lte-cat1"]
    assert cat1["figures"]["preambles"] == 40  # the scenario's, over the catalog's
    assert cat1["overridden"] == ["preambles"]
    assert set(figures["carriers"]) == {"nb-iot", "lte"}
    assert figures["carriers"]["lte"]["figures"] == catalog.CARRIERS["lte"].model_dump(mode="json")
    link = figures["links"]["nb-iot"]["robust"]
    assert link["uplink_repetitions"] == catalog.LINKS["nb-iot"]["robust"].uplink_repetitions
    assert link["source"] == catalog.LINK_SOURCES["nb-iot"]["robust"]


def test_a_manifest_without_catalog_figures_still_reads(tmp_path: Path) -> None:
    """Folders written before manifests held catalog figures read as before."""
    folder = run(TINY).write(tmp_path / "r")
    manifest_file = folder / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    del manifest["catalog_figures"]
    manifest_file.write_text(json.dumps(manifest))
    assert "catalog_figures" not in read_tables(folder).manifest
