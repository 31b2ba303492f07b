"""Radio carriers and link figures: what a cell offers in a busy hour, and what a report costs.

A cell's capacity is busy-hour *resources* of the carriers it holds, consumed by the
*traffic* of its terminals (../shared/DESIGN.md, "What capacity means here").  Four
resources are counted, each in its own unit:

* ``uplink``: uplink data blocks x ms (LTE and NR: PRB-ms; NB-IoT: 15 kHz tone-ms);
* ``downlink``: downlink data and control blocks x ms (LTE and NR: PRB-ms; NB-IoT:
  subframes, a subframe being the whole 180 kHz for 1 ms);
* ``random_access``: preamble transmissions (a budget: the preamble transmissions per hour
  that keep the collision probability of one transmission at the planning target);
* ``contexts``: RRC-connected terminals at once (erlangs; a vendor licence per cell).

This module declares the figures (the catalog's, validated here, and what a scenario may
override); `sim.supply.capacity` turns them into budgets and loads.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field, model_validator

from sim.scenario.base import Resource, ResourceFigures, ScenarioModel
from sim.scenario.fields import Generation, Number, OptionalNumber, ShareSchedule, WholeNumber

RESOURCE_UNITS: Final[dict[Resource, str]] = {
    "uplink": "uplink block-ms per busy hour (PRB-ms; NB-IoT: tone-ms)",
    "downlink": "downlink block-ms per busy hour (PRB-ms; NB-IoT: subframes)",
    "random_access": "preamble transmissions per busy hour",
    "contexts": "RRC-connected terminals at once (erlangs)",
}

CoverageClass = Literal["normal", "robust", "extreme"]
COVERAGE_CLASSES: Final[tuple[CoverageClass, ...]] = ("normal", "robust", "extreme")
"""Coupling-loss classes (3GPP TR 45.820 / TS 36.331 CE levels 0, 1, 2: up to about 144,
154 and 164 dB maximum coupling loss)."""

MS_PER_HOUR: Final = 3_600_000.0


class Shares(ResourceFigures):
    """A share (0..1) per resource."""

    uplink: OptionalNumber = Field(None, ge=0, le=1, description="uplink data resource")
    downlink: OptionalNumber = Field(None, ge=0, le=1, description="downlink control and data")
    random_access: OptionalNumber = Field(None, ge=0, le=1, description="preamble transmissions")
    contexts: OptionalNumber = Field(None, ge=0, le=1, description="RRC-connected contexts")


class Background(ScenarioModel):
    """Smartphones' busy-hour load, a share of each resource's budget; dated steps allowed."""

    uplink: ShareSchedule = Field(0.0, description="share of the uplink budget")
    downlink: ShareSchedule = Field(0.0, description="share of the downlink budget")
    random_access: ShareSchedule = Field(0.0, description="share of the random-access budget")
    contexts: ShareSchedule = Field(0.0, description="share of the connected-context licence")


class CarrierSpec(ScenarioModel):
    """A catalog carrier: the physical figures its per-cell budgets are computed from."""

    label: str = Field(min_length=1, description="name shown to people")
    generation: Generation = Field(description="base-station generation that holds it")
    uplink_blocks: Number = Field(
        gt=0, le=10_000, description="uplink blocks for data at any ms (PRBs or tones)"
    )
    uplink_time_share: Number = Field(
        gt=0, le=1, description="share of time the uplink is available (TDD: uplink slots)"
    )
    uplink_overhead: Number = Field(
        ge=0, lt=1, description="share of uplink block-ms taken by random access and sounding"
    )
    downlink_blocks: Number = Field(gt=0, le=10_000, description="downlink blocks at any ms")
    downlink_time_share: Number = Field(
        gt=0, le=1, description="share of time the downlink is available (TDD: downlink slots)"
    )
    downlink_overhead: Number = Field(
        ge=0, lt=1, description="share of downlink block-ms taken by sync, broadcast, control"
    )
    preambles: WholeNumber = Field(ge=1, le=64, description="contention preambles per opportunity")
    rao_period_ms: Number = Field(gt=0, le=2560, description="time between opportunities, ms")
    collision_target: Number = Field(
        gt=0, lt=1, description="planned collision probability of one preamble transmission"
    )
    contexts: Number = Field(gt=0, le=1e6, description="RRC-connected licence per cell")
    threshold: Shares = Field(description="planning threshold per resource, share of budget")
    background: Background = Field(default_factory=Background)


class LinkSpec(ScenarioModel):
    """What a technology needs at one coverage class: transport blocks and repetitions."""

    uplink_bits_per_tb: Number = Field(gt=0, description="uplink transport-block size, bits")
    uplink_units_per_tb: Number = Field(gt=0, description="uplink block-ms one block takes")
    uplink_repetitions: Number = Field(ge=1, description="uplink repetitions")
    downlink_bits_per_tb: Number = Field(gt=0, description="downlink transport-block size, bits")
    downlink_units_per_tb: Number = Field(gt=0, description="downlink block-ms one block takes")
    downlink_repetitions: Number = Field(ge=1, description="downlink repetitions")
    control_units_per_tb: Number = Field(
        ge=0, description="downlink block-ms of control (grant) per transport block"
    )
    connected_s: Number = Field(
        gt=0, le=3600, description="time RRC-connected per report, s (transfer + inactivity)"
    )


class CarrierOverride(ScenarioModel):
    """A scenario's figures for one carrier kind (lte, nb-iot, nr)."""

    share: ShareSchedule | None = Field(
        None,
        description="share of the generation's sites holding the carrier; default: the "
        "largest share of a technology it carries",
    )
    count: WholeNumber = Field(
        1,
        ge=1,
        le=16,
        description="carriers of this kind per cell (NB-IoT: anchor plus non-anchor); the "
        "uplink and downlink budgets scale with it, random access and contexts do not",
    )
    budget: ResourceFigures = Field(
        default_factory=ResourceFigures,
        description="per-cell busy-hour budget per resource, replacing the computed one",
    )
    threshold: Shares = Field(
        default_factory=Shares, description="planning threshold per resource (share of budget)"
    )
    background: Background | None = Field(
        None,
        description="smartphones' share of each resource it names (the catalog's for the others)",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_empty(cls, data: Any) -> Any:
        return {} if data is None else data
