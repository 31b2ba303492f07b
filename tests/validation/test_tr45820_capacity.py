"""The TR 45.820 NB-IoT capacity design point on one cell of the capacity model.

Reference (all second-hand: 3GPP TR 45.820 v13.1.0 itself could not be read; see the
sources notes of round 9, section 1):

* The capacity requirement is 52,547 devices in one sector served by one 180 kHz NB-IoT
  carrier ("about 50,000 devices per sector on a single 200 kHz carrier", TR 45.820
  cl. 7.3.6 as summarised by M. Sauter, "Cellular IoT - Part 9 - 50.000 devices per cell",
  wirelessmoves blog, 2016-09).  So at this point every resource's use must stay below
  its physical budget.
* Mobile autonomous reporting (MAR), periodic: 40 % of devices report once a day, 40 %
  every 2 hours, 15 % every hour and 5 % every 30 minutes, uniformly over the day; that is
  52,547 x (0.40 / 86,400 + 0.40 / 7,200 + 0.15 / 3,600 + 0.05 / 1,800) = 6.81 reports/s
  (the mix and the 52,547 are quoted from secondary summaries, not read in the TR).
* 20 bytes of user data per report, 105 bytes with all overhead (Sauter's summary; the
  catalog's NB-IoT uplink overhead is these 85 bytes).  Sauter's own check: 50,000 devices
  x 105 bytes x 5 an hour = 58 kbit/s against 336 kbit/s raw; his "5 an hour" does not fit
  the MAR mix above, whose 6.8 reports/s carry 5.7 kbit/s.
* The TR's coupling-loss distribution, its downlink (acknowledgement, command) model and
  its own resource-utilisation figures could NOT be read.  So the test checks that the
  design point fits with every device in the normal class (every resource below its
  planning threshold), and computes how deep a coverage mix still fits: the largest share
  of devices in the extreme (164 dB) class, a fifth in the robust class, at which every
  resource stays within its physical budget (uses are linear in the mix).  A mix of
  {normal 0.7, robust 0.2, extreme 0.1} (an ASSUMPTION: a tenth of devices at the TR's
  164 dB target) and a deeper one are printed beside it.  No application downlink data
  (the TR's acknowledgements are unknown); the catalog's per-report downlink signalling
  (60 bytes) is charged.
* Finding, not a reference: with the catalog's repetitions (NPDCCH R = 128 per grant and
  NPDSCH x 128 in the extreme class) the downlink, not the uplink, binds once a few
  per cent of devices are in deep coverage: each uplink block needs a grant repeated R
  times.  The TR's own split of uplink and downlink use could not be read to confirm it.

The utilisations are computed from the plan the growth layer uses (`build_plan`: catalog
budgets of one NB-IoT cell, `terminal_load` per category), printed (pytest -s) and put in
every assertion message.  Costs: well under a second, plus about 2 s for the growth runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import sim
from sim import parse_scenario
from sim.engine import Plan, build_plan
from sim.scenario.base import RESOURCES
from sim.supply.capacity import report_cost

DEVICES = 52_547
"""Devices in the sector (TR 45.820 design point, second-hand)."""
PERIODS_S = {"daily": 86_400, "two_hourly": 7_200, "hourly": 3_600, "half_hourly": 1_800}
MAR_SHARES = {"daily": 0.40, "two_hourly": 0.40, "hourly": 0.15, "half_hourly": 0.05}
USER_BYTES = 20
WITH_OVERHEAD_BYTES = 105
MIXES: dict[str, dict[str, float]] = {
    "all-normal": {"normal": 1.0},
    "assumed": {"normal": 0.7, "robust": 0.2, "extreme": 0.1},  # ASSUMPTION (see above)
    "deeper": {"normal": 0.5, "robust": 0.3, "extreme": 0.2},
}


def device_counts() -> dict[str, int]:
    """The 52,547 devices split 40/40/15/5 into whole devices (largest remainder)."""
    exact = {name: DEVICES * share for name, share in MAR_SHARES.items()}
    counts = {name: math.floor(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: counts[n] - exact[n])[: DEVICES - sum(counts.values())]:
        counts[name] += 1
    return counts


def design_scenario(
    mix: dict[str, float], end: str = "2023-12", resolution: int = 1
) -> dict[str, Any]:
    """One NB-IoT cell (catalog budgets, one cell class) holding the design point's devices
    as four MAR categories; a constant base, so the same devices are there every month."""
    categories = {
        name: {
            "initial": count,
            "growth": {"model": "cagr", "rate": 0.0},
            "technologies": ["nb-iot"],
            "when_full": "drop",
            "traffic": {
                "reports_per_day": 86_400 / PERIODS_S[name],
                "payload_bytes": USER_BYTES,
                "busy_hour_share": 1 / 24,  # MAR reports are uniform over the day
                "downlink_bytes": 0,
                "coverage": mix,
            },
        }
        for name, count in device_counts().items()
    }
    return {
        "name": "tr45820",
        "start": "2023-01",
        "end": end,
        "resolution": resolution,
        "network": {
            "sectors_per_site": 1,
            "sites": {"4G": {"initial": 1}},
            "technologies": {"nb-iot": {"generation": "4G", "share": 1.0}},
            "cell_classes": 1,
        },
        "categories": categories,
    }


def plan_of(mix: dict[str, float]) -> Plan:
    return build_plan(parse_scenario(design_scenario(mix)))


def utilisation(plan: Plan) -> dict[str, float]:
    """Busy-hour use of each resource of the one cell over its physical budget."""
    carrier = plan.network.carriers.index("nb-iot")
    tech = plan.network.technologies.index("nb-iot")
    devices = plan.initial[:, 0, tech].astype(float)  # [category]
    use = devices @ plan.loads[:, tech, :]  # [resource], units per busy hour
    cells = plan.network.carrier_cells[0, 0, carrier]
    return {
        resource: float(use[j] / (cells * plan.network.budget[carrier, j]))
        for j, resource in enumerate(RESOURCES)
    }


UTILISATION = {name: utilisation(plan_of(mix)) for name, mix in MIXES.items()}
THRESHOLDS = dict(zip(RESOURCES, plan_of(MIXES["assumed"]).network.threshold[0], strict=True))


def table() -> str:
    """The utilisations of every mix, one line each."""
    lines = [f"TR 45.820 design point, {DEVICES:,} devices on one NB-IoT cell:"]
    for name, figures in UTILISATION.items():
        shown = ", ".join(f"{resource} {value:.3f}" for resource, value in figures.items())
        lines.append(f"  {name:10s} {MIXES[name]}: {shown}")
    costs = {level: report_cost("nb-iot", level, USER_BYTES, 0) for level in MIXES["assumed"]}
    lines.append(
        "  per report (normal/robust/extreme): uplink "
        + "/".join(f"{cost.uplink:g}" for cost in costs.values())
        + " tone-ms, downlink "
        + "/".join(f"{cost.downlink:g}" for cost in costs.values())
        + " subframes (NPDSCH + NPDCCH per grant)"
    )
    return "\n".join(lines)


def reports_per_second() -> float:
    return sum(DEVICES * share / PERIODS_S[name] for name, share in MAR_SHARES.items())


def test_print_design_point() -> None:
    """Shows the utilisations (pytest -s); the deeper the coverage, the more of everything
    except random access is used."""
    print("\n" + table())
    for resource in ("uplink", "downlink", "contexts"):
        ordered = [UTILISATION[name][resource] for name in ("all-normal", "assumed", "deeper")]
        assert ordered == sorted(ordered), table()


def test_report_rate_is_about_6_8_per_second() -> None:
    """The MAR mix over 52,547 devices is about 6.8 reports/s, and the plan's busy hour
    holds 6.8 x 3600 of them (busy-hour share 1/24 of a uniform day)."""
    rate = reports_per_second()
    assert sum(device_counts().values()) == DEVICES
    assert rate == pytest.approx(6.81, abs=0.01)
    plan = plan_of(MIXES["assumed"])
    per_hour = sum(
        count * plan.scenario.categories[name].traffic.reports_per_day / 24
        for name, count in zip(plan.categories, plan.initial[:, 0, 0].tolist(), strict=True)
    )
    assert per_hour == pytest.approx(rate * 3600, rel=1e-3)


def test_random_access_use_is_the_reports_against_the_budget() -> None:
    """Random access: 6.8 x 3600 reports in the busy hour x 1.43 preamble transmissions
    each (the access procedure's, at the collision target) against the NB-IoT budget of
    48 preambles x 90,000 opportunities x -ln(0.99) = 43,417 transmissions."""
    budget = 48 * (3_600_000 / 40) * -math.log(0.99)
    expected = reports_per_second() * 3600 * 1.43 / budget
    for name in MIXES:  # coverage does not change the preamble count per report
        assert UTILISATION[name]["random_access"] == pytest.approx(expected, rel=2e-4), table()
    assert expected < 1, table()


def test_uplink_by_hand_at_normal_coverage() -> None:
    """All-normal uplink: a 105-byte report is ceil(840 / 328) = 3 transport blocks of 24
    tone-ms (12-tone NPUSCH, I_TBS 10, 2 RUs); the budget is 12 tones x 3.6e6 ms x (1 -
    0.14 NPRACH) a busy hour.  About 5 %: the same order as Sauter's arithmetic once the
    MAR rate (not '5 an hour') is used (5.7 kbit/s of 336 kbit/s raw = 1.7 %, at code rate
    about 1/2, padded to 3 blocks, less the NPRACH share)."""
    blocks = math.ceil(8 * WITH_OVERHEAD_BYTES / 328)
    expected = reports_per_second() * 3600 * blocks * 24 / (12 * 3.6e6 * (1 - 0.14))
    assert UTILISATION["all-normal"]["uplink"] == pytest.approx(expected, rel=2e-4), table()
    assert reports_per_second() * 8 * WITH_OVERHEAD_BYTES / 336e3 == pytest.approx(0.017, abs=1e-3)


def extreme_share_limit(robust: float = 0.2) -> float:
    """The largest share of devices in the extreme class (a share `robust` in the robust
    class, the rest normal) at which every resource stays within its physical budget.

    Each use is linear in the coverage shares, so the limit is where the first resource's
    line crosses 1."""
    alone = {level: utilisation(plan_of({level: 1.0})) for level in ("normal", "robust", "extreme")}
    limit = 1.0 - robust
    for resource in RESOURCES:
        base = (1 - robust) * alone["normal"][resource] + robust * alone["robust"][resource]
        slope = alone["extreme"][resource] - alone["normal"][resource]
        if slope > 0:
            limit = min(limit, (1.0 - base) / slope)
    return max(0.0, limit)


def test_design_point_fits_the_carrier() -> None:
    """TR 45.820: the design point is served.  With every device in the normal class each
    resource stays below its planning threshold; with a fifth in the robust class it still
    fits while the extreme class holds up to the printed limit, and just below that limit
    every resource is within its physical budget (just above, one is not)."""
    normal = UTILISATION["all-normal"]
    over = {r: u for r, u in normal.items() if u >= THRESHOLDS[r]}
    assert not over, f"over the planning threshold at all-normal coverage: {over}\n{table()}"
    limit = extreme_share_limit()
    print(f"\nfits with 0.2 robust while the extreme share is at most {limit:.3f}")
    assert 0 < limit < 0.8, table()
    below = utilisation(plan_of({"normal": 0.8 - limit * 0.99, "robust": 0.2,
                                 "extreme": limit * 0.99}))  # fmt: skip
    above = utilisation(plan_of({"normal": 0.8 - limit * 1.01, "robust": 0.2,
                                 "extreme": limit * 1.01}))  # fmt: skip
    assert max(below.values()) < 1, (limit, below, table())
    assert max(above.values()) > 1, (limit, above, table())


@pytest.mark.parametrize("mix", ["all-normal", "assumed"])
def test_growth_layer_agrees(mix: str) -> None:
    """The growth layer with the design point's devices present (constant base, cohorts of
    10, one cell, three months) turns none away exactly when every static use is within
    its planning threshold; at all-normal coverage it turns none away (summary
    first_full_date empty).  Under a second per mix."""
    result = sim.run(design_scenario(MIXES[mix], end="2023-03", resolution=10))
    summary = result.summary.set_index("metric")["value"]
    static = UTILISATION[mix]
    over = {r: round(u, 3) for r, u in static.items() if u > THRESHOLDS[r]}
    message = (
        f"{mix}: first_full_date {summary['first_full_date']!r} "
        f"({summary['first_full_resource']!r}), static use over thresholds {over}\n{table()}"
    )
    if mix == "all-normal":
        assert not over, message
    if over:
        # full from the initial placement (the first row, the start of the horizon)
        assert summary["first_full_date"] == result.cells["date"].min(), message
        worst = max(over, key=lambda r: over[r] / THRESHOLDS[r])
        assert summary["first_full_resource"] == worst, message
        assert int(summary["initial_blocked"]) > 0, message
    else:
        assert summary["first_full_date"] == "", message
        assert int(summary["blocked_total"]) == 0, message
        connected = result.connections
        assert int(connected[connected["date"] == "2023-03"]["connected"].sum()) == pytest.approx(
            DEVICES, rel=0.01
        ), message
    assert np.isfinite(float(summary["peak_utilization"])), message
