"""Properties of the energy and battery-life model over random figures (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.access.energy import (
    MJ_PER_WH,
    STEPS,
    BatterySettings,
    DataPhase,
    PowerModel,
    battery_life_years,
    energy_per_report_mj,
    sleep_floor_mw,
)

positive_mw = st.floats(1e-3, 5000.0, allow_nan=False)
powers = st.builds(
    PowerModel,
    transmit_mw=positive_mw,
    receive_mw=positive_mw,
    light_sleep_mw=positive_mw,
    deep_sleep_mw=st.floats(1e-4, 10.0),
    connected_mw=positive_mw,
)
batteries = st.builds(
    BatterySettings,
    battery_wh=st.floats(0.1, 1000.0),
    self_discharge_per_year=st.sampled_from([0.0, 0.01, 0.1]),
    tau_hours=st.none() | st.floats(0.5, 9920.0),
    edrx_cycle_s=st.none() | st.floats(5.12, 10_485.76),
    paging_ms=st.floats(0.0, 100.0),
)
step_rows = st.lists(st.floats(0.0, 1e6), min_size=len(STEPS), max_size=len(STEPS))
data_phases = st.builds(
    DataPhase,
    uplink_ms=st.floats(0.0, 1e5).map(np.float64),
    downlink_ms=st.floats(0.0, 1e5).map(np.float64),
    tail_ms=st.floats(0.0, 1e5).map(np.float64),
)


@settings(max_examples=300, deadline=None)
@given(power=powers, battery=batteries, steps=step_rows, data=data_phases,
       step=st.integers(0, len(STEPS) - 1), extra_ms=st.floats(1e-3, 1e6),
       reports=st.floats(0.0, 1440.0))  # fmt: skip
def test_more_time_in_any_step_never_lengthens_battery_life(
    power: PowerModel,
    battery: BatterySettings,
    steps: list[float],
    data: DataPhase,
    step: int,
    extra_ms: float,
    reports: float,
) -> None:
    """A retry adds time to some step; it costs energy and never adds life."""
    longer = list(steps)
    longer[step] += extra_ms
    energy = energy_per_report_mj([steps, longer], power, data)
    assert energy[1] >= energy[0]
    life = battery_life_years(energy, reports, battery, power)
    assert life[1] <= life[0] * (1 + 1e-12)


@settings(max_examples=300, deadline=None)
@given(power=powers, battery=batteries, energy=st.floats(0.0, 1e6),
       reports=st.floats(0.0, 1440.0), more=st.floats(1e-6, 1440.0))  # fmt: skip
def test_more_reports_a_day_never_lengthen_battery_life(
    power: PowerModel, battery: BatterySettings, energy: float, reports: float, more: float
) -> None:
    """With updates costing a report's energy (the default), reporting more often replaces
    updates at best: the daily energy never falls."""
    lives = battery_life_years(energy, np.array([reports, reports + more]), battery, power)
    assert lives[1] <= lives[0] * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(power=powers, battery=batteries)
def test_zero_activity_lives_battery_over_the_sleep_floor(
    power: PowerModel, battery: BatterySettings
) -> None:
    """No report and no update: life = battery / floor (with the self-discharge on top)."""
    idle = BatterySettings(
        battery_wh=battery.battery_wh,
        self_discharge_per_year=battery.self_discharge_per_year,
        tau_hours=None,
        edrx_cycle_s=battery.edrx_cycle_s,
        paging_ms=battery.paging_ms,
    )
    assert idle.battery_wh is not None
    floor_mj_per_year = sleep_floor_mw(idle, power) * 86_400.0 * 365.25
    expected = 1.0 / (floor_mj_per_year / (idle.battery_wh * MJ_PER_WH)
                      + idle.self_discharge_per_year)  # fmt: skip
    life = float(battery_life_years(0.0, 0.0, idle, power))
    assert np.isclose(life, expected, rtol=1e-12)
    # and never more than the battery over the deep-sleep power alone
    assert life <= idle.battery_wh * MJ_PER_WH / (power.deep_sleep_mw * 86_400.0 * 365.25) * (
        1 + 1e-12
    )


@settings(max_examples=200, deadline=None)
@given(power=powers, battery=batteries, energy=st.floats(0.0, 1e6),
       reports=st.floats(0.0, 1440.0), factor=st.floats(1.0, 100.0))  # fmt: skip
def test_a_bigger_battery_never_shortens_life(
    power: PowerModel, battery: BatterySettings, energy: float, reports: float, factor: float
) -> None:
    assert battery.battery_wh is not None
    bigger = BatterySettings(
        battery_wh=battery.battery_wh * factor,
        self_discharge_per_year=battery.self_discharge_per_year,
        tau_hours=battery.tau_hours,
        edrx_cycle_s=battery.edrx_cycle_s,
        paging_ms=battery.paging_ms,
    )
    small = float(battery_life_years(energy, reports, battery, power))
    large = float(battery_life_years(energy, reports, bigger, power))
    assert large >= small * (1 - 1e-12)
    if battery.self_discharge_per_year == 0:  # no leakage: life scales with the battery
        assert np.isclose(large, small * factor, rtol=1e-9)
