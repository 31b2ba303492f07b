"""Technologies switched off in some regions from a month on (`network.switch_off`).

From its month on a switched-off technology is carried on no site of those regions: its
sites and cells there are 0, and its carrier kind is there on the largest share any of its
technologies still on has (or on the share `network.carriers` gives), so a switch-off can
shrink its carrier's cells and raise the availability of the technologies left on it.
What becomes of the terminals left on it is the engine's (`sim.engine.world`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.scenario import Scenario, month_index

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class SwitchOffEvent:
    """One technology switched off in one region."""

    row: int
    """First month-end row t at which it is off (its month is the one ending at row t)."""
    region: int
    technology: int
    policy: str
    """migrate or stranded: what becomes of the terminals left on it."""


def switch_off_events(
    scenario: Scenario,
    month_indices: IntArray,
    regions: tuple[str, ...],
    technologies: tuple[str, ...],
) -> tuple[BoolArray, tuple[SwitchOffEvent, ...]]:
    """[t, region, technology] whether the technology is off in the month ending at row t,
    and the switch-off events sorted by (row, region, technology)."""
    off = np.zeros((len(month_indices), len(regions), len(technologies)), dtype=bool)
    events = []
    for switch in scenario.network.switch_off:
        k = technologies.index(switch.technology)
        first = int(np.searchsorted(month_indices, month_index(switch.date)))
        names = switch.regions if switch.regions is not None else list(regions)
        # checked: every name is a leaf's or a group's path (a group: all of its leaves)
        covered = {leaf for name in names for leaf in scenario.leaves_of(name)}
        for r, region in enumerate(regions):
            if region in covered:
                off[first:, r, k] = True
                if first < len(month_indices):
                    events.append(SwitchOffEvent(first, r, k, switch.policy))
    events.sort(key=lambda event: (event.row, event.region, event.technology))
    return off, tuple(events)


def regional_carriage(
    off: BoolArray,
    tech_share: FloatArray,
    carrier_share: FloatArray,
    carrier_of: tuple[int, ...],
    given_carrier_share: tuple[bool, ...],
) -> tuple[FloatArray, FloatArray]:
    """Per region, the share of its carrier's cells carrying each technology ([t, region,
    technology], the availability) and each carrier's share of its generation's sites
    relative to the national one ([t, region, carrier]: 1 where nothing is switched off).

    `tech_share` [t, technology] and `carrier_share` [t, carrier] are the national shares
    of the generation's sites; a carrier whose share the scenario gives keeps it.
    """
    on_share = tech_share[:, None, :] * ~off  # [t, region, tech]
    n_reg = off.shape[1]
    regional = np.repeat(carrier_share[:, None, :], n_reg, axis=1)  # [t, region, carrier]
    for c, given in enumerate(given_carrier_share):
        members = [k for k, owner in enumerate(carrier_of) if owner == c]
        if not given and members:
            regional[:, :, c] = on_share[:, :, members].max(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(carrier_share[:, None, :] > 0, regional / carrier_share[:, None, :], 1.0)
        holding = regional[:, :, list(carrier_of)]
        availability = np.where(holding > 0, np.minimum(1.0, on_share / holding), 0.0)
    return availability, ratio
