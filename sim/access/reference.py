"""The TR 37.868 reference table shipped with the package (see sim/access/data/README.md)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

TRAFFIC_CASES = {"uniform_60s": ("uniform", 60.0), "beta34_10s": ("beta", 10.0)}
"""Reference traffic model name -> (iotsim traffic model, window in s)."""


def tr37868_reference() -> pd.DataFrame:
    """Columns traffic_model, devices, metric, value, ci95, replications."""
    with resources.files("sim.access").joinpath("data/tr37868_reference.csv").open("r") as stream:
        return pd.read_csv(stream)
