"""cells.csv and the summary figures read from it, checked against the run's own arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers import with_unit_capacity

from sim import run


def _one_site(contexts: int, classes: int = 4) -> dict[str, Any]:
    """One NB-IoT cell split into cell classes (hottest 5 %), `contexts` per cell."""
    data: dict[str, Any] = {
        "name": "one-site",
        "end": "2023-06",
        "resolution": 5,
        "regions": {"only": {"terminal_share": 1.0, "site_share": 1.0, "spread_cv": 1.5}},
        "network": {
            "sectors_per_site": 1,
            "sites": {"4G": {"initial": 1}},
            "technologies": {"nb-iot": {"generation": "4G"}},
        },
        "categories": {"m": {"initial": 2000, "technologies": ["nb-iot"], "when_full": "drop"}},
    }
    data = with_unit_capacity(data, {"nb-iot": contexts})
    data["network"]["cell_classes"] = classes
    data["network"]["hottest_cells"] = 0.05
    return data


def test_a_full_class_of_less_than_half_a_cell_still_counts() -> None:
    """The hottest class is 5 % of one cell (cells.csv rounds it to 0 cells); it holds
    2,000 x its terminal share, far above 5 % of 1,000 contexts, so it is full, and the
    share of cells full at the end counts its 0.05 cells (plus any other full class)."""
    result = run(_one_site(1000))
    cells = result.cells
    end = cells[cells["date"] == "2023-06"].set_index("cell_class")
    assert int(end.loc["p95-100", "cells"]) == 0  # rounded away in the table
    assert bool(end.loc["p95-100", "full"])
    share = float(result.figure("cells_full_share_end_nb-iot"))
    assert share >= 0.05 - 1e-9


def test_cells_table_adds_up_to_the_run() -> None:
    """Per month, the classes' terminals on the NB-IoT carrier sum to the connected NB-IoT
    terminals of connections.csv, and contexts utilisation is terminals / budget (unit
    loads, no smartphones) in every class with cells."""
    result = run(_one_site(1000))
    cells = result.cells
    per_month = cells.groupby("date")["terminals"].sum()
    connected = result.connections.groupby("date")["connected"].sum()
    np.testing.assert_array_equal(per_month.to_numpy(), connected.loc[per_month.index].to_numpy())
    class_cells = {"p0-77.64": 0.7764, "p77.64-92.24": 0.146, "p92.24-95": 0.0276, "p95-100": 0.05}
    for label, share in class_cells.items():
        rows = cells[cells["cell_class"] == label]
        expected = rows["terminals"] / (1000 * share)
        np.testing.assert_allclose(rows["contexts_utilization"], expected, atol=2e-6, err_msg=label)
    assert (cells["headroom_used"] <= 1 + 1e-9).all()
    # a full class turned terminals away: what is left free is less than one cohort (5
    # terminals) of the smallest class's 50 contexts
    assert cells.loc[cells["full"], "headroom_used"].min() > 1 - 5 / 50
