"""Figures and the HTML report: rendered for a bundled scenario and a comparison, checked
for content, well-formedness, and in a real browser (headless Chromium)."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

if TYPE_CHECKING:
    from matplotlib.figure import Figure

matplotlib = pytest.importorskip("matplotlib", reason="figures need the plot extra")

from helpers import tiny_scenario, with_unit_capacity  # noqa: E402

from sim import run  # noqa: E402
from sim.cli import main  # noqa: E402
from sim.report import plots  # noqa: E402
from sim.results import read_tables  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The meter storm (access layer, targets, full pools) and its jitter variant."""
    base = tmp_path_factory.mktemp("results")
    out = []
    for name in ("china_meter_storm", "china_meter_storm_jitter"):
        out.append(run(ROOT / "scenarios" / f"{name}.yaml").write(base / name))
    return out


def _titles(figure: Figure) -> str:
    """Every title of a figure: its own and its panels' (left, centre and right)."""
    own = figure.get_suptitle()  # type: ignore[attr-defined]
    return " | ".join([own, *(axis.get_title(loc) for axis in figure.axes
                              for loc in ("left", "center", "right"))])  # fmt: skip


def _panels(figure: Figure) -> list[Any]:
    """The panels of a figure, colour bars left out."""
    return [axis for axis in figure.axes if axis.get_label() != "<colorbar>"]


def test_every_figure_of_one_scenario(folders: list[Path], tmp_path: Path) -> None:
    runs = [read_tables(folders[0])]
    carriers = sorted(set(runs[0].cells.loc[runs[0].cells["terminals"] > 0, "carrier"]))
    assert carriers == ["lte", "nb-iot", "nr"]  # the storm uses every carrier
    assert plots.available(runs) == list(plots.FIGURES)  # targets, access and all carriers
    for name in plots.available(runs):
        figure = plots.FIGURES[name](runs)
        try:
            panels = _panels(figure)
            for axis in panels:
                assert axis.get_ylabel(), name
            assert panels[-1].get_xlabel(), name
            assert "china-meter-storm" in _titles(figure), name
        finally:
            plots.close(figure)
    assert main(["plot", str(folders[0]), "--out", str(tmp_path / "f")]) == 0
    files = sorted((tmp_path / "f").glob("*.png"))
    assert [f.stem for f in files] == sorted(plots.FIGURES)
    assert all(f.stat().st_size > 10_000 for f in files)


def test_counts_read_as_billions(folders: list[Path]) -> None:
    assert plots.count_label(2.5e9) == "2.5 B"
    assert plots.count_label(120e6) == "120 M"
    assert plots.count_label(45_000) == "45 k"
    figure = plots.connected_by_category([read_tables(folders[0])])
    try:
        figure.canvas.draw()
        labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
        assert any(label.endswith(" B") for label in labels), labels
    finally:
        plots.close(figure)


def test_two_scenarios_overlay_in_svg(folders: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "both"
    assert main(["plot", *map(str, folders), "--out", str(out), "--format", "svg"]) == 0
    for file in out.glob("*.svg"):
        text = file.read_text()
        assert "china-meter-storm-jitter" in text, file.name
        assert len(text) > 20_000


def _report(folders: list[Path], tmp_path: Path) -> Path:
    out = tmp_path / "report.html"
    assert main(["report", *map(str, folders), "--out", str(out)]) == 0
    return out


def test_report_is_well_formed_and_has_every_section(folders: list[Path], tmp_path: Path) -> None:
    text = _report(folders, tmp_path).read_text()
    assert text.startswith("<!DOCTYPE html>")
    root = ElementTree.fromstring(text.split("\n", 1)[1])  # well-formed (XHTML-compatible)
    sections = [s.get("id") for s in root.iter("section")]
    # the story first, then the figures, the details and the tables last
    assert sections == ["summary", "figures", "warnings", "key-figures", "comparison",
                        "provenance"]  # fmt: skip
    story = "".join(root.find(".//section[@id='summary']").itertext())  # type: ignore[union-attr]
    assert "Lowest access success in the simulated hot cells" in story
    assert "e+0" not in "".join(root.find(".//section[@id='key-figures']").itertext())  # type: ignore[union-attr]
    images = list(root.iter("img"))
    assert len(images) == len(plots.available([read_tables(f) for f in folders]))
    captions = ["".join(c.itertext()) for c in root.iter("figcaption")]
    assert "cell classes of the nb-iot carrier" in " ".join(captions)  # the heat map
    assert all(img.get("src", "").startswith("data:image/png;base64,") for img in images)
    assert "http://" not in text  # nothing is fetched from a network
    assert "https://" not in text
    warnings = "".join(root.find(".//section[@id='warnings']").itertext())  # type: ignore[union-attr]
    assert "access success" in warnings  # the storm's p99 cell fails
    assert "dense_urban/nb-iot" in warnings


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_in_a_real_browser(folders: list[Path], tmp_path: Path) -> None:
    """Headless Chromium loads the report with no console errors and renders a page that
    is not blank.  .ci/run installs Chromium and makes this test required there."""
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("IOTSIM_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (apt-get install chromium)")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    report = _report(folders, tmp_path)
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1600})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            loaded = page.evaluate(
                "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
            )
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=False)
            title = page.title()
        finally:
            browser.close()
    assert errors == []
    assert loaded
    assert "iotsim report" in title
    pixels = matplotlib.image.imread(shot)
    assert pixels.std() > 0.05  # not a blank page


def test_overlaid_access_figures_show_the_same_pool_for_every_folder(
    folders: list[Path],
) -> None:
    """A figure that compares two folders compares the same thing on both sides: the pool
    that fares worst in any folder, drawn for every folder (not each folder's own worst)."""
    runs = [read_tables(folder) for folder in folders]
    own_worst = []
    for one in runs:
        access = one.access.assign(pool=one.access["region"] + "/" + one.access["technology"])
        own_worst.append(access.groupby("pool")["success_probability"].min().idxmin())
    # the pool that fares worst in any folder (with the sourced NB-IoT profile the storm's
    # and the jitter's own worst are both dense_urban/nb-iot; the storm's is the lowest)
    worst = min(
        zip(own_worst, runs, strict=True),
        key=lambda item: item[1].access["success_probability"].min(),
    )[0]
    figure = plots.access_by_year(runs)
    try:
        labels = [line.get_label() for line in figure.axes[0].get_lines()]
        pools = {label.split(" ")[0] for label in labels if not label.startswith("_")}
        assert pools == {worst}, labels  # the worst pool, drawn for both folders
        assert sum("jitter" in label for label in labels) == 3  # p50, p90, p99 of the jitter
        assert worst in figure.axes[0].get_title()
    finally:
        plots.close(figure)


def _read_first(report: Path) -> list[str]:
    root = ElementTree.fromstring(report.read_text().split("\n", 1)[1])
    section = root.find(".//section[@id='warnings']")
    assert section is not None
    return ["".join(item.itertext()) for item in section.iter("li")]


def test_read_first_says_only_what_the_tables_show(tmp_path: Path) -> None:
    """A run without the access layer, targets or full cells: "Read first" says so, names
    the cells that came closest to their threshold as summary.csv has them, and claims
    nothing about access success (it used to say "every cell above 90 % access success" for
    a run in which the access layer did not run)."""
    folder = run(ROOT / "scenarios" / "minimal.yaml").write(tmp_path / "minimal")
    report = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(report)]) == 0
    sentences = _read_first(report)
    peak = read_tables(folder).summary.set_index("metric")["value"]
    assert peak["first_full_date"] == ""  # nothing fills in the minimal scenario
    assert sentences == [
        f"minimal: no cell class filled; IoT comes closest in {peak['peak_headroom_used_cells']} "
        f"(region/class/carrier) in {peak['peak_headroom_used_date']}, using "
        f"{float(peak['peak_headroom_used']) * 100:.2g} % of what it may use of the "
        f"{peak['peak_headroom_used_resource']}; the busiest resource, smartphones included: "
        f"{peak['peak_utilization_cells']} in {peak['peak_utilization_date']}, "
        f"{peak['peak_utilization_resource']} at "
        f"{float(peak['peak_utilization_of_threshold']) * 100:.3g} % of its planning "
        f"threshold ({float(peak['peak_utilization']) * 100:.3g} % of its budget)",
        "minimal: no targets set",
        "minimal: the access layer was not run (no access.years)",
    ]


def _one_cell(terminals: int) -> dict[str, Any]:
    """tiny_scenario's meters on one NB-IoT cell that holds `terminals` of them (a context
    budget of that many, unit loads, one cell class), through 2025-12: the base grows from
    200 k to about 350 k."""
    data = tiny_scenario(end="2025-12")
    data["network"] = {"sectors_per_site": 1, "sites": {"4G": {"initial": 1}},
                       "technologies": {"nb-iot": {"generation": "4G", "share": 1.0}}}  # fmt: skip
    data["categories"]["meter"]["technologies"] = ["nb-iot"]
    data["targets"] = [{"name": "base", "metric": "connected", "date": "2023-12",
                        "at_least": 100_000}]  # fmt: skip
    return with_unit_capacity(data, {"nb-iot": terminals})


def _first_full(connections: pd.DataFrame, terminals: int) -> str:
    """The month a one-cell pool of `terminals` fills, from connections.csv alone: it holds
    them all, or terminals were turned away (blocked or left waiting)."""
    months = connections.groupby("date")[["connected", "blocked", "waiting"]].sum()
    full = months[(months["connected"] >= terminals) | (months["blocked"] > 0)
                  | (months["waiting"] > 0)]  # fmt: skip
    return str(full.index.min())


def test_read_first_names_the_first_full_class(tmp_path: Path) -> None:
    """A cell of 250 k terminals fills when the base reaches 250 k: "Read first" names its
    class, the month (as connections.csv shows it) and the binding resource (contexts, the
    only one loaded), and that all its cells are full at the end.  About 0.2 s."""
    folder = run(_one_cell(250_000)).write(tmp_path / "one-cell")
    report = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(report)]) == 0
    sentences = _read_first(report)
    month = _first_full(read_tables(folder).connections, 250_000)
    assert "2023-01" < month < "2025-12"  # it fills inside the horizon
    assert sentences[:2] == [
        f"tiny: first full cell class: national/p0-100/nb-iot (region/class/carrier) from "
        f"{month}, binding resource contexts",
        "tiny: cells in full classes at 2025-12: nb-iot 100 %",
    ]
    assert f"tiny: national/nb-iot turned terminals away from {month}: they fell back, " in (
        " ".join(sentences)
    )


def test_read_first_names_what_comes_closest_when_nothing_fills(tmp_path: Path) -> None:
    """A cell of 1 M terminals never fills: "Read first" says so and names the cell, the
    month its load peaked and the share of what IoT may use of the binding resource, which
    for unit loads (no smartphones, threshold 1) is the peak number of terminals over the
    budget; that is also the busiest resource, so it is named once.  About 0.2 s."""
    folder = run(_one_cell(1_000_000)).write(tmp_path / "one-cell")
    report = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(report)]) == 0
    sentences = _read_first(report)
    months = read_tables(folder).connections.groupby("date")["connected"].sum()
    months = months[months.index >= "2023-01"]  # the simulated months
    share = f"{months.max() / 1_000_000 * 100:.3g} %"
    assert sentences[0] == (
        "tiny: no cell class filled; IoT comes closest in national/p0-100/nb-iot "
        f"(region/class/carrier) in {months.idxmax()}, using {share} of what it may use of the "
        "contexts"
    )


def test_read_first_counts_replications(tmp_path: Path) -> None:
    """With replications, a finding says in how many of them it held and gives the
    earliest month (each replication's month read from its connections).  About 0.4 s."""
    folder = run(_one_cell(250_000), replications=2).write(tmp_path / "one-cell")
    report = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(report)]) == 0
    sentences = _read_first(report)
    connections = read_tables(folder).connections
    earliest = min(_first_full(rows, 250_000) for _, rows in connections.groupby("replication"))
    assert sentences[:2] == [
        "tiny: first full cell class: national/p0-100/nb-iot (region/class/carrier) in 2 of 2 "
        f"replications, from {earliest} at the earliest, binding resource contexts",
        "tiny: cells in full classes at 2025-12: nb-iot 100 % (mean of 2 replications)",
    ]
    away = [s for s in sentences if "turned terminals away" in s]
    assert away
    assert all("of 2 replications" in s and "at the earliest" in s for s in away)
    assert "tiny: the 1 target met in every replication" in sentences


@pytest.fixture(scope="module")
def filling(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three regions, eight cell classes, an NB-IoT random-access budget cut to 150
    preamble transmissions per cell and busy hour: the hottest dense-urban class fills in
    2026.  About 1 s."""
    data = tiny_scenario(end="2027-12")
    data["name"] = "filling"
    data["regions"] = {"dense_urban": {"terminal_share": 0.25, "site_share": 0.15},
                       "urban": {"terminal_share": 0.45, "site_share": 0.40},
                       "rural": {"terminal_share": 0.30, "site_share": 0.45}}  # fmt: skip
    data["network"] = {"sites": {"4G": {"initial": 3000}, "5G": {"initial": 3000}},
                       "carriers": {"nb-iot": {"budget": {"random_access": 150}}}}  # fmt: skip
    return run(data).write(tmp_path_factory.mktemp("filling") / "filling")


def test_heat_map_holds_what_cells_csv_says(filling: Path, tmp_path: Path) -> None:
    """The heat map's matrix is cells.csv's: one row per class, coldest first, each value
    the binding utilisation over the binding threshold, full where the table says full; the
    figure draws that matrix with the classes bottom to top and hatches the full months;
    `iotsim plot` writes it as cells_nb-iot.png."""
    tables = read_tables(filling)
    cells = tables.cells
    matrix = plots.heat_map(cells, "dense_urban", "nb-iot")
    lower = [float(label[1:].split("-")[0]) for label in matrix.classes]
    assert len(matrix.classes) == 8
    assert lower == sorted(lower)
    assert lower[0] == 0
    rows = cells[(cells["region"] == "dense_urban") & (cells["carrier"] == "nb-iot")]
    assert len(rows) == len(matrix.classes) * len(matrix.dates)
    for row in rows.itertuples(index=False):
        k, t = matrix.classes.index(str(row.cell_class)), matrix.dates.index(str(row.date))
        assert matrix.share[k, t] == pytest.approx(
            float(str(row.binding_utilization)) / float(str(row.binding_threshold)), rel=1e-12
        )
        assert matrix.full[k, t] == row.full
    assert matrix.full[-1].any()
    assert not matrix.full[0].any()

    figure = plots.cell_utilization([tables], "nb-iot")
    try:
        panels = _panels(figure)
        assert [axis.get_title("left") for axis in panels] == ["dense_urban", "urban", "rural"]
        mesh = panels[0].collections[0]
        drawn = np.ma.filled(mesh.get_array(), np.nan).reshape(matrix.share.shape)
        np.testing.assert_array_equal(drawn, matrix.share)
        ticks = [label.get_text() for label in panels[0].get_yticklabels()]
        assert ticks == matrix.classes  # y runs up from the coldest class
        hatched = [patch for patch in panels[0].patches if patch.get_hatch()]
        runs_of_full = sum(int(np.sum(np.diff(np.concatenate([[0], row.astype(int)])) == 1))
                           for row in matrix.full)  # fmt: skip
        assert len(hatched) == runs_of_full > 0
        assert "share of the planning threshold" in figure.axes[-1].get_ylabel()  # colour bar
        peak = tables.summary.set_index("metric")["value"]
        # the peak is the highest share of threshold in cells.csv (several full classes
        # tie at 1: any of them), and its region's panel names it
        cells = tables.cells
        relative = cells["binding_utilization"] / cells["binding_threshold"]
        assert float(peak["peak_utilization_of_threshold"]) == pytest.approx(
            relative.max(), abs=2e-6
        )
        region, label, carrier = str(peak["peak_utilization_cells"]).split("/")
        assert carrier == "nb-iot"
        panel = panels[["dense_urban", "urban", "rural"].index(region)]
        assert panel.get_title("right") == (  # the panel's highest cell is summary.csv's
            f"highest {float(peak['peak_utilization_of_threshold']):.2f}: {label} in "
            f"{peak['peak_utilization_date']}"
        )
    finally:
        plots.close(figure)
    assert main(["plot", str(filling), "--out", str(tmp_path / "f")]) == 0
    assert (tmp_path / "f" / "cells_nb-iot.png").stat().st_size > 10_000


def test_overlaid_heat_maps_show_the_same_cells_side_by_side(folders: list[Path]) -> None:
    """With two folders, each row of the heat map is one region, drawn for both folders
    (from each folder's own cells.csv), on one colour scale."""
    runs = [read_tables(folder) for folder in folders]
    figure = plots.cell_utilization(runs, "nb-iot")
    try:
        panels = _panels(figure)
        assert len(panels) == 3 * 2
        for row in range(3):
            left, right = panels[2 * row], panels[2 * row + 1]
            region = left.get_title("left").split(" — ")[0]
            assert right.get_title("left") == f"{region} — china-meter-storm-jitter"
            for axis, tables in zip((left, right), runs, strict=True):
                matrix = plots.heat_map(tables.cells, region, "nb-iot")
                drawn = np.ma.filled(axis.collections[0].get_array(), np.nan)
                np.testing.assert_array_equal(drawn.reshape(matrix.share.shape), matrix.share)
                assert axis.collections[0].norm.vmax == 1.0  # one scale: 1 = full
    finally:
        plots.close(figure)


def _panel(figure: Figure, carrier: str) -> Any:
    return next(a for a in _panels(figure) if a.get_title("left").startswith(f"{carrier} "))


def test_utilisation_axis_fits_the_data_and_shows_the_threshold_only_in_range(
    folders: list[Path], filling: Path
) -> None:
    """The storm's NB-IoT carrier uses well under half of its binding resource's budget: the
    y axis ends below 50 % and the title names that resource and says its threshold lies
    above the axis; where the hottest class fills, the 100 % line is drawn.  The
    region-wide line is network.csv's."""
    storm = read_tables(folders[0])
    figure = plots.carrier_utilization([storm])
    try:
        axis = _panel(figure, "nb-iot")
        assert axis.get_ylabel() == "utilisation of the binding\nresource (% of budget)"
        network = storm.network
        rows = network[(network["region"] == "dense_urban") & (network["technology"] == "nb-iot")]
        top = axis.get_ylim()[1]
        assert rows["hottest_utilization"].max() * 100 <= top < 50
        binding = rows["binding_resource"].iloc[-1]
        cells = storm.cells
        same = (cells["carrier"] == "nb-iot") & (cells["binding_resource"] == binding)
        threshold = cells.loc[same, "binding_threshold"].iloc[0]
        assert f"binding resource: {binding}" in axis.get_title("left")
        assert (
            f"planning threshold, {float(threshold) * 100:.0f} %, is above the axis"
            in axis.get_title("left")
        )
        assert not axis.collections  # no threshold line (and no band: one replication)
        lines = [line.get_ydata() for line in axis.get_lines()]
        assert any(np.allclose(y, rows["utilization"] * 100) for y in lines)
    finally:
        plots.close(figure)
    figure = plots.carrier_utilization([read_tables(filling)])
    try:
        axis = _panel(figure, "nb-iot")
        [threshold] = axis.collections  # hlines: the 100 % line of random access
        assert threshold.get_segments()[0][0][1] == pytest.approx(100)
        assert axis.get_ylim()[0] <= 100 <= axis.get_ylim()[1]
        assert "above the axis" not in axis.get_title("left")
    finally:
        plots.close(figure)


def test_every_name_in_the_report_is_escaped(tmp_path: Path) -> None:
    """What held and must keep holding: names reach the report as text, never as markup
    (a folder named like HTML stays a name)."""
    hostile = tmp_path / "<script>alert(1)</script>&\"'"
    folder = run(ROOT / "scenarios" / "minimal.yaml").write(hostile)
    report = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(report)]) == 0
    root = ElementTree.fromstring(report.read_text().split("\n", 1)[1])  # well-formed
    assert not [element for element in root.iter() if element.tag == "script"]
    assert str(hostile) in "".join(root.itertext())


def test_read_first_says_when_every_simulated_cell_passes(tmp_path: Path) -> None:
    """With the access layer on and no cell below 90 %, "Read first" says so (it said
    nothing: the rows below 90 % were selected in a way that, when there were none, kept
    them all); cells that saw no attempt are not counted as passing."""
    busy = {
        "name": "calm",
        "end": "2023-12",
        "network": {"sites": {"4G": {"initial": 100}}},
        "categories": {
            "m": {"preset": "water_meter", "initial": 20_000}
        },  # a few per cell: the nb-iot CE0 NPRACH (12 every 320 ms) is not overrun
        "access": {"years": [2023], "technologies": ["nb-iot"], "window_s": 10, "spread_cv": 0},
    }
    idle = {**busy, "name": "idle", "categories": {"m": {"preset": "water_meter", "initial": 5}}}
    folders = [run(data).write(tmp_path / str(data["name"])) for data in (busy, idle)]
    report = tmp_path / "report.html"
    assert main(["report", *map(str, folders), "--out", str(report)]) == 0
    sentences = _read_first(report)
    assert "calm: all 3 simulated cells with attempts at or above 90 % access success" in (
        sentences
    )
    assert "idle: 3 simulated cells saw no attempt (nothing to measure)" in sentences
    assert not any(s.startswith("idle: all") for s in sentences)


def test_overlaid_access_figures_show_one_pool_for_every_folder(folders: list[Path]) -> None:
    """Two scenarios' access figures compare the same cells: every line of both panels is
    of the one pool that fares worst in either folder."""
    runs = [read_tables(f) for f in folders]
    pool = plots.worst_access_pool(runs)
    assert pool is not None
    figure = plots.access_by_year(runs)
    try:
        names = [line.get_label() for axis in figure.axes for line in axis.get_lines()
                 if not line.get_label().startswith("_")]  # fmt: skip
        assert names
        assert all(name.startswith(pool + " ") for name in names), names
        for label in plots.labels(runs):
            assert any(name.endswith(label) for name in names), label  # both folders drawn
    finally:
        plots.close(figure)


def test_legends_name_swept_values(folders: list[Path]) -> None:
    """Sweep variants are named by their swept values, each field by the shortest end of
    its path that tells the fields apart, not by their folders (v0000)."""
    import dataclasses

    runs = []
    for rate in (0.3, 0.45):
        tables = read_tables(folders[0])
        manifest = {**tables.manifest, "sweep_values": {
            "categories.water_meter.growth.rate": rate, "categories.gas_meter.growth.rate": 0.2,
            "network.carriers.nb-iot.count": 2,
        }}  # fmt: skip
        runs.append(dataclasses.replace(tables, manifest=manifest))
    assert plots.labels(runs) == [
        "water_meter.growth.rate=0.3, gas_meter.growth.rate=0.2, count=2",
        "water_meter.growth.rate=0.45, gas_meter.growth.rate=0.2, count=2",
    ]
    figure = plots.blocked_and_waiting(runs)
    try:
        names = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
        assert names == plots.labels(runs)
    finally:
        plots.close(figure)


def test_bands_are_never_below_zero() -> None:
    """A count near zero with a wide spread over replications: the 95 % band stops at 0."""
    table = pd.DataFrame({"date": ["2024-01"] * 3, "replication": [0, 1, 2],
                          "blocked": [0.0, 0.0, 30.0]})  # fmt: skip
    band = plots._band(table, ["date"], "blocked")
    assert band["mean"].iloc[0] == 10.0
    assert band["low"].iloc[0] == 0.0  # mean - t s / sqrt(3) would be about -33
    assert band["high"].iloc[0] > 30.0
