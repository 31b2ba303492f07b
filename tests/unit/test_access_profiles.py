"""The sourced random-access profiles (`sim.access.profiles`) and `iotsim access --technology`.

Until the engine simulates coverage levels and the new timings, these tests check the
profiles' structure, the figures they are built from and `Level.minimum_delay_ms`, and that
the command runs with every profile (exit code and columns, not the engine's figures).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from sim.access.procedure import Procedure
from sim.access.profiles import (
    ALIASES,
    FIGURES,
    NR_PRACH,
    NR_PRACH_FILE,
    PROFILES_FILE,
    TECHNOLOGIES,
    Figure,
    ProfileDataError,
    build_profiles,
    figures,
    profile,
    read_figures,
    read_prach_configurations,
    with_level,
)
from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
TEXT = resources.files("sim.access").joinpath(PROFILES_FILE).read_text(encoding="utf-8")
PRACH_TEXT = resources.files("sim.access").joinpath(NR_PRACH_FILE).read_text(encoding="utf-8")


def test_lte_is_the_tr37868_setup_exactly() -> None:
    assert profile("lte") == Procedure()
    assert profile("lte-cat1") is profile("lte")  # Cat.1 shares the LTE carrier's PRACH
    assert profile("nr-redcap") is profile("nr")


@pytest.mark.parametrize("text", [TEXT, PRACH_TEXT], ids=["profiles", "nr_prach"])
def test_every_row_has_a_source_and_every_figure_a_unit(text: str) -> None:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    for row in rows:
        assert row["source"].strip(), row
        if "unit" in row:
            assert row["unit"].strip(), row
        # an assumption says so in its source text, with its reason after it
        if "assumption" in row["source"].lower():
            assert len(row["source"]) > len("assumption") + 20, row


def test_every_technology_has_a_profile_and_an_unknown_one_is_refused() -> None:
    for technology in (*TECHNOLOGIES, *ALIASES):
        assert isinstance(profile(technology), Procedure)
    with pytest.raises(ValueError, match="unknown technology 'wifi'"):
        profile("wifi")


# Minimum delay (first preamble to the end of Msg4 when everything succeeds at once) =
# preamble + window start + RAR + Msg3 delay + Msg3 + Msg4 processing + Msg4, hand-computed
# from the figures of profiles.csv (sources there):
MINIMUM_DELAYS_MS = {
    # TR 37.868: 1 + 2 + 1 + 5 + 1 + 4 + 1
    ("lte", 0): 15.0,
    # LTE as TR 37.868, RAR and Msg4 = MPDCCH 1 + 1 subframe gap + PDSCH 1 = 3:
    # 1 + 2 + 3 + 5 + 1 + 4 + 3
    ("lte-m", 0): 19.0,
    # NB-IoT CE0: preamble 1 x 4 x 1.6 = 6.4; window after 4 subframes; RAR = NPDCCH 2
    # + 4 + NPDSCH 2 x 2 = 10; Msg3 12 subframes later, 4 RU x 8 ms x 1 = 32; eNB 4;
    # Msg4 = 2 + 4 + 4 x 2 = 14
    ("nb-iot", 0): 6.4 + 4 + 10 + 12 + 32 + 4 + 14,
    # CE1: 8 x 6.4 = 51.2; RAR 32 + 4 + 2 x 32 = 100; Msg3 4 x 8 x 8 = 256; Msg4 32 + 4 + 4 x 32
    ("nb-iot", 1): 51.2 + 4 + 100 + 12 + 256 + 4 + 164,
    # CE2: 32 x 6.4 = 204.8; RAR 256 + 4 + 2 x 256 = 772; Msg3 4 x 8 x 32; Msg4 256 + 4 + 4 x 256
    ("nb-iot", 2): 204.8 + 4 + 772 + 12 + 1024 + 4 + 1284,
    # EDT: Msg3 of 1000 bits in 8 RU: 8 x 8 x 1 = 64 at CE0, 8 x 8 x 32 = 2048 at CE2
    ("nb-iot-edt", 0): 6.4 + 4 + 10 + 12 + 64 + 4 + 14,
    ("nb-iot-edt", 2): 204.8 + 4 + 772 + 12 + 2048 + 4 + 1284,
    # NR, 30 kHz (slot 0.5 ms, 14 symbols): format B4 12 symbols = 12/14 x 0.5; window
    # after 1 ms; RAR 1 slot; Msg3 K2 1 + Delta 3 slots after the RAR's slot, 1.5 ms after
    # its end, whole ms 2; Msg3 1 slot; gNB 2 ms; Msg4 1 slot
    ("nr", 0): 12 / 14 * 0.5 + 1 + 0.5 + 2 + 0.5 + 2 + 0.5,
    # 2-step: MsgA = PRACH slot + PUSCH 1 slot later, 1 slot: 2 x 0.5; window after 1 ms;
    # MsgB 1 slot; no Msg3, no Msg4
    ("nr-2step", 0): 1.0 + 1 + 0.5,
}


@pytest.mark.parametrize(("technology", "level"), list(MINIMUM_DELAYS_MS))
def test_each_levels_minimum_delay_is_what_its_figures_give(technology: str, level: int) -> None:
    got = profile(technology).levels[level].minimum_delay_ms
    assert got == pytest.approx(MINIMUM_DELAYS_MS[(technology, level)], abs=1e-9)


def test_nb_iot_has_three_coverage_levels_as_configured() -> None:
    """The NPRACH of each CE level and its windows in NPDCCH periods (Rmax x G)."""
    nb = profile("nb-iot")
    levels = nb.levels
    assert len(levels) == 3
    assert [level.rao_period_ms for level in levels] == [320, 640, 2560]
    assert all(level.rao_offset_ms == 256 for level in levels)
    assert all(level.preambles == 12 for level in levels)  # one preamble per subcarrier
    # pp10 x (8 x 2), pp8 x (64 x 1.5), pp8 x (512 x 4)
    assert [level.rar_window_ms for level in levels] == [160, 768, 16384]
    # pp32 x the same periods
    assert [level.contention_resolution_timer_ms for level in levels] == [512, 3072, 65536]
    assert [level.max_attempts for level in levels] == [3, 3, None]  # the last keeps them
    # (680 - 8) // (8 + 48) = 12 RARs in one MAC PDU, all at the window's start
    assert all(level.effective_grants_per_rao == 12 for level in levels)
    assert all(level.grants_per_subframe == 12 for level in levels)
    # preambleTransMax-CE over all levels; a backoff of TS 36.321 Table 7.2-2
    assert nb.max_preamble_transmissions == 10
    assert nb.backoff_indicator_ms in {0, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768,
                                       65536, 131072, 262144, 524288}  # fmt: skip
    # every window ends before the next opportunity of the level's ... or after: a
    # terminal that got no grant waits to the window's end, then backs off
    for level in levels:
        assert level.effective_no_grant_wait_ms == (
            level.preamble_ms + level.preamble_processing_ms + level.rar_window_ms
        )
        # Msg4 comes before the contention-resolution timer expires
        assert level.connection_request_processing_ms + level.msg4_ms < (
            level.contention_resolution_timer_ms
        )


def test_edt_changes_only_the_npraches_and_msg3() -> None:
    plain, edt = profile("nb-iot").levels, profile("nb-iot-edt").levels
    for a, b in zip(plain, edt, strict=True):
        assert b.msg3_ms == 2 * a.msg3_ms  # 8 resource units instead of 4
        assert b.rao_period_ms == a.rao_period_ms
        same = {"rao_offset_ms", "msg3_ms", "rtt_msg3_ms"}
        for field in dataclasses.fields(a):
            if field.name not in same:
                assert getattr(a, field.name) == getattr(b, field.name), field.name
    assert [level.rao_offset_ms for level in edt] == [128, 512, 1024]


def test_nr_takes_its_opportunities_from_the_prach_table_row() -> None:
    """Row 159 of TS 38.211 Table 6.3.3.2-3: B4, n_f mod 1 = 0, subframe 9, one PRACH slot
    per subframe (at 30 kHz the second), one occasion of 12 symbols."""
    row = NR_PRACH[(True, 159)]
    assert (row.format, row.x, row.y, row.subframes) == ("B4", 1, 0, (9,))
    nr = profile("nr")
    assert nr.rao_period_ms == 10.0
    assert nr.rao_offset_ms == 9.5
    assert nr.preambles == 64 - 10
    assert nr.occasions == 1  # msg1-FDM one
    assert nr.rar_window_ms == 10  # sl20 at 0.5 ms
    assert nr.contention_resolution_timer_ms == 64
    two = profile("nr-2step")
    assert (two.msg3_ms, two.msg4_ms, two.rar_processing_ms) == (0, 0, 0)
    assert two.rao_period_ms == nr.rao_period_ms
    assert two.minimum_delay_ms < nr.levels[0].minimum_delay_ms


def test_occasions_are_msg1_fdm_times_the_occasions_of_a_prach_slot() -> None:
    """Row 98 (A2: 3 occasions in a slot, every second frame) with msg1-FDM 4."""
    changed = dict(FIGURES)
    nr = dict(changed["nr"])
    nr[("0", "prach_configuration_index")] = Figure(98, "-", "test")
    nr[("0", "msg1_fdm")] = Figure(2, "-", "test")
    changed["nr"] = nr
    built = build_profiles(changed)["nr"]
    # x = 2, y = 1, subframe 9, second slot: an RAO every 20 ms at 10 + 9 + 0.5
    assert (built.rao_period_ms, built.rao_offset_ms, built.occasions) == (20.0, 19.5, 6)
    assert built.preamble_ms == pytest.approx(4 / 14 * 0.5)


def _perturbed(figure: Figure) -> Figure:
    value = figure.value
    return dataclasses.replace(figure, value=value + 2 if value in (0, 1) else value * 2)


UNUSED_HERE = {("nb-iot", "all", "rar_window_start_subframes_64")}
"""Figures these profiles do not reach: NB-IoT's window start from 64 repetitions."""


def test_every_figure_of_the_file_shapes_its_profile() -> None:
    """No figure is dead: changing any one changes a profile (or makes it invalid)."""
    base = build_profiles(FIGURES)
    for technology, own in FIGURES.items():
        for (level, field), figure in own.items():
            changed = {**FIGURES, technology: {**own, (level, field): _perturbed(figure)}}
            try:
                built = build_profiles(changed)
            except ProfileDataError:
                continue  # out of range: it was used
            differs = any(built[name] != base[name] for name in base)
            assert differs != ((technology, level, field) in UNUSED_HERE), (technology, field)


def test_the_figures_behind_a_profile_include_its_base() -> None:
    behind = figures("lte-m")
    assert ("0", "rar_window_ms") in behind  # from lte
    assert behind[("0", "ra_response_window_size_sf")].value == 20
    with pytest.raises(ValueError, match="unknown technology"):
        figures("wifi")


def _edited(old: str, new: str) -> str:
    assert old in TEXT
    return TEXT.replace(old, new, 1)


def _line(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if line.startswith(start))


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("nb-iot,0,nprach_periodicity_ms,", "nb-iot,0,nprach_periodicty_ms,",
         "'nprach_periodicty_ms' is not a per-level figure of nb-iot"),
        ("lte,0,preambles,54,", "lte,0,preambles,5x4,", "preambles value '5x4' is not a number"),
        ("nr,all,backoff_indicator_ms,20,ms,", "nr,all,backoff_indicator_ms,20,,",
         "needs a unit and a source"),
        ("nb-iot,1,msg3_repetitions,", "nb-iot,one,msg3_repetitions,",
         "level 'one' must be all or 0, 1, 2"),
        ("lte-m,0,pdsch_gap_subframes,", "lte-n,0,pdsch_gap_subframes,",
         "unknown technology 'lte-n'"),
        ("nr,0,msg1_fdm,", "nr,all,msg1_fdm,", "'msg1_fdm' is not a procedure-wide figure of nr"),
        ("lte,all,acb_factor,1,", "lte,all,acb_factor,inf,", "is not a number"),
    ],
)  # fmt: skip
def test_a_typo_in_the_file_is_a_clear_error(old: str, new: str, says: str) -> None:
    text = _edited(old, new)
    with pytest.raises(ProfileDataError) as raised:
        read_figures(text)
    message = str(raised.value)
    assert says in message
    assert message.startswith(f"{PROFILES_FILE} line {_line(text, new)}:")


def test_a_missing_duplicated_or_extra_figure_is_a_clear_error() -> None:
    lines = TEXT.splitlines(keepends=True)
    dropped = "".join(line for line in lines if not line.startswith("nb-iot,2,npdcch_repetitions,"))
    with pytest.raises(ProfileDataError, match="nb-iot: missing level 2 npdcch_repetitions"):
        read_figures(dropped)
    twice = TEXT + next(line for line in lines if line.startswith("nr,0,msg4_slots,"))
    with pytest.raises(ProfileDataError, match="nr level 0 msg4_slots is given twice"):
        read_figures(twice)
    # a last level with maxNumPreambleAttemptCE: there is no level to move up to
    extra = TEXT + 'nb-iot,2,max_num_preamble_attempt_ce,3,transmissions,"test"\n'
    with pytest.raises(ProfileDataError, match="not used: level 2 max_num_preamble_attempt_ce"):
        read_figures(extra)
    with pytest.raises(ProfileDataError, match="first line must be technology,level"):
        read_figures(TEXT.replace("technology,level", "tech,level", 1))
    with pytest.raises(ProfileDataError, match="line 2: 5 columns, expected 6"):
        read_figures(TEXT.split("\n", 1)[0] + "\nlte,0,preambles,54,x\n")


def test_an_out_of_range_figure_names_the_technology() -> None:
    changed = {**FIGURES, "nb-iot": {**FIGURES["nb-iot"]}}
    changed["nb-iot"][("0", "nprach_start_time_ms")] = Figure(512, "ms", "test")
    with pytest.raises(ProfileDataError, match=r"nb-iot: .*rao_offset_ms=512.0 \(must be less"):
        build_profiles(changed)


def test_a_malformed_prach_row_is_a_clear_error() -> None:
    with pytest.raises(ProfileDataError, match=r"line 2: .*paired or unpaired"):
        read_prach_configurations(PRACH_TEXT.replace("unpaired,98", "tdd,98", 1))
    row = "unpaired,159,B4,1,0,9,0,1,1,12"
    with pytest.raises(ProfileDataError, match="line 3: invalid literal"):
        read_prach_configurations(PRACH_TEXT.replace(row, row.replace(",0,1,1,", ",0,one,1,"), 1))
    changed = {**FIGURES, "nr": {**FIGURES["nr"]}}
    changed["nr"][("0", "prach_configuration_index")] = Figure(100, "-", "test")
    with pytest.raises(ProfileDataError, match=re.escape("index 100 of TS 38.211 Table 6.3.3.2-3")):
        build_profiles(changed)


def test_a_typo_in_the_shipped_file_stops_the_import(tmp_path: Path) -> None:
    """The files are read when the module is imported: a broken copy of the package
    fails there with the file, line and problem."""
    package = tmp_path / "sim"
    shutil.copytree(ROOT / "sim", package, ignore=shutil.ignore_patterns("__pycache__"))
    data = package / "access" / "data" / "profiles.csv"
    data.write_text(data.read_text().replace("lte,0,rar_ms,", "lte,0,rar-ms,", 1))
    run = subprocess.run(
        [sys.executable, "-c", "import sim.access.profiles"],
        cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": ""},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode != 0
    assert re.search(r"ProfileDataError: data/profiles.csv line \d+: 'rar-ms' is not a "
                     r"per-level figure of lte", run.stderr), run.stderr  # fmt: skip


def test_a_level_can_be_changed_and_a_bad_change_is_refused() -> None:
    nb = profile("nb-iot")
    changed = with_level(nb, 2, rao_period_ms=640.0)
    assert changed.levels[2].rao_period_ms == 640
    assert changed.levels[:2] == nb.levels[:2]
    with pytest.raises(ValueError, match="level 3 does not exist"):
        with_level(nb, 3, rao_period_ms=640.0)
    with pytest.raises(ValueError, match="unknown level field colour"):
        with_level(nb, 1, colour=1)
    with pytest.raises(ValueError, match=r"rao_offset_ms=256\.0 \(must be less than"):
        with_level(nb, 1, rao_period_ms=100.0)


# --- iotsim access --technology --------------------------------------------------------


@pytest.mark.parametrize("technology", [*TECHNOLOGIES, *ALIASES])
def test_every_technology_runs_and_writes_the_same_columns(
    technology: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.csv"
    options = ["--technology", technology, "--replications", "1", "--devices", "200"]
    assert main(["access", *options, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["metric", "mean", "ci_low", "ci_high", "replications"]
    first = capsys.readouterr().out.splitlines()[0]
    levels = len(profile(technology).levels)
    if technology == "lte":  # as the command always printed it
        assert first == "200 terminals, beta over 10 s, 1 replications, seed 1"
    else:
        assert first.endswith(f", {technology} ({levels} coverage level{'s' * (levels > 1)})")


def test_technology_lte_is_todays_command_bit_for_bit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["access", "--devices", "500", "--replications", "2"]
    plain, lte = tmp_path / "plain.csv", tmp_path / "lte.csv"
    assert main([*base, "--out", str(plain)]) == 0
    printed = capsys.readouterr().out
    assert main([*base, "--technology", "lte", "--out", str(lte)]) == 0
    assert capsys.readouterr().out == printed
    assert plain.read_bytes() == lte.read_bytes()


def test_the_procedure_options_change_the_first_level_of_a_profile(tmp_path: Path) -> None:
    """Fewer NB-IoT subcarriers make the same load worse (the first level's figure)."""
    runs = {}
    for preambles in ("12", "2"):
        out = tmp_path / f"{preambles}.csv"
        assert main(["access", "--technology", "nb-iot", "--devices", "300", "--replications",
                     "2", "--preambles", preambles, "--out", str(out)]) == 0  # fmt: skip
        table = pd.read_csv(out).set_index("metric")
        runs[preambles] = float(table.loc["collision_probability_per_transmission", "mean"])
    assert runs["2"] > runs["12"]


def test_help_lists_the_technologies(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["access", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--technology {" + ",".join((*TECHNOLOGIES, *ALIASES)) + "}" in text
    assert "--level L.FIELD=VALUE" in text
    assert "2.rao_period_ms=640" in text


# bad --technology and --level values: in test_access_cli.py's BAD_OPTIONS (exit 2, one
# line, nothing run or written)


def test_levels_accept_hyphens_and_several_changes_of_one_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Period and offset of a level change together (each alone would be refused)."""
    out = tmp_path / "m.csv"
    options = ["--technology", "nb-iot", "--level", "2.rao-period-ms=160", "--level",
               "2.rao_offset_ms=8", "--devices", "100", "--replications", "1"]  # fmt: skip
    assert main(["access", *options, "--out", str(out)]) == 0
    assert out.exists()


def test_the_readme_profile_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's profile examples (the block after the table of profiles) run."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("Sourced profiles") :]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    monkeypatch.chdir(tmp_path)
    commands = [line.split("#")[0].split() for line in block.group(1).splitlines()]
    commands = [words[1:] for words in commands if words]
    assert len(commands) >= 3
    for words in commands:
        assert main(words) == 0, " ".join(words)
    # the table shows each profile's figures as built
    for technology in TECHNOLOGIES:
        row = next(line for line in section.splitlines() if line.startswith(f"| {technology} "))
        periods = "/".join(f"{level.rao_period_ms:g}" for level in profile(technology).levels)
        assert periods in row, (technology, row)
        delays = "/".join(f"{round(level.minimum_delay_ms, 1):g}"
                          for level in profile(technology).levels)  # fmt: skip
        assert delays in row, (technology, row)
