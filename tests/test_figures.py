"""Figures and the HTML report: rendered for a bundled scenario and a comparison, checked
for content, well-formedness, and in a real browser (headless Chromium)."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib", reason="figures need the plot extra")

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


def test_every_figure_of_one_scenario(folders: list[Path], tmp_path: Path) -> None:
    runs = [read_tables(folders[0])]
    assert plots.available(runs) == list(plots.FIGURES)  # targets and access present
    for name in plots.available(runs):
        figure = plots.FIGURES[name](runs)
        try:
            for axis in figure.axes:
                assert axis.get_xlabel(), name
                assert axis.get_ylabel(), name
            assert "china-meter-storm" in figure.axes[0].get_title(), name
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
    sections = {s.get("id") for s in root.iter("section")}
    assert sections == {"warnings", "provenance", "key-figures", "comparison", "figures"}
    images = list(root.iter("img"))
    assert len(images) == len(plots.FIGURES)
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
    assert own_worst[0] != own_worst[1]  # the two folders' own worst pools differ
    figure = plots.access_by_year(runs)
    try:
        labels = [line.get_label() for line in figure.axes[0].get_lines()]
        pools = {label.split(" ")[0] for label in labels if not label.startswith("_")}
        assert pools == {own_worst[0]}, labels  # the storm's failing pool, for both folders
        assert sum("jitter" in label for label in labels) == 3  # p50, p90, p99 of the jitter
        assert own_worst[0] in figure.axes[0].get_title()
    finally:
        plots.close(figure)


def _read_first(report: Path) -> list[str]:
    root = ElementTree.fromstring(report.read_text().split("\n", 1)[1])
    section = root.find(".//section[@id='warnings']")
    assert section is not None
    return ["".join(item.itertext()) for item in section.iter("li")]


def test_read_first_says_only_what_the_tables_show(tmp_path: Path) -> None:
    """A run without the access layer, targets or full pools: "Read first" says so, and
    claims nothing about access success (it used to say "every cell above 90 % access
    success" for a run in which the access layer did not run)."""
    folder = run(ROOT / "scenarios" / "minimal.yaml").write(tmp_path / "minimal")
    report = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(report)]) == 0
    sentences = _read_first(report)
    assert sentences == [
        "minimal: no pool turned terminals away",
        "minimal: no targets set",
        "minimal: the access layer was not run (no access.years)",
    ]


def test_read_first_counts_replications(tmp_path: Path) -> None:
    """With replications, a finding says in how many of them it held."""
    result = run(ROOT / "scenarios" / "china_capacity_crunch.yaml", replications=2)
    folder = result.write(tmp_path / "crunch")
    report = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(report)]) == 0
    sentences = _read_first(report)
    full = [s for s in sentences if "is full" in s]
    assert full, sentences
    assert all("of 2 replications" in s and "at the earliest" in s for s in full)
    assert "china-capacity-crunch: all 2 targets met in every replication" in sentences


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
        "categories": {"m": {"preset": "water_meter", "initial": 1_000_000}},
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
