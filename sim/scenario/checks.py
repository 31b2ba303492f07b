"""Rules that span fields, checked once every field has a valid type: shares sum to 1,
references exist, dates lie in the horizon."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping

from sim.scenario import catalog
from sim.scenario.base import RESOURCES
from sim.scenario.fields import MAX_HORIZON_MONTHS, SHARE_TOLERANCE
from sim.scenario.model import (
    MAX_REGION_DEPTH,
    Bass,
    Cagr,
    Logistic,
    Region,
    Scenario,
    Targets,
    share_at,
)
from sim.scenario.months import month_index, month_label
from sim.scenario.problems import Problem, did_you_mean, listing, shown


def _within(month: str, scenario: Scenario) -> bool:
    return scenario.start_index <= month_index(month) <= month_index(scenario.end)


def _share_sum_problem(path: str, shares: Mapping[str, float]) -> Problem | None:
    total = sum(shares.values())
    if abs(total - 1.0) <= SHARE_TOLERANCE:
        return None
    listed = listing([f"{key}: {value:g}" for key, value in shares.items()])
    return Problem(path, f"shares sum to {total:g}, they must sum to 1 (got {listed})")


def _step_months(scenario: Scenario, *schedules: float | Mapping[str, float]) -> list[int]:
    """The start and every dated step in the horizon: where step shares can change."""
    months = {scenario.start_index}
    for schedule in schedules:
        if isinstance(schedule, Mapping):
            months |= {month_index(date) for date in schedule if _within(date, scenario)}
    return sorted(months)


def _region_problems(
    scenario: Scenario, regions: Mapping[str, Region], path: str, depth: int
) -> list[Problem]:
    """The regions at one level of the tree (and, recursively, below): nesting depth, shares
    summing to 1 among siblings (per generation and at every dated step), generations that
    have sites, dates in the horizon."""
    if depth > MAX_REGION_DEPTH:
        return [Problem(path, f"regions nest at most {MAX_REGION_DEPTH} levels deep")]
    if not regions:
        return [Problem(path, "no regions: give at least one, or leave regions out")]
    problems = []
    terminal = {name: region.terminal_share for name, region in regions.items()}
    problem = _share_sum_problem(f"{path}.*.terminal_share", terminal)
    if problem:
        problems.append(problem)
    generations: list[str] = list(scenario.network.sites)
    if not any(isinstance(region.site_share, Mapping) for region in regions.values()):
        shares = {name: typing.cast(float, region.site_share) for name, region in regions.items()}
        problem = _share_sum_problem(f"{path}.*.site_share", shares)
        if problem:
            problems.append(problem)
    else:
        for generation in generations:
            if any(
                isinstance(region.site_share, Mapping) and generation not in region.site_share
                for region in regions.values()
            ):
                continue  # said below: a mapping without the generation
            schedules = {name: region.site_share_of(generation) for name, region in regions.items()}
            steps = _step_months(scenario, *schedules.values())
            for when in steps:
                at = {name: share_at(schedule, when) for name, schedule in schedules.items()}
                problem = _share_sum_problem(f"{path}.*.site_share.{generation}", at)
                if problem:
                    dated = f"at {month_label(when)}: " if len(steps) > 1 else ""
                    problems.append(Problem(problem.path, dated + problem.message))
                    break
    horizon = f"the horizon {scenario.start}..{scenario.end}"
    for name, region in regions.items():
        here = f"{path}.{name}"
        if isinstance(region.site_share, Mapping):
            for generation, schedule in region.site_share.items():
                if generation not in scenario.network.sites:
                    problems.append(
                        Problem(
                            f"{here}.site_share.{generation}",
                            f"{generation} has no sites (network.sites has {listing(generations)})",
                        )
                    )
                if isinstance(schedule, Mapping):
                    problems.extend(
                        Problem(f"{here}.site_share.{generation}",
                                f"date {month} lies outside {horizon}")
                        for month in schedule if not _within(month, scenario)
                    )  # fmt: skip
            missing = [g for g in generations if g not in region.site_share]
            if missing:
                problems.append(
                    Problem(
                        f"{here}.site_share",
                        f"gives no share of the {listing(missing)} sites: give a share for every "
                        f"generation of network.sites ({listing(generations)}), or one share "
                        "for all",
                    )
                )
        if region.regions is not None:
            problems.extend(
                _region_problems(scenario, region.regions, f"{here}.regions", depth + 1)
            )
    return problems


def _region_name_problems(scenario: Scenario, path: str, names: Iterable[str]) -> list[Problem]:
    """Region names (of a category's shares): each a region's path, a leaf or a group, and
    none inside another named one (its terminals would be counted twice)."""
    known = scenario.region_paths
    problems = []
    named = [name for name in names if name in known]
    for name in names:
        if name not in known:
            problems.append(
                Problem(
                    f"{path}.{name}",
                    f"unknown region{did_you_mean(name, known)}; regions (a group such as "
                    f"'east' stands for its parts 'east/...'): {listing(known)}",
                )
            )
            continue
        outer = [other for other in named if name.startswith(other + "/")]
        if outer:
            problems.append(
                Problem(
                    f"{path}.{name}",
                    f"lies inside {shown(outer[0])}, also named here: name a region or its "
                    "parts, not both",
                )
            )
    return problems


def _unlisted(path: str, tech: str, technologies: list[str]) -> Problem:
    """A technology named where only the category's own technologies may be."""
    return Problem(
        path,
        f"{shown(tech)} is not in this category's technologies [{listing(technologies)}]"
        f"{did_you_mean(tech, technologies)}",
    )


def _known(scenario: Scenario, technology: str) -> bool:
    """Whether a technology's carrier is known (a catalog one, or a new one naming it)."""
    override = scenario.technologies.get(technology)
    return technology in catalog.TECHNOLOGIES or (
        override is not None and override.carrier is not None
    )


RANDOM_ACCESS_FIELDS = (
    "prach_configuration_index", "nprach_periodicity_ms", "nprach_subcarriers", "preambles",
    "rao_period_ms",
)  # fmt: skip
"""Technology overrides that set the random-access channel of the technology's carrier."""


def _shared_channel_problems(scenario: Scenario) -> list[Problem]:
    """Technologies on one carrier contend on its one random-access channel: what they say
    about that channel must agree."""
    problems = []
    said: dict[tuple[str, str], tuple[str, object]] = {}
    for name, override in scenario.technologies.items():
        if not _known(scenario, name):
            continue
        carrier = scenario.carrier_of(name)
        for field in RANDOM_ACCESS_FIELDS:
            value = getattr(override, field)
            if value is None:
                continue
            first = said.setdefault((carrier, field), (name, value))
            if first[1] != value:
                problems.append(
                    Problem(
                        f"technologies.{name}.{field}",
                        f"{value} differs from technologies.{first[0]}.{field} = {first[1]}: "
                        f"{first[0]} and {name} share the {carrier} carrier's one "
                        "random-access channel; give it once, or the same value",
                    )
                )
    return problems


def consistency_problems(scenario: Scenario) -> list[Problem]:
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

    problems.extend(_region_problems(scenario, scenario.regions, "regions", 1))

    known_technologies = set(catalog.TECHNOLOGIES)
    for name, override in scenario.technologies.items():
        if name not in catalog.TECHNOLOGIES:
            missing = [
                field
                for field, absent in (
                    ("carrier", override.carrier is None),
                    ("load", set(override.load.given()) != set(RESOURCES)),
                )
                if absent
            ]
            if missing:
                add(
                    Problem(
                        f"technologies.{name}.{missing[0]}",
                        f"{shown(name)} is not a catalog technology"
                        f"{did_you_mean(name, catalog.TECHNOLOGIES)}; a new technology needs "
                        f"a carrier ({listing(catalog.CARRIERS)}) and a load for every "
                        f"resource ({listing(RESOURCES)}) (catalog technologies: "
                        f"{listing(catalog.TECHNOLOGIES)})",
                    )
                )
        known_technologies.add(name)
        profile = catalog.TECHNOLOGIES[name].random_access if name in catalog.TECHNOLOGIES else None
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

    problems.extend(_shared_channel_problems(scenario))

    carried = scenario.network.technologies
    for name, carriage in carried.items():
        path = f"network.technologies.{name}"
        if name not in known_technologies:
            add(
                Problem(
                    path,
                    f"unknown technology {shown(name)}{did_you_mean(name, known_technologies)}; "
                    f"known: {listing(sorted(known_technologies))} (add new ones under "
                    "technologies: with a carrier and a load)",
                )
            )
        if isinstance(carriage.share, dict):
            for month in carriage.share:
                if not _within(month, scenario):
                    add(Problem(f"{path}.share", f"date {month} lies outside {horizon}"))
    for carrier, carrier_override in scenario.network.carriers.items():
        path = f"network.carriers.{carrier}"
        dated = [("share", carrier_override.share)]
        if carrier_override.background is not None:
            dated += [
                (f"background.{resource}", getattr(carrier_override.background, resource))
                for resource in RESOURCES
            ]
        for field, steps in dated:
            if isinstance(steps, dict):
                for month in steps:
                    if not _within(month, scenario):
                        add(Problem(f"{path}.{field}", f"date {month} lies outside {horizon}"))
        if carrier_override.share is not None:
            for name, carriage in carried.items():
                if not _known(scenario, name) or scenario.carrier_of(name) != carrier:
                    continue
                for when in _step_months(scenario, carriage.share, carrier_override.share):
                    own = share_at(carriage.share, when)
                    holding = share_at(carrier_override.share, when)
                    if own > holding + SHARE_TOLERANCE:
                        add(
                            Problem(
                                f"network.technologies.{name}.share",
                                f"{own:g} of the {carriage.generation} sites from "
                                f"{month_label(when)}, more than its carrier {carrier} is on "
                                f"({holding:g}, network.carriers.{carrier}.share): a "
                                "technology is only where its carrier is",
                            )
                        )
                        break
    start_year, end_year = scenario.start_index // 12, month_index(scenario.end) // 12
    for generation, schedule in scenario.network.sites.items():
        for month in schedule.in_service:
            if not _within(month, scenario):
                add(
                    Problem(
                        f"network.sites.{generation}.in_service.{month}",
                        f"date {month} lies outside {horizon} (the count at the start is "
                        "`initial`)",
                    )
                )
        for field in ("build_per_year", "retire_per_year", "retire_share_per_year"):
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
    problems.extend(switch_off_problems(scenario))
    generations: dict[str, dict[str, str]] = {}
    for name, carriage in carried.items():
        if _known(scenario, name):
            generations.setdefault(scenario.carrier_of(name), {})[name] = carriage.generation
    for kind, by_tech in generations.items():
        if len(set(by_tech.values())) > 1:
            pairs = listing([f"{tech}: {generation}" for tech, generation in by_tech.items()])
            add(
                Problem(
                    f"network.technologies.{list(by_tech)[-1]}.generation",
                    f"technologies on the {kind} carrier share its cells, so they must be "
                    f"carried by one generation (got {pairs})",
                )
            )
    for name, carriage in carried.items():
        if carriage.generation not in scenario.network.sites:
            add(
                Problem(
                    f"network.technologies.{name}.generation",
                    f"{carriage.generation} has no sites; add network.sites.{carriage.generation}",
                )
            )

    for name, category in scenario.categories.items():
        path = f"categories.{name}"
        seen: set[str] = set()
        for position, tech in enumerate(category.technologies):
            if tech in seen:
                add(Problem(f"{path}.technologies[{position}]", f"{shown(tech)} is listed twice"))
            seen.add(tech)
            if tech not in carried:
                add(
                    Problem(
                        f"{path}.technologies[{position}]",
                        f"{shown(tech)} is not carried by the network"
                        f"{did_you_mean(tech, carried)}; carried: {listing(carried)} "
                        "(see network.technologies)",
                    )
                )
        for step_month, mix in category.mix_schedule().items():
            mix_path = f"{path}.mix" + (f".{step_month}" if step_month else "")
            if step_month is not None and not _within(step_month, scenario):
                add(Problem(mix_path, f"date {step_month} lies outside {horizon}"))
            for tech in mix:
                if tech not in category.technologies:
                    add(_unlisted(f"{mix_path}.{tech}", tech, category.technologies))
            problem = _share_sum_problem(mix_path, mix)
            if problem:
                add(problem)
        if category.regions is not None:
            problems.extend(_region_name_problems(scenario, f"{path}.regions", category.regions))
            problem = _share_sum_problem(f"{path}.regions", category.regions)
            if problem:
                add(problem)
        coverage = {
            str(level): share for level, share in category.traffic.coverage.shares().items()
        }
        problem = _share_sum_problem(f"{path}.traffic.coverage", coverage)
        if problem:
            add(problem)
        for tech in category.load:
            if tech not in category.technologies:
                add(_unlisted(f"{path}.load.{tech}", tech, category.technologies))
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
                    f"{shown(tech)} is not carried by the network{did_you_mean(tech, carried)}; "
                    f"carried: {listing(carried)}",
                )
            )
        elif tech not in catalog.TECHNOLOGIES:
            add(
                Problem(
                    f"access.technologies[{position}]",
                    f"{shown(tech)} has no random-access profile in the catalog; simulate one of "
                    f"{listing(t for t in carried if t in catalog.TECHNOLOGIES)}",
                )
            )

    for position, target in enumerate(scenario.targets):
        path = f"targets[{position}]"
        if not _within(target.date, scenario):
            add(Problem(f"{path}.date", f"{target.date} lies outside {horizon}"))
        for field, choices in (
            ("category", scenario.categories),
            ("region", scenario.region_paths),
            ("technology", carried),
        ):
            value = getattr(target, field)
            if value is not None and value not in choices:
                add(
                    Problem(
                        f"{path}.{field}",
                        f"unknown {field} {shown(value)}{did_you_mean(value, choices)}; "
                        f"known: {listing(choices)}",
                    )
                )
    return problems


def switch_off_problems(scenario: Scenario) -> list[Problem]:
    """Each switch-off names a carried technology, a month in the horizon and known regions;
    no technology is switched off twice in one region."""
    problems: list[Problem] = []
    carried = scenario.network.technologies
    horizon = f"the horizon {scenario.start}..{scenario.end}"
    off_in: dict[tuple[str, str], int] = {}
    for position, switch in enumerate(scenario.network.switch_off):
        path = f"network.switch_off[{position}]"
        if switch.technology not in carried:
            problems.append(
                Problem(
                    f"{path}.technology",
                    f"{shown(switch.technology)} is not carried by the network"
                    f"{did_you_mean(switch.technology, carried)}; carried: {listing(carried)} "
                    "(see network.technologies)",
                )
            )
        if not _within(switch.date, scenario):
            problems.append(Problem(f"{path}.date", f"{switch.date} lies outside {horizon}"))
        covered: list[str] = []
        for index, name in enumerate(switch.regions or list(scenario.leaf_names)):
            try:
                covered += scenario.leaves_of(name)
            except KeyError:
                known = scenario.region_paths
                problems.append(
                    Problem(
                        f"{path}.regions[{index}]",
                        f"unknown region {shown(name)}{did_you_mean(name, known)}; "
                        f"regions: {listing(known)}",
                    )
                )
        for region in dict.fromkeys(covered):
            first = off_in.setdefault((switch.technology, region), position)
            if first != position:
                problems.append(
                    Problem(
                        f"{path}.regions",
                        f"{switch.technology} is already switched off in {region} by "
                        f"network.switch_off[{first}]; switch a technology off once per region",
                    )
                )
                break
    return problems
