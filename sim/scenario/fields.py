"""Field types of the scenario schema: months, shares, dated schedules, per-year tables,
technology mixes; each validates a value and says what is allowed when it is not."""

from __future__ import annotations

import math
import numbers
import re
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)

from sim.scenario.months import MONTH_RE, month_index
from sim.scenario.problems import shown

Generation = Literal["4G", "5G"]
WhenFull = Literal["fallback", "wait", "drop"]
LifetimeModel = Literal["exponential", "fixed", "weibull"]
TargetMetric = Literal["connected", "demand", "blocked", "waiting"]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
NAME_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_NAME_CHARACTERS = 100
"""Longest name (of a scenario, region, technology, category or target): a result folder,
and a cell of every CSV row."""
FIRST_YEAR, LAST_YEAR = 1900, 2200
"""Years a scenario's months may lie in: pandas timestamps (plots, reports) span 1677-2262."""
SHARE_TOLERANCE = 1e-6
MAX_TERMINALS = 10**13
"""Upper bound of any terminal count (1,000 x the world's mobile connections)."""
MAX_SITES = 10**9
MAX_HORIZON_MONTHS = 2400
"""Longest horizon, 200 years: the join schedule costs O(months^2)."""


def _check_month(value: str) -> str:
    index = month_index(value)
    if not FIRST_YEAR * 12 <= index < (LAST_YEAR + 1) * 12:
        raise ValueError(
            f"got {shown(value)}: expected a month from {FIRST_YEAR}-01 to {LAST_YEAR}-12"
        )
    return value


def month_like(value: Any) -> str:
    """Dates written YYYY-MM-DD arrive from YAML as dates; say what to write instead."""
    if hasattr(value, "year") and hasattr(value, "month"):
        raise ValueError(
            f"expected a month as YYYY-MM, got the date {value}; write {value.year:04d}-"
            f"{value.month:02d}"
        )
    if not isinstance(value, str):
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2024-07), got {shown(value)}")
    return _check_month(value)


_MONTH_SCHEMA = {
    "type": "string",
    "pattern": MONTH_RE.pattern,
    "examples": ["2024-07"],
    "description": f"a month YYYY-MM from {FIRST_YEAR}-01 to {LAST_YEAR}-12",
}
Month = Annotated[str, PlainValidator(month_like), WithJsonSchema(_MONTH_SCHEMA)]


def check_name(value: str) -> str:
    """A name that can stand in a folder name and a CSV cell: NAME_RE, at most
    MAX_NAME_CHARACTERS (no '/', no line break, no leading '=' a spreadsheet would run)."""
    if len(value) > MAX_NAME_CHARACTERS:
        raise ValueError(
            f"{shown(value)} is {len(value)} characters long; a name has at most "
            f"{MAX_NAME_CHARACTERS} characters"
        )
    if not NAME_RE.match(value):
        raise ValueError(f"{shown(value)} is not a name: use {NAME_RULE}")
    return value


Name = Annotated[
    str,
    AfterValidator(check_name),
    # the pattern inside allOf: as a dict key, a top-level pattern would become
    # patternProperties and lose the values' schema
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_NAME_CHARACTERS,
            "allOf": [{"pattern": NAME_RE.pattern}],
            "description": NAME_RULE,
        }
    ),
]
"""The name of a region, technology, category or target."""


_NUMERIC_TEXT = re.compile(r"^\s*[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def not_a_number(value: Any, what: str = "a number") -> str:
    """The message for a value given where a number goes: what came, what is expected."""
    message = f"got {shown(value)}: expected {what}"
    if isinstance(value, bool):
        return message + " (true/false is not a number)"
    if isinstance(value, str) and _NUMERIC_TEXT.match(value):
        return message + " (text is not a number: write it without quotes)"
    return message


def _number(value: Any, what: str = "a number") -> float:
    """A real number as a float; booleans and text refused.

    Pydantic's lax mode reads True as 1 and "0.3" as 0.3, so a boolean would run as a
    growth rate of 100 %: only numbers are numbers here (ints and numpy numbers included).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(not_a_number(value, what))
    try:
        return float(value)
    except OverflowError:  # an int beyond 1.8e308
        raise ValueError(f"got {shown(value)}: expected a finite number") from None


def _whole_number(value: Any) -> int:
    """A whole number as an int: 1e9 (a float in YAML) is 1,000,000,000; 1.5 is refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(not_a_number(value, "a whole number"))
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    if not (math.isfinite(number) and number.is_integer()):
        raise ValueError(f"got {shown(value)}: expected a whole number")
    return int(number)


def _or_none(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


Number = Annotated[float, BeforeValidator(_number)]
"""A real number (int or float in the file); never a boolean or text."""
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
"""A count: a whole number, written 1000000 or 1e6; never a fraction, a boolean or text."""
# `Number | None` would put a field's bounds into the JSON Schema as pydantic's own keys
# (gt, le) instead of exclusiveMinimum, maximum: the optional forms hold the None inside.
OptionalNumber = Annotated[float | None, BeforeValidator(_or_none(_number))]
"""A Number, or None (the key left out)."""
OptionalWholeNumber = Annotated[int | None, BeforeValidator(_or_none(_whole_number))]
"""A WholeNumber, or None (the key left out)."""


def checked_number(value: Any, lower: float | None, upper: float | None, what: str) -> float:
    """A finite number (not a boolean, not text) within [lower, upper]."""
    number = _number(value, what)
    if not math.isfinite(number):
        raise ValueError(f"got {shown(value)}: expected a finite number ({what})")
    if lower is not None and number < lower:
        raise ValueError(f"{shown(value)} is below the allowed minimum {lower:g} ({what})")
    if upper is not None and number > upper:
        raise ValueError(f"{shown(value)} is above the allowed maximum {upper:g} ({what})")
    return number


def _validate_share_schedule(value: Any) -> float | dict[str, float]:
    """A share that is a constant or a dated step schedule {YYYY-MM: share}."""
    what = "a share between 0 and 1"
    if isinstance(value, dict):
        if not value:
            raise ValueError("a dated schedule needs at least one YYYY-MM: value entry")
        table: dict[str, float] = {}
        for key, item in value.items():
            month = month_like(key)
            try:
                table[month] = checked_number(item, 0.0, 1.0, what)
            except ValueError as error:
                raise ValueError(f"at {month}: {error}") from None
        return dict(sorted(table.items(), key=lambda kv: month_index(kv[0])))
    return checked_number(value, 0.0, 1.0, what)


_SHARE_SCHEMA: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}
_SHARE_SCHEDULE_SCHEMA: list[dict[str, Any]] = [
    _SHARE_SCHEMA,
    {
        "type": "object",
        "propertyNames": {"pattern": MONTH_RE.pattern},
        "additionalProperties": _SHARE_SCHEMA,
        "minProperties": 1,
    },
]
"""A share schedule's JSON Schema alternatives: a constant, or dated steps."""
ShareSchedule = Annotated[
    float | dict[str, float],
    PlainValidator(_validate_share_schedule),
    WithJsonSchema(
        {
            "anyOf": _SHARE_SCHEDULE_SCHEMA,
            "description": "a share 0..1: a constant, or dated steps {YYYY-MM: share}",
        }
    ),
]


GENERATIONS: tuple[str, ...] = typing.get_args(Generation)


def _validate_site_share(value: Any) -> float | dict[str, float | dict[str, float]]:
    """One share for every generation, or per generation {4G: share, 5G: share} where each
    share is a constant or dated steps {YYYY-MM: share}."""
    if isinstance(value, dict):
        if not value:
            raise ValueError(
                "per-generation site shares need at least one generation: share entry "
                f"(generations: {', '.join(GENERATIONS)})"
            )
        shares: dict[str, float | dict[str, float]] = {}
        for key, item in value.items():
            if key not in GENERATIONS:
                raise ValueError(
                    f"{shown(key)} is not a generation: keys are {', '.join(GENERATIONS)} "
                    "(or give one share for every generation)"
                )
            try:
                shares[key] = _validate_share_schedule(item)
            except ValueError as error:
                raise ValueError(f"at {key}: {error}") from None
        return dict(sorted(shares.items(), key=lambda kv: GENERATIONS.index(kv[0])))
    return checked_number(value, 0.0, 1.0, "a share between 0 and 1")


SiteShare = Annotated[
    float | dict[str, float | dict[str, float]],
    PlainValidator(_validate_site_share),
    WithJsonSchema(
        {
            "anyOf": [
                _SHARE_SCHEMA,
                {
                    "type": "object",
                    "propertyNames": {"enum": list(GENERATIONS)},
                    "additionalProperties": {"anyOf": _SHARE_SCHEDULE_SCHEMA},
                    "minProperties": 1,
                },
            ],
            "description": "a share 0..1 of every generation's sites, or per generation "
            "{4G: share, 5G: share}, each a constant or dated steps {YYYY-MM: share}",
        }
    ),
]
"""A region's share of base-station sites: one for every generation, or per generation."""


def _year_table(value: Any) -> float | dict[int, float]:
    return _per_year_table(value, 0, MAX_SITES, "a count per year (>= 0)")


def _share_year_table(value: Any) -> float | dict[int, float]:
    return _per_year_table(value, 0.0, 1.0, "a share per year between 0 and 1")


def _per_year_table(value: Any, lower: float, upper: float, what: str) -> float | dict[int, float]:
    """A constant or a table {YEAR: value}, each value within [lower, upper]."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("a per-year table needs at least one YEAR: value entry")
        table: dict[int, float] = {}
        for raw_key, item in value.items():
            # JSON (a manifest's resolved scenario) has string keys: accept "2025" too
            year_text = isinstance(raw_key, str) and re.fullmatch(r"[0-9]{4}", raw_key)
            key = int(raw_key) if year_text else raw_key
            if (
                isinstance(key, bool)
                or not isinstance(key, int)
                or not FIRST_YEAR <= key <= LAST_YEAR
            ):
                raise ValueError(
                    f"per-year table keys are years from {FIRST_YEAR} to {LAST_YEAR} like 2025, "
                    f"got {shown(raw_key)}"
                )
            try:
                table[key] = checked_number(item, lower, upper, what)
            except ValueError as error:
                raise ValueError(f"in {key}: {error}") from None
        return dict(sorted(table.items()))
    return checked_number(value, lower, upper, what)


def _year_table_type(validator: Any, value_schema: dict[str, Any], description: str) -> Any:
    """A per-calendar-year table: a constant or {YEAR: value}, validated by `validator`,
    written back with the years as text, and its JSON Schema."""
    return Annotated[
        float | dict[int, float],
        PlainValidator(validator),
        PlainSerializer(
            lambda value: (
                {str(year): n for year, n in value.items()} if isinstance(value, dict) else value
            ),
            return_type=Any,
        ),
        WithJsonSchema(
            {
                "anyOf": [
                    value_schema,
                    {
                        "type": "object",
                        "propertyNames": {"pattern": r"^\d{4}$"},
                        "additionalProperties": value_schema,
                    },
                ],
                "description": description,
            }
        ),
    ]


YearTable = _year_table_type(
    _year_table,
    {"type": "number", "minimum": 0},
    "sites per year: a constant, or a table {YEAR: sites}",
)
"""Per calendar year, a number of sites (e.g. built that year)."""
ShareYearTable = _year_table_type(
    _share_year_table,
    {"type": "number", "minimum": 0, "maximum": 1},
    "a share 0..1 per year: a constant, or a table {YEAR: share}",
)
"""Per calendar year, a share 0..1 (e.g. of the sites in service at the year's start)."""


def _mix(value: Any) -> dict[str, float] | dict[str, dict[str, float]]:
    """A technology mix {tech: share} or dated mixes {YYYY-MM: {tech: share}}."""
    if not isinstance(value, dict) or not value:
        raise ValueError(
            f"expected a mix like {{nb-iot: 0.8, lte-cat1: 0.2}} or dated mixes "
            f"{{2023-01: {{...}}, 2027-01: {{...}}}}, got {shown(value)}"
        )
    dated = [isinstance(item, dict) for item in value.values()]
    if all(dated):
        mixes: dict[str, dict[str, float]] = {}
        for key, item in value.items():
            month = month_like(key)
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
        raise ValueError(f"expected {{technology: share}}, got {shown(value)}")
    return {
        str(tech): checked_number(share, 0, 1, f"a share between 0 and 1 for {shown(tech)}")
        for tech, share in value.items()
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
                    "propertyNames": {"pattern": MONTH_RE.pattern},
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
    what = f"'auto' or a whole number of terminals from 1 to {MAX_TERMINALS:.0e}"
    try:
        count = _whole_number(value)
    except ValueError:
        raise ValueError(not_a_number(value, what)) from None
    if not 1 <= count <= MAX_TERMINALS:
        raise ValueError(f"got {shown(value)}: expected {what}")
    return count


Resolution = Annotated[
    int | Literal["auto"],
    PlainValidator(_resolution),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}]}),
]


_QUANTILE_RE = re.compile(r"^p(\d{1,2}(\.\d+)?)$")


def _check_quantile(value: str) -> str:
    match = _QUANTILE_RE.match(value)
    if match is None or not 0 < float(match.group(1)) < 100:
        raise ValueError(f"expected a cell quantile like p50, p90 or p99.9, got {shown(value)}")
    return value


CellQuantile = Annotated[
    str,
    AfterValidator(_check_quantile),
    WithJsonSchema({"type": "string", "pattern": _QUANTILE_RE.pattern, "examples": ["p99"]}),
]
