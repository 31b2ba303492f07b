"""Sourced random-access profiles of the technologies: `profile("nb-iot")` is the
`Procedure` of an NB-IoT cell with its three coverage-enhancement levels.

Every figure lives in `data/profiles.csv` (technology, level, field, value, unit, source;
level `all` for the procedure-wide figures); NR's PRACH configurations in
`data/nr_prach_configurations.csv` (rows of TS 38.211 Tables 6.3.3.2-2/-3).  The files are
read and every profile is built when this module is imported, so a typo in them is one
`ProfileDataError` naming the file, the line and what is wrong.  This module holds only how
the 3GPP parameters make the `Level` fields (the functions below, one per technology).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from sim.access.procedure import LEVEL_FIELDS, PARAMETERS, Level, Procedure

TECHNOLOGIES = ("lte", "lte-m", "nb-iot", "nb-iot-edt", "nr", "nr-2step")
"""Technologies with a profile of their own."""

ALIASES = {"lte-cat1": "lte", "nr-redcap": "nr"}
"""Catalog technologies that use another's random-access channel (the same carrier)."""

ALL = "all"
"""The `level` of a procedure-wide figure."""

PROFILES_FILE = "data/profiles.csv"
NR_PRACH_FILE = "data/nr_prach_configurations.csv"


class ProfileDataError(ValueError):
    """A figure file is malformed: the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Figure:
    """One sourced figure."""

    value: float
    unit: str
    source: str


Figures = Mapping[tuple[str, str], Figure]
"""(level, field) -> figure; level is "0", "1", ... or `ALL`."""


@dataclass(frozen=True)
class _Schema:
    """The figures a technology's rows hold: per level, on every level but the last, and
    procedure-wide.  `base`: a technology whose figures these are added to (they may
    replace its figures: nb-iot-edt's NPRACH resources replace nb-iot's)."""

    per_level: frozenset[str]
    but_last: frozenset[str] = frozenset()
    overall: frozenset[str] = frozenset()
    base: str | None = None


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LTE_LEVEL = _names("""preambles rao_period_ms rao_offset_ms grants_per_subframe rar_window_ms
    preamble_processing_ms rar_processing_ms connection_request_processing_ms
    contention_resolution_timer_ms rtt_msg3_ms rtt_msg4_ms preamble_ms rar_ms msg3_ms msg4_ms
    occasions""")
_SHARED = _names("max_msg3_msg4_transmissions harq_retransmission_probability acb_factor "
                 "acb_time_s")  # fmt: skip
"""Procedure-wide figures every technology takes from the LTE rows (TR 37.868)."""

_SCHEMAS: dict[str, _Schema] = {
    "lte": _Schema(
        _LTE_LEVEL, overall=_SHARED | _names("max_preamble_transmissions backoff_indicator_ms")
    ),
    "lte-m": _Schema(
        _names("""ra_response_window_size_sf mac_contention_resolution_timer_sf
        num_repetition_per_preamble_attempt mpdcch_num_repetition_ra pdsch_gap_subframes
        pdsch_repetitions"""),
        base="lte",
    ),
    "nb-iot": _Schema(
        _names("""nprach_periodicity_ms nprach_start_time_ms nprach_num_subcarriers
            num_repetitions_per_preamble_attempt npdcch_num_repetitions_ra
            npdcch_start_sf_css_ra ra_response_window_size_pp mac_contention_resolution_timer_pp
            npdcch_repetitions npdsch_repetitions msg3_repetitions ack_nack_repetitions_msg4"""),
        but_last=_names("max_num_preamble_attempt_ce"),
        overall=_names("""preamble_symbol_groups symbol_group_ms rar_window_start_subframes
            rar_window_start_subframes_64 npdsch_delay_subframes npdsch_subframes_rar
            npdsch_subframes_msg4 msg3_delay_subframes msg3_resource_units npusch_ru_ms
            connection_request_processing_ms npusch_to_npdcch_gap_subframes
            npusch_dci_delay_subframes harq_ack_delay_subframes npusch_format2_ru_ms
            rar_pdu_bits rar_bi_subheader_bits rar_subheader_bits rar_bits
            max_preamble_transmissions backoff_indicator_ms"""),
    ),
    "nb-iot-edt": _Schema(
        _names("nprach_periodicity_ms nprach_start_time_ms"),
        overall=_names("msg3_resource_units"),
        base="nb-iot",
    ),
    "nr": _Schema(
        _names("""prach_configuration_index prach_unpaired msg1_fdm total_preambles
            contention_free_preambles slots_per_subframe symbols_per_slot rar_window_start_ms
            ra_response_window_slots grants_per_slot rar_slots msg3_k2_slots msg3_delta_slots
            msg3_slots msg4_processing_ms msg4_slots ra_contention_resolution_timer_ms
            tdd_period_ms"""),
        overall=_names("max_preamble_transmissions backoff_indicator_ms"),
    ),
    "nr-2step": _Schema(
        _names("msga_pusch_offset_slots msga_pusch_slots msgb_response_window_slots msgb_slots"),
        base="nr",
    ),
}


def _read_text(name: str) -> str:
    return resources.files("sim.access").joinpath(name).read_text(encoding="utf-8")


def read_figures(text: str, name: str = PROFILES_FILE) -> dict[str, dict[tuple[str, str], Figure]]:
    """The figures of a profiles CSV, per technology, checked: the header, a known
    technology and field, a level that is `all` or a whole number, a finite number, a unit,
    a source, no figure twice, levels 0, 1, ... each complete.  ProfileDataError otherwise."""
    rows = list(csv.reader(io.StringIO(text)))
    header = ["technology", "level", "field", "value", "unit", "source"]
    if not rows or rows[0] != header:
        raise ProfileDataError(f"{name}: the first line must be {','.join(header)}")
    figures: dict[str, dict[tuple[str, str], Figure]] = {}
    for number, row in enumerate(rows[1:], start=2):
        where = f"{name} line {number}"
        if not row:
            continue
        if len(row) != len(header):
            raise ProfileDataError(f"{where}: {len(row)} columns, expected {len(header)}")
        technology, level, field, value, unit, source = (cell.strip() for cell in row)
        schema = _SCHEMAS.get(technology)
        if schema is None:
            raise ProfileDataError(f"{where}: unknown technology {technology!r} (one of "
                                   f"{', '.join(_SCHEMAS)})")  # fmt: skip
        if level != ALL and not (level.isascii() and level.isdigit()):
            raise ProfileDataError(f"{where}: level {level!r} must be {ALL} or 0, 1, 2, ...")
        known = schema.overall if level == ALL else schema.per_level | schema.but_last
        if field not in known:
            kind = "procedure-wide" if level == ALL else "per-level"
            raise ProfileDataError(f"{where}: {field!r} is not a {kind} figure of "
                                   f"{technology} (one of {', '.join(sorted(known))})")  # fmt: skip
        try:
            number_value = float(value)
        except ValueError:
            number_value = math.nan
        if not math.isfinite(number_value):
            raise ProfileDataError(f"{where}: {field} value {value!r} is not a number")
        if not unit or not source:
            raise ProfileDataError(f"{where}: {field} needs a unit and a source (a citation, "
                                   "or 'assumption' and why)")  # fmt: skip
        if (level, field) in figures.setdefault(technology, {}):
            raise ProfileDataError(f"{where}: {technology} level {level} {field} is given twice")
        figures[technology][(level, field)] = Figure(number_value, unit, source)
    for technology, schema in _SCHEMAS.items():
        _check_complete(figures.get(technology, {}), technology, schema, name)
    return figures


def _check_complete(given: Figures, technology: str, schema: _Schema, name: str) -> None:
    levels = sorted({int(level) for level, _ in given if level != ALL})
    if levels != list(range(len(levels))) or not levels:
        raise ProfileDataError(f"{name}: {technology} needs levels 0, 1, ... without gaps "
                               f"(found {levels or 'none'})")  # fmt: skip
    wanted = {(ALL, field) for field in schema.overall}
    for level in levels:
        fields = schema.per_level | (schema.but_last if level < levels[-1] else frozenset())
        wanted |= {(str(level), field) for field in fields}
    missing, extra = sorted(wanted - set(given)), sorted(set(given) - wanted)
    problems = [f"{what} {', '.join(f'level {lv} {f}' for lv, f in keys)}"
                for what, keys in (("missing", missing), ("not used:", extra)) if keys]  # fmt: skip
    if problems:
        raise ProfileDataError(f"{name}: {technology}: {'; '.join(problems)}")


@dataclass(frozen=True)
class PrachConfiguration:
    """One row of TS 38.211 Table 6.3.3.2-2 (paired) or -3 (unpaired): the RACH
    occasions occur in frames with n_f mod x = y, in the listed subframes."""

    format: str
    x: int
    y: int
    subframes: tuple[int, ...]
    starting_symbol: int
    prach_slots_per_subframe: int
    occasions_per_slot: int
    duration_symbols: int
    source: str


def read_prach_configurations(
    text: str, name: str = NR_PRACH_FILE
) -> dict[tuple[bool, int], PrachConfiguration]:
    """(unpaired, index) -> configuration; only the short preamble formats (A, B, C: the
    ones with slots and occasions).  ProfileDataError for a malformed row."""
    rows = list(csv.DictReader(io.StringIO(text)))
    table: dict[tuple[bool, int], PrachConfiguration] = {}
    for number, row in enumerate(rows, start=2):
        where = f"{name} line {number}"
        try:
            kind = row["table"].strip()
            if kind not in ("paired", "unpaired"):
                raise ValueError(f"table {kind!r} must be paired or unpaired")
            configuration = PrachConfiguration(
                format=row["format"].strip(), x=int(row["x"]), y=int(row["y"]),
                subframes=tuple(int(s) for s in row["subframes"].split(",")),
                starting_symbol=int(row["starting_symbol"]),
                prach_slots_per_subframe=int(row["prach_slots_per_subframe"]),
                occasions_per_slot=int(row["occasions_per_slot"]),
                duration_symbols=int(row["duration_symbols"]), source=row["source"].strip(),
            )  # fmt: skip
            if not configuration.source:
                raise ValueError("a source is needed")
            key = (kind == "unpaired", int(row["index"]))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ProfileDataError(f"{where}: {error}") from None
        if key in table:
            raise ProfileDataError(f"{where}: {kind} index {key[1]} is given twice")
        table[key] = configuration
    return table


def _whole(value: float, what: str) -> int:
    """A figure that must be a whole number."""
    if not float(value).is_integer():
        raise ValueError(f"{what} = {value:g} must be a whole number")
    return int(value)


def _flag(value: float, what: str) -> bool:
    """A figure that is 0 or 1."""
    if value not in (0, 1):
        raise ValueError(f"{what} = {value:g} must be 0 or 1")
    return value == 1


def _typed(name: str, value: float) -> int | float:
    """A Procedure/Level field's value in its declared kind."""
    parameter = PARAMETERS["max_attempts_per_level" if name == "max_attempts" else name]
    return _whole(value, name) if parameter.kind is int else float(value)


class _Values:
    """The figures of one technology: `one("symbol_group_ms")`, `at(level, "...")`."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures
        self.levels = 1 + max(int(level) for level, _ in figures if level != ALL)

    def one(self, field: str) -> float:
        return self.figures[(ALL, field)].value

    def at(self, level: int, field: str) -> float:
        return self.figures[(str(level), field)].value


def _procedure(
    levels: Sequence[Mapping[str, float | None]], overall: Mapping[str, float]
) -> Procedure:
    """The Procedure of `levels` (Level fields by name, the first level first) and the
    procedure-wide fields."""

    def typed(level: Mapping[str, float | None]) -> dict[str, Any]:
        return {name: None if value is None else _typed(name, value)
                for name, value in level.items()}  # fmt: skip

    first = typed(levels[0])
    attempts = first.pop("max_attempts", None)
    more = tuple(Level(**typed(level)) for level in levels[1:])
    return Procedure(**first, **typed(overall), max_attempts_per_level=attempts,
                     coverage_levels=more)  # fmt: skip


def _overall(values: _Values, lte: _Values) -> dict[str, float]:
    """The technology's preambleTransMax and backoff, and the figures shared with LTE."""
    return {"max_preamble_transmissions": values.one("max_preamble_transmissions"),
            "backoff_indicator_ms": values.one("backoff_indicator_ms"),
            **{name: lte.one(name) for name in _SHARED}}  # fmt: skip


def _lte(values: _Values, lte: _Values) -> Procedure:
    """3GPP TR 37.868's evaluation setup, as the rows give it: `Procedure()` exactly."""
    level = {name: values.at(0, name) for name in _LTE_LEVEL}
    overall = {name: values.one(name) for name in
               ("max_preamble_transmissions", "backoff_indicator_ms", *_SHARED)}  # fmt: skip
    return _procedure([level], overall)


def _lte_m(values: _Values, lte: _Values) -> Procedure:
    """LTE-M (CE mode A, CE level 0) on the LTE PRACH: LTE's figures with the BL/CE
    windows (in subframes) and an RAR and Msg4 on MPDCCH: the MPDCCH repetitions, the
    subframe between MPDCCH and PDSCH, the PDSCH repetitions."""
    level = {name: lte.at(0, name) for name in _LTE_LEVEL}
    level["preamble_ms"] = lte.at(0, "preamble_ms") * values.at(
        0, "num_repetition_per_preamble_attempt"
    )
    downlink = (values.at(0, "mpdcch_num_repetition_ra") + values.at(0, "pdsch_gap_subframes")
                + values.at(0, "pdsch_repetitions"))  # fmt: skip
    level.update(rar_window_ms=values.at(0, "ra_response_window_size_sf"),
                 contention_resolution_timer_ms=values.at(0, "mac_contention_resolution_timer_sf"),
                 rar_ms=downlink, msg4_ms=downlink)  # fmt: skip
    overall = _overall(lte, lte)
    return _procedure([level], overall)


def _nb_iot(values: _Values, lte: _Values) -> Procedure:
    """NB-IoT with its CE levels (TS 36.211 cl. 10.1.6, TS 36.213 cl. 16, TS 36.321
    cl. 5.1, TS 36.331 NPRACH-Parameters-NB), on the timeline of `Level`:

    * an RAO is an NPRACH resource: nprach-Periodicity, nprach-StartTime, one preamble per
      subcarrier; the preamble lasts repetitions x 4 symbol groups;
    * the RAR window opens 4 subframes after the preamble (41 from 64 repetitions) and lasts
      ra-ResponseWindowSize NPDCCH periods (Rmax x G); every RAR of an RAO is in one MAC
      PDU (as many as fit in 680 bits), received at the window's start: NPDCCH repetitions,
      4 subframes, NPDSCH subframes x repetitions;
    * Msg3 12 subframes after the RAR: resource units x 8 ms x repetitions; Msg4 after the
      eNB's processing: NPDCCH, 4 subframes, NPDSCH;
    * HARQ: a Msg3 retransmission after 3 subframes without NPDCCH, the DCI N0 and its
      8-subframe delay; a Msg4 retransmission after the HARQ-ACK (from 13 subframes after
      the NPDSCH, format 2 x repetitions) and 3 subframes;
    * the contention-resolution timer in NPDCCH periods; a terminal moves up after
      maxNumPreambleAttemptCE transmissions at a level (none at the last).

    Simplified: a RAR and Msg4 come at the window's start and right after the processing,
    not at the next NPDCCH search-space occasion (up to one NPDCCH period later); timings
    in whole ms are rounded up.
    """
    group_ms = values.one("preamble_symbol_groups") * values.one("symbol_group_ms")
    subheader, rar = values.one("rar_subheader_bits"), values.one("rar_bits")
    grants = int((values.one("rar_pdu_bits") - values.one("rar_bi_subheader_bits"))
                 // (subheader + rar))  # fmt: skip
    delay = values.one("npdsch_delay_subframes")
    gap = values.one("npusch_to_npdcch_gap_subframes")
    levels: list[dict[str, float | None]] = []
    for index in range(values.levels):

        def at(field: str, index: int = index) -> float:
            return values.at(index, field)

        repetitions = at("num_repetitions_per_preamble_attempt")
        period = at("npdcch_num_repetitions_ra") * at("npdcch_start_sf_css_ra")
        dci = at("npdcch_repetitions")
        msg3_ms = (
            values.one("msg3_resource_units") * values.one("npusch_ru_ms") * at("msg3_repetitions")
        )
        msg4_ms = dci + delay + values.one("npdsch_subframes_msg4") * at("npdsch_repetitions")
        ack_ms = values.one("npusch_format2_ru_ms") * at("ack_nack_repetitions_msg4")
        start = "rar_window_start_subframes" + ("_64" if repetitions >= 64 else "")
        last = index == values.levels - 1
        levels.append({
            "preambles": at("nprach_num_subcarriers"),
            "rao_period_ms": at("nprach_periodicity_ms"),
            "rao_offset_ms": at("nprach_start_time_ms"),
            "grants_per_subframe": grants, "grants_per_rao": grants,
            "rar_window_ms": math.ceil(at("ra_response_window_size_pp") * period),
            "preamble_processing_ms": values.one(start),
            "rar_processing_ms": values.one("msg3_delay_subframes"),
            "connection_request_processing_ms": values.one("connection_request_processing_ms"),
            "contention_resolution_timer_ms": math.ceil(
                at("mac_contention_resolution_timer_pp") * period),
            "rtt_msg3_ms": math.ceil(msg3_ms + gap + dci
                                     + values.one("npusch_dci_delay_subframes")),
            "rtt_msg4_ms": math.ceil(msg4_ms + values.one("harq_ack_delay_subframes") - 1
                                     + ack_ms + gap),
            "preamble_ms": repetitions * group_ms,
            "rar_ms": dci + delay + values.one("npdsch_subframes_rar") * at("npdsch_repetitions"),
            "msg3_ms": msg3_ms, "msg4_ms": msg4_ms, "occasions": 1,
            "max_attempts": None if last else at("max_num_preamble_attempt_ce"),
        })  # fmt: skip
    overall = _overall(values, lte)
    return _procedure(levels, overall)


def _nr_level(values: _Values) -> tuple[dict[str, float | None], PrachConfiguration]:
    """NR's 4-step level (TS 38.211 cl. 5.3.2 and 6.3.3.2, TS 38.213 cl. 8, TS 38.214):

    * an RAO is a PRACH slot of the configuration (period 10 x x ms over its evenly spaced
      subframes; at 30 kHz a subframe's only PRACH slot is its second, TS 38.211 cl. 5.3.2);
      `occasions` = msg1-FDM x the occasions in the slot (those at different symbols of one
      slot are taken as simultaneous: a terminal picks one of them);
    * RAR window of ra-ResponseWindow slots; RAR, Msg3 and Msg4 one slot each; Msg3 K2 +
      Delta slots after the RAR's slot; HARQ retransmissions one TDD period apart.

    Simplified: every slot is taken as available in either direction (the TDD pattern only
    sets the HARQ round trip); timings in whole ms are rounded up.
    """
    unpaired, index = (
        _flag(values.at(0, "prach_unpaired"), "prach_unpaired"),
        _whole(values.at(0, "prach_configuration_index"), "prach_configuration_index"),
    )
    configuration = NR_PRACH.get((unpaired, index))
    if configuration is None:
        table = "3 (unpaired)" if unpaired else "2 (paired)"
        raise ValueError(f"prach_configuration_index {index} of TS 38.211 Table 6.3.3.2-{table} "
                         f"is not in {NR_PRACH_FILE}")  # fmt: skip
    spacing = {b - a for a, b in zip(configuration.subframes,
                                     (*configuration.subframes[1:],
                                      configuration.subframes[0] + 10 * configuration.x),
                                     strict=True)}  # fmt: skip
    if len(spacing) != 1:
        raise ValueError(f"PRACH configuration {index}: subframes {configuration.subframes} are "
                         "not evenly spaced (an RAO period needs them to be)")  # fmt: skip
    per_subframe = values.at(0, "slots_per_subframe")
    slot_ms = 1 / per_subframe
    symbol_ms = slot_ms / values.at(0, "symbols_per_slot")
    second_slot = (
        slot_ms if per_subframe == 2 and configuration.prach_slots_per_subframe == 1 else 0
    )
    rar_slots = values.at(0, "rar_slots")
    level: dict[str, float | None] = {
        "preambles": values.at(0, "total_preambles") - values.at(0, "contention_free_preambles"),
        "rao_period_ms": 10 * configuration.x / len(configuration.subframes),
        "rao_offset_ms": (10 * configuration.y + configuration.subframes[0] + second_slot
                          + configuration.starting_symbol * symbol_ms),
        "grants_per_subframe": values.at(0, "grants_per_slot") * per_subframe,
        "rar_window_ms": math.ceil(values.at(0, "ra_response_window_slots") * slot_ms),
        "preamble_processing_ms": values.at(0, "rar_window_start_ms"),
        "rar_processing_ms": math.ceil((values.at(0, "msg3_k2_slots")
                                        + values.at(0, "msg3_delta_slots") - rar_slots) * slot_ms),
        "connection_request_processing_ms": values.at(0, "msg4_processing_ms"),
        "contention_resolution_timer_ms": values.at(0, "ra_contention_resolution_timer_ms"),
        "rtt_msg3_ms": values.at(0, "tdd_period_ms"),
        "rtt_msg4_ms": values.at(0, "tdd_period_ms"),
        "preamble_ms": configuration.duration_symbols * symbol_ms,
        "rar_ms": rar_slots * slot_ms,
        "msg3_ms": values.at(0, "msg3_slots") * slot_ms,
        "msg4_ms": values.at(0, "msg4_slots") * slot_ms,
        "occasions": values.at(0, "msg1_fdm") * configuration.occasions_per_slot
        * configuration.prach_slots_per_subframe,
    }  # fmt: skip
    return level, configuration


def _nr(values: _Values, lte: _Values) -> Procedure:
    """NR, 4-step random access (see `_nr_level`)."""
    level, _ = _nr_level(values)
    overall = _overall(values, lte)
    return _procedure([level], overall)


def _nr_2step(values: _Values, lte: _Values) -> Procedure:
    """NR 2-step random access (TS 38.321 cl. 5.1, Rel-16) on the same timeline:

    * MsgA = the preamble and its PUSCH: `preamble_ms` runs from the PRACH occasion to the
      end of the MsgA PUSCH occasion, msgA-PUSCH-TimeDomainOffset slots after the start of
      the PRACH slot;
    * MsgB is the RAR of the timeline: msgB-ResponseWindow is `rar_window_ms`, MsgB's slot
      `rar_ms`; a successRAR carries the contention resolution, so there is no separate
      Msg3 or Msg4: `rar_processing_ms`, `msg3_ms`, `connection_request_processing_ms`,
      `msg4_ms` and the contention-resolution timer are 0.

    Simplified: a MsgA PUSCH that the gNB fails to decode while it detects the preamble gets
    a fallbackRAR and continues as 4-step (Msg3); that path is taken as the "Msg3 HARQ
    retransmission" of the timeline (`harq_retransmission_probability`, one TDD period
    later); the collided preambles' PUSCHs are lost with them (no capture); the switch to
    4-step after msgA-TransMax is not modelled.
    """
    level, configuration = _nr_level(values)
    slot_ms = 1 / values.at(0, "slots_per_subframe")
    symbol_ms = slot_ms / values.at(0, "symbols_per_slot")
    level.update(
        preamble_ms=(values.at(0, "msga_pusch_offset_slots") + values.at(0, "msga_pusch_slots"))
        * slot_ms - configuration.starting_symbol * symbol_ms,
        rar_window_ms=math.ceil(values.at(0, "msgb_response_window_slots") * slot_ms),
        rar_ms=values.at(0, "msgb_slots") * slot_ms,
        rar_processing_ms=0, msg3_ms=0, connection_request_processing_ms=0, msg4_ms=0,
        contention_resolution_timer_ms=0,
    )  # fmt: skip
    overall = _overall(values, lte)
    return _procedure([level], overall)


_BUILDERS: dict[str, Callable[[_Values, _Values], Procedure]] = {
    "lte": _lte, "lte-m": _lte_m, "nb-iot": _nb_iot, "nb-iot-edt": _nb_iot, "nr": _nr,
    "nr-2step": _nr_2step,
}  # fmt: skip


def build_profiles(
    figures: Mapping[str, Figures], name: str = PROFILES_FILE
) -> dict[str, Procedure]:
    """Every technology's Procedure from its figures (a technology with a `base` adds its
    figures to the base's).  ProfileDataError when a figure is out of range."""
    profiles = {}
    lte = _Values(figures["lte"])
    for technology, schema in _SCHEMAS.items():
        own = dict(figures[technology])
        if schema.base is not None:
            levels = {_Values(figures[name]).levels for name in (technology, schema.base)}
            if len(levels) > 1:
                raise ProfileDataError(f"{name}: {technology} must have as many levels as "
                                       f"{schema.base}, the profile it adds to")  # fmt: skip
            own = {**figures[schema.base], **own}
        try:
            profiles[technology] = _BUILDERS[technology](_Values(own), lte)
        except ValueError as error:
            raise ProfileDataError(f"{name}: {technology}: {error}") from None
    return profiles


NR_PRACH = read_prach_configurations(_read_text(NR_PRACH_FILE))
FIGURES = read_figures(_read_text(PROFILES_FILE))
_PROFILES = build_profiles(FIGURES)


def profile(technology: str) -> Procedure:
    """The random-access procedure of a technology (`TECHNOLOGIES`, or a catalog name in
    `ALIASES`): `lte` is `Procedure()`, the TR 37.868 setup.  ValueError for an unknown
    name."""
    name = ALIASES.get(technology, technology)
    if name not in _PROFILES:
        known = ", ".join((*TECHNOLOGIES, *ALIASES))
        raise ValueError(f"unknown technology {technology!r} (one of {known})")
    return _PROFILES[name]


def figures(technology: str) -> dict[tuple[str, str], Figure]:
    """The sourced figures behind a profile, its base's included."""
    name = ALIASES.get(technology, technology)
    if name not in _SCHEMAS:
        raise ValueError(f"unknown technology {technology!r}")
    base = _SCHEMAS[name].base
    return {**(FIGURES[base] if base else {}), **FIGURES[name]}


def with_level(procedure: Procedure, index: int, **changes: object) -> Procedure:
    """`procedure` with fields of coverage level `index` >= 1 changed (ValueError when the
    level does not exist or a value is not allowed)."""
    if not 1 <= index < len(procedure.levels):
        raise ValueError(f"level {index} does not exist (levels 0..{len(procedure.levels) - 1})")
    unknown = sorted(set(changes) - set(LEVEL_FIELDS))
    if unknown:
        raise ValueError(f"unknown level field {', '.join(unknown)}")
    levels = list(procedure.coverage_levels)
    levels[index - 1] = replace(levels[index - 1], **changes)  # type: ignore[arg-type]
    return procedure.replace(coverage_levels=tuple(levels))
