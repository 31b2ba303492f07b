"""The base of every scenario model, and the per-resource figures several models share."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from sim.scenario.fields import OptionalNumber


class ScenarioModel(BaseModel):
    """Base of every scenario model: unknown keys refused, values frozen, no NaN or inf.

    Numeric fields use `Number` and `WholeNumber` (sim.scenario.fields); strict mode is the
    net under them, so that a field declared plain `int` or `float` does not take True
    for 1 or "0.3" for 0.3 either (pydantic's lax mode does).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


Resource = Literal["uplink", "downlink", "random_access", "contexts"]
RESOURCES: Final[tuple[Resource, ...]] = ("uplink", "downlink", "random_access", "contexts")


class ResourceFigures(ScenarioModel):
    """One optional figure per resource (a budget or a load; unit per resource)."""

    uplink: OptionalNumber = Field(None, ge=0, description="uplink data resource")
    downlink: OptionalNumber = Field(None, ge=0, description="downlink control and data")
    random_access: OptionalNumber = Field(None, ge=0, description="preamble transmissions")
    contexts: OptionalNumber = Field(None, ge=0, description="RRC-connected contexts")

    def given(self) -> dict[Resource, float]:
        """The figures that are set, by resource."""
        return {name: value for name in RESOURCES if (value := getattr(self, name)) is not None}
