"""The scenario's typed models: every parameter declared once, with its type, unit, default
and description; the JSON Schema (`iotsim schema`) is generated from these declarations."""

from __future__ import annotations

import math
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from sim.scenario import catalog
from sim.scenario.base import ResourceFigures, ScenarioModel
from sim.scenario.fields import (
    MAX_SITES,
    MAX_TERMINALS,
    CellQuantile,
    Generation,
    LifetimeModel,
    Month,
    Name,
    Number,
    OptionalNumber,
    Resolution,
    ShareSchedule,
    ShareYearTable,
    SiteShare,
    TargetMetric,
    TechnologyMix,
    WhenFull,
    WholeNumber,
    YearTable,
    check_name,
)
from sim.scenario.months import month_index
from sim.scenario.problems import Problem, did_you_mean, shown
from sim.scenario.radio import COVERAGE_CLASSES, CarrierOverride, CoverageClass
from sim.scenario.technology import Carrier, TechnologyOverride

MAX_REGION_DEPTH = 4
"""Deepest nesting of regions (a top-level region is depth 1)."""


class Region(ScenarioModel):
    """A part of the country (or of its parent region) with its share of terminals and of
    base-station sites; it may be split into regions of its own."""

    terminal_share: Number = Field(
        ge=0, le=1, description="share of every category's terminals (of the parent region's)"
    )
    site_share: SiteShare = Field(
        description="share of the sites (of the parent region's): one for every generation, "
        "or per generation {4G: share, 5G: share}, each a constant or dated steps"
    )
    spread_cv: OptionalNumber = Field(
        None,
        ge=0,
        le=10,
        description="coefficient of variation of terminals per cell across the region's cells "
        "(lognormal); default: the nearest enclosing region's, else access.spread_cv",
    )
    regions: dict[Name, Region] | None = Field(
        None,
        description="parts of this region, simulated in its place; their shares are of this "
        f"region's and sum to 1 (at most {MAX_REGION_DEPTH} levels deep)",
    )

    def site_share_of(self, generation: str) -> float | dict[str, float]:
        """This region's share of its parent's sites of a generation: a constant or dated
        steps {YYYY-MM: share} (0 for a generation a per-generation mapping leaves out)."""
        if isinstance(self.site_share, dict):
            return typing.cast(float | dict[str, float], self.site_share.get(generation, 0.0))
        return self.site_share


@dataclass(frozen=True)
class LeafRegion:
    """A simulated region: a leaf of the region tree, its shares resolved down its path."""

    name: str
    """The path of region names from the top, joined with '/' (e.g. 'east/dense_urban')."""
    terminal_share: float
    """Share of the country's terminals: the product of the terminal shares down the path."""
    chain: tuple[Region, ...]
    """The regions down the path, top first, whose site shares multiply (see site_share)."""
    spread_cv: float
    """Coefficient of variation of terminals per cell: the nearest region on the path that
    sets it, else access.spread_cv."""

    def site_share_schedules(self, generation: str) -> tuple[float | dict[str, float], ...]:
        """The (dated) share of a generation's sites at each level of the path, top first;
        the leaf's share of the country's sites is their product at each month."""
        return tuple(region.site_share_of(generation) for region in self.chain)

    def site_share(self, generation: str, month: int) -> float:
        """Share of the country's sites of a generation in this region at a calendar month
        index (a dated step holds from its month on; before the first date, the first)."""
        share = 1.0
        for schedule in self.site_share_schedules(generation):
            share *= share_at(schedule, month)
        return share


def share_at(schedule: float | Mapping[str, float], month: int) -> float:
    """A constant or dated step share at a calendar month index (before the first date,
    the first value)."""
    if not isinstance(schedule, Mapping):
        return float(schedule)
    value = next(iter(schedule.values()))
    for date, share in schedule.items():  # dates are sorted when the scenario is read
        if month_index(date) <= month:
            value = share
    return value


def region_nodes(
    regions: Mapping[str, Region], prefix: str = ""
) -> Iterator[tuple[str, tuple[Region, ...]]]:
    """Every region of a tree, depth first in the order written: (path, regions down the
    path, top first)."""
    for name, region in regions.items():
        yield prefix + name, (region,)
        if region.regions:
            for path, below in region_nodes(region.regions, f"{prefix}{name}/"):
                yield path, (region, *below)


class SiteSchedule(ScenarioModel):
    """Base-station sites of one generation (counts of sites, not cells)."""

    initial: WholeNumber = Field(0, ge=0, le=MAX_SITES, description="sites in service at the start")
    build_per_year: YearTable = Field(0.0, description="new sites per year, spread evenly")
    retire_per_year: YearTable = Field(0.0, description="retired sites per year, spread evenly")
    retire_share_per_year: ShareYearTable = Field(
        0.0,
        description="share 0..1 of the sites in service at the start of the year (or of "
        "the horizon, in its first year) retired in that year, spread evenly over its "
        "months; adds to retire_per_year",
    )
    in_service: dict[Month, Annotated[int, Field(ge=0, le=MAX_SITES)]] = Field(
        default_factory=dict,
        description="sites in service at these month ends (e.g. the counts an operator or "
        "regulator reported), linear between them and from `initial` at the start; the "
        "per-year tables apply only after the last of them",
    )

    @field_validator("in_service")
    @classmethod
    def _sorted_counts(cls, values: dict[str, int]) -> dict[str, int]:
        return dict(sorted(values.items(), key=lambda kv: month_index(kv[0])))


DEPRECATED_ON = "'on' is deprecated, write 'generation'"
"""The note for `on:`, the old name of `generation:`, which YAML 1.1 loaders read as True."""


def uses_deprecated_on(carriage: Any) -> bool:
    """Whether a carriage as written names its generation with the old key `on`.

    Every YAML 1.1 loader (PyYAML's safe_load included) reads the key `on` as True.
    """
    return isinstance(carriage, dict) and any(key is True or key == "on" for key in carriage)


class Carriage(ScenarioModel):
    """Which generation carries a technology, and on what share of its sites."""

    generation: Generation = Field(description="base-station generation carrying the technology")
    share: ShareSchedule = Field(1.0, description="share of that generation's sites, 0..1")

    @model_validator(mode="before")
    @classmethod
    def _old_name(cls, data: Any) -> Any:
        # `on:` (or True, as YAML 1.1 reads it) is still accepted; parse_scenario notes it
        if not uses_deprecated_on(data):
            return data
        old = [key for key in data if key is True or key == "on"]
        if len(old) > 1 or "generation" in data:
            raise ValueError("'on' is the deprecated name of 'generation': give generation only")
        return {("generation" if key is old[0] else key): value for key, value in data.items()}


SWITCH_OFF_POLICIES = ("migrate", "stranded")


class SwitchOff(ScenarioModel):
    """A technology switched off in some regions from a month on, and what becomes of the
    terminals left on it there."""

    technology: str = Field(description="technology switched off (one of network.technologies)")
    date: Month = Field(description="first month in which the technology is off")
    regions: list[str] | None = Field(
        None,
        min_length=1,
        description="regions where it is switched off: a region's name, or the name of a "
        "group of nested regions (every region named NAME/...); default: every region",
    )
    policy: Literal["migrate", "stranded"] = Field(
        description="the terminals left on it: migrate (module replaced: moved to the "
        "category's first other technology, in preference order, that is on there and has "
        "room; stranded where none has) or stranded (lost)"
    )


def _default_sites() -> dict[Generation, SiteSchedule]:
    # China, end of 2022: 10.83 M base stations of which 2.312 M 5G (MIIT 2022 bulletin);
    # 4G about 6.0 M (MIIT 2021 bulletin: 5.90 M), the rest 2G/3G which carry no new IoT.
    return {
        "4G": SiteSchedule(initial=6_000_000),
        "5G": SiteSchedule(initial=2_312_000, build_per_year=900_000),
    }


def _default_carriage() -> dict[str, Carriage]:
    return {
        name: Carriage(generation=spec.generation, share=spec.default_site_share)  # type: ignore[arg-type]
        for name, spec in catalog.TECHNOLOGIES.items()
    }


class Network(ScenarioModel):
    """Base-station build-out, which technologies it carries, on which carriers."""

    sectors_per_site: WholeNumber = Field(3, ge=1, le=12, description="cells per site")
    sites: dict[Generation, SiteSchedule] = Field(
        default_factory=_default_sites,
        description="sites per generation; default: China at the end of 2022",
    )
    technologies: dict[Name, Carriage] = Field(
        default_factory=_default_carriage,
        description="technologies carried; default: every catalog technology whose "
        "generation has sites",
    )
    carriers: dict[Carrier, CarrierOverride] = Field(
        default_factory=dict,
        description="per carrier kind (lte, nb-iot, nr): share of sites, carriers per cell, "
        "budgets, thresholds and background load overriding the catalog",
    )
    cell_classes: WholeNumber = Field(
        8,
        ge=1,
        le=256,
        description="load classes each region's cells are split into (1: every cell alike)",
    )
    hottest_cells: Number = Field(
        0.01,
        ge=1e-6,
        le=0.5,
        description="share of a region's cells in its hottest class; the classes below it "
        "are spaced geometrically in this share",
    )
    switch_off: list[SwitchOff] = Field(
        default_factory=list,
        description="technologies switched off in some regions from a month on, with the "
        "policy for the terminals left on them",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_carriage_on_given_sites(cls, data: Any) -> Any:
        # with sites for 4G only, the default technologies are the 4G ones
        if isinstance(data, dict) and "technologies" not in data:
            sites = data.get("sites")
            if isinstance(sites, dict):
                carried = {
                    name: {"generation": spec.generation, "share": spec.default_site_share}
                    for name, spec in catalog.TECHNOLOGIES.items()
                    if spec.generation in sites
                }
                return {**data, "technologies": carried}
        return data


class Cagr(ScenarioModel):
    """N(t) = N0 (1 + rate)^t, t in years."""

    model: Literal["cagr"]
    rate: Number = Field(gt=-1, le=10, description="growth per year, 0.18 = 18 %/year")


class Logistic(ScenarioModel):
    """N(t) = K / (1 + (K/N0 - 1) e^(-rate t)), t in years."""

    model: Literal["logistic"]
    rate: Number = Field(gt=0, le=10, description="intrinsic growth rate per year")
    saturation: Number = Field(
        gt=0, le=MAX_TERMINALS, description="K, the installed base it tends to, terminals"
    )


class Bass(ScenarioModel):
    """Bass diffusion: N(t) = market F(t + t0), F(t0) = N0 / market."""

    model: Literal["bass"]
    p: Number = Field(gt=0, le=1, description="innovation coefficient per year")
    q: Number = Field(ge=0, le=10, description="imitation coefficient per year")
    market: Number = Field(gt=0, le=MAX_TERMINALS, description="market potential, terminals")


class Linear(ScenarioModel):
    """N(t) = N0 + per_year t, never below 0."""

    model: Literal["linear"]
    per_year: Number = Field(
        ge=-MAX_TERMINALS,
        le=MAX_TERMINALS,
        description="net change of the installed base, terminals/year",
    )


class Targets(ScenarioModel):
    """Anchor values, log-linear between them, extrapolated at the last segment's rate."""

    model: Literal["targets"]
    values: dict[Month, Number] = Field(
        min_length=1, description="installed base at dated month ends, terminals"
    )

    @field_validator("values")
    @classmethod
    def _positive_sorted(cls, values: dict[str, float]) -> dict[str, float]:
        for month, value in values.items():
            if not 0 < value <= MAX_TERMINALS:
                raise ValueError(
                    f"anchor {month} is {value:g}; anchors must be > 0 (log-linear) and at "
                    f"most {MAX_TERMINALS:.0e}"
                )
        return dict(sorted(values.items(), key=lambda kv: month_index(kv[0])))


GrowthModel = Annotated[Cagr | Logistic | Bass | Linear | Targets, Field(discriminator="model")]
GROWTH_MODELS = ("cagr", "logistic", "bass", "linear", "targets")


class CoverageMix(ScenarioModel):
    """Share of a category's terminals in each coupling-loss class; the shares sum to 1."""

    normal: Number = Field(0.0, ge=0, le=1, description="up to about 144 dB coupling loss")
    robust: Number = Field(0.0, ge=0, le=1, description="about 144-154 dB")
    extreme: Number = Field(0.0, ge=0, le=1, description="about 154-164 dB")

    def shares(self) -> dict[CoverageClass, float]:
        return {level: getattr(self, level) for level in COVERAGE_CLASSES}


class Traffic(ScenarioModel):
    """What one terminal sends, and from how deep a coverage; sets its busy-hour load."""

    reports_per_day: Number = Field(1.0, ge=0, description="uplink reports per terminal per day")
    payload_bytes: Number = Field(100.0, ge=0, description="application payload per report, bytes")
    synchronized: Number = Field(
        0.0, ge=0, le=1, description="share of reports sent at a common instant (e.g. on the hour)"
    )
    busy_hour_share: Number = Field(
        1 / 24, ge=0, le=1, description="share of a day's reports sent in the busy hour"
    )
    downlink_bytes: Number = Field(
        0.0, ge=0, le=1e9, description="application bytes sent to the terminal per report"
    )
    coverage: CoverageMix = Field(
        default_factory=lambda: CoverageMix(normal=1.0),
        description="share of terminals per coupling-loss class (normal / robust / extreme)",
    )


MAX_T3412_HOURS = 9920.0
"""Longest periodic tracking-area update timer: T3412 extended, 31 x 320 h (3GPP TS 24.008
Table 10.5.163a, GPRS timer 3: unit 320 h, value up to 31)."""


class EnergySettings(ScenarioModel):
    """A category's battery and sleep: how long its terminals last on their battery."""

    battery_wh: OptionalNumber = Field(
        None,
        gt=0,
        le=1e6,
        description="energy the battery holds when new, Wh; none: mains-powered or "
        "recharged, battery life not applicable",
    )
    design_life_years: OptionalNumber = Field(
        None,
        gt=0,
        le=100,
        description="years the battery must last; default: the category's lifetime_years",
    )
    self_discharge_per_year: Number = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of the new battery's energy lost per year unused; 0: none, as "
        "in the 3GPP TR 45.820 battery-life methodology",
    )
    tau_hours: Number = Field(
        24.0,
        gt=0,
        le=MAX_T3412_HOURS,
        description="periodic tracking-area update timer T3412, h: a terminal that has not "
        "reported for this long makes an update (an access and a short exchange)",
    )
    edrx_cycle_s: OptionalNumber = Field(
        None,
        gt=0,
        le=10_485.76,
        description="eDRX cycle, s: the terminal wakes this often to listen for paging; "
        "none: power saving mode, unreachable and in deep sleep between reports",
    )
    paging_ms: Number = Field(
        10.0,
        ge=0,
        le=60_000,
        description="time receiving at each eDRX paging occasion, ms (with edrx_cycle_s)",
    )


class Category(ScenarioModel):
    """A kind of terminal: installed base, growth, lifetime, radio and behaviour."""

    preset: str | None = Field(None, description="catalog preset whose fields are defaults")
    initial: WholeNumber = Field(
        0, ge=0, le=MAX_TERMINALS, description="installed base at the start, terminals"
    )
    growth: GrowthModel = Field(
        default_factory=lambda: Cagr(model="cagr", rate=0.0),
        description="installed-base (demand) curve",
    )
    lifetime_years: Number = Field(10.0, gt=0, le=100, description="mean terminal lifetime, years")
    lifetime: LifetimeModel = Field("exponential", description="lifetime distribution")
    weibull_shape: Number = Field(2.0, gt=0, le=20, description="shape k of a weibull lifetime")
    technologies: list[str] = Field(min_length=1, description="technologies in preference order")
    mix: TechnologyMix | None = Field(
        None, description="shares of new terminals per technology; default: all on the first"
    )
    when_full: WhenFull = Field("fallback", description="what a join does when its pool is full")
    patience_months: OptionalNumber = Field(
        None, gt=0, description="with when_full: wait, months before a waiting terminal gives up"
    )
    traffic: Traffic = Field(default_factory=Traffic)
    regions: dict[str, Number] | None = Field(
        None, description="this category's terminal share per region; default: the regions'"
    )
    load: dict[str, ResourceFigures] = Field(
        default_factory=dict,
        description="per technology, busy-hour load of one terminal per resource, replacing "
        "the one computed from traffic (units as the carrier's budgets)",
    )
    energy: EnergySettings = Field(
        default_factory=EnergySettings,
        description="battery, design life and sleep settings (battery life of its terminals)",
    )

    @field_validator("preset", mode="before")
    @classmethod
    def _known_preset(cls, value: Any) -> Any:
        presets = ", ".join(catalog.CATEGORY_PRESETS)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"got {shown(value)}: expected a preset name, one of {presets}")
        if value is not None and value not in catalog.CATEGORY_PRESETS:
            raise ValueError(
                f"unknown preset {shown(value)}{did_you_mean(value, catalog.CATEGORY_PRESETS)}; "
                f"presets: {presets}"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        # a preset that is not a name (a list, a mapping) is left to _known_preset to refuse
        preset = data.get("preset") if isinstance(data, dict) else None
        if isinstance(preset, str) and preset in catalog.CATEGORY_PRESETS:
            merged = catalog.preset_fields(data["preset"])
            for key, value in data.items():
                if key in ("traffic", "energy") and isinstance(value, dict):
                    merged[key] = {**merged.get(key, {}), **value}
                elif key == "technologies" and "mix" not in data:
                    merged[key] = value
                    merged.pop("mix", None)  # the preset's mix is for its own technologies
                else:
                    merged[key] = value
            return merged
        return data

    @property
    def design_life_years(self) -> float:
        """Years the battery must last: the energy settings' figure, else the lifetime."""
        own = self.energy.design_life_years
        return self.lifetime_years if own is None else own

    def mix_schedule(self) -> dict[str | None, dict[str, float]]:
        """The mix as dated steps {YYYY-MM: {tech: share}}; a constant mix is keyed None."""
        if self.mix is None:
            return {None: {self.technologies[0]: 1.0}}
        steps: dict[str | None, dict[str, float]] = {}
        for key, value in self.mix.items():
            if isinstance(value, dict):
                steps[key] = value
            else:
                return {None: typing.cast(dict[str, float], self.mix)}
        return steps


class Target(ScenarioModel):
    """A figure that must be reached (at_least) or not exceeded (at_most) by a date."""

    name: Name = Field(description="label in targets.csv")
    metric: TargetMetric = Field("connected", description="which total is checked")
    date: Month = Field(description="month whose end-of-month value is checked")
    at_least: OptionalNumber = Field(None, ge=0, le=MAX_TERMINALS, description="required minimum")
    at_most: OptionalNumber = Field(None, ge=0, le=MAX_TERMINALS, description="allowed maximum")
    category: str | None = Field(None, description="only this category (default: all)")
    region: str | None = Field(None, description="only this region (default: all)")
    technology: str | None = Field(None, description="only this technology (default: all)")

    @model_validator(mode="after")
    def _one_bound(self) -> Target:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least or at_most")
        return self


class OverloadControls(ScenarioModel):
    """Random-access overload controls applied in every simulated cell."""

    acb_factor: Number = Field(
        1.0, gt=0, le=1, description="access class barring: probability of passing; 1 = off"
    )
    acb_time_s: Number = Field(4.0, gt=0, le=1024, description="mean barring time, s")
    backoff_indicator_ms: OptionalNumber = Field(
        None,
        ge=0,
        le=524_288,
        description="backoff window BI, ms (TS 36.321 Tables 7.2-1/7.2-2: LTE up to 960, "
        "NB-IoT up to 524,288); default: each channel profile's own",
    )
    jitter_s: Number = Field(
        0.0,
        ge=0,
        le=3600,
        description="spread synchronised reports uniformly over this many s (0: a burst)",
    )


class AccessSettings(ScenarioModel):
    """The access layer: random access in representative cells in chosen years."""

    years: list[WholeNumber] = Field(
        default_factory=list, description="years simulated (end-of-year state); empty: off"
    )
    cells: list[CellQuantile] = Field(
        default_factory=lambda: ["p50", "p90", "p99"],
        min_length=1,
        description="cells by their quantile of devices per cell",
    )
    spread_cv: Number = Field(
        1.0,
        ge=0,
        le=10,
        description="coefficient of variation of devices per cell across a region's cells "
        "(lognormal)",
    )
    window_s: Number = Field(60.0, gt=0, le=3600, description="busy window simulated, s")
    burst_s: Number = Field(
        10.0, gt=0, le=600, description="synchronised reports: Beta(3,4) over this many s"
    )
    replications: WholeNumber = Field(
        3, ge=1, le=1000, description="runs per cell (means reported)"
    )
    technologies: list[str] | None = Field(
        None, description="technologies simulated; default: every one a category uses"
    )
    controls: OverloadControls = Field(default_factory=OverloadControls)


def _default_regions() -> dict[str, Region]:
    return {"national": Region(terminal_share=1.0, site_share=1.0)}


class Scenario(ScenarioModel):
    """A whole scenario file."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={"title": "iotsim scenario", "$id": "iotsim-scenario.schema.json"},
    )

    name: str = Field(
        "scenario", description="result folder name; default: the file name without .yaml"
    )
    start: Month = Field("2023-01", description="first simulated month")
    end: Month = Field("2030-12", description="last simulated month")
    seed: WholeNumber = Field(1, ge=0, description="seed of the run's random generator")
    resolution: Resolution = Field(
        "auto", description="terminals per simulated cohort; auto keeps a national run fast"
    )
    regions: dict[Name, Region] = Field(default_factory=_default_regions, min_length=1)
    network: Network = Field(default_factory=Network)
    technologies: dict[Name, TechnologyOverride] = Field(default_factory=dict)
    categories: dict[Name, Category] = Field(min_length=1)
    targets: list[Target] = Field(default_factory=list)
    access: AccessSettings = Field(default_factory=AccessSettings)

    # what is not wrong but should change in the file (deprecated keys); not part of the
    # scenario's value, so not in its dump (the resolved scenario) or schema
    _notes: tuple[Problem, ...] = PrivateAttr(default=())

    @property
    def notes(self) -> tuple[Problem, ...]:
        """Notes about how the scenario was written (deprecated keys), to show as warnings."""
        return self._notes

    @field_validator("name")
    @classmethod
    def _folder_safe(cls, value: str) -> str:
        try:
            return check_name(value)
        except ValueError as error:  # the same rule as every name, said for its folder
            raise ValueError(f"{error} (the scenario's name names its result folder)") from None

    # ---- derived views used by the core

    @property
    def start_index(self) -> int:
        return month_index(self.start)

    @property
    def months(self) -> int:
        """Simulated months, start and end included."""
        return month_index(self.end) - month_index(self.start) + 1

    def carrier_of(self, technology: str) -> str:
        """The carrier kind a technology uses (the scenario's word, else the catalog's)."""
        override = self.technologies.get(technology)
        if override is not None and override.carrier is not None:
            return override.carrier
        return catalog.TECHNOLOGIES[technology].carrier

    # ---- regions: the tree as written, and the leaves that are simulated
    #
    # Other layers name regions only through these: a name is a leaf's path
    # ('east/dense_urban', 'central') or a group's ('east': the sum of its leaves).

    @property
    def region_paths(self) -> tuple[str, ...]:
        """Every region's path, groups and leaves, depth first in the order written."""
        return tuple(path for path, _ in region_nodes(self.regions))

    @property
    def leaf_names(self) -> tuple[str, ...]:
        """The simulated regions (leaves of the tree) by path, in the order written: the
        regions of every result table, and of the network plan's arrays."""
        return tuple(path for path, chain in region_nodes(self.regions) if not chain[-1].regions)

    @property
    def leaf_regions(self) -> dict[str, LeafRegion]:
        """The simulated regions by path with their resolved shares: terminal share = the
        product of the terminal shares down the path; site share of a generation at a month
        = the product of the (dated) site shares down the path (LeafRegion.site_share)."""
        leaves = {}
        for path, chain in region_nodes(self.regions):
            if chain[-1].regions:
                continue
            own = [region.spread_cv for region in chain if region.spread_cv is not None]
            leaves[path] = LeafRegion(
                name=path,
                terminal_share=math.prod(region.terminal_share for region in chain),
                chain=chain,
                spread_cv=own[-1] if own else self.access.spread_cv,
            )
        return leaves

    @property
    def region_groups(self) -> dict[str, tuple[str, ...]]:
        """Every region that has regions of its own (a group), by path: its leaves."""
        return {
            path: self.leaves_of(path)
            for path, chain in region_nodes(self.regions)
            if chain[-1].regions
        }

    def leaves_of(self, name: str) -> tuple[str, ...]:
        """The leaves a region name stands for: a leaf's path itself, a group's path its
        leaves (in order); KeyError for a name that is neither."""
        return tuple(self.leaf_shares_within(name))

    def leaf_shares_within(self, name: str) -> dict[str, float]:
        """The leaves a region name stands for, each with its share of the named region's
        terminals: the product of the terminal shares below the name (1 for a leaf);
        KeyError for a name that is neither a leaf's nor a group's path."""
        for path, chain in region_nodes(self.regions):
            if path != name:
                continue
            if not chain[-1].regions:
                return {path: 1.0}
            inner = chain[-1].regions
            return {
                f"{path}/{below}": math.prod(region.terminal_share for region in down)
                for below, down in region_nodes(inner)
                if not down[-1].regions
            }
        raise KeyError(name)

    def region_spread_cv(self, region: str) -> float:
        """Coefficient of variation of terminals per cell in a simulated region (leaf)."""
        return self.leaf_regions[region].spread_cv

    def category_region_shares(self, category: str) -> dict[str, float]:
        """A category's share of its terminals in each simulated region (leaf), in order:
        its own `regions:` (a group's share spread over its leaves by their terminal shares
        within it), else the leaves' terminal shares."""
        own = self.categories[category].regions
        if own is None:
            return {path: leaf.terminal_share for path, leaf in self.leaf_regions.items()}
        shares = dict.fromkeys(self.leaf_names, 0.0)
        for name, share in own.items():
            for leaf, within in self.leaf_shares_within(name).items():
                shares[leaf] += share * within
        return shares


# the catalog's presets are validated by the same declarations as a scenario's categories
catalog.check_presets(Category.model_validate)
