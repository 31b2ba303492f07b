"""The growth layer's engine: the plan of a run and the SimPy world of terminal cohorts
joining and leaving cell pools."""

from sim.engine.plan import AUTO_COHORTS, MAX_COHORTS, Plan, build_plan, mix_table
from sim.engine.pools import pools_full
from sim.engine.world import Trajectory, simulate

__all__ = [
    "AUTO_COHORTS",
    "MAX_COHORTS",
    "Plan",
    "Trajectory",
    "build_plan",
    "mix_table",
    "pools_full",
    "simulate",
]
