"""The access layer: the random-access procedure of 3GPP TR 37.868 in one cell, its arrivals
and metrics, and the hot cells of a scenario run through it."""

from sim.access.cell import AccessOutcome, simulate_cell
from sim.access.experiment import METRICS, Experiment, metrics, run_experiment
from sim.access.procedure import PROCEDURE_PARAMETERS, Procedure

__all__ = [
    "METRICS",
    "PROCEDURE_PARAMETERS",
    "AccessOutcome",
    "Experiment",
    "Procedure",
    "metrics",
    "run_experiment",
    "simulate_cell",
]
