"""The growth layer: a SimPy world of terminal cohorts joining and leaving cell pools.

Terminals of one category, region, cell class and technology join as cohorts of at most
`resolution` terminals.  Joins form a Poisson process whose intensity depends on time only:
the joins that make the expected base follow the demand curve
(`sim.demand.joins.join_schedule`); each is drawn into a cell class with that class's share
of the region's terminals.  A pool is the cells of one region and class holding one carrier
kind, with a busy-hour budget per resource (`sim.supply`).  A join fits while every
resource stays within its budget (each terminal adds its load); a cohort that only partly
fits is split at the binding resource.  What does not fit is handled by the category's
`when_full` policy:

* ``fallback``: try the category's other technologies in preference order, in the same
  cell class (the same places); what fits nowhere is blocked (lost).
* ``wait``: queue (first come, first served) at the pool until capacity frees up, giving
  up after ``patience_months`` (then counted as blocked).  A waiting terminal's lifetime
  starts when it connects.
* ``drop``: blocked.

When a pool's budget falls below its load (sites retired, smartphones' share grown, a
technology withdrawn from cells), the newest cohorts are displaced: they try the category's
other technologies and what fits nowhere is blocked.  With one resource and unit loads a
pool is Erlang's loss system; with several loads, Kaufman and Roberts'.  The work is
proportional to the number of cohorts and months, not to the number of terminals.
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
    """Month-end records of one run.  Arrays indexed [t = 0..M, category, region, tech]
    unless said otherwise; row t = 0 is the initial placement at the start of the horizon.
    Pools are (region, cell class, carrier), flattened in that order."""

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
    queued or were blocked), including terminals displaced by a budget cut."""
    pool_terminals: IntArray
    """[t, pool] connected terminals."""
    pool_used: FloatArray
    """[t, pool, resource] busy-hour units IoT terminals use (smartphones not included)."""
    pool_turned_away: IntArray
    """[t, pool] terminals turned away by the pool."""
    resolution: int
    cohorts: int


class _Cohort:
    __slots__ = ("end", "kind", "pool", "row", "size")

    def __init__(self, row: int, pool: int, kind: int, size: int, end: float) -> None:
        self.row, self.pool, self.kind, self.size, self.end = row, pool, kind, size, end


class _Waiting:
    __slots__ = ("cat", "cls", "deadline", "life", "region", "size", "tech")

    def __init__(
        self, cat: int, region: int, cls: int, tech: int, size: int, life: float, deadline: float
    ) -> None:
        self.cat, self.region, self.cls, self.tech, self.size = cat, region, cls, tech, size
        self.life, self.deadline = life, deadline


@dataclass(frozen=True)
class _Arrivals:
    """Cohorts offered: the initial ones at time 0, later ones sorted by time (months)."""

    time: FloatArray
    cat: IntArray
    region: IntArray
    cls: IntArray
    tech: IntArray
    size: IntArray
    life: FloatArray


def _draw_arrivals(plan: Plan, rng: np.random.Generator) -> tuple[_Arrivals, _Arrivals]:
    """Initial cohorts and later arrivals; each (category, region) from its own generator."""
    n_cat, n_reg = plan.region_shares.shape
    resolution = plan.resolution
    class_shares = plan.network.terminal_shares  # [region, class]
    n_cls = class_shares.shape[1]
    *streams, shuffle = rng.spawn(n_cat * n_reg + 1)
    initial_parts, later_parts = [], []
    for c in range(n_cat):
        lifetime = plan.lifetimes[c]
        for r in range(n_reg):
            stream = streams[c * n_reg + r]
            # initial base: split over classes by their terminal shares (whole terminals),
            # cohorts of at most `resolution`, remaining lifetimes in equilibrium
            split = np.stack(
                [_whole_split(int(n), class_shares[r]) for n in plan.initial[c, r]], axis=1
            )  # [class, tech]
            sizes, techs, classes = _cohort_sizes(split, resolution)
            initial_parts.append(
                _Arrivals(
                    np.zeros(len(sizes)),
                    np.full(len(sizes), c),
                    np.full(len(sizes), r),
                    classes.astype(np.int64),
                    techs,
                    sizes,
                    lifetime.sample_residual(stream, len(sizes)),
                )
            )
            intensity = plan.joins[c][:, None] * plan.region_shares[c, r] * plan.mix[c]
            counts = stream.poisson(intensity[:, None, :] * class_shares[r][None, :, None])
            sizes, techs, rows = _cohort_sizes(counts.reshape(-1, counts.shape[2]), resolution)
            row_index = rows.astype(np.int64)
            months = row_index // n_cls
            later_parts.append(
                _Arrivals(
                    months + stream.random(len(sizes)),
                    np.full(len(sizes), c),
                    np.full(len(sizes), r),
                    row_index % n_cls,
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


def _whole_split(total: int, weights: FloatArray) -> IntArray:
    """Split a whole number by weights (summing to 1) into whole numbers summing to it."""
    exact = total * weights
    whole = np.floor(exact).astype(np.int64)
    remainder = total - int(whole.sum())
    if remainder > 0:
        order = np.argsort(-(exact - whole), kind="stable")[:remainder]
        whole[order] += 1
    return whole


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


_ARRIVAL_FIELDS = ("time", "cat", "region", "cls", "tech", "size", "life")


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
_SLACK = 1e-9
"""Relative float tolerance of a budget check (loads are sums of float products)."""


class _World:
    """Pools, queues and counters; SimPy drives its time.

    Counters are flat Python lists (row = (category, region, technology); pool = (region,
    class, carrier); kind = (category, technology)): scalar updates on lists are several
    times faster than on NumPy arrays.
    """

    def __init__(
        self, plan: Plan, rng: np.random.Generator, progress: Callable[[int], None] | None
    ) -> None:
        self.plan = plan
        self.progress = progress
        self.env = simpy.Environment()
        network = plan.network
        n_cat, n_reg = plan.region_shares.shape
        n_tech = len(network.technologies)
        n_cls, n_car = len(network.classes), len(network.carriers)
        self.shape = (n_cat, n_reg, n_tech)
        self.n_reg, self.n_tech, self.n_cls, self.n_car = n_reg, n_tech, n_cls, n_car
        self.n_res = plan.loads.shape[2]
        self.months = plan.months
        rows, pools = n_cat * n_reg * n_tech, network.pools
        self.carrier_of = list(network.carrier_of)
        self.counts: dict[str, list[int]] = {name: [0] * rows for name in (*_LEVELS, *_FLOWS)}
        self.turned_away = [0] * (n_reg * n_tech)
        self.pool_turned_away = [0] * pools
        self.budget_table = network.usable.reshape(self.months + 1, pools, self.n_res)
        self.budget: list[list[float]] = self.budget_table[0].tolist()
        # a pool of no cells holds nothing, even terminals that load none of its resources
        network_cells = network.carrier_cells[:, :, None, :] * network.cell_shares[None, :, :, None]
        self.open_table = (network_cells > 0).reshape(self.months + 1, pools)
        self.open: list[bool] = self.open_table[0].tolist()
        self.used: list[list[float]] = [[0.0] * self.n_res for _ in range(pools)]
        kinds = n_cat * n_tech
        self.pool_counts: list[list[int]] = [[0] * kinds for _ in range(pools)]
        self.load_table = self._load_table()  # [t, kind, resource], inf where unavailable
        self.load: list[list[float]] = self.load_table[0].tolist()
        # newest-last member lists, kept only for pools whose budget can fall or whose
        # terminals' loads can rise (a technology withdrawn from some of the cells)
        self.shrinks = self._shrinking_pools()
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
        periods = self.months + 1
        self.records = {name: np.zeros((periods, rows), dtype=np.int64) for name in self.counts}
        self.turned_away_record = np.zeros((periods, n_reg * n_tech), dtype=np.int64)
        self.pool_turned_away_record = np.zeros((periods, pools), dtype=np.int64)
        self.pool_terminals_record = np.zeros((periods, pools), dtype=np.int64)
        self.pool_used_record = np.zeros((periods, pools, self.n_res))

    def _load_table(self) -> FloatArray:
        """[t, kind, resource] load of one terminal where its technology is: the load
        spread over the carrier's cells / the share of them carrying the technology."""
        plan = self.plan
        availability = plan.network.availability  # [t, tech]
        loads = plan.loads  # [cat, tech, resource]
        with np.errstate(divide="ignore", invalid="ignore"):
            table = loads[None, :, :, :] / availability[:, None, :, None]
        table = np.where(availability[:, None, :, None] > 0, table, np.inf)
        table = np.where(loads[None, :, :, :] == 0, 0.0, table)
        # a technology withdrawn from every cell cannot hold terminals, even with no load
        gone = (availability <= 0)[:, None, :, None] & np.ones_like(loads[None, :, :, :], bool)
        table = np.where(gone, np.inf, table)
        return table.reshape(len(availability), -1, loads.shape[2])

    def _shrinking_pools(self) -> list[bool]:
        budgets = self.budget_table
        falls = np.any(np.diff(budgets, axis=0) < 0, axis=(0, 2))  # [pool]
        # a technology's loads rise where its share of the carrier's cells falls
        rising_tech = np.any(np.diff(self.plan.network.availability, axis=0) < 0, axis=0)
        n_tech = self.n_tech
        closes = np.any(np.diff(self.open_table.astype(np.int8), axis=0) < 0, axis=0)
        shrinks = (falls | closes).tolist()
        for pool in range(len(shrinks)):
            carrier = pool % self.n_car
            if any(rising_tech[k] and self.carrier_of[k] == carrier for k in range(n_tech)):
                shrinks[pool] = True
        return shrinks

    # -- bookkeeping -------------------------------------------------------

    def _row(self, cat: int, region: int, tech: int) -> int:
        return (cat * self.n_reg + region) * self.n_tech + tech

    def _pool(self, region: int, cls: int, tech: int) -> int:
        return (region * self.n_cls + cls) * self.n_car + self.carrier_of[tech]

    def _room(self, pool: int, kind: int, size: int) -> int:
        """How many of `size` terminals of a kind fit in a pool (the binding resource)."""
        if not self.open[pool]:
            return 0
        load = self.load[kind]
        used, budget = self.used[pool], self.budget[pool]
        take = size
        for j in range(self.n_res):
            unit = load[j]
            if unit > 0:
                if unit == math.inf:
                    return 0
                room = (budget[j] * (1 + _SLACK) - used[j]) / unit
                if room < take:
                    take = max(0, math.floor(room))
                    if take == 0:
                        return 0
        return take

    def _add(self, pool: int, kind: int, size: int) -> None:
        load, used = self.load[kind], self.used[pool]
        for j in range(self.n_res):
            if load[j]:
                used[j] += size * load[j]
        self.pool_counts[pool][kind] += size

    def _remove(self, pool: int, kind: int, size: int) -> None:
        load, used = self.load[kind], self.used[pool]
        for j in range(self.n_res):
            if load[j] and load[j] != math.inf:
                used[j] -= size * load[j]
        self.pool_counts[pool][kind] -= size

    def _connect(self, cat: int, region: int, cls: int, tech: int, size: int, life: float) -> None:
        pool = self._pool(region, cls, tech)
        kind = cat * self.n_tech + tech
        row = self._row(cat, region, tech)
        self._add(pool, kind, size)
        self.counts["connected"][row] += size
        self.counts["joined"][row] += size
        end = self.env.now + life
        cohort = _Cohort(row, pool, kind, size, end)
        if self.shrinks[pool]:
            self.members[pool].append(cohort)
        if end < self.months:  # later departures fall outside the records
            departure = self.env.timeout(life)
            departure.callbacks.append(lambda _event: self._depart(cohort))

    def _depart(self, cohort: _Cohort) -> None:
        if cohort.size == 0:  # displaced entirely earlier
            return
        self._remove(cohort.pool, cohort.kind, cohort.size)
        self.counts["connected"][cohort.row] -= cohort.size
        self.counts["left"][cohort.row] += cohort.size
        self.counts["retired"][cohort.row] += cohort.size
        cohort.size = 0
        if self.queues[cohort.pool]:
            self._serve(cohort.pool)

    def _place(
        self,
        cat: int,
        region: int,
        cls: int,
        tech: int,
        size: int,
        life: float,
        displaced: bool = False,
    ) -> None:
        """Connect `size` terminals drawn to `tech` in a cell class, applying the category's
        policy.

        Displaced terminals (their pool's budget fell) try the category's other
        technologies in the same class and are blocked, whatever the policy, if none has
        room.
        """
        policy = self.policy[cat]
        if displaced:
            order = self.fallback[cat][tech][1:]
        elif policy == "fallback":
            order = self.fallback[cat][tech]
        else:
            order = (tech,)
        for option in order:
            pool = self._pool(region, cls, option)
            take = self._room(pool, cat * self.n_tech + option, size)
            if take:
                self._connect(cat, region, cls, option, take, life)
                size -= take
                if size == 0:
                    return
            self.turned_away[region * self.n_tech + option] += size
            self.pool_turned_away[pool] += size
        row = self._row(cat, region, tech)
        if policy == "wait" and not displaced:
            deadline = self.env.now + self.patience[cat]
            self.queues[self._pool(region, cls, tech)].append(
                _Waiting(cat, region, cls, tech, size, life, deadline)
            )
            self.counts["waiting"][row] += size
        else:
            self.counts["blocked"][row] += size

    def _serve(self, pool: int) -> None:
        """Connect waiting terminals, first come first served, while the head fits."""
        queue = self.queues[pool]
        now = self.env.now
        waiting, blocked = self.counts["waiting"], self.counts["blocked"]
        while queue:
            head = queue[0]
            row = self._row(head.cat, head.region, head.tech)
            if head.deadline < now:  # gave up before this room appeared
                queue.popleft()
                waiting[row] -= head.size
                blocked[row] += head.size
                continue
            take = self._room(pool, head.cat * self.n_tech + head.tech, head.size)
            if take == 0:
                return
            self._connect(head.cat, head.region, head.cls, head.tech, take, head.life)
            head.size -= take
            waiting[row] -= take
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

    def _excess(self, pool: int) -> list[float]:
        """Per resource, load above the budget (0 where within)."""
        used, budget = self.used[pool], self.budget[pool]
        return [max(0.0, used[j] - budget[j] * (1 + _SLACK)) for j in range(self.n_res)]

    def _displace(self, pool: int) -> None:
        """Move the newest cohorts out of a pool over its budget, or whose technology left.

        Each cohort gives up as many terminals as the resources over budget need (its
        loads), so a cohort that does not use an exhausted resource stays.
        """
        members = self.members[pool]
        now = self.env.now
        position = len(members) - 1
        excess = self._excess(pool)
        while position >= 0:
            cohort = members[position]
            position -= 1
            if cohort.size == 0:
                continue
            load = self.load[cohort.kind]
            gone = not self.open[pool] or any(unit == math.inf for unit in load)
            if not gone:
                if not any(excess):
                    if not self._gone_kinds(pool):
                        break
                    continue
                need = 0
                for j, over in enumerate(excess):
                    if over > 0 and load[j] > 0:
                        need = max(need, math.ceil(over / load[j]))
                take = min(cohort.size, need)
                if take == 0:
                    continue
            else:
                take = cohort.size
            cat, tech = divmod(cohort.kind, self.n_tech)
            cohort.size -= take
            self._remove(pool, cohort.kind, take)
            self.counts["connected"][cohort.row] -= take
            self.counts["left"][cohort.row] += take
            region = (pool // self.n_car) // self.n_cls
            cls = (pool // self.n_car) % self.n_cls
            self.turned_away[region * self.n_tech + tech] += take
            self.pool_turned_away[pool] += take
            self._place(cat, region, cls, tech, take, cohort.end - now, displaced=True)
            excess = self._excess(pool)
        members[:] = [cohort for cohort in members if cohort.size]

    def _gone_kinds(self, pool: int) -> bool:
        """Whether the pool holds terminals it can no longer hold at all (its cells or
        their technology are gone)."""
        counts = self.pool_counts[pool]
        if not self.open[pool]:
            return any(counts)
        return any(
            counts[kind] and any(unit == math.inf for unit in self.load[kind])
            for kind in range(len(counts))
        )

    def _compact(self, pool: int) -> None:
        """Drop departed cohorts from a member list once it has doubled (amortised O(1))."""
        members = self.members[pool]
        if len(members) > 2 * self.compacted[pool] + 64:
            members[:] = [cohort for cohort in members if cohort.size]
            self.compacted[pool] = len(members)

    def _exact_use(self) -> None:
        """Recompute every pool's use from its terminal counts and current loads (sums of
        many float additions drift; a month end resets them)."""
        counts = np.array(self.pool_counts, dtype=float)  # [pool, kind]
        loads = np.array(self.load)  # [kind, resource]
        finite = np.where(np.isinf(loads), 0.0, loads)
        self.used = (counts @ finite).tolist()

    def _record(self, t: int) -> None:
        for name, values in self.counts.items():
            self.records[name][t] = values
        for name in _FLOWS:  # reset in place: processes hold references to these lists
            flows = self.counts[name]
            flows[:] = [0] * len(flows)
        self.turned_away_record[t] = self.turned_away
        self.turned_away[:] = [0] * len(self.turned_away)
        self.pool_turned_away_record[t] = self.pool_turned_away
        self.pool_turned_away[:] = [0] * len(self.pool_turned_away)
        self.pool_terminals_record[t] = np.array(self.pool_counts, dtype=np.int64).sum(axis=1)
        self.pool_used_record[t] = self.used

    # -- processes ---------------------------------------------------------

    def clock(self):  # type: ignore[no-untyped-def]
        """Initial placement at t = 0, then the month ends t = 1..M."""
        initial = self.initial_cohorts
        offered = self.counts["offered"]
        for cat, region, cls, tech, size, life in zip(
            initial.cat.tolist(), initial.region.tolist(), initial.cls.tolist(),
            initial.tech.tolist(), initial.size.tolist(), initial.life.tolist(), strict=True,
        ):  # fmt: skip
            offered[self._row(cat, region, tech)] += size
            self._place(cat, region, cls, tech, size, life)
        self._exact_use()
        self._record(0)
        pools = range(len(self.budget))
        for t in range(1, self.months + 1):
            yield self.env.timeout(1.0)
            # all budgets and loads change at once, then pools over budget displace
            # terminals (who may move to pools that just grew), then queues are served
            self.budget = self.budget_table[t].tolist()
            self.open = self.open_table[t].tolist()
            self.load = self.load_table[t].tolist()
            self._exact_use()
            for pool in pools:
                if self.shrinks[pool] and (any(self._excess(pool)) or self._gone_kinds(pool)):
                    self._displace(pool)
            for pool in pools:
                if self.queues[pool]:
                    self._serve(pool)
                    self._expire(pool)
                if self.shrinks[pool]:
                    self._compact(pool)
            self._exact_use()
            self._record(t)
            if self.progress is not None:
                self.progress(t)

    def arrive(self):  # type: ignore[no-untyped-def]
        """Offer each later cohort at its time."""
        arrivals = self.arrivals
        env = self.env
        offered = self.counts["offered"]
        for time, cat, region, cls, tech, size, life in zip(
            arrivals.time.tolist(), arrivals.cat.tolist(), arrivals.region.tolist(),
            arrivals.cls.tolist(), arrivals.tech.tolist(), arrivals.size.tolist(),
            arrivals.life.tolist(), strict=True,
        ):  # fmt: skip
            yield env.timeout(time - env.now)
            offered[self._row(cat, region, tech)] += size
            self._place(cat, region, cls, tech, size, life)

    def run(self) -> Trajectory:
        clock = self.env.process(self.clock())
        self.env.process(self.arrive())
        self.env.run(until=clock)
        shape = (self.months + 1, *self.shape)
        records = {name: values.reshape(shape) for name, values in self.records.items()}
        return Trajectory(
            turned_away=self.turned_away_record.reshape(self.months + 1, *self.shape[1:]),
            pool_terminals=self.pool_terminals_record,
            pool_used=self.pool_used_record,
            pool_turned_away=self.pool_turned_away_record,
            resolution=self.plan.resolution,
            cohorts=len(self.initial_cohorts.size) + len(self.arrivals.size),
            **records,
        )


def simulate(
    plan: Plan, rng: np.random.Generator, progress: Callable[[int], None] | None = None
) -> Trajectory:
    """Run the growth layer once.  `progress(t)` is called after each simulated month."""
    return _World(plan, rng, progress).run()
