"""Energy a terminal spends per report, and how long its battery lasts.

The access layer records, per terminal, the time spent in each step of the random-access
procedure (`STEPS`, columns of ``AccessOutcome.step_ms``).  This module turns those times
into energy and battery life, with pure vectorised functions (one value per terminal):

* **Access** (``step_ms``): preambles and Msg3 are sent at the transmit power, the RAR and
  Msg4 are listened for at the receive power, backoff and access barring are spent in light
  sleep.  A lone terminal succeeding at once spends `ideal_step_ms` of its level.
* **Data phase** (`DataPhase`, from `data_phase`): after the access, the report's uplink
  blocks at the transmit power, the downlink (grants, acknowledgement, release) at the
  receive power, and the RRC-connected tail until the release (the link table's
  ``connected_s`` less the data time, the inactivity timer) at the connected-mode power.
* **A day**: reports x energy per report, plus periodic tracking-area updates (TAU, one
  when the terminal has not reported for T3412), plus the sleep floor (power saving mode,
  or eDRX paging) over the whole day.  Battery life = battery energy / daily energy, less
  any self-discharge.  The methodology is 3GPP TR 45.820's (cl. 5.4: a battery of given
  energy, no leakage, the energy of each event of a report); its figures are not
  reproduced exactly for want of its timelines (tests/validation/test_tr45820_battery.py).

Units are in the names: ms, mW, mJ (mW x ms = uJ, so mJ = mW x ms / 1000), Wh
(1 Wh = 3.6e6 mJ), years of 365.25 days.  Mains-powered or recharged categories have no
battery (``battery_wh`` None): their battery life is NaN, "not applicable".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.access.cell import STEPS
from sim.access.procedure import Level
from sim.scenario import Category, catalog
from sim.scenario.radio import COVERAGE_CLASSES
from sim.scenario.technology import TechnologyOverride
from sim.supply.capacity import report_cost

FloatArray = NDArray[np.float64]

MJ_PER_WH: Final = 3.6e6
"""Millijoules in a watt-hour."""
MS_PER_DAY: Final = 86_400_000.0
DAYS_PER_YEAR: Final = 365.25
HOURS_PER_DAY: Final = 24.0


@dataclass(frozen=True)
class PowerModel:
    """Power a terminal draws in each radio state, mW."""

    transmit_mw: float
    """Transmitting at its maximum output power (e.g. 23 dBm), PA efficiency included."""
    receive_mw: float
    """Receiving (RAR, Msg4, downlink data and control)."""
    light_sleep_mw: float
    """Idle between activities: backoff, access barring."""
    deep_sleep_mw: float
    """Power saving mode (PSM), between reports."""
    connected_mw: float
    """RRC-connected with no data (connected-mode DRX), until the release."""

    def __post_init__(self) -> None:
        bad = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if not (isinstance(getattr(self, f.name), int | float) and getattr(self, f.name) > 0
                    and math.isfinite(getattr(self, f.name)))
        ]  # fmt: skip
        if bad:
            raise ValueError(f"power figures must be finite and > 0 mW: {', '.join(bad)}")

    @property
    def step_mw(self) -> FloatArray:
        """Power during each of `STEPS`, mW: transmit, receive, transmit, receive, light sleep."""
        return np.array(
            [self.transmit_mw, self.receive_mw, self.transmit_mw, self.receive_mw,
             self.light_sleep_mw]
        )  # fmt: skip


@dataclass(frozen=True)
class DataPhase:
    """Radio time of a report after the access, ms (a number, or one per terminal)."""

    uplink_ms: FloatArray
    """Sending the report's uplink blocks with their repetitions (transmit power)."""
    downlink_ms: FloatArray
    """Receiving grants, the acknowledgement and the release (receive power)."""
    tail_ms: FloatArray
    """RRC-connected with no data until the release (connected-mode power)."""

    def energy_mj(self, power: PowerModel) -> FloatArray:
        """Energy of the data phase, mJ."""
        return (
            self.uplink_ms * power.transmit_mw
            + self.downlink_ms * power.receive_mw
            + self.tail_ms * power.connected_mw
        ) / 1000.0


@dataclass(frozen=True)
class BatterySettings:
    """A category's battery and sleep (see ``sim.scenario.model.EnergySettings``)."""

    battery_wh: float | None
    """Energy of the new battery, Wh; None: mains-powered or recharged (not applicable)."""
    design_life_years: float | None = None
    """Years the battery must last (None: no requirement)."""
    self_discharge_per_year: float = 0.0
    """Share of the new battery's energy lost per year unused (0: none, as TR 45.820)."""
    tau_hours: float | None = 24.0
    """Periodic tracking-area update timer T3412, h (None: no periodic updates)."""
    edrx_cycle_s: float | None = None
    """eDRX cycle, s (None: power saving mode, deep sleep between reports)."""
    paging_ms: float = 0.0
    """Time receiving at each eDRX paging occasion, ms."""

    def __post_init__(self) -> None:
        problems = []
        if self.battery_wh is not None and not self.battery_wh > 0:
            problems.append(f"battery_wh={self.battery_wh!r} (must be > 0, or None)")
        if self.design_life_years is not None and not self.design_life_years > 0:
            problems.append(f"design_life_years={self.design_life_years!r} (must be > 0)")
        if not 0 <= self.self_discharge_per_year < 1:
            problems.append(f"self_discharge_per_year={self.self_discharge_per_year!r} "
                            "(must be in [0, 1))")  # fmt: skip
        if self.tau_hours is not None and not self.tau_hours > 0:
            problems.append(f"tau_hours={self.tau_hours!r} (must be > 0, or None)")
        if self.edrx_cycle_s is not None and not self.edrx_cycle_s > 0:
            problems.append(f"edrx_cycle_s={self.edrx_cycle_s!r} (must be > 0, or None)")
        if not self.paging_ms >= 0:
            problems.append(f"paging_ms={self.paging_ms!r} (must be >= 0)")
        if problems:
            raise ValueError("invalid battery settings: " + "; ".join(problems))


# ---- figures from the catalog and a scenario


def power_model(technology: str, override: TechnologyOverride | None = None) -> PowerModel:
    """A technology's power figures: the catalog's, with a scenario's overrides.

    A technology not in the catalog must give every figure in ``technologies.<t>.power``.
    """
    given = {} if override is None else override.power.model_dump(exclude_none=True)
    spec = catalog.TECHNOLOGIES.get(technology)
    values = {} if spec is None else spec.power.model_dump()
    values.update(given)
    names = [f.name for f in fields(PowerModel)]
    missing = [name for name in names if values.get(name) is None]
    if missing:
        raise ValueError(
            f"technologies.{technology}.power: {', '.join(missing)} not given; a technology "
            "not in the catalog needs every power figure for its energy to be computed"
        )
    return PowerModel(**{name: float(values[name]) for name in names})


def battery_settings(category: Category) -> BatterySettings:
    """A category's battery settings (its design life defaults to its lifetime)."""
    energy = category.energy
    return BatterySettings(
        battery_wh=energy.battery_wh,
        design_life_years=category.design_life_years if energy.battery_wh is not None else None,
        self_discharge_per_year=energy.self_discharge_per_year,
        tau_hours=energy.tau_hours,
        edrx_cycle_s=energy.edrx_cycle_s,
        paging_ms=energy.paging_ms if energy.edrx_cycle_s is not None else 0.0,
    )


def _widths(technology: str, override: TechnologyOverride | None, which: str) -> FloatArray:
    """Blocks at once per coverage class (uplink_width or downlink_width)."""
    spec = catalog.TECHNOLOGIES.get(technology)
    values: dict[str, float] = {} if spec is None else getattr(spec.power, which).model_dump()
    if override is not None:
        values.update(getattr(override.power, which).model_dump(exclude_none=True))
    missing = [level for level in COVERAGE_CLASSES if values.get(level) is None]
    if missing:
        raise ValueError(f"technologies.{technology}.power.{which}: no figure for "
                         f"{', '.join(missing)}")  # fmt: skip
    return np.array([float(values[level]) for level in COVERAGE_CLASSES])


def data_phase(
    technology: str,
    levels: ArrayLike,
    uplink_bytes: float,
    downlink_bytes: float,
    override: TechnologyOverride | None = None,
) -> DataPhase:
    """The data phase of one report per terminal, from the link table (``links.csv``).

    ``levels`` are coverage classes by index (0 normal, 1 robust, 2 extreme; a deeper level
    counts as extreme), one per terminal, e.g. ``AccessOutcome.final_level``.  The report's
    uplink and downlink block-ms are those of `sim.supply.capacity.report_cost` (overheads,
    transport blocks, repetitions and the grants' control); the radio time is block-ms /
    the technology's width (tones or PRBs at once), in whole ms.  The connected tail is the
    link table's RRC-connected time per report less the data time (the inactivity timer).
    """
    if technology not in catalog.LINKS:
        raise ValueError(f"technology {technology!r} has no link figures (links.csv): its "
                         "data phase cannot be computed")  # fmt: skip
    up_width = _widths(technology, override, "uplink_width")
    down_width = _widths(technology, override, "downlink_width")
    up_ms, down_ms, tail_ms = np.zeros(3), np.zeros(3), np.zeros(3)
    for index, level in enumerate(COVERAGE_CLASSES):
        cost = report_cost(technology, level, uplink_bytes, downlink_bytes)
        up_ms[index] = math.ceil(cost.uplink / up_width[index] - 1e-9)
        down_ms[index] = math.ceil(cost.downlink / down_width[index] - 1e-9)
        tail_ms[index] = max(cost.connected_s * 1000.0 - up_ms[index] - down_ms[index], 0.0)
    index_of = np.clip(np.asarray(levels, dtype=np.int64), 0, len(COVERAGE_CLASSES) - 1)
    return DataPhase(uplink_ms=up_ms[index_of], downlink_ms=down_ms[index_of],
                     tail_ms=tail_ms[index_of])  # fmt: skip


# ---- the access procedure


def ideal_step_ms(level: Level) -> FloatArray:
    """``step_ms`` of a lone terminal whose first attempt on ``level`` succeeds, ms.

    With the step definitions of ``AccessOutcome.step_ms``: its preamble (``preamble_ms``);
    the RAR window from its start to the end of the first grant's RAR, received in the
    window's first slot (``rar_ms``); one Msg3 (``msg3_ms``); from the end of Msg3 to the
    end of Msg4 (``connection_request_processing_ms + msg4_ms``); no backoff.  The preamble
    and RAR processing gaps belong to no step (the terminal is awake but not on the air).
    """
    return np.array(
        [level.preamble_ms, level.rar_ms, level.msg3_ms,
         level.connection_request_processing_ms + level.msg4_ms, 0.0]
    )  # fmt: skip


def energy_per_report_mj(
    step_ms: ArrayLike,
    power: PowerModel,
    data: DataPhase | None = None,
    success: ArrayLike | None = None,
) -> FloatArray:
    """Energy of one report per terminal, mJ: access steps plus the data phase.

    ``step_ms`` has one row per terminal and the columns `STEPS` (a single row of 5 is one
    terminal).  ``data`` is added for terminals whose access succeeded (``success``; all
    when it is None): a terminal that gave up sent no data.
    """
    steps = np.asarray(step_ms, dtype=np.float64)
    if steps.ndim == 1:
        steps = steps[np.newaxis, :]
    if steps.ndim != 2 or steps.shape[1] != len(STEPS):
        raise ValueError(f"step_ms must have {len(STEPS)} columns {STEPS}, got shape "
                         f"{np.shape(step_ms)}")  # fmt: skip
    if np.any(steps < 0) or not np.all(np.isfinite(steps)):
        raise ValueError("step_ms must be finite and >= 0 ms")
    energy = steps @ power.step_mw / 1000.0
    if data is not None:
        extra = np.broadcast_to(data.energy_mj(power), energy.shape)
        if success is not None:
            extra = np.where(np.asarray(success, dtype=bool), extra, 0.0)
        energy = energy + extra
    return energy


# ---- a day and a battery


def sleep_floor_mw(settings: BatterySettings, power: PowerModel) -> float:
    """Average power between activities, mW: deep sleep, plus eDRX paging when configured
    (``paging_ms`` at the receive power every ``edrx_cycle_s``; asleep at the deep-sleep
    power in between)."""
    floor = power.deep_sleep_mw
    if settings.edrx_cycle_s is not None:
        floor += power.receive_mw * settings.paging_ms / (settings.edrx_cycle_s * 1000.0)
    return floor


def tau_per_day(reports_per_day: ArrayLike, settings: BatterySettings) -> FloatArray:
    """Periodic tracking-area updates a day: every report restarts T3412, so updates fill
    only the time reports leave uncovered: max(24 / T3412 - reports a day, 0).

    A fluid approximation: it is exact when reports are spread evenly at intervals that
    are a multiple of T3412 or shorter than it, and it keeps the daily number of radio
    events (reports + updates) non-decreasing in the reports a day.
    """
    reports = np.asarray(reports_per_day, dtype=np.float64)
    if settings.tau_hours is None:
        return np.zeros_like(reports)
    return np.maximum(HOURS_PER_DAY / settings.tau_hours - reports, 0.0)


def daily_energy_mj(
    energy_per_report_mj: ArrayLike,
    reports_per_day: ArrayLike,
    settings: BatterySettings,
    power: PowerModel,
    tau_energy_mj: ArrayLike | None = None,
) -> FloatArray:
    """Energy a terminal spends a day, mJ: reports, tracking-area updates, sleep floor.

    An update costs ``tau_energy_mj`` (default: a report's energy, an access and a short
    exchange).  The floor is counted over the whole day, the time on the air included: an
    overestimate of at most the deep-sleep power over the lowest active power (for the
    catalog's NB-IoT, 0.015 / 10.7 mW = 0.14 % of the day's energy).
    """
    per_report = np.asarray(energy_per_report_mj, dtype=np.float64)
    reports = np.asarray(reports_per_day, dtype=np.float64)
    if np.any(per_report < 0) or np.any(reports < 0):
        raise ValueError("energy per report and reports a day must be >= 0")
    tau_cost = per_report if tau_energy_mj is None else np.asarray(tau_energy_mj, np.float64)
    updates = tau_per_day(reports, settings)
    # no update costs nothing, even when a report cannot get through (infinite energy)
    with np.errstate(invalid="ignore"):
        tau_mj = np.where(updates > 0, updates * tau_cost, 0.0)
    return reports * per_report + tau_mj + sleep_floor_mw(settings, power) * MS_PER_DAY / 1000.0


def battery_life_years(
    energy_per_report_mj: ArrayLike,
    reports_per_day: ArrayLike,
    settings: BatterySettings,
    power: PowerModel,
    tau_energy_mj: ArrayLike | None = None,
) -> FloatArray:
    """Years a battery lasts per terminal (NaN without a battery: not applicable).

    With battery energy C and daily energy d, life = C / (365.25 d) years; with
    self-discharge s (share of C a year) the battery also loses s C a year, so life =
    1 / (365.25 d / C + s).  Arguments broadcast (one value per terminal, or one for all).
    """
    daily = daily_energy_mj(energy_per_report_mj, reports_per_day, settings, power,
                            tau_energy_mj)  # fmt: skip
    if settings.battery_wh is None:
        return np.full(np.shape(daily), np.nan)
    capacity_mj = settings.battery_wh * MJ_PER_WH
    return 1.0 / (daily * DAYS_PER_YEAR / capacity_mj + settings.self_discharge_per_year)


def share_below_design_life(life_years: ArrayLike, design_life_years: float | None) -> float:
    """Share of terminals whose battery dies before the design life (NaN when not
    applicable: no design life, or no terminal with a battery)."""
    lives = np.asarray(life_years, dtype=np.float64)
    applicable = lives[~np.isnan(lives)]
    if design_life_years is None or applicable.size == 0:
        return math.nan
    return float(np.mean(applicable < design_life_years))


def zero_activity_life_years(settings: BatterySettings, power: PowerModel) -> float:
    """Battery life of a terminal that never reports or updates (the sleep floor alone)."""
    return float(battery_life_years(0.0, 0.0, settings, power, tau_energy_mj=0.0))


__all__ = [
    "STEPS",
    "BatterySettings",
    "DataPhase",
    "PowerModel",
    "battery_life_years",
    "battery_settings",
    "daily_energy_mj",
    "data_phase",
    "energy_per_report_mj",
    "ideal_step_ms",
    "power_model",
    "share_below_design_life",
    "sleep_floor_mw",
    "tau_per_day",
    "zero_activity_life_years",
]
