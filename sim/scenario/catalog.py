"""The catalog: technology figures and category presets, each with its source.

The figures live in sourced data tables beside this file (`data/*.csv`, one row per figure
with a `source` column), so they can be read, cited and extended without reading Python.
Figures marked "assumption" are modelling choices of this project, stated so a user can
override them in a scenario; every other figure names the document it was read in.  The
tables are read once, when the package is imported, and validated by the scenario schema:
technology rows by `TechnologySpec` (the declarations a scenario's `technologies:` section
uses), presets by `Category` (see `sim.scenario.model`).
"""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Callable
from importlib import resources
from typing import Any, Final, TypeVar

import yaml
from pydantic import ValidationError

from sim.scenario.fields import Generation
from sim.scenario.radio import COVERAGE_CLASSES, CarrierSpec, CoverageClass, LinkSpec
from sim.scenario.technology import TechnologySpec
from sim.scenario.yaml_text import ScenarioLoader

GENERATIONS: Final[tuple[Generation, ...]] = ("4G", "5G")

_DATA = resources.files("sim.scenario").joinpath("data")
TECHNOLOGIES_FILE: Final = "sim/scenario/data/technologies.csv"
PRESETS_FILE: Final = "sim/scenario/data/category_presets.csv"
LTE_PRACH_FILE: Final = "sim/scenario/data/lte_prach_format0.csv"
CARRIERS_FILE: Final = "sim/scenario/data/carriers.csv"
LINKS_FILE: Final = "sim/scenario/data/links.csv"


_Spec = TypeVar("_Spec", TechnologySpec, CarrierSpec)


class CatalogError(RuntimeError):
    """A data table of the catalog is broken (a defect of the package, not of a scenario)."""


def _rows(name: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a data table with their line numbers in the file."""
    text = _DATA.joinpath(name).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return [(reader.line_num, row) for row in reader]


def _value(text: str, where: str) -> Any:
    """A table cell as YAML: numbers, words, [lists] and {mappings}, as in a scenario file."""
    try:
        return yaml.load(text, Loader=ScenarioLoader)
    except yaml.YAMLError as error:
        raise CatalogError(f"{where}: cannot read {text!r}: {error}") from None


def _nest(fields: dict[str, Any], path: str, value: Any) -> None:
    """Put a value at a dotted field path (traffic.reports_per_day) of nested dicts."""
    *parents, last = path.split(".")
    node = fields
    for step in parents:
        node = node.setdefault(step, {})
    node[last] = value


def _read_long(
    name: str, label: str, key: str
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]], dict[str, int]]:
    """A long table (`key, field, value, unit, source`): per item, its fields (dotted
    paths nested), each field's source, and the line the item starts on."""
    fields: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, str]] = {}
    lines: dict[str, int] = {}
    for line, row in _rows(name):
        item, field = row[key], row["field"]
        where = f"{label}:{line}: {item}.{field}"
        if field in sources.setdefault(item, {}):
            raise CatalogError(f"{where}: given twice")
        _nest(fields.setdefault(item, {}), field, _value(row["value"], where))
        sources[item][field] = row["source"].strip()
        lines.setdefault(item, line)
    return fields, sources, lines


def _validated(
    label: str, model: type[_Spec], fields: dict[str, dict[str, Any]], lines: dict[str, int]
) -> dict[str, _Spec]:
    """Each item's fields validated by its model; a bad one names the file and line."""
    specs = {}
    for item, values in fields.items():
        try:
            specs[item] = model.model_validate(values)
        except ValidationError as error:
            raise CatalogError(f"{label}:{lines[item]}: {item}: {error}") from None
    return specs


def _read_technologies() -> tuple[dict[str, TechnologySpec], dict[str, dict[str, str]]]:
    fields, sources, lines = _read_long("technologies.csv", TECHNOLOGIES_FILE, "technology")
    return _validated(TECHNOLOGIES_FILE, TechnologySpec, fields, lines), sources


def _read_presets() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    presets, sources, _ = _read_long("category_presets.csv", PRESETS_FILE, "preset")
    return presets, sources


def _read_carriers() -> tuple[dict[str, CarrierSpec], dict[str, dict[str, str]]]:
    fields, sources, lines = _read_long("carriers.csv", CARRIERS_FILE, "carrier")
    return _validated(CARRIERS_FILE, CarrierSpec, fields, lines), sources


def _read_links() -> tuple[
    dict[str, dict[CoverageClass, LinkSpec]], dict[str, dict[CoverageClass, str]]
]:
    links: dict[str, dict[CoverageClass, LinkSpec]] = {}
    sources: dict[str, dict[CoverageClass, str]] = {}
    for line, row in _rows("links.csv"):
        name, coverage = row.pop("technology"), row.pop("coverage")
        source = row.pop("source").strip()
        where = f"{LINKS_FILE}:{line}: {name}.{coverage}"
        if coverage not in COVERAGE_CLASSES:
            raise CatalogError(f"{where}: coverage must be one of {', '.join(COVERAGE_CLASSES)}")
        if coverage in links.setdefault(name, {}):
            raise CatalogError(f"{where}: given twice")
        try:
            links[name][coverage] = LinkSpec.model_validate(  # type: ignore[index]
                {field: _value(text, where) for field, text in row.items()}
            )
        except ValidationError as error:
            raise CatalogError(f"{where}: {error}") from None
        sources.setdefault(name, {})[coverage] = source  # type: ignore[index]
    return links, sources


def _read_lte_prach() -> dict[int, tuple[str, tuple[int, ...]]]:
    table = {}
    for _, row in _rows("lte_prach_format0.csv"):
        subframes = tuple(int(part) for part in row["subframes"].split())
        table[int(row["configuration_index"])] = (row["system_frames"], subframes)
    return table


TECHNOLOGIES, TECHNOLOGY_SOURCES = _read_technologies()
"""Catalog technologies by name, and the source of each of their figures."""
CARRIERS, CARRIER_SOURCES = _read_carriers()
"""Catalog carrier kinds (lte, nb-iot, nr) and the source of each of their figures."""
LINKS, LINK_SOURCES = _read_links()
"""Per technology and coverage class: transport blocks, repetitions, connected time."""
CATEGORY_PRESETS, PRESET_SOURCES = _read_presets()
"""Category presets by name (the scenario fields they fill in), and each figure's source."""
LTE_PRACH_FORMAT0: Final = _read_lte_prach()
"""3GPP TS 36.211 Table 5.7.1-2 (frame structure type 1), preamble format 0, configuration
indices 0..15: the system frames ("even" or "any") and subframes holding a PRACH."""


def _check_references() -> None:
    for name, spec in TECHNOLOGIES.items():
        if spec.carrier not in CARRIERS:
            raise CatalogError(f"{TECHNOLOGIES_FILE}: {name}: unknown carrier {spec.carrier}")
        if spec.generation != CARRIERS[spec.carrier].generation:
            raise CatalogError(
                f"{TECHNOLOGIES_FILE}: {name}: generation differs from its carrier's"
            )
        missing = [level for level in COVERAGE_CLASSES if level not in LINKS.get(name, {})]
        if missing:
            raise CatalogError(f"{LINKS_FILE}: {name}: no row for {', '.join(missing)}")


_check_references()


def check_presets(validate: Callable[[dict[str, Any]], object]) -> None:
    """Validate every preset with the scenario schema (`validate` raises on a bad preset)."""
    for name in CATEGORY_PRESETS:
        try:
            validate({"preset": name})
        except (ValidationError, ValueError) as error:
            raise CatalogError(f"{PRESETS_FILE}: preset {name}: {error}") from None


def preset_fields(name: str) -> dict[str, Any]:
    """The scenario fields of a category preset (a deep copy: callers may change it)."""
    return copy.deepcopy(CATEGORY_PRESETS[name])


def lte_prach_timing(index: int) -> tuple[float, float]:
    """(RAO period, offset of the first RAO) in ms of an LTE PRACH configuration index.

    The opportunities of a frame are taken as evenly spaced: exact for every index except
    9-11 (subframes 3, 3 and 4 apart, taken as 10/3 ms).
    """
    frames, subframes = LTE_PRACH_FORMAT0[index]
    span = 20.0 if frames == "even" else 10.0
    return span / len(subframes), float(subframes[0])
