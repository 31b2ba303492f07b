"""The parameters of the random-access procedure (defaults: the TR 37.868 evaluation setup)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal


@dataclass(frozen=True)
class Procedure:
    """Parameters of the random-access procedure; defaults: the TR 37.868 evaluation setup
    (3GPP TR 37.868 v11.0.0, Table 6.1.1-1, as in ``shared/data/tr37868_setup.csv``)."""

    preambles: int = 54
    """Contention preambles per RAO (64 minus 10 for contention-free access)."""
    rao_period_ms: float = 5.0
    """Time between RAOs (PRACH configuration index 6: subframes 1 and 6)."""
    rao_offset_ms: float = 1.0
    """Time of the first RAO in each period."""
    grants_per_subframe: int = 3
    rar_window_ms: int = 5
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
    """Access class barring: probability of passing the check; 1 = no barring."""
    acb_time_s: float = 4.0
    """Mean barring time, s (ac-BarringTime)."""

    def __post_init__(self) -> None:
        checks = {
            "preambles": self.preambles >= 1,
            "rao_period_ms": self.rao_period_ms > 0,
            "rao_offset_ms": 0 <= self.rao_offset_ms < self.rao_period_ms,
            "grants_per_subframe": self.grants_per_subframe >= 1,
            "rar_window_ms": self.rar_window_ms >= 1,
            "max_preamble_transmissions": self.max_preamble_transmissions >= 1,
            "backoff_indicator_ms": self.backoff_indicator_ms >= 0,
            "max_msg3_msg4_transmissions": self.max_msg3_msg4_transmissions >= 1,
            "harq_retransmission_probability": 0 <= self.harq_retransmission_probability < 1,
            "acb_factor": 0 < self.acb_factor <= 1,
            "acb_time_s": self.acb_time_s > 0,
            "detection": self.detection in ("tr37868", "certain"),
            "collisions": self.collisions in ("undetected", "contention"),
        }
        for name in ("preamble_processing_ms", "rar_processing_ms",
                     "connection_request_processing_ms", "contention_resolution_timer_ms",
                     "rtt_msg3_ms", "rtt_msg4_ms"):  # fmt: skip
            checks[name] = getattr(self, name) >= 0
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"{name}={getattr(self, name)!r}" for name in bad)
            raise ValueError(f"invalid random-access parameters: {values}")

    @property
    def grants_per_rao(self) -> int:
        return self.grants_per_subframe * self.rar_window_ms

    @property
    def minimum_delay_ms(self) -> int:
        """First preamble to Msg4 when everything succeeds at once, ms."""
        return (1 + self.preamble_processing_ms + 1 + self.rar_processing_ms + 1
                + self.connection_request_processing_ms + 1)  # fmt: skip

    def replace(self, **changes: object) -> Procedure:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Procedure(**values)  # type: ignore[arg-type]


PROCEDURE_PARAMETERS = tuple(f.name for f in fields(Procedure))
