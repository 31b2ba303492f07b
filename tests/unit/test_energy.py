"""Energy per report and battery life (sim/access/energy.py): closed forms and units."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import parse_scenario
from sim.access.energy import (
    MJ_PER_WH,
    STEPS,
    BatterySettings,
    DataPhase,
    PowerModel,
    battery_life_years,
    battery_settings,
    daily_energy_mj,
    data_phase,
    energy_per_report_mj,
    ideal_step_ms,
    power_model,
    share_below_design_life,
    sleep_floor_mw,
    tau_per_day,
    zero_activity_life_years,
)
from sim.access.procedure import Level, Procedure
from sim.scenario import catalog
from sim.scenario.technology import TechnologyOverride
from sim.supply.capacity import report_cost

POWER = PowerModel(
    transmit_mw=500.0, receive_mw=80.0, light_sleep_mw=3.0, deep_sleep_mw=0.015, connected_mw=10.0
)
NO_TAU = BatterySettings(battery_wh=5.0, tau_hours=None)


def test_steps_are_the_access_outcome_columns() -> None:
    assert STEPS == ("preamble", "rar", "msg3", "msg4", "wait")
    assert POWER.step_mw.tolist() == [500.0, 80.0, 500.0, 80.0, 3.0]


def test_energy_of_the_access_steps_in_mj() -> None:
    """mW x ms = uJ: 2 ms at 500 mW + 5 ms at 80 mW + 100 ms at 3 mW = 1.0 + 0.4 + 0.3 mJ."""
    steps = np.array([[1.0, 5.0, 1.0, 0.0, 100.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    assert energy_per_report_mj(steps, POWER) == pytest.approx([1.7, 0.0])
    assert energy_per_report_mj([1.0, 0, 0, 0, 0], POWER) == pytest.approx([0.5])


def test_data_phase_is_added_for_successful_terminals_only() -> None:
    data = DataPhase(np.array(10.0), np.array(20.0), np.array(1000.0))
    # 10 ms x 500 + 20 ms x 80 + 1000 ms x 10 = 5 + 1.6 + 10 mJ
    assert data.energy_mj(POWER) == pytest.approx(16.6)
    steps = np.zeros((3, 5))
    energy = energy_per_report_mj(steps, POWER, data, success=[True, False, True])
    assert energy.tolist() == pytest.approx([16.6, 0.0, 16.6])


def test_bad_step_times_are_refused() -> None:
    with pytest.raises(ValueError, match="5 columns"):
        energy_per_report_mj(np.zeros((2, 4)), POWER)
    with pytest.raises(ValueError, match=">= 0"):
        energy_per_report_mj([-1.0, 0, 0, 0, 0], POWER)


def test_power_figures_are_checked() -> None:
    with pytest.raises(ValueError, match="transmit_mw=0"):
        PowerModel(0, 80, 3, 0.015, 10)
    with pytest.raises(ValueError, match="battery_wh=-1"):
        BatterySettings(battery_wh=-1)


def test_ideal_step_times_of_the_tr37868_level() -> None:
    """LTE (TR 37.868 setup): a 1 ms preamble, the first RAR in the window's first slot
    (1 ms), a 1 ms Msg3, and Msg4 4 ms after Msg3 plus 1 ms: 1, 1, 1, 5, 0."""
    assert ideal_step_ms(Procedure().levels[0]).tolist() == [1.0, 1.0, 1.0, 5.0, 0.0]
    level = Level(
        preambles=48,
        rao_period_ms=640,
        rao_offset_ms=8,
        preamble_ms=5.6 * 8,
        rar_ms=32,
        msg3_ms=64,
        msg4_ms=32,
        connection_request_processing_ms=12,
    )
    assert ideal_step_ms(level).tolist() == pytest.approx([44.8, 32.0, 64.0, 44.0, 0.0])


def test_uncongested_battery_life_in_closed_form() -> None:
    """One report a day of an ideal LTE access, no data phase, no TAU, 5 Wh:
    E = (1 x 500 + 1 x 80 + 1 x 500 + 5 x 80) / 1000 = 1.48 mJ; a day = 1.48 mJ +
    0.015 mW x 86,400 s = 1.48 + 1296 mJ; life = 5 x 3.6e6 / (1297.48 x 365.25) years."""
    energy = energy_per_report_mj(ideal_step_ms(Procedure().levels[0]), POWER)
    assert energy == pytest.approx([1.48])
    life = battery_life_years(energy, 1.0, NO_TAU, POWER)
    assert life == pytest.approx([5 * 3.6e6 / (1297.48 * 365.25)])


def test_zero_activity_lives_battery_over_the_sleep_floor() -> None:
    """5 Wh / 0.015 mW = 333,333 h = 38.03 years."""
    life = float(battery_life_years(0.0, 0.0, NO_TAU, POWER))
    expected = 5.0 * MJ_PER_WH / (0.015 * 86_400.0) / 365.25
    assert life == pytest.approx(expected)
    assert life == pytest.approx(38.03, abs=0.01)
    assert zero_activity_life_years(NO_TAU, POWER) == pytest.approx(expected)
    assert expected == pytest.approx(5.0 / 0.015e-3 / 8766.0)


def test_self_discharge_caps_the_life() -> None:
    """A battery losing 2 %/year lasts at most 50 years; 1 / (1/L0 + 0.02) in general."""
    leaky = BatterySettings(battery_wh=5.0, tau_hours=None, self_discharge_per_year=0.02)
    ideal = battery_life_years(0.0, 0.0, NO_TAU, POWER)[()]
    assert battery_life_years(0.0, 0.0, leaky, POWER) == pytest.approx(1 / (1 / ideal + 0.02))
    assert battery_life_years(0.0, 0.0, leaky, POWER) < 50.0


def test_tracking_area_updates_fill_what_reports_leave() -> None:
    """T3412 = 12 h: two updates a day without reports, one with one report, none with two."""
    settings = BatterySettings(battery_wh=5.0, tau_hours=12.0)
    assert tau_per_day([0.0, 1.0, 2.0, 5.0], settings).tolist() == [2.0, 1.0, 0.0, 0.0]
    assert tau_per_day([0.0], NO_TAU).tolist() == [0.0]
    # an update costs a report's energy by default, or what it is given
    floor = 0.015 * 86_400.0
    assert daily_energy_mj(10.0, 1.0, settings, POWER) == pytest.approx(10 + 10 + floor)
    assert daily_energy_mj(10.0, 1.0, settings, POWER, tau_energy_mj=4.0) == pytest.approx(
        10 + 4 + floor
    )


def test_edrx_paging_raises_the_floor() -> None:
    """10 ms at 80 mW every 163.84 s adds 0.8 mJ / 163.84 s = 4.88 uW to 15 uW."""
    edrx = BatterySettings(battery_wh=5.0, edrx_cycle_s=163.84, paging_ms=10.0)
    assert sleep_floor_mw(edrx, POWER) == pytest.approx(0.015 + 80 * 10 / 163_840)
    assert sleep_floor_mw(NO_TAU, POWER) == 0.015


def test_mains_powered_terminals_have_no_battery_life() -> None:
    mains = BatterySettings(battery_wh=None)
    life = battery_life_years(np.ones(3), 24.0, mains, POWER)
    assert life.shape == (3,)
    assert np.isnan(life).all()
    assert math.isnan(share_below_design_life(life, 10.0))
    assert math.isnan(zero_activity_life_years(mains, POWER))


def test_share_below_design_life() -> None:
    assert share_below_design_life([5.0, 12.0, 9.9, 30.0], 10.0) == pytest.approx(0.5)
    assert share_below_design_life([5.0, math.nan, 20.0], 10.0) == pytest.approx(0.5)
    assert math.isnan(share_below_design_life([5.0], None))


def test_catalog_power_and_a_scenario_override() -> None:
    scenario = parse_scenario(
        {
            "technologies": {"nb-iot": {"power": {"transmit_mw": 600.0}}},
            "categories": {"m": {"initial": 5, "technologies": ["nb-iot"]}},
        }
    )
    base = power_model("nb-iot")
    assert base.transmit_mw == catalog.TECHNOLOGIES["nb-iot"].power.transmit_mw
    changed = power_model("nb-iot", scenario.technologies["nb-iot"])
    assert changed.transmit_mw == 600.0
    assert changed.receive_mw == base.receive_mw


def test_a_new_technology_must_give_every_power_figure() -> None:
    override = TechnologyOverride.model_validate(
        {"carrier": "nb-iot", "power": {"transmit_mw": 900.0}}
    )
    with pytest.raises(ValueError, match=r"technologies\.sat\.power: receive_mw"):
        power_model("sat", override)


def test_unknown_power_keys_are_refused() -> None:
    with pytest.raises(Exception, match="transmit_w"):
        parse_scenario(
            {
                "technologies": {"nb-iot": {"power": {"transmit_w": 1.0}}},
                "categories": {"m": {"initial": 5, "technologies": ["nb-iot"]}},
            }
        )
    with pytest.raises(Exception, match="battery_mah"):
        parse_scenario(
            {"categories": {"m": {"preset": "water_meter", "energy": {"battery_mah": 1}}}}
        )


def test_category_energy_defaults_from_the_preset_and_merges() -> None:
    scenario = parse_scenario(
        {
            "categories": {
                "w": {"preset": "water_meter", "initial": 5, "energy": {"tau_hours": 48}},
                "v": {"preset": "vehicle", "initial": 5},
                "own": {"initial": 5, "technologies": ["nb-iot"], "lifetime_years": 7.0},
            }
        }
    )
    water = battery_settings(scenario.categories["w"])
    preset = catalog.CATEGORY_PRESETS["water_meter"]["energy"]
    assert water.battery_wh == preset["battery_wh"]
    assert water.tau_hours == 48.0  # the scenario's key, the preset's others kept
    assert water.design_life_years == preset["design_life_years"]
    assert battery_settings(scenario.categories["v"]).battery_wh is None
    own = battery_settings(scenario.categories["own"])
    assert own.battery_wh is None
    assert own.design_life_years is None
    assert scenario.categories["own"].design_life_years == 7.0  # defaults to the lifetime


def test_data_phase_from_the_link_table() -> None:
    """NB-IoT, 100 bytes up and 20 down: block-ms of report_cost / width, whole ms; the
    tail tops the data up to the link table's connected time."""
    data = data_phase("nb-iot", [0, 1, 2, 5], 100.0, 20.0)
    widths = catalog.TECHNOLOGIES["nb-iot"].power.uplink_width
    for index, level in enumerate(("normal", "robust", "extreme", "extreme")):
        cost = report_cost("nb-iot", level, 100.0, 20.0)
        up = math.ceil(cost.uplink / getattr(widths, level))
        assert data.uplink_ms[index] == up
        assert data.downlink_ms[index] == math.ceil(cost.downlink)
        total = data.uplink_ms[index] + data.downlink_ms[index] + data.tail_ms[index]
        assert total == pytest.approx(max(cost.connected_s * 1000, up + math.ceil(cost.downlink)))
    # deeper coverage costs more energy
    energy = data.energy_mj(power_model("nb-iot"))
    assert energy[0] < energy[1] < energy[2]


def test_every_catalog_technology_has_an_energy() -> None:
    """Every catalog technology's power and data phase are complete."""
    for name in catalog.TECHNOLOGIES:
        power = power_model(name)
        data = data_phase(name, [0, 1, 2], 100.0, 20.0)
        energy = energy_per_report_mj(np.tile(ideal_step_ms(Procedure().levels[0]), (3, 1)),
                                      power, data)  # fmt: skip
        assert np.all(energy > 0), name


def test_a_report_that_cannot_get_through_empties_the_battery_at_once() -> None:
    """Infinite energy per report (no access succeeded) is a life of 0, with or without
    tracking-area updates, and no warning of 0 x inf."""
    import warnings

    settings = BatterySettings(battery_wh=5.0, tau_hours=24.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lives = battery_life_years(np.array([np.inf, np.inf]), np.array([24.0, 0.5]),
                                   settings, POWER)  # fmt: skip
    assert lives.tolist() == [0.0, 0.0]


def test_reports_spread_over_the_day_all_meet_busy_hour_conditions() -> None:
    """Hourly reads (busy-hour share 1/24, written 0.0417 or 0.042) meet the busy window's
    conditions every hour; a category with a fifth of its reports in the busy hour, only
    that fifth."""
    from sim.access.experience import congested_share

    assert congested_share(1 / 24) == 1.0
    assert congested_share(0.0417) == 1.0
    assert congested_share(0.042) == 1.0
    assert congested_share(0.2) == 0.2
    assert congested_share(1.0) == 1.0
