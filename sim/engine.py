"""The growth layer: a SimPy world of terminal cohorts joining and leaving cell pools.

Terminals of one category, region and technology join as cohorts of at most `resolution`
terminals.  Joins form a Poisson process whose intensity depends on time only: the joins
that make the expected base follow the demand curve (`growth.join_schedule`).  A join asks
the pool of its region and technology; what does not fit is handled by the category's
`when_full` policy:

* ``fallback``: try the category's other technologies in preference order; what fits
  nowhere is blocked (lost).
* ``wait``: queue (first come, first served) at the pool until capacity frees up, giving
  up after ``patience_months`` (then counted as blocked).  A waiting terminal's lifetime
  starts when it connects.
* ``drop``: blocked.

A cohort that only partly fits is split.  When a pool's capacity falls below its load
(sites retired), the newest cohorts are displaced: they try the category's other
technologies and what fits nowhere is blocked.  The work is proportional to the number of
cohorts and months, not to the number of terminals.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy
from numpy.typing import NDArray

from sim.growth import JoinSchedule, Lifetime, installed_base, join_schedule
from sim.network import NetworkPlan, build_network, row_month_indices
from sim.scenario import Problem, Scenario, ScenarioError, month_index

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

AUTO_COHORTS = 200_000
"""Expected cohorts (initial plus joins) that `resolution: auto` aims at."""
MAX_COHORTS = 20_000_000
"""A run expected to simulate more cohorts than this is refused (memory, hours)."""


@dataclass(frozen=True)
class Plan:
    """Everything the world needs, derived from a scenario; no randomness yet."""

    scenario: Scenario
    categories: tuple[str, ...]
    network: NetworkPlan
    region_shares: FloatArray
    """[category, region] share of the category's terminals."""
    mix: FloatArray
    """[category, month k = 0..M-1, technology] share of new terminals."""
    initial_mix: FloatArray
    """[category, technology] share of the initial base."""
    initial: IntArray
    """[category, region, technology] initial base, whole terminals."""
    joins: FloatArray
    """[category, month k] expected joining terminals (all regions and technologies)."""
    demand: FloatArray
    """[t = 0..M, category, region, technology] expected base with no capacity limit."""
    lifetimes: tuple[Lifetime, ...]
    preference: tuple[tuple[int, ...], ...]
    """Per category, technology indices in preference order."""
    resolution: int

    @property
    def months(self) -> int:
        return self.joins.shape[1]


def build_plan(scenario: Scenario) -> Plan:
    """Demand, join schedules and network capacity of a scenario."""
    network = build_network(scenario)
    months = scenario.months
    techs = network.technologies
    month_indices = row_month_indices(scenario)
    join_months = month_indices[1:]  # month k = 0..M-1 is the month ending at t = k + 1
    categories = tuple(scenario.categories)
    n_cat, n_reg, n_tech = len(categories), len(network.regions), len(techs)
    region_shares = np.zeros((n_cat, n_reg))
    mix = np.zeros((n_cat, months, n_tech))
    initial_mix = np.zeros((n_cat, n_tech))
    joins = np.zeros((n_cat, months))
    demand = np.zeros((months + 1, n_cat, n_reg, n_tech))
    initial = np.zeros((n_cat, n_reg, n_tech), dtype=np.int64)
    lifetimes = []
    preference = []
    times = np.arange(months + 1, dtype=float)
    for c, name in enumerate(categories):
        category = scenario.categories[name]
        shares = scenario.category_region_shares(name)
        region_shares[c] = [shares[region] for region in network.regions]
        table = mix_table(category.mix_schedule(), techs, join_months)
        mix[c] = table
        initial_mix[c] = table[0]  # the base at the start has the start month's mix
        lifetime = Lifetime.of(category, months)
        base = installed_base(category.growth, category.initial, times, scenario.start_index)
        schedule = join_schedule(base, lifetime)
        joins[c] = schedule.joins
        demand[:, c] = (
            _expected_base(schedule, category.initial, initial_mix[c], mix[c])[:, None, :]
            * region_shares[c][None, :, None]
        )
        initial[c] = _whole_split(category.initial, region_shares[c][:, None] * initial_mix[c])
        lifetimes.append(lifetime)
        preference.append(tuple(techs.index(tech) for tech in category.technologies))
    resolution = _resolution(scenario, initial, joins)
    return Plan(
        scenario,
        categories,
        network,
        region_shares,
        mix,
        initial_mix,
        initial,
        joins,
        demand,
        tuple(lifetimes),
        tuple(preference),
        resolution,
    )


def mix_table(steps: dict, techs: tuple[str, ...], months: IntArray) -> FloatArray:
    """[month, technology] shares of a (possibly dated) mix at calendar month indices.

    A dated mix holds from its month on; before the first date the first mix holds.
    """
    dates = np.array([month_index(month) for month in steps if month is not None], dtype=int)
    position = np.clip(np.searchsorted(dates, months, side="right") - 1, 0, None)
    table = np.zeros((len(months), len(techs)))
    for step, shares in enumerate(steps.values()):
        for tech, share in shares.items():
            table[position == step, techs.index(tech)] = share
    return table


def _expected_base(
    schedule: JoinSchedule, initial: float, initial_mix: FloatArray, mix: FloatArray
) -> FloatArray:
    """[t, technology] expected base with no capacity limit."""
    from_initial = initial * schedule.initial_survival[:, None] * initial_mix[None, :]
    from_joins = schedule.survival_kernel @ (schedule.joins[:, None] * mix)
    return from_initial + from_joins


def _whole_split(total: int, weights: FloatArray) -> IntArray:
    """Split a whole number by weights (summing to 1) into whole numbers summing to it."""
    exact = total * weights.ravel()
    whole = np.floor(exact).astype(np.int64)
    remainder = total - int(whole.sum())
    if remainder > 0:
        order = np.argsort(-(exact - whole), kind="stable")[:remainder]
        whole[order] += 1
    return whole.reshape(weights.shape)


def _resolution(scenario: Scenario, initial: IntArray, joins: FloatArray) -> int:
    terminals = float(initial.sum() + joins.sum())
    if scenario.resolution == "auto":
        return max(1, math.ceil(terminals / AUTO_COHORTS))
    expected = terminals / scenario.resolution
    if expected > MAX_COHORTS:
        raise ScenarioError(
            [
                Problem(
                    "resolution",
                    f"{scenario.resolution} terminals per cohort means about {expected:,.0f} "
                    f"cohorts (more than {MAX_COHORTS:,}); use auto or at least "
                    f"{math.ceil(terminals / MAX_COHORTS):,}",
                )
            ]
        )
    return int(scenario.resolution)


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Trajectory:
    """Month-end records of one run.  Arrays indexed [t = 0..M, category, region, tech];
    row t = 0 is the initial placement at the start of the horizon."""

    connected: IntArray
    joined: IntArray
    left: IntArray
    blocked: IntArray
    waiting: IntArray
    offered: IntArray
    """New terminals arriving (row 0: the initial base), by technology drawn from the mix."""
    retired: IntArray
    """Connected terminals whose lifetime ended."""
    capacity: IntArray
    """[t, region, tech] pool capacity, terminals."""
    resolution: int
    cohorts: int


class _Cohort:
    __slots__ = ("cat", "end", "region", "size", "tech")

    def __init__(self, cat: int, region: int, tech: int, size: int, end: float) -> None:
        self.cat, self.region, self.tech, self.size, self.end = cat, region, tech, size, end


class _Waiting:
    __slots__ = ("cat", "deadline", "life", "region", "size", "tech")

    def __init__(
        self, cat: int, region: int, tech: int, size: int, life: float, deadline: float
    ) -> None:
        self.cat, self.region, self.tech, self.size = cat, region, tech, size
        self.life, self.deadline = life, deadline


@dataclass(frozen=True)
class _Arrivals:
    """Cohorts offered after the start, sorted by time (months)."""

    time: FloatArray
    cat: IntArray
    region: IntArray
    tech: IntArray
    size: IntArray
    life: FloatArray


def _draw_arrivals(plan: Plan, rng: np.random.Generator) -> tuple[_Arrivals, _Arrivals]:
    """Initial cohorts (time 0) and later arrivals, each stream from its own generator."""
    n_cat, n_reg = plan.region_shares.shape
    resolution = plan.resolution
    streams = rng.spawn(n_cat * n_reg)
    initial_parts, later_parts = [], []
    for c in range(n_cat):
        lifetime = plan.lifetimes[c]
        for r in range(n_reg):
            stream = streams[c * n_reg + r]
            # initial base: cohorts of at most `resolution`, remaining lifetimes in equilibrium
            sizes, techs = _cohort_sizes(plan.initial[c, r][None, :], resolution)
            initial_parts.append(
                _Arrivals(
                    np.zeros(len(sizes)),
                    np.full(len(sizes), c),
                    np.full(len(sizes), r),
                    techs,
                    sizes,
                    lifetime.sample_residual(stream, len(sizes)),
                )
            )
            intensity = plan.joins[c][:, None] * plan.region_shares[c, r] * plan.mix[c]
            counts = stream.poisson(intensity)  # [month, tech] terminals
            sizes, techs, months = _cohort_sizes(counts, resolution, with_rows=True)
            later_parts.append(
                _Arrivals(
                    months + stream.random(len(sizes)),
                    np.full(len(sizes), c),
                    np.full(len(sizes), r),
                    techs,
                    sizes,
                    lifetime.sample(stream, len(sizes)),
                )
            )
    return _concat(initial_parts, sort=False), _concat(later_parts, sort=True)


def _cohort_sizes(counts: IntArray, resolution: int, with_rows: bool = False) -> tuple:
    """Split counts[row, tech] into cohorts of `resolution` (the last one of each smaller)."""
    counts = np.asarray(counts, dtype=np.int64)
    per_cell = -(-counts // resolution)  # ceil
    rows, techs = np.nonzero(per_cell)
    number = per_cell[rows, techs]
    first = np.repeat(np.cumsum(number) - number, number)
    position = np.arange(int(number.sum())) - first
    last = position == np.repeat(number, number) - 1
    sizes = np.full(len(position), resolution, dtype=np.int64)
    sizes[last] = np.repeat(counts[rows, techs] - (number - 1) * resolution, number)[last]
    cohort_techs = np.repeat(techs, number)
    if with_rows:
        return sizes, cohort_techs, np.repeat(rows, number).astype(float)
    return sizes, cohort_techs


def _concat(parts: list[_Arrivals], sort: bool) -> _Arrivals:
    fields = {
        name: np.concatenate([getattr(part, name) for part in parts])
        for name in ("time", "cat", "region", "tech", "size", "life")
    }
    if sort:
        order = np.argsort(fields["time"], kind="stable")
        fields = {name: values[order] for name, values in fields.items()}
    return _Arrivals(**fields)


class _World:
    """Pools, queues and counters; SimPy drives its time."""

    def __init__(
        self, plan: Plan, rng: np.random.Generator, progress: Callable[[int], None] | None
    ) -> None:
        self.plan = plan
        self.progress = progress
        self.env = simpy.Environment()
        n_cat, n_reg = plan.region_shares.shape
        n_tech = len(plan.network.technologies)
        self.shape = (n_cat, n_reg, n_tech)
        self.n_tech = n_tech
        self.months = plan.months
        size = n_cat * n_reg * n_tech
        self.connected = [0] * size
        self.waiting = [0] * size
        self.joined = [0] * size
        self.left = [0] * size
        self.blocked = [0] * size
        self.offered = [0] * size
        self.retired = [0] * size
        capacity = plan.network.capacity.reshape(self.months + 1, n_reg * n_tech)
        self.capacity_table = capacity
        self.capacity = capacity[0].tolist()
        self.used = [0] * (n_reg * n_tech)
        # newest-last member lists only for pools whose capacity can fall (displacement)
        self.shrinks = [
            bool(np.any(np.diff(capacity[:, pool]) < 0)) for pool in range(n_reg * n_tech)
        ]
        self.members: list[list[_Cohort]] = [[] for _ in range(n_reg * n_tech)]
        self.queues: list[deque[_Waiting]] = [deque() for _ in range(n_reg * n_tech)]
        scenario = plan.scenario
        self.policy = [scenario.categories[name].when_full for name in plan.categories]
        self.patience = [
            scenario.categories[name].patience_months or math.inf for name in plan.categories
        ]
        self.fallback = [
            {tech: (tech, *(t for t in order if t != tech)) for tech in order}
            for order in plan.preference
        ]
        self.initial_cohorts, self.arrivals = _draw_arrivals(plan, rng)
        self.records: dict[str, IntArray] = {
            name: np.zeros((self.months + 1, size), dtype=np.int64)
            for name in ("connected", "joined", "left", "blocked", "waiting", "offered", "retired")
        }

    # -- bookkeeping -------------------------------------------------------

    def _row(self, cat: int, region: int, tech: int) -> int:
        return (cat * self.shape[1] + region) * self.n_tech + tech

    def _connect(self, cat: int, region: int, tech: int, size: int, life: float) -> None:
        pool = region * self.n_tech + tech
        row = (cat * self.shape[1] + region) * self.n_tech + tech
        self.used[pool] += size
        self.connected[row] += size
        self.joined[row] += size
        end = self.env.now + life
        cohort = _Cohort(cat, region, tech, size, end)
        if self.shrinks[pool]:
            self.members[pool].append(cohort)
        if end < self.months:
            departure = self.env.timeout(life)
            departure.callbacks.append(lambda _event: self._depart(cohort))

    def _depart(self, cohort: _Cohort) -> None:
        if cohort.size == 0:  # displaced entirely earlier
            return
        pool = cohort.region * self.n_tech + cohort.tech
        row = self._row(cohort.cat, cohort.region, cohort.tech)
        self.used[pool] -= cohort.size
        self.connected[row] -= cohort.size
        self.left[row] += cohort.size
        self.retired[row] += cohort.size
        cohort.size = 0
        if self.queues[pool]:
            self._serve(pool)

    def _place(
        self, cat: int, region: int, tech: int, size: int, life: float, displaced: bool = False
    ) -> None:
        """Connect `size` terminals drawn to `tech`, applying the category's policy."""
        policy = self.policy[cat]
        if displaced:
            order = self.fallback[cat][tech][1:]
        elif policy == "fallback":
            order = self.fallback[cat][tech]
        else:
            order = (tech,)
        base = region * self.n_tech
        for option in order:
            free = self.capacity[base + option] - self.used[base + option]
            if free > 0:
                take = min(size, free)
                self._connect(cat, region, option, take, life)
                size -= take
                if size == 0:
                    return
        row = self._row(cat, region, tech)
        if policy == "wait" and not displaced:
            deadline = self.env.now + self.patience[cat]
            self.queues[base + tech].append(_Waiting(cat, region, tech, size, life, deadline))
            self.waiting[row] += size
        else:
            self.blocked[row] += size

    def _serve(self, pool: int) -> None:
        queue = self.queues[pool]
        free = self.capacity[pool] - self.used[pool]
        now = self.env.now
        while queue and free > 0:
            head = queue[0]
            row = self._row(head.cat, head.region, head.tech)
            if head.deadline <= now:
                queue.popleft()
                self.waiting[row] -= head.size
                self.blocked[row] += head.size
                continue
            take = min(head.size, free)
            self._connect(head.cat, head.region, head.tech, take, head.life)
            head.size -= take
            self.waiting[row] -= take
            free -= take
            if head.size == 0:
                queue.popleft()

    def _expire(self, pool: int) -> None:
        now = self.env.now
        keep: deque[_Waiting] = deque()
        for entry in self.queues[pool]:
            if entry.deadline <= now:
                row = self._row(entry.cat, entry.region, entry.tech)
                self.waiting[row] -= entry.size
                self.blocked[row] += entry.size
            else:
                keep.append(entry)
        self.queues[pool] = keep

    def _displace(self, pool: int) -> None:
        """Move the newest cohorts out of a pool whose capacity fell below its load."""
        excess = self.used[pool] - self.capacity[pool]
        members = self.members[pool]
        now = self.env.now
        while excess > 0 and members:
            cohort = members[-1]
            if cohort.size == 0:
                members.pop()
                continue
            take = min(cohort.size, excess)
            row = self._row(cohort.cat, cohort.region, cohort.tech)
            cohort.size -= take
            self.used[pool] -= take
            self.connected[row] -= take
            self.left[row] += take
            excess -= take
            if cohort.size == 0:
                members.pop()
            self._place(
                cohort.cat, cohort.region, cohort.tech, take, cohort.end - now, displaced=True
            )

    def _record(self, t: int) -> None:
        for name in ("connected", "waiting"):
            self.records[name][t] = getattr(self, name)
        for name in ("joined", "left", "blocked", "offered", "retired"):
            self.records[name][t] = getattr(self, name)
            setattr(self, name, [0] * len(self.joined))

    # -- processes ---------------------------------------------------------

    def clock(self):  # type: ignore[no-untyped-def]
        """Initial placement at t = 0, then month ends t = 1..M."""
        initial = self.initial_cohorts
        for cat, region, tech, size, life in zip(
            initial.cat.tolist(),
            initial.region.tolist(),
            initial.tech.tolist(),
            initial.size.tolist(),
            initial.life.tolist(),
            strict=True,
        ):
            self.offered[self._row(cat, region, tech)] += size
            self._place(cat, region, tech, size, life)
        self._record(0)
        pools = range(len(self.capacity))
        for t in range(1, self.months + 1):
            yield self.env.timeout(1.0)
            for pool in pools:
                if self.queues[pool]:
                    self._expire(pool)
            new_capacity = self.capacity_table[t].tolist()
            for pool in pools:
                old, new = self.capacity[pool], new_capacity[pool]
                self.capacity[pool] = new
                if new < old and self.used[pool] > new:
                    self._displace(pool)
                elif new > old and self.queues[pool]:
                    self._serve(pool)
            self._record(t)
            if self.progress is not None:
                self.progress(t)

    def arrive(self):  # type: ignore[no-untyped-def]
        """Offer each later cohort at its time."""
        arrivals = self.arrivals
        env = self.env
        for time, cat, region, tech, size, life in zip(
            arrivals.time.tolist(),
            arrivals.cat.tolist(),
            arrivals.region.tolist(),
            arrivals.tech.tolist(),
            arrivals.size.tolist(),
            arrivals.life.tolist(),
            strict=True,
        ):
            yield env.timeout(time - env.now)
            self.offered[self._row(cat, region, tech)] += size
            self._place(cat, region, tech, size, life)

    def run(self) -> Trajectory:
        clock = self.env.process(self.clock())
        self.env.process(self.arrive())
        self.env.run(until=clock)
        shape = (self.months + 1, *self.shape)
        records = {name: values.reshape(shape) for name, values in self.records.items()}
        cohorts = len(self.initial_cohorts.size) + len(self.arrivals.size)
        return Trajectory(
            capacity=self.plan.network.capacity,
            resolution=self.plan.resolution,
            cohorts=cohorts,
            **records,
        )


def simulate(
    plan: Plan, rng: np.random.Generator, progress: Callable[[int], None] | None = None
) -> Trajectory:
    """Run the growth layer once.  `progress(t)` is called after each simulated month."""
    return _World(plan, rng, progress).run()
