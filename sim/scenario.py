"""The scenario: typed models of the YAML file, its defaults, loading and clear errors.

Each parameter is declared once here, with its type, unit, default and description; the
JSON Schema (`iotsim schema`) is generated from these declarations.  Validation has two
stages: pydantic checks types, ranges and unknown keys; `_consistency_problems` checks the
rules that span fields (shares sum to 1, references exist, dates lie in the horizon).
Both report `Problem`s that name the field path, the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sim import catalog

Generation = Literal["4G", "5G"]
WhenFull = Literal["fallback", "wait", "drop"]
LifetimeModel = Literal["exponential", "fixed", "weibull"]
TargetMetric = Literal["connected", "demand", "blocked", "waiting"]

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SHARE_TOLERANCE = 1e-6
MAX_TERMINALS = 10**13
"""Upper bound of any terminal count (1,000 x the world's mobile connections)."""
MAX_SITES = 10**9
MAX_HORIZON_MONTHS = 2400
"""Longest horizon, 200 years: the join schedule costs O(months^2)."""


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where, and what to do about it."""

    path: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario (or an override of one) is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


# --------------------------------------------------------------------------- months


def month_index(month: str) -> int:
    """Months since year 0 of a `YYYY-MM` string (2023-01 -> 2023*12)."""
    match = _MONTH_RE.match(month)
    if match is None:
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2024-07), got {month!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_label(index: int) -> str:
    """Inverse of `month_index`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _check_month(value: str) -> str:
    month_index(value)
    return value


def _month_like(value: Any) -> str:
    """Dates written YYYY-MM-DD arrive from YAML as dates; say what to write instead."""
    if hasattr(value, "year") and hasattr(value, "month"):
        raise ValueError(
            f"expected a month as YYYY-MM, got the date {value}; write {value.year:04d}-"
            f"{value.month:02d}"
        )
    if not isinstance(value, str):
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2024-07), got {value!r}")
    return _check_month(value)


_MONTH_SCHEMA = {"type": "string", "pattern": _MONTH_RE.pattern, "examples": ["2024-07"]}
Month = Annotated[str, PlainValidator(_month_like), WithJsonSchema(_MONTH_SCHEMA)]


def _number(value: Any, lower: float | None, upper: float | None, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected {what}, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    if lower is not None and number < lower:
        raise ValueError(f"{value!r} is below the allowed minimum {lower:g} ({what})")
    if upper is not None and number > upper:
        raise ValueError(f"{value!r} is above the allowed maximum {upper:g} ({what})")
    return number


def _validate_share_schedule(value: Any) -> float | dict[str, float]:
    """A share that is a constant or a dated step schedule {YYYY-MM: share}."""
    what = "a share between 0 and 1"
    if isinstance(value, dict):
        if not value:
            raise ValueError("a dated schedule needs at least one YYYY-MM: value entry")
        table: dict[str, float] = {}
        for key, item in value.items():
            month = _month_like(key)
            try:
                table[month] = _number(item, 0.0, 1.0, what)
            except ValueError as error:
                raise ValueError(f"at {month}: {error}") from None
        return dict(sorted(table.items(), key=lambda kv: month_index(kv[0])))
    return _number(value, 0.0, 1.0, what)


_SHARE_SCHEMA: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}
ShareSchedule = Annotated[
    float | dict[str, float],
    PlainValidator(_validate_share_schedule),
    WithJsonSchema(
        {
            "anyOf": [
                _SHARE_SCHEMA,
                {
                    "type": "object",
                    "propertyNames": {"pattern": _MONTH_RE.pattern},
                    "additionalProperties": _SHARE_SCHEMA,
                    "minProperties": 1,
                },
            ],
            "description": "a share 0..1: a constant, or dated steps {YYYY-MM: share}",
        }
    ),
]


def _year_table(value: Any) -> float | dict[int, float]:
    what = "a count per year (>= 0)"
    if isinstance(value, dict):
        if not value:
            raise ValueError("a per-year table needs at least one YEAR: value entry")
        table: dict[int, float] = {}
        for raw_key, item in value.items():
            # JSON (a manifest's resolved scenario) has string keys: accept "2025" too
            key = int(raw_key) if isinstance(raw_key, str) and raw_key.isdigit() else raw_key
            if isinstance(key, bool) or not isinstance(key, int) or not 1900 <= key <= 2200:
                raise ValueError(f"per-year table keys are years like 2025, got {raw_key!r}")
            try:
                table[key] = _number(item, 0, MAX_SITES, what)
            except ValueError as error:
                raise ValueError(f"in {key}: {error}") from None
        return dict(sorted(table.items()))
    return _number(value, 0, MAX_SITES, what)


YearTable = Annotated[
    float | dict[int, float],
    PlainValidator(_year_table),
    PlainSerializer(
        lambda value: (
            {str(year): n for year, n in value.items()} if isinstance(value, dict) else value
        ),
        return_type=Any,
    ),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {
                    "type": "object",
                    "propertyNames": {"pattern": r"^\d{4}$"},
                    "additionalProperties": {"type": "number", "minimum": 0},
                },
            ],
            "description": "sites per year: a constant, or a table {YEAR: sites}",
        }
    ),
]


def _mix(value: Any) -> dict[str, float] | dict[str, dict[str, float]]:
    """A technology mix {tech: share} or dated mixes {YYYY-MM: {tech: share}}."""
    if not isinstance(value, dict) or not value:
        raise ValueError(
            f"expected a mix like {{nb-iot: 0.8, lte-cat1: 0.2}} or dated mixes "
            f"{{2023-01: {{...}}, 2027-01: {{...}}}}, got {value!r}"
        )
    dated = [isinstance(item, dict) for item in value.values()]
    if all(dated):
        mixes: dict[str, dict[str, float]] = {}
        for key, item in value.items():
            month = _month_like(key)
            try:
                mixes[month] = _plain_mix(item)
            except ValueError as error:
                raise ValueError(f"at {month}: {error}") from None
        return dict(sorted(mixes.items(), key=lambda kv: month_index(kv[0])))
    if any(dated):
        raise ValueError("a mix is either {tech: share} or {YYYY-MM: {tech: share}}, not both")
    return _plain_mix(value)


def _plain_mix(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise ValueError(f"expected {{technology: share}}, got {value!r}")
    return {
        str(tech): _number(share, 0, 1, f"the share of {tech}") for tech, share in value.items()
    }


_PLAIN_MIX_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
}
TechnologyMix = Annotated[
    dict[str, float] | dict[str, dict[str, float]],
    PlainValidator(_mix),
    WithJsonSchema(
        {
            "anyOf": [
                _PLAIN_MIX_SCHEMA,
                {
                    "type": "object",
                    "propertyNames": {"pattern": _MONTH_RE.pattern},
                    "additionalProperties": _PLAIN_MIX_SCHEMA,
                },
            ],
            "description": "shares of new terminals per technology; dated steps allowed",
        }
    ),
]


def _resolution(value: Any) -> int | Literal["auto"]:
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TERMINALS:
        raise ValueError(
            f"expected 'auto' or a whole number of terminals from 1 to {MAX_TERMINALS:.0e}, "
            f"got {value!r}"
        )
    return value


Resolution = Annotated[
    int | Literal["auto"],
    PlainValidator(_resolution),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}]}),
]


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Region(_Model):
    """A part of the country with its share of terminals and of base-station sites."""

    terminal_share: float = Field(ge=0, le=1, description="share of every category's terminals")
    site_share: float = Field(ge=0, le=1, description="share of every generation's sites")


class SiteSchedule(_Model):
    """Base-station sites of one generation (counts of sites, not cells)."""

    initial: int = Field(0, ge=0, le=MAX_SITES, description="sites in service at the start")
    build_per_year: YearTable = Field(0.0, description="new sites per year, spread evenly")
    retire_per_year: YearTable = Field(0.0, description="retired sites per year, spread evenly")


class Carriage(_Model):
    """Which generation carries a technology, and on what share of its sites."""

    on: Generation = Field(description="base-station generation carrying the technology")
    share: ShareSchedule = Field(1.0, description="share of that generation's sites, 0..1")


def _default_sites() -> dict[Generation, SiteSchedule]:
    # China, end of 2022: 10.83 M base stations of which 2.312 M 5G (MIIT 2022 bulletin);
    # 4G about 6.0 M (MIIT 2021 bulletin: 5.90 M), the rest 2G/3G which carry no new IoT.
    return {
        "4G": SiteSchedule(initial=6_000_000),
        "5G": SiteSchedule(initial=2_312_000, build_per_year=900_000),
    }


def _default_carriage() -> dict[str, Carriage]:
    return {
        name: Carriage(on=spec.generation, share=spec.default_site_share)  # type: ignore[arg-type]
        for name, spec in catalog.TECHNOLOGIES.items()
    }


class Network(_Model):
    """Base-station build-out and which technologies it carries."""

    sectors_per_site: int = Field(3, ge=1, le=12, description="cells per site")
    sites: dict[Generation, SiteSchedule] = Field(
        default_factory=_default_sites,
        description="sites per generation; default: China at the end of 2022",
    )
    technologies: dict[str, Carriage] = Field(
        default_factory=_default_carriage,
        description="technologies carried; default: every catalog technology whose "
        "generation has sites",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_carriage_on_given_sites(cls, data: Any) -> Any:
        # with sites for 4G only, the default technologies are the 4G ones
        if isinstance(data, dict) and "technologies" not in data:
            sites = data.get("sites")
            if isinstance(sites, dict):
                carried = {
                    name: {"on": spec.generation, "share": spec.default_site_share}
                    for name, spec in catalog.TECHNOLOGIES.items()
                    if spec.generation in sites
                }
                return {**data, "technologies": carried}
        return data


class TechnologyOverride(_Model):
    """Per-technology figures overriding (or, for a new technology, adding to) the catalog."""

    max_devices_per_cell: int | None = Field(
        None, ge=1, le=MAX_TERMINALS, description="registration capacity, terminals per cell"
    )
    prach_configuration_index: int | None = Field(
        None, ge=0, le=15, description="LTE family: PRACH configuration index (format 0)"
    )
    nprach_periodicity_ms: Literal[40, 80, 160, 240, 320, 640, 1280, 2560] | None = Field(
        None, description="NB-IoT: time between NPRACH opportunities, ms"
    )
    nprach_subcarriers: Literal[12, 24, 36, 48] | None = Field(
        None, description="NB-IoT: NPRACH subcarriers, one preamble each"
    )
    preambles: int | None = Field(
        None, ge=1, le=64, description="contention preambles per random-access opportunity"
    )
    rao_period_ms: float | None = Field(
        None, gt=0, le=2560, description="time between random-access opportunities, ms"
    )


class Cagr(_Model):
    """N(t) = N0 (1 + rate)^t, t in years."""

    model: Literal["cagr"]
    rate: float = Field(gt=-1, le=10, description="growth per year, 0.18 = 18 %/year")


class Logistic(_Model):
    """N(t) = K / (1 + (K/N0 - 1) e^(-rate t)), t in years."""

    model: Literal["logistic"]
    rate: float = Field(gt=0, le=10, description="intrinsic growth rate per year")
    saturation: float = Field(
        gt=0, le=MAX_TERMINALS, description="K, the installed base it tends to, terminals"
    )


class Bass(_Model):
    """Bass diffusion: N(t) = market F(t + t0), F(t0) = N0 / market."""

    model: Literal["bass"]
    p: float = Field(gt=0, le=1, description="innovation coefficient per year")
    q: float = Field(ge=0, le=10, description="imitation coefficient per year")
    market: float = Field(gt=0, le=MAX_TERMINALS, description="market potential, terminals")


class Linear(_Model):
    """N(t) = N0 + per_year t, never below 0."""

    model: Literal["linear"]
    per_year: float = Field(
        ge=-MAX_TERMINALS,
        le=MAX_TERMINALS,
        description="net change of the installed base, terminals/year",
    )


class Targets(_Model):
    """Anchor values, log-linear between them, extrapolated at the last segment's rate."""

    model: Literal["targets"]
    values: dict[Month, float] = Field(
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


class Traffic(_Model):
    """What one terminal sends; used by the access layer."""

    reports_per_day: float = Field(1.0, ge=0, description="uplink reports per terminal per day")
    payload_bytes: float = Field(100.0, ge=0, description="application payload per report, bytes")
    synchronized: float = Field(
        0.0, ge=0, le=1, description="share of reports sent at a common instant (e.g. on the hour)"
    )
    busy_hour_share: float = Field(
        1 / 24, ge=0, le=1, description="share of a day's reports sent in the busy hour"
    )


class Category(_Model):
    """A kind of terminal: installed base, growth, lifetime, radio and behaviour."""

    preset: str | None = Field(None, description="catalog preset whose fields are defaults")
    initial: int = Field(
        0, ge=0, le=MAX_TERMINALS, description="installed base at the start, terminals"
    )
    growth: GrowthModel = Field(
        default_factory=lambda: Cagr(model="cagr", rate=0.0),
        description="installed-base (demand) curve",
    )
    lifetime_years: float = Field(10.0, gt=0, le=100, description="mean terminal lifetime, years")
    lifetime: LifetimeModel = Field("exponential", description="lifetime distribution")
    weibull_shape: float = Field(2.0, gt=0, le=20, description="shape k of a weibull lifetime")
    technologies: list[str] = Field(min_length=1, description="technologies in preference order")
    mix: TechnologyMix | None = Field(
        None, description="shares of new terminals per technology; default: all on the first"
    )
    when_full: WhenFull = Field("fallback", description="what a join does when its pool is full")
    patience_months: float | None = Field(
        None, gt=0, description="with when_full: wait, months before a waiting terminal gives up"
    )
    traffic: Traffic = Field(default_factory=Traffic)
    regions: dict[str, float] | None = Field(
        None, description="this category's terminal share per region; default: the regions'"
    )

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in catalog.CATEGORY_PRESETS:
            raise ValueError(
                f"unknown preset {value!r}{_did_you_mean(value, catalog.CATEGORY_PRESETS)}; "
                f"presets: {', '.join(catalog.CATEGORY_PRESETS)}"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") in catalog.CATEGORY_PRESETS:
            merged = catalog.preset_fields(data["preset"])
            for key, value in data.items():
                if key == "traffic" and isinstance(value, dict):
                    merged["traffic"] = {**merged.get("traffic", {}), **value}
                elif key == "technologies" and "mix" not in data:
                    merged[key] = value
                    merged.pop("mix", None)  # the preset's mix is for its own technologies
                else:
                    merged[key] = value
            return merged
        return data

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


class Target(_Model):
    """A figure that must be reached (at_least) or not exceeded (at_most) by a date."""

    name: str = Field(description="label in targets.csv")
    metric: TargetMetric = Field("connected", description="which total is checked")
    date: Month = Field(description="month whose end-of-month value is checked")
    at_least: float | None = Field(None, ge=0, le=MAX_TERMINALS, description="required minimum")
    at_most: float | None = Field(None, ge=0, le=MAX_TERMINALS, description="allowed maximum")
    category: str | None = Field(None, description="only this category (default: all)")
    region: str | None = Field(None, description="only this region (default: all)")
    technology: str | None = Field(None, description="only this technology (default: all)")

    @model_validator(mode="after")
    def _one_bound(self) -> Target:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least or at_most")
        return self


_QUANTILE_RE = re.compile(r"^p(\d{1,2}(\.\d+)?)$")


def _check_quantile(value: str) -> str:
    match = _QUANTILE_RE.match(value)
    if match is None or not 0 < float(match.group(1)) < 100:
        raise ValueError(f"expected a cell quantile like p50, p90 or p99.9, got {value!r}")
    return value


CellQuantile = Annotated[
    str,
    AfterValidator(_check_quantile),
    WithJsonSchema({"type": "string", "pattern": _QUANTILE_RE.pattern, "examples": ["p99"]}),
]


class OverloadControls(_Model):
    """Random-access overload controls applied in every simulated cell."""

    acb_factor: float = Field(
        1.0, gt=0, le=1, description="access class barring: probability of passing; 1 = off"
    )
    acb_time_s: float = Field(4.0, gt=0, le=1024, description="mean barring time, s")
    backoff_indicator_ms: float | None = Field(
        None, ge=0, le=960, description="backoff window BI, ms; default: the procedure's 20 ms"
    )
    jitter_s: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="spread synchronised reports uniformly over this many s (0: a burst)",
    )


class AccessSettings(_Model):
    """The access layer: random access in representative cells in chosen years."""

    years: list[int] = Field(
        default_factory=list, description="years simulated (end-of-year state); empty: off"
    )
    cells: list[CellQuantile] = Field(
        default_factory=lambda: ["p50", "p90", "p99"],
        min_length=1,
        description="cells by their quantile of devices per cell",
    )
    spread_cv: float = Field(
        1.0,
        ge=0,
        le=10,
        description="coefficient of variation of devices per cell across a region's cells "
        "(lognormal)",
    )
    window_s: float = Field(60.0, gt=0, le=3600, description="busy window simulated, s")
    burst_s: float = Field(
        10.0, gt=0, le=600, description="synchronised reports: Beta(3,4) over this many s"
    )
    replications: int = Field(3, ge=1, le=1000, description="runs per cell (means reported)")
    technologies: list[str] | None = Field(
        None, description="technologies simulated; default: every one a category uses"
    )
    controls: OverloadControls = Field(default_factory=OverloadControls)


def _default_regions() -> dict[str, Region]:
    return {"national": Region(terminal_share=1.0, site_share=1.0)}


class Scenario(_Model):
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
    seed: int = Field(1, ge=0, description="seed of the run's random generator")
    resolution: Resolution = Field(
        "auto", description="terminals per simulated cohort; auto keeps a national run fast"
    )
    regions: dict[str, Region] = Field(default_factory=_default_regions, min_length=1)
    network: Network = Field(default_factory=Network)
    technologies: dict[str, TechnologyOverride] = Field(default_factory=dict)
    categories: dict[str, Category] = Field(min_length=1)
    targets: list[Target] = Field(default_factory=list)
    access: AccessSettings = Field(default_factory=AccessSettings)

    @field_validator("name")
    @classmethod
    def _folder_safe(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(
                f"{value!r} cannot name a result folder: use letters, digits, '.', '_' or '-'"
            )
        return value

    # ---- derived views used by the core

    @property
    def start_index(self) -> int:
        return month_index(self.start)

    @property
    def months(self) -> int:
        """Simulated months, start and end included."""
        return month_index(self.end) - month_index(self.start) + 1

    def max_devices_per_cell(self, technology: str) -> int:
        override = self.technologies.get(technology)
        if override is not None and override.max_devices_per_cell is not None:
            return override.max_devices_per_cell
        return catalog.TECHNOLOGIES[technology].max_devices_per_cell

    def category_region_shares(self, category: str) -> dict[str, float]:
        own = self.categories[category].regions
        if own is not None:
            return {region: own.get(region, 0.0) for region in self.regions}
        return {region: spec.terminal_share for region, spec in self.regions.items()}


# --------------------------------------------------------------------------- checks


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _within(month: str, scenario: Scenario) -> bool:
    return scenario.start_index <= month_index(month) <= month_index(scenario.end)


def _share_sum_problem(path: str, shares: Mapping[str, float]) -> Problem | None:
    total = sum(shares.values())
    if abs(total - 1.0) <= SHARE_TOLERANCE:
        return None
    listed = ", ".join(f"{key}: {value:g}" for key, value in shares.items())
    return Problem(path, f"shares sum to {total:g}, they must sum to 1 (got {listed})")


def _consistency_problems(scenario: Scenario) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    if month_index(scenario.end) < scenario.start_index:
        add(Problem("end", f"{scenario.end} is before start {scenario.start}"))
        return problems
    if scenario.months > MAX_HORIZON_MONTHS:
        add(
            Problem(
                "end",
                f"the horizon {scenario.start}..{scenario.end} is {scenario.months} months; "
                f"at most {MAX_HORIZON_MONTHS} ({MAX_HORIZON_MONTHS // 12} years) are allowed",
            )
        )
        return problems
    horizon = f"the horizon {scenario.start}..{scenario.end}"

    for field in ("terminal_share", "site_share"):
        shares = {name: getattr(region, field) for name, region in scenario.regions.items()}
        problem = _share_sum_problem(f"regions.*.{field}", shares)
        if problem:
            add(problem)

    known_technologies = set(catalog.TECHNOLOGIES)
    for name, override in scenario.technologies.items():
        if name not in catalog.TECHNOLOGIES and override.max_devices_per_cell is None:
            add(
                Problem(
                    f"technologies.{name}.max_devices_per_cell",
                    f"{name!r} is not a catalog technology"
                    f"{_did_you_mean(name, catalog.TECHNOLOGIES)}; a new technology needs "
                    f"max_devices_per_cell (catalog: {', '.join(catalog.TECHNOLOGIES)})",
                )
            )
        known_technologies.add(name)
        profile = (
            catalog.TECHNOLOGIES[name].access_profile if name in catalog.TECHNOLOGIES else None
        )
        wrong = {
            "prach_configuration_index": "lte-prach",
            "nprach_periodicity_ms": "nb-iot-nprach",
            "nprach_subcarriers": "nb-iot-nprach",
        }
        for field, needs in wrong.items():
            if getattr(override, field) is not None and profile != needs:
                family = "LTE, LTE-M and LTE Cat.1" if needs == "lte-prach" else "NB-IoT"
                add(
                    Problem(
                        f"technologies.{name}.{field}",
                        f"applies to {family} only; use rao_period_ms and preambles for {name}",
                    )
                )

    carried = scenario.network.technologies
    for name, carriage in carried.items():
        path = f"network.technologies.{name}"
        if name not in known_technologies:
            add(
                Problem(
                    path,
                    f"unknown technology {name!r}{_did_you_mean(name, known_technologies)}; "
                    f"known: {', '.join(sorted(known_technologies))} (add new ones under "
                    "technologies: with max_devices_per_cell)",
                )
            )
        if isinstance(carriage.share, dict):
            for month in carriage.share:
                if not _within(month, scenario):
                    add(Problem(f"{path}.share", f"date {month} lies outside {horizon}"))
    start_year, end_year = scenario.start_index // 12, month_index(scenario.end) // 12
    for generation, schedule in scenario.network.sites.items():
        for field in ("build_per_year", "retire_per_year"):
            table = getattr(schedule, field)
            if isinstance(table, dict):
                for year in table:
                    if not start_year <= year <= end_year:
                        add(
                            Problem(
                                f"network.sites.{generation}.{field}",
                                f"year {year} lies outside the horizon years "
                                f"{start_year}..{end_year}",
                            )
                        )
    for name, carriage in carried.items():
        if carriage.on not in scenario.network.sites:
            add(
                Problem(
                    f"network.technologies.{name}.on",
                    f"{carriage.on} has no sites; add network.sites.{carriage.on}",
                )
            )

    for name, category in scenario.categories.items():
        path = f"categories.{name}"
        if not _NAME_RE.match(name):
            add(Problem(path, "category names use letters, digits, '.', '_' or '-'"))
        seen: set[str] = set()
        for position, tech in enumerate(category.technologies):
            if tech in seen:
                add(Problem(f"{path}.technologies[{position}]", f"{tech!r} is listed twice"))
            seen.add(tech)
            if tech not in carried:
                add(
                    Problem(
                        f"{path}.technologies[{position}]",
                        f"{tech!r} is not carried by the network"
                        f"{_did_you_mean(tech, carried)}; carried: {', '.join(carried)} "
                        "(see network.technologies)",
                    )
                )
        for step_month, mix in category.mix_schedule().items():
            mix_path = f"{path}.mix" + (f".{step_month}" if step_month else "")
            if step_month is not None and not _within(step_month, scenario):
                add(Problem(mix_path, f"date {step_month} lies outside {horizon}"))
            for tech in mix:
                if tech not in category.technologies:
                    add(
                        Problem(
                            f"{mix_path}.{tech}",
                            f"{tech!r} is not in this category's technologies "
                            f"[{', '.join(category.technologies)}]"
                            f"{_did_you_mean(tech, category.technologies)}",
                        )
                    )
            problem = _share_sum_problem(mix_path, mix)
            if problem:
                add(problem)
        if category.regions is not None:
            for region in category.regions:
                if region not in scenario.regions:
                    add(
                        Problem(
                            f"{path}.regions.{region}",
                            f"unknown region{_did_you_mean(region, scenario.regions)}; "
                            f"regions: {', '.join(scenario.regions)}",
                        )
                    )
            problem = _share_sum_problem(f"{path}.regions", category.regions)
            if problem:
                add(problem)
        if category.patience_months is not None and category.when_full != "wait":
            add(
                Problem(
                    f"{path}.patience_months",
                    f"applies only with when_full: wait (when_full is {category.when_full})",
                )
            )
        growth = category.growth
        if isinstance(growth, Cagr | Logistic) and category.initial == 0:
            given = "growth" in category.model_fields_set
            add(
                Problem(
                    f"{path}.growth.model" if given else f"{path}.initial",
                    f"a {growth.model} curve from initial 0 stays at 0"
                    + ("" if given else " (growth defaults to cagr with rate 0)")
                    + "; set initial > 0 or use growth model linear or bass",
                )
            )
        if isinstance(growth, Bass) and category.initial >= growth.market:
            add(
                Problem(
                    f"{path}.growth.market",
                    f"market {growth.market:g} must exceed initial {category.initial}",
                )
            )
        if isinstance(growth, Targets):
            for month in growth.values:
                if not _within(month, scenario):
                    add(Problem(f"{path}.growth.values.{month}", f"lies outside {horizon}"))
            if category.initial == 0:
                add(
                    Problem(
                        f"{path}.initial",
                        "a targets curve is log-linear from the initial base, which must be > 0",
                    )
                )

    access = scenario.access
    for position, year in enumerate(access.years):
        if not start_year <= year <= end_year:
            add(
                Problem(
                    f"access.years[{position}]",
                    f"{year} lies outside the horizon years {start_year}..{end_year}",
                )
            )
    for field in ("burst_s", "jitter_s"):
        value = getattr(access, field) if field == "burst_s" else access.controls.jitter_s
        if value > access.window_s:
            path = "access.burst_s" if field == "burst_s" else "access.controls.jitter_s"
            add(Problem(path, f"{value:g} s is longer than access.window_s ({access.window_s:g} "
                              "s): reports would fall after the simulated window"))  # fmt: skip
    if len(set(access.cells)) != len(access.cells):
        add(Problem("access.cells", f"a cell quantile is listed twice: {access.cells}"))
    for position, tech in enumerate(access.technologies or []):
        if tech not in carried:
            add(
                Problem(
                    f"access.technologies[{position}]",
                    f"{tech!r} is not carried by the network{_did_you_mean(tech, carried)}; "
                    f"carried: {', '.join(carried)}",
                )
            )
        elif tech not in catalog.TECHNOLOGIES:
            add(
                Problem(
                    f"access.technologies[{position}]",
                    f"{tech!r} has no random-access profile in the catalog; simulate one of "
                    f"{', '.join(t for t in carried if t in catalog.TECHNOLOGIES)}",
                )
            )

    for position, target in enumerate(scenario.targets):
        path = f"targets[{position}]"
        if not _within(target.date, scenario):
            add(Problem(f"{path}.date", f"{target.date} lies outside {horizon}"))
        for field, choices in (
            ("category", scenario.categories),
            ("region", scenario.regions),
            ("technology", carried),
        ):
            value = getattr(target, field)
            if value is not None and value not in choices:
                add(
                    Problem(
                        f"{path}.{field}",
                        f"unknown {field} {value!r}{_did_you_mean(value, choices)}; "
                        f"known: {', '.join(choices)}",
                    )
                )
    return problems


# --------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, and reads booleans as YAML 1.2 does.

    YAML 1.1 takes `on`, `off`, `yes` and `no` for booleans, which would turn the key `on:`
    of a technology into True; only `true` and `false` are booleans here.
    """


_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)  # type: ignore[no-untyped-call]
    return mapping


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,  # type: ignore[arg-type]
)


def _node_at(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[yaml.Node | None, bool]:
    """The YAML node at a field path, and whether the last step was found (vs a parent)."""
    node = root
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(step):
                    node = value_node
                    break
            else:
                # an unknown key: point at the key itself when it exists
                return node, False
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                return node, False
            node = node.value[step]
        else:
            return node, False
    return node, True


def _key_node(parent: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if str(key_node.value) == str(key):
                return key_node
    return None


def _path_text(loc: Iterable[Any]) -> str:
    text = ""
    for step in loc:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += ("." if text else "") + str(step)
    return text


def _field_names(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Allowed keys of the model reached by a field path (for 'did you mean')."""
    current: Any = model
    for step in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if step not in current.model_fields:
                return []
            current = current.model_fields[step].annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin in (dict, list) and args:
            current = args[-1]
        elif origin in (typing.Union, _UnionType) and step in GROWTH_MODELS:
            current = {m.model_fields["model"].annotation.__args__[0]: m for m in args}.get(step)
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


_UnionType = type(int | str)


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, _UnionType) and type(None) in args:
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1:
            return _unwrap(rest[0])
    return annotation


_DATE_REPR = re.compile(r"datetime\.date\((\d+), (\d+), (\d+)\)")


def _date_text(match: re.Match[str]) -> str:
    year, month, day = (int(part) for part in match.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _problems_from_validation(
    error: ValidationError, file: str | None, root: yaml.Node | None
) -> list[Problem]:
    problems: list[Problem] = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        if "[key]" in loc:  # a bad mapping key: the step before "[key]" is the key itself
            loc = tuple(str(step) for step in loc[: loc.index("[key]")])
        # pydantic writes a date key as its Python repr; show it as it stands in the file
        loc = tuple(
            _DATE_REPR.sub(_date_text, step) if isinstance(step, str) else step for step in loc
        )
        # a discriminated union puts the chosen tag into the path; users never wrote it
        loc = tuple(
            step
            for position, step in enumerate(loc)
            if not (position > 0 and loc[position - 1] == "growth" and step in GROWTH_MODELS)
        )
        kind = detail["type"]
        message = str(detail["msg"]).removeprefix("Value error, ")
        if kind == "extra_forbidden":
            allowed = _field_names(Scenario, loc[:-1])
            message = f"unknown key {loc[-1]!r}{_did_you_mean(str(loc[-1]), allowed)}"
            if allowed:
                message += f" (allowed: {', '.join(allowed)})"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "union_tag_invalid":
            message = (
                f"unknown growth model {detail['input'].get('model')!r}"
                f"{_did_you_mean(detail['input'].get('model'), GROWTH_MODELS)}; "
                f"models: {', '.join(GROWTH_MODELS)}"
            )
            loc = (*loc, "model")
        elif kind == "union_tag_not_found":
            message = f"a growth needs model: one of {', '.join(GROWTH_MODELS)}"
        elif kind.startswith(("literal_error", "enum")):
            message = f"got {_short(detail['input'])}; {message[0].lower() + message[1:]}"
        elif kind != "value_error" and "input" in detail and not isinstance(detail["input"], dict):
            message = f"got {_short(detail['input'])}: {message}"
        message = message.replace("Input should be", "must be").replace(
            "input should be", "must be"
        )
        node, found = _node_at(root, loc)
        if kind == "extra_forbidden" and node is not None:
            node = _key_node(node, loc[-1]) or node
        line = column = None
        if node is not None and (found or kind in ("extra_forbidden", "missing")):
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        problems.append(Problem(_path_text(loc), message, file, line, column))
    return problems


def _locate(problems: list[Problem], file: str | None, root: yaml.Node | None) -> list[Problem]:
    located = []
    for problem in problems:
        loc = tuple(
            int(step[1:-1]) if step.startswith("[") else step
            for step in re.findall(r"\[\d+\]|[^.\[\]]+", problem.path)
        )
        if "*" in loc:
            loc = loc[: loc.index("*")]
        node, _ = _node_at(root, loc)
        line = column = None
        if node is not None:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        located.append(Problem(problem.path, problem.message, file, line, column))
    return located


def parse_scenario(
    data: Any,
    *,
    file: str | None = None,
    default_name: str | None = None,
    _root: yaml.Node | None = None,
) -> Scenario:
    """Validate a scenario given as plain data (as loaded from YAML); raise ScenarioError."""
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem("", f"a scenario is a mapping of keys, got {type(data).__name__}", file)]
        )
    if default_name and "name" not in data:
        data = {"name": default_name, **data}
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(_problems_from_validation(error, file, _root)) from None
    problems = _consistency_problems(scenario)
    if problems:
        raise ScenarioError(_locate(problems, file, _root))
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; every problem is reported in one ScenarioError."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem("", "no such file", file)]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError([Problem("", f"cannot read the file: {error}", file)]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = " ".join(part for part in (error.context, error.problem) if part)
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise ScenarioError(
            [Problem("", f"YAML syntax error: {reason}", file, line, column)]
        ) from None
    except yaml.YAMLError as error:
        raise ScenarioError([Problem("", f"YAML error: {error}", file)]) from None
    if data is None:
        raise ScenarioError([Problem("", "the file is empty", file)])
    return parse_scenario(data, file=file, default_name=path.stem.replace(" ", "_"), _root=root)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, for editors."""
    return Scenario.model_json_schema()
