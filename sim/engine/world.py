"""The growth layer: a SimPy world of terminal cohorts joining and leaving cell pools.

Terminals of one category, region and technology join as cohorts of at most `resolution`
terminals.  Joins form a Poisson process whose intensity depends on time only: the joins
that make the expected base follow the demand curve (`sim.demand.joins.join_schedule`).  A join asks
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

from sim.engine.plan import Plan

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


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
    turned_away: IntArray
    """[t, region, tech] terminals that asked the pool and found no room (then fell back,
    queued or were blocked), including terminals displaced by a capacity cut."""
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
    """Cohorts offered: the initial ones at time 0, later ones sorted by time (months)."""

    time: FloatArray
    cat: IntArray
    region: IntArray
    tech: IntArray
    size: IntArray
    life: FloatArray


def _draw_arrivals(plan: Plan, rng: np.random.Generator) -> tuple[_Arrivals, _Arrivals]:
    """Initial cohorts and later arrivals; each (category, region) from its own generator."""
    n_cat, n_reg = plan.region_shares.shape
    resolution = plan.resolution
    *streams, shuffle = rng.spawn(n_cat * n_reg + 1)
    initial_parts, later_parts = [], []
    for c in range(n_cat):
        lifetime = plan.lifetimes[c]
        for r in range(n_reg):
            stream = streams[c * n_reg + r]
            # initial base: cohorts of at most `resolution`, remaining lifetimes in equilibrium
            sizes, techs, _ = _cohort_sizes(plan.initial[c, r][None, :], resolution)
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
            sizes, techs, months = _cohort_sizes(counts, resolution)
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
    initial = _concat(initial_parts)
    # place the initial base in random order, so no category is favoured by its position
    # in the file when the initial base does not fit
    initial = _select(initial, shuffle.permutation(len(initial.size)))
    later = _concat(later_parts)
    return initial, _select(later, np.argsort(later.time, kind="stable"))


def _cohort_sizes(counts: IntArray, resolution: int) -> tuple[IntArray, IntArray, FloatArray]:
    """Split counts[row, tech] into cohorts of `resolution` (the last of each smaller).

    Returns each cohort's size, technology and row (as a float, the month of a join).
    """
    counts = np.asarray(counts, dtype=np.int64)
    per_cell = -(-counts // resolution)  # ceil
    rows, techs = np.nonzero(per_cell)
    number = per_cell[rows, techs]
    first = np.repeat(np.cumsum(number) - number, number)
    position = np.arange(int(number.sum())) - first
    last = position == np.repeat(number, number) - 1
    sizes = np.full(len(position), resolution, dtype=np.int64)
    sizes[last] = np.repeat(counts[rows, techs] - (number - 1) * resolution, number)[last]
    return sizes, np.repeat(techs, number), np.repeat(rows, number).astype(float)


_ARRIVAL_FIELDS = ("time", "cat", "region", "tech", "size", "life")


def _concat(parts: list[_Arrivals]) -> _Arrivals:
    return _Arrivals(
        **{
            name: np.concatenate([getattr(part, name) for part in parts])
            for name in _ARRIVAL_FIELDS
        }
    )


def _select(arrivals: _Arrivals, order: IntArray) -> _Arrivals:
    return _Arrivals(**{name: getattr(arrivals, name)[order] for name in _ARRIVAL_FIELDS})


_FLOWS = ("joined", "left", "blocked", "offered", "retired")
_LEVELS = ("connected", "waiting")


class _World:
    """Pools, queues and counters; SimPy drives its time.

    Counters are flat Python lists (row = (category, region, technology), pool = (region,
    technology)): scalar updates on lists are several times faster than on NumPy arrays.
    """

    def __init__(
        self, plan: Plan, rng: np.random.Generator, progress: Callable[[int], None] | None
    ) -> None:
        self.plan = plan
        self.progress = progress
        self.env = simpy.Environment()
        n_cat, n_reg = plan.region_shares.shape
        n_tech = len(plan.network.technologies)
        self.shape = (n_cat, n_reg, n_tech)
        self.n_reg, self.n_tech = n_reg, n_tech
        self.months = plan.months
        rows, pools = n_cat * n_reg * n_tech, n_reg * n_tech
        self.counts: dict[str, list[int]] = {name: [0] * rows for name in (*_LEVELS, *_FLOWS)}
        self.turned_away = [0] * pools
        capacity = plan.network.capacity.reshape(self.months + 1, pools)
        self.capacity_table = capacity
        self.capacity = capacity[0].tolist()
        self.used = [0] * pools
        # newest-last member lists, kept only for pools whose capacity can fall
        self.shrinks = [bool(np.any(np.diff(capacity[:, pool]) < 0)) for pool in range(pools)]
        self.members: list[list[_Cohort]] = [[] for _ in range(pools)]
        self.compacted = [0] * pools
        self.queues: list[deque[_Waiting]] = [deque() for _ in range(pools)]
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
        self.records = {
            name: np.zeros((self.months + 1, rows), dtype=np.int64) for name in self.counts
        }
        self.turned_away_record = np.zeros((self.months + 1, pools), dtype=np.int64)

    # -- bookkeeping -------------------------------------------------------

    def _row(self, cat: int, region: int, tech: int) -> int:
        return (cat * self.n_reg + region) * self.n_tech + tech

    def _connect(self, cat: int, region: int, tech: int, size: int, life: float) -> None:
        pool = region * self.n_tech + tech
        row = self._row(cat, region, tech)
        self.used[pool] += size
        self.counts["connected"][row] += size
        self.counts["joined"][row] += size
        end = self.env.now + life
        cohort = _Cohort(cat, region, tech, size, end)
        if self.shrinks[pool]:
            self.members[pool].append(cohort)
        if end < self.months:  # later departures fall outside the records
            departure = self.env.timeout(life)
            departure.callbacks.append(lambda _event: self._depart(cohort))

    def _depart(self, cohort: _Cohort) -> None:
        if cohort.size == 0:  # displaced entirely earlier
            return
        pool = cohort.region * self.n_tech + cohort.tech
        row = self._row(cohort.cat, cohort.region, cohort.tech)
        self.used[pool] -= cohort.size
        self.counts["connected"][row] -= cohort.size
        self.counts["left"][row] += cohort.size
        self.counts["retired"][row] += cohort.size
        cohort.size = 0
        if self.queues[pool]:
            self._serve(pool)

    def _place(
        self, cat: int, region: int, tech: int, size: int, life: float, displaced: bool = False
    ) -> None:
        """Connect `size` terminals drawn to `tech`, applying the category's policy.

        Displaced terminals (their pool's capacity fell) try the category's other
        technologies and are blocked, whatever the policy, if none has room.
        """
        policy = self.policy[cat]
        if displaced:
            order = self.fallback[cat][tech][1:]
        elif policy == "fallback":
            order = self.fallback[cat][tech]
        else:
            order = (tech,)
        base = region * self.n_tech
        for option in order:
            pool = base + option
            take = min(size, max(0, self.capacity[pool] - self.used[pool]))
            if take:
                self._connect(cat, region, option, take, life)
                size -= take
                if size == 0:
                    return
            self.turned_away[pool] += size
        row = self._row(cat, region, tech)
        if policy == "wait" and not displaced:
            deadline = self.env.now + self.patience[cat]
            self.queues[base + tech].append(_Waiting(cat, region, tech, size, life, deadline))
            self.counts["waiting"][row] += size
        else:
            self.counts["blocked"][row] += size

    def _serve(self, pool: int) -> None:
        """Connect waiting terminals, first come first served, while there is room."""
        queue = self.queues[pool]
        free = self.capacity[pool] - self.used[pool]
        now = self.env.now
        waiting, blocked = self.counts["waiting"], self.counts["blocked"]
        while queue and free > 0:
            head = queue[0]
            row = self._row(head.cat, head.region, head.tech)
            if head.deadline < now:  # gave up before this room appeared
                queue.popleft()
                waiting[row] -= head.size
                blocked[row] += head.size
                continue
            take = min(head.size, free)
            self._connect(head.cat, head.region, head.tech, take, head.life)
            head.size -= take
            waiting[row] -= take
            free -= take
            if head.size == 0:
                queue.popleft()

    def _expire(self, pool: int) -> None:
        """Block the waiting terminals whose patience has run out."""
        now = self.env.now
        queue = self.queues[pool]
        if all(entry.deadline > now for entry in queue):
            return
        waiting, blocked = self.counts["waiting"], self.counts["blocked"]
        keep: deque[_Waiting] = deque()
        for entry in queue:
            if entry.deadline <= now:
                row = self._row(entry.cat, entry.region, entry.tech)
                waiting[row] -= entry.size
                blocked[row] += entry.size
            else:
                keep.append(entry)
        self.queues[pool] = keep

    def _displace(self, pool: int) -> None:
        """Move the newest cohorts out of a pool whose capacity fell below its load."""
        excess = self.used[pool] - self.capacity[pool]
        members = self.members[pool]
        now = self.env.now
        self.turned_away[pool] += excess
        while excess > 0 and members:
            cohort = members[-1]
            if cohort.size == 0:
                members.pop()
                continue
            take = min(cohort.size, excess)
            row = self._row(cohort.cat, cohort.region, cohort.tech)
            cohort.size -= take
            self.used[pool] -= take
            self.counts["connected"][row] -= take
            self.counts["left"][row] += take
            excess -= take
            if cohort.size == 0:
                members.pop()
            self._place(
                cohort.cat, cohort.region, cohort.tech, take, cohort.end - now, displaced=True
            )

    def _compact(self, pool: int) -> None:
        """Drop departed cohorts from a member list once it has doubled (amortised O(1))."""
        members = self.members[pool]
        if len(members) > 2 * self.compacted[pool] + 64:
            members[:] = [cohort for cohort in members if cohort.size]
            self.compacted[pool] = len(members)

    def _record(self, t: int) -> None:
        for name, values in self.counts.items():
            self.records[name][t] = values
        for name in _FLOWS:  # reset in place: processes hold references to these lists
            flows = self.counts[name]
            flows[:] = [0] * len(flows)
        self.turned_away_record[t] = self.turned_away
        self.turned_away[:] = [0] * len(self.turned_away)

    # -- processes ---------------------------------------------------------

    def clock(self):  # type: ignore[no-untyped-def]
        """Initial placement at t = 0, then the month ends t = 1..M."""
        initial = self.initial_cohorts
        offered = self.counts["offered"]
        for cat, region, tech, size, life in zip(
            initial.cat.tolist(), initial.region.tolist(), initial.tech.tolist(),
            initial.size.tolist(), initial.life.tolist(), strict=True,
        ):  # fmt: skip
            offered[self._row(cat, region, tech)] += size
            self._place(cat, region, tech, size, life)
        self._record(0)
        pools = range(len(self.capacity))
        for t in range(1, self.months + 1):
            yield self.env.timeout(1.0)
            # all capacities change at once, then pools over capacity displace terminals
            # (who may move to pools that just grew), then queues are served
            self.capacity = self.capacity_table[t].tolist()
            for pool in pools:
                if self.used[pool] > self.capacity[pool]:
                    self._displace(pool)
            for pool in pools:
                if self.queues[pool]:
                    self._serve(pool)
                    self._expire(pool)
                if self.shrinks[pool]:
                    self._compact(pool)
            self._record(t)
            if self.progress is not None:
                self.progress(t)

    def arrive(self):  # type: ignore[no-untyped-def]
        """Offer each later cohort at its time."""
        arrivals = self.arrivals
        env = self.env
        offered = self.counts["offered"]
        for time, cat, region, tech, size, life in zip(
            arrivals.time.tolist(), arrivals.cat.tolist(), arrivals.region.tolist(),
            arrivals.tech.tolist(), arrivals.size.tolist(), arrivals.life.tolist(),
            strict=True,
        ):  # fmt: skip
            yield env.timeout(time - env.now)
            offered[self._row(cat, region, tech)] += size
            self._place(cat, region, tech, size, life)

    def run(self) -> Trajectory:
        clock = self.env.process(self.clock())
        self.env.process(self.arrive())
        self.env.run(until=clock)
        shape = (self.months + 1, *self.shape)
        records = {name: values.reshape(shape) for name, values in self.records.items()}
        return Trajectory(
            turned_away=self.turned_away_record.reshape(self.months + 1, *self.shape[1:]),
            capacity=self.plan.network.capacity,
            resolution=self.plan.resolution,
            cohorts=len(self.initial_cohorts.size) + len(self.arrivals.size),
            **records,
        )


def simulate(
    plan: Plan, rng: np.random.Generator, progress: Callable[[int], None] | None = None
) -> Trajectory:
    """Run the growth layer once.  `progress(t)` is called after each simulated month."""
    return _World(plan, rng, progress).run()
