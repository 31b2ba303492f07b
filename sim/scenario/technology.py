"""The figures of a radio technology: those a scenario may override, and the catalog's full
description of each technology (validated by the same declarations)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sim.scenario.fields import (
    MAX_TERMINALS,
    Generation,
    Number,
    OptionalNumber,
    OptionalWholeNumber,
    WholeNumber,
)

MIN_RAO_PERIOD_MS = 0.01
"""Shortest time between random-access opportunities the access layer simulates, ms (its
blocks of opportunities would grow without bound below it)."""

RandomAccess = Literal["lte-prach", "nb-iot-nprach", "nr-prach"]
"""The random-access channel family of a technology: which configuration fields apply."""


class ScenarioModel(BaseModel):
    """Base of every scenario model: unknown keys refused, values frozen, no NaN or inf.

    Numeric fields use `Number` and `WholeNumber` (sim.scenario.fields); strict mode is the
    net under them, so that a field declared plain `int` or `float` does not take True
    for 1 or "0.3" for 0.3 either (pydantic's lax mode does).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class TechnologyOverride(ScenarioModel):
    """Per-technology figures overriding (or, for a new technology, adding to) the catalog."""

    max_devices_per_cell: OptionalWholeNumber = Field(
        None, ge=1, le=MAX_TERMINALS, description="registration capacity, terminals per cell"
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


class TechnologySpec(TechnologyOverride):
    """A catalog technology: every figure given, each with its source in the data table."""

    label: str = Field(min_length=1, description="name shown to people")
    generation: Generation = Field(description="base-station generation that carries it")
    random_access: RandomAccess = Field(description="random-access channel family")
    default_site_share: Number = Field(
        ge=0, le=1, description="share of the generation's sites carrying it by default"
    )
    max_devices_per_cell: WholeNumber = Field(
        ge=1, le=MAX_TERMINALS, description="registration capacity, terminals per cell"
    )
    preambles: WholeNumber = Field(
        ge=1, le=64, description="contention preambles per random-access opportunity"
    )
    rao_period_ms: Number = Field(
        ge=MIN_RAO_PERIOD_MS, le=2560, description="time between random-access opportunities, ms"
    )
