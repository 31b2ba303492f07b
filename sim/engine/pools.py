"""What a run's pools (region, cell class, carrier) were at each month end: full or not."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.engine.plan import Plan
from sim.engine.world import Trajectory

FULL_SLACK = 1e-6
"""A resource whose IoT use is within this relative share of what IoT may use is full."""


def pools_full(plan: Plan, trajectory: Trajectory) -> NDArray[np.bool_]:
    """[t, region, class, carrier] whether each pool was full at each month end: a resource
    at what IoT may use there, IoT headroom gone (smartphones alone at the threshold), or
    terminals turned away that month."""
    network = plan.network
    usable = network.usable
    used = trajectory.pool_used.reshape(usable.shape)
    at_threshold = np.any((usable > 0) & (used >= usable * (1 - FULL_SLACK)), axis=-1)
    no_room = np.all(usable <= 0, axis=-1) & (network.class_cells > 0)
    turned_away = trajectory.pool_turned_away.reshape(usable.shape[:-1])
    return at_threshold | no_room | (turned_away > 0)
