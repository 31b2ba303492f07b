"""The catalog figures a scenario runs with: the catalog's technologies and carriers with
the scenario's overrides on top.

A scenario's dump (`Scenario.model_dump`) holds only what the file overrides
(`technologies: {}` when nothing is); these views add what the catalog supplies, so a
sweep can vary a catalog figure the scenario does not mention and a result folder's
manifest can say which figures were used.
"""

from __future__ import annotations

import copy
from typing import Any

from sim.scenario import catalog
from sim.scenario.radio import CarrierOverride, CarrierSpec
from sim.scenario.technology import TechnologyOverride, TechnologySpec

OVERRIDABLE = {
    "technologies": (set(TechnologyOverride.model_fields), set(TechnologySpec.model_fields),
                     catalog.TECHNOLOGIES_FILE),
    "carriers": (set(CarrierOverride.model_fields), set(CarrierSpec.model_fields),
                 catalog.CARRIERS_FILE),
}  # fmt: skip
"""Per catalog-backed table: the fields a scenario may override, the fields the catalog
has, and the catalog file."""


def _merge(base: Any, top: Any) -> Any:
    """`top` over `base`, dict by dict; a None in `top` keeps `base`'s value."""
    if isinstance(base, dict) and isinstance(top, dict):
        out = dict(base)
        for key, value in top.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return base if top is None else top


def _overridable_view(spec: Any, override_model: Any) -> dict[str, Any]:
    """A catalog item's figures under the fields a scenario may override: the override
    model's defaults, with the catalog's value wherever the catalog has the field."""
    defaults = override_model().model_dump(mode="json")
    figures = spec.model_dump(mode="json")
    return {key: _merge(value, figures.get(key)) for key, value in defaults.items()}


def with_catalog(data: dict[str, Any]) -> dict[str, Any]:
    """Plain scenario data (a `model_dump`) with every catalog technology under
    `technologies` and every catalog carrier under `network.carriers`, each showing the
    figures a scenario may override: the scenario's own where it gives them, else the
    catalog's.  For checking field paths, not for running: a scenario built from it would
    carry every catalog figure as an override."""
    out = copy.deepcopy(data)
    technologies = out.setdefault("technologies", {})
    for name, spec in catalog.TECHNOLOGIES.items():
        view = _overridable_view(spec, TechnologyOverride)
        technologies[name] = _merge(view, technologies.get(name) or {})
    carriers = out.setdefault("network", {}).setdefault("carriers", {})
    for name, carrier in catalog.CARRIERS.items():
        view = _overridable_view(carrier, CarrierOverride)
        carriers[name] = _merge(view, carriers.get(name) or {})
    return out


def catalog_only(path: tuple[str, ...]) -> str | None:
    """Why a field path names a catalog figure a scenario cannot override (None when it
    does not): `technologies.nb-iot.uplink_overhead_bytes` is in the catalog's table but
    not among the fields a scenario may set."""
    table = "carriers" if path[:2] == ("network", "carriers") else path[0]
    depth = 3 if table == "carriers" else 2
    if table not in OVERRIDABLE or len(path) <= depth:
        return None
    overridable, known, file = OVERRIDABLE[table]
    field = path[depth]
    if field in overridable or field not in known:
        return None
    return (f"{field!r} is a catalog figure ({file}) that a scenario cannot override; a "
            f"scenario may set: {', '.join(sorted(overridable))}")  # fmt: skip


def _given(value: Any) -> bool:
    """Whether an override's value sets anything (a mapping of Nones sets nothing)."""
    if isinstance(value, dict):
        return any(_given(v) for v in value.values())
    return value is not None and value != []


def catalog_figures(
    technologies: list[str], overrides: dict[str, Any], carrier_overrides: dict[str, Any]
) -> dict[str, Any]:
    """The catalog figures a run used, for its manifest: per technology used (catalog ones)
    its figures with the scenario's overrides on top, the fields overridden and each
    figure's source; per carrier kind used the same; per technology its link table (per
    coverage class, with its source).  `overrides` and `carrier_overrides` are the
    scenario's `technologies` and `network.carriers` as plain data."""
    out: dict[str, Any] = {"technologies": {}, "carriers": {}, "links": {}}
    carriers = []
    for name in technologies:
        spec = catalog.TECHNOLOGIES.get(name)
        override = overrides.get(name) or {}
        if spec is None:
            out["technologies"][name] = {
                "figures": override,
                "overridden": sorted(override),
                "sources": {"*": "the scenario (not in the catalog)"},
            }
            carriers.append(override.get("carrier"))
            continue
        given = {k for k, v in override.items() if _given(v)}
        out["technologies"][name] = {
            "figures": _merge(spec.model_dump(mode="json"), override),
            "overridden": sorted(given),
            "sources": catalog.TECHNOLOGY_SOURCES.get(name, {}),
        }
        carriers.append(override.get("carrier") or spec.carrier)
        out["links"][name] = {
            level: {
                **link.model_dump(mode="json"),
                "source": catalog.LINK_SOURCES[name][level],
            }
            for level, link in catalog.LINKS[name].items()
        }
    for name in dict.fromkeys(c for c in carriers if c in catalog.CARRIERS):
        override = {k: v for k, v in (carrier_overrides.get(name) or {}).items() if _given(v)}
        out["carriers"][name] = {
            "figures": catalog.CARRIERS[name].model_dump(mode="json"),
            "scenario": override,
            "sources": catalog.CARRIER_SOURCES.get(name, {}),
        }
    return out
