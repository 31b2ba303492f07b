"""The figures of a radio technology: those a scenario may override, and the catalog's full
description of each technology (validated by the same declarations)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from sim.scenario.base import ResourceFigures, ScenarioModel
from sim.scenario.fields import (
    Generation,
    Number,
    OptionalNumber,
    OptionalWholeNumber,
    WholeNumber,
)

MIN_RAO_PERIOD_MS = 0.01
"""Shortest time between random-access opportunities the access layer simulates, ms (its
blocks of opportunities would grow without bound below it)."""

Carrier = Literal["lte", "nb-iot", "nr"]
"""Carrier kinds: LTE (LTE, Cat.1, LTE-M), NB-IoT (its own 180 kHz carriers), NR (NR, RedCap)."""

RandomAccess = Literal["lte-prach", "nb-iot-nprach", "nr-prach"]
"""The random-access channel family of a technology: which configuration fields apply."""


class PerCoverage(ScenarioModel):
    """One optional figure per coverage class (normal / robust / extreme)."""

    normal: OptionalNumber = Field(None, gt=0, le=10_000, description="up to about 144 dB")
    robust: OptionalNumber = Field(None, gt=0, le=10_000, description="about 144-154 dB")
    extreme: OptionalNumber = Field(None, gt=0, le=10_000, description="about 154-164 dB")


class PowerFigures(ScenarioModel):
    """What a terminal of a technology draws in each radio state, and how wide its data
    transmissions are (to turn the link table's block-ms into time); any may be left out."""

    transmit_mw: OptionalNumber = Field(
        None,
        gt=0,
        le=100_000,
        description="power drawn while transmitting (preambles, Msg3, uplink data) at the "
        "terminal's maximum output power, PA efficiency included, mW",
    )
    receive_mw: OptionalNumber = Field(
        None,
        gt=0,
        le=100_000,
        description="power drawn while receiving (RAR, Msg4, downlink data and control), mW",
    )
    light_sleep_mw: OptionalNumber = Field(
        None,
        gt=0,
        le=100_000,
        description="power drawn idle between activities (backoff, access barring, waiting "
        "for an opportunity), mW",
    )
    deep_sleep_mw: OptionalNumber = Field(
        None, gt=0, le=100_000, description="power drawn in power saving mode (PSM), mW"
    )
    connected_mw: OptionalNumber = Field(
        None,
        gt=0,
        le=100_000,
        description="average power RRC-connected with no data (connected-mode DRX) until "
        "the release, mW",
    )
    uplink_width: PerCoverage = Field(
        default_factory=PerCoverage,
        description="link-table blocks sent at once per coverage class (NB-IoT: tones; LTE, "
        "NR: PRBs): uplink data time = block-ms / width",
    )
    downlink_width: PerCoverage = Field(
        default_factory=PerCoverage,
        description="link-table blocks received at once per coverage class (NB-IoT: the "
        "whole carrier, 1; LTE, NR: PRBs): downlink time = block-ms / width",
    )


class CoverageWidths(PerCoverage):
    """One figure per coverage class, every one given."""

    normal: Number = Field(gt=0, le=10_000, description="up to about 144 dB")
    robust: Number = Field(gt=0, le=10_000, description="about 144-154 dB")
    extreme: Number = Field(gt=0, le=10_000, description="about 154-164 dB")


class PowerSpec(PowerFigures):
    """A catalog technology's power figures: every one given, each with its source."""

    transmit_mw: Number = Field(gt=0, le=100_000, description="power transmitting, mW")
    receive_mw: Number = Field(gt=0, le=100_000, description="power receiving, mW")
    light_sleep_mw: Number = Field(gt=0, le=100_000, description="power idle, mW")
    deep_sleep_mw: Number = Field(gt=0, le=100_000, description="power in PSM, mW")
    connected_mw: Number = Field(
        gt=0, le=100_000, description="power RRC-connected with no data, mW"
    )
    uplink_width: CoverageWidths = Field(description="uplink blocks at once per class")
    downlink_width: CoverageWidths = Field(description="downlink blocks at once per class")


class TechnologyOverride(ScenarioModel):
    """Per-technology figures overriding (or, for a new technology, adding to) the catalog."""

    carrier: Carrier | None = Field(
        None, description="carrier kind the technology uses; a new technology must name one"
    )
    load: ResourceFigures = Field(
        default_factory=ResourceFigures,
        description="busy-hour load of one terminal per resource (uplink, downlink, "
        "random_access, contexts), replacing the computed one for every category",
    )
    prach_configuration_index: OptionalWholeNumber = Field(
        None, ge=0, le=15, description="LTE family: PRACH configuration index (format 0)"
    )
    nprach_periodicity_ms: Literal[40, 80, 160, 240, 320, 640, 1280, 2560] | None = Field(
        None, description="NB-IoT: time between NPRACH opportunities, ms"
    )
    nprach_subcarriers: Literal[12, 24, 36, 48] | None = Field(
        None, description="NB-IoT: NPRACH subcarriers, one preamble each"
    )
    preambles: OptionalWholeNumber = Field(
        None, ge=1, le=64, description="contention preambles per random-access opportunity"
    )
    rao_period_ms: OptionalNumber = Field(
        None,
        ge=MIN_RAO_PERIOD_MS,
        le=2560,
        description="time between random-access opportunities, ms",
    )
    power: PowerFigures = Field(
        default_factory=PowerFigures,
        description="power drawn per radio state (mW) and data widths, replacing the "
        "catalog's (a new technology must give them all for its energy to be computed)",
    )

    @model_validator(mode="before")
    @classmethod
    def _removed_registration_capacity(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_devices_per_cell" in data:
            raise ValueError(
                "max_devices_per_cell was removed: a cell's capacity is its carriers' "
                "busy-hour resources, used by traffic; set a per-cell budget under "
                "network.carriers.<carrier>.budget and loads under load"
            )
        return data


class TechnologySpec(TechnologyOverride):
    """A catalog technology: every figure given, each with its source in the data table."""

    label: str = Field(min_length=1, description="name shown to people")
    generation: Generation = Field(description="base-station generation that carries it")
    random_access: RandomAccess = Field(description="random-access channel family")
    default_site_share: Number = Field(
        ge=0, le=1, description="share of the generation's sites carrying it by default"
    )
    carrier: Carrier = Field(description="carrier kind the technology uses")
    uplink_overhead_bytes: Number = Field(
        ge=0, le=10_000, description="protocol and signalling bytes added to each uplink report"
    )
    downlink_overhead_bytes: Number = Field(
        ge=0, le=10_000, description="signalling and acknowledgement bytes sent down per report"
    )
    preamble_transmissions_per_report: Number = Field(
        ge=0, le=100, description="random-access preamble transmissions per report"
    )
    preambles: WholeNumber = Field(
        ge=1, le=64, description="contention preambles per random-access opportunity"
    )
    rao_period_ms: Number = Field(
        ge=MIN_RAO_PERIOD_MS, le=2560, description="time between random-access opportunities, ms"
    )
    power: PowerSpec = Field(description="power drawn per radio state and data widths")
