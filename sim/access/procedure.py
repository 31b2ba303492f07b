"""The parameters of the random-access procedure (defaults: the TR 37.868 evaluation setup)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from sim.access.parameters import Parameter


@dataclass(frozen=True)
class Procedure:
    """Parameters of the random-access procedure; defaults: the TR 37.868 evaluation setup
    (3GPP TR 37.868 v11.0.0, Table 6.1.1-1, as in ``sim/access/data/tr37868_setup.csv``).
    Each is declared in `PARAMETERS` with its unit, meaning and allowed values."""

    preambles: int = 54
    rao_period_ms: float = 5.0
    rao_offset_ms: float = 1.0
    grants_per_subframe: int = 3
    rar_window_ms: int = 5
    grants_per_rao: int | None = None
    """None: grants_per_subframe x rar_window_ms (see `effective_grants_per_rao`)."""
    no_grant_wait_ms: float | None = None
    """None: 1 + preamble_processing_ms + rar_window_ms (see `effective_no_grant_wait_ms`)."""
    max_preamble_transmissions: int = 10
    backoff_indicator_ms: float = 20.0
    preamble_processing_ms: int = 2
    rar_processing_ms: int = 5
    connection_request_processing_ms: int = 4
    contention_resolution_timer_ms: int = 48
    max_msg3_msg4_transmissions: int = 5
    harq_retransmission_probability: float = 0.1
    rtt_msg3_ms: int = 8
    rtt_msg4_ms: int = 5
    detection: Literal["tr37868", "certain"] = "tr37868"
    collisions: Literal["undetected", "contention"] = "undetected"
    acb_factor: float = 1.0
    acb_time_s: float = 4.0
    preamble_ms: float = 1.0
    rar_ms: float = 1.0
    msg3_ms: float = 1.0
    msg4_ms: float = 1.0
    occasions: int = 1
    max_attempts_per_level: int | None = None
    """Preamble transmissions at the first level before the terminal moves to the next
    (maxNumPreambleAttemptCE); None: it never moves (needs no `coverage_levels`)."""
    coverage_levels: tuple[Level, ...] = ()
    """Levels after the first (NB-IoT CE levels 1 and 2), each its own random-access
    resource; the first level is described by the fields above."""

    def __post_init__(self) -> None:
        problems = [
            f"{name}={getattr(self, name)!r} (must be {parameter.allowed})"
            for name, parameter in PARAMETERS.items()
            if not parameter.accepts(getattr(self, name))
        ]
        if not problems and self.rao_offset_ms >= self.rao_period_ms:
            problems.append(
                f"rao_offset_ms={self.rao_offset_ms!r} "
                f"(must be less than rao_period_ms={self.rao_period_ms!r})"
            )
        if not problems and self.coverage_levels and self.max_attempts_per_level is None:
            problems.append("max_attempts_per_level is needed when coverage_levels are given "
                            "(when does a terminal move to the next level?)")  # fmt: skip
        if problems:
            raise ValueError("invalid random-access parameters: " + "; ".join(problems))

    @property
    def levels(self) -> tuple[Level, ...]:
        """Every level, the first (the fields of this procedure) first."""
        first = Level(**{name: getattr(self, name) for name in LEVEL_FIELDS
                         if name != "max_attempts"},
                      max_attempts=self.max_attempts_per_level)  # fmt: skip
        return (first, *self.coverage_levels)

    @property
    def effective_grants_per_rao(self) -> int:
        """Grants an RAO's detected preambles can get: `grants_per_rao`, by default a RAR in
        every subframe of the RAR window, grants_per_subframe x rar_window_ms."""
        if self.grants_per_rao is not None:
            return self.grants_per_rao
        return self.grants_per_subframe * self.rar_window_ms

    @property
    def effective_no_grant_wait_ms(self) -> float:
        """From an RAO to when a terminal of the first level that got no grant starts its
        backoff, ms: `no_grant_wait_ms`, by default the end of the RAR window,
        preamble_ms + preamble_processing_ms + rar_window_ms (`Level`)."""
        return self.levels[0].effective_no_grant_wait_ms

    @property
    def minimum_delay_ms(self) -> float:
        """First preamble to the end of Msg4 at the first level when everything succeeds at
        once, ms (`Level.minimum_delay_ms`; 15 with the TR 37.868 setup)."""
        return self.levels[0].minimum_delay_ms

    def replace(self, **changes: object) -> Procedure:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Procedure(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Level:
    """One coverage level's random-access resource and timings (ms), as the fields of the
    same names in `Procedure`: the first level is the procedure's own fields, NB-IoT CE
    levels 1 and 2 are `Procedure.coverage_levels`.

    The timeline of an attempt at time t: the preamble (with its repetitions) takes
    `preamble_ms`; the RAR window opens `preamble_processing_ms` after it and lasts
    `rar_window_ms`; the i-th grant's RAR is received in slot i // grants_per_subframe
    (slots of 1 ms) and takes `rar_ms`; Msg3 goes `rar_processing_ms` later and takes
    `msg3_ms`; Msg4 comes `connection_request_processing_ms` after it and takes `msg4_ms`.
    """

    preambles: int
    rao_period_ms: float
    rao_offset_ms: float
    grants_per_subframe: int = 3
    rar_window_ms: int = 5
    grants_per_rao: int | None = None
    no_grant_wait_ms: float | None = None
    preamble_processing_ms: int = 2
    rar_processing_ms: int = 5
    connection_request_processing_ms: int = 4
    contention_resolution_timer_ms: int = 48
    rtt_msg3_ms: int = 8
    rtt_msg4_ms: int = 5
    preamble_ms: float = 1.0
    rar_ms: float = 1.0
    msg3_ms: float = 1.0
    msg4_ms: float = 1.0
    occasions: int = 1
    max_attempts: int | None = None
    """Preamble transmissions at this level before moving to the next; None: never moves
    (the last level: until `Procedure.max_preamble_transmissions`)."""

    def __post_init__(self) -> None:
        problems = [
            f"{name}={getattr(self, name)!r} (must be {PARAMETERS[name].allowed})"
            for name in LEVEL_FIELDS
            if name != "max_attempts" and not PARAMETERS[name].accepts(getattr(self, name))
        ]
        if self.max_attempts is not None and not PARAMETERS["max_attempts_per_level"].accepts(
            self.max_attempts
        ):
            problems.append(f"max_attempts={self.max_attempts!r}")
        if not problems and self.rao_offset_ms >= self.rao_period_ms:
            problems.append(f"rao_offset_ms={self.rao_offset_ms!r} (must be less than "
                            f"rao_period_ms={self.rao_period_ms!r})")  # fmt: skip
        if problems:
            raise ValueError("invalid coverage level: " + "; ".join(problems))

    @property
    def effective_grants_per_rao(self) -> int:
        """As `Procedure.effective_grants_per_rao`."""
        if self.grants_per_rao is not None:
            return self.grants_per_rao
        return self.grants_per_subframe * self.rar_window_ms

    @property
    def effective_no_grant_wait_ms(self) -> float:
        """From an RAO to the backoff of a terminal that got no grant, ms: by default the end
        of the RAR window, preamble_ms + preamble_processing_ms + rar_window_ms."""
        if self.no_grant_wait_ms is not None:
            return self.no_grant_wait_ms
        return self.preamble_ms + self.preamble_processing_ms + self.rar_window_ms

    @property
    def minimum_delay_ms(self) -> float:
        """First preamble to the end of Msg4 when everything succeeds at once, ms."""
        return (self.preamble_ms + self.preamble_processing_ms + self.rar_ms
                + self.rar_processing_ms + self.msg3_ms
                + self.connection_request_processing_ms + self.msg4_ms)  # fmt: skip


LEVEL_FIELDS = tuple(f.name for f in fields(Level))
"""The fields of a level; all but `max_attempts` are also fields of `Procedure`."""

_MS = 1_000_000.0
"""Upper bound of the processing delays, timers and round trips, ms: beyond any 3GPP value
(NB-IoT's longest contention-resolution timer is 64 NPDCCH periods of up to 10.24 s), and
small enough that no time overflows."""

PARAMETERS: dict[str, Parameter] = {
    parameter.name: parameter
    for parameter in (
        Parameter("preambles", int, "contention preambles per RAO (3GPP: 64 preambles per "
                  "RAO, less those kept for contention-free access)", 1, 64),
        Parameter("rao_period_ms", float, "time between random-access opportunities (RAOs), "
                  "ms (from NR's shortest slots to NB-IoT's longest NPRACH period)", 0.01,
                  2560),
        Parameter("rao_offset_ms", float, "time of the first RAO in each period, ms (less "
                  "than the period)", 0, 2560, high_open=True),
        Parameter("grants_per_subframe", int, "uplink grants the random-access responses "
                  "(RARs) of one subframe carry", 1, 1000),
        Parameter("rar_window_ms", int, "RAR window, ms (subframes): sets the defaults of "
                  "grants_per_rao and no_grant_wait_ms", 1, _MS),
        Parameter("grants_per_rao", int, "uplink grants per RAO, given in subframe order "
                  "from the first RAR subframe (default: grants_per_subframe x "
                  "rar_window_ms; more than 64 cannot be used: an RAO has at most 64 "
                  "preambles)", 1, 64, optional=True),
        Parameter("no_grant_wait_ms", float, "from an RAO to the backoff of a terminal that "
                  "got no grant, ms (default: preamble_ms + preamble_processing_ms + "
                  "rar_window_ms, the end of the RAR window)", 1, _MS,
                  optional=True),
        Parameter("max_preamble_transmissions", int, "preamble transmissions before a "
                  "terminal gives up (preambleTransMax)", 1, 200),
        Parameter("backoff_indicator_ms", float, "backoff indicator BI: a failed attempt waits "
                  "uniformly in [0, BI] ms (TS 36.321 Table 7.2-1: at most 960; "
                  "for NB-IoT Table 7.2-2: at most 524,288)", 0, 524_288),
        Parameter("preamble_processing_ms", int, "preamble processing delay, ms", 0, _MS),
        Parameter("rar_processing_ms", int, "RAR processing delay, ms", 0, _MS),
        Parameter("connection_request_processing_ms", int, "connection request (Msg3) "
                  "processing delay, ms", 0, _MS),
        Parameter("contention_resolution_timer_ms", int, "contention-resolution timer, ms",
                  0, _MS),
        Parameter("max_msg3_msg4_transmissions", int, "HARQ transmissions of Msg3 and of "
                  "Msg4", 1, 100),
        Parameter("harq_retransmission_probability", float, "probability that one HARQ "
                  "transmission of Msg3 or Msg4 fails", 0, 1, high_open=True),
        Parameter("rtt_msg3_ms", int, "HARQ round-trip time of Msg3, ms", 0, _MS),
        Parameter("rtt_msg4_ms", int, "HARQ round-trip time of Msg4, ms", 0, _MS),
        Parameter("detection", str, "preamble detection: tr37868, the k-th transmission of a "
                  "lone preamble is heard with probability 1 - e^-k; certain, always",
                  choices=("tr37868", "certain")),
        Parameter("collisions", str, "collided preambles: undetected, lost for all their "
                  "terminals; contention, heard as one and resolved at Msg4",
                  choices=("undetected", "contention")),
        Parameter("acb_factor", float, "access class barring: probability of passing the "
                  "check; 1 = no barring", 0, 1, low_open=True),
        Parameter("acb_time_s", float, "mean barring time, s (ac-BarringTime)", 0, 1024,
                  low_open=True),
        Parameter("preamble_ms", float, "duration of one preamble transmission with its "
                  "repetitions, ms (LTE format 0: 1; NB-IoT: repetitions x 5.6 or 6.4)",
                  0, _MS, low_open=True),
        Parameter("rar_ms", float, "time to receive a random-access response (control and "
                  "data with repetitions), ms", 0, _MS),
        Parameter("msg3_ms", float, "duration of one Msg3 transmission with its "
                  "repetitions, ms", 0, _MS),
        Parameter("msg4_ms", float, "duration of one Msg4 reception with its repetitions, ms",
                  0, _MS),
        Parameter("occasions", int, "random-access occasions at the same time on different "
                  "frequencies (NR msg1-FDM); a terminal picks one at random", 1, 8),
        Parameter("max_attempts_per_level", int, "preamble transmissions at a coverage "
                  "level before moving to the next (maxNumPreambleAttemptCE)", 1, 200,
                  optional=True),
    )
}  # fmt: skip
"""Every parameter of `Procedure`, in field order."""

PROCEDURE_PARAMETERS = tuple(f.name for f in fields(Procedure) if f.name != "coverage_levels")

PRACH_CONFIGURATION_INDEX = Parameter(
    "prach_configuration_index", int, "LTE PRACH configuration index (preamble format 0, "
    "TS 36.211 Table 5.7.1-2): sets the RAO period and offset", 0, 15)  # fmt: skip
"""Not a field: a shorthand for the RAO period and offset of an LTE cell."""
