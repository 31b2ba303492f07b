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
pool is Erlang's loss system; with several loads, Kaufman and Roberts'.

A technology switched off in a region (`network.switch_off`) is off there from the start
of its month: the terminals on it are taken off at once and, by the switch-off's policy,
moved to the category's next technology that is on there and has room (`migrate`: the
technologies after it in the category's preference order, then those before it, in the
same cell class; counted `migrated` on the technology left and `migrated_in` on the one
joined; what finds no room is `stranded`) or lost (`stranded`).  Terminals waiting for it
there are blocked; new terminals drawn for it join the category's next technology that is
on there (not counted as turned away), or are blocked when none is.  The work is
proportional to the number of cohorts and months, not to the number of terminals.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

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
    migrated: IntArray
    """Terminals moved off a switched-off technology (policy migrate), on the technology
    they left, in the month of the switch-off."""
    migrated_in: IntArray
    """Terminals moved onto this technology from a switched-off one, in that month."""
    stranded: IntArray
    """Terminals lost with a switched-off technology (policy stranded, or migrate with no
    room anywhere), on the technology they were on."""
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


_Cohort = list[Any]
"""A connected cohort: [size, row, pool, kind, end] (the size falls as it is displaced;
the end is its departure time, months).  A list: a run makes up to one per join, and a
list is several times cheaper to make than an object."""
_SIZE = 0
"""Index of a cohort's size."""


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


_FLOWS = ("joined", "left", "blocked", "offered", "retired", "migrated", "migrated_in", "stranded")
_LEVELS = ("connected", "waiting")
_SLACK = 1e-9
"""Relative float tolerance of a budget check (loads are sums of float products)."""
_CEILING = 1 + _SLACK
"""A budget times this is the most a pool may hold."""

_Terms = tuple[tuple[int, float], ...]
"""(resource, units per terminal) of the resources a kind of terminal loads."""
_Option = tuple[int, int, int]
"""(technology, kind, carrier) a terminal may try."""


class _Later(NamedTuple):
    """The later arrivals as lists (fast to index one by one), sorted by time."""

    time: list[float]
    row: list[int]
    cat: list[int]
    region: list[int]
    cls: list[int]
    tech: list[int]
    size: list[int]
    life: list[float]


class _World:
    """Pools, queues and counters; SimPy drives the month ends.

    Counters are flat Python lists (row = (category, region, technology); pool = (region,
    class, carrier); kind = (category, technology)): scalar updates on lists are several
    times faster than on NumPy arrays.

    Cohorts' arrivals and departures are kept apart from SimPy's queue: a SimPy event per
    arrival and departure was about a third of the work.  Between two month ends, `_advance`
    handles them in the order SimPy would have (by time, then by the order in which they
    were scheduled, counted by `order`), so the results are those of one SimPy event per
    arrival and departure.
    """

    def __init__(
        self, plan: Plan, rng: np.random.Generator, progress: Callable[[int], None] | None
    ) -> None:
        self.plan = plan
        self.progress = progress
        self.env = simpy.Environment()
        self.now = 0.0
        """Simulated time (months) of the event being handled."""
        self.order = itertools.count()
        """Counts events as they are scheduled: ties in time go to the first scheduled."""
        self.departures: list[tuple[float, int, _Cohort]] = []
        """Heap of (time, order, cohort) of the departures to come."""
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
        self.connected, self.joined = self.counts["connected"], self.counts["joined"]
        self.left, self.retired = self.counts["left"], self.counts["retired"]
        self.turned_away = [0] * (n_reg * n_tech)
        self.pool_turned_away = [0] * pools
        self.budget_table = network.usable.reshape(self.months + 1, pools, self.n_res)
        self.per_region = n_cls * n_car
        """Pools per region: a pool's region is pool // per_region."""
        # switch-offs by the row of the month they start; applied at that month's start
        self.switch_offs: dict[int, list[Any]] = {}
        for event in network.switch_offs:
            self.switch_offs.setdefault(event.row, []).append(event)
        # a pool of no cells holds nothing, even terminals that load none of its resources
        self.open_table = (network.class_cells > 0).reshape(self.months + 1, pools)
        self.used: list[list[float]] = [[0.0] * self.n_res for _ in range(pools)]
        kinds = n_cat * n_tech
        self.pool_counts: list[list[int]] = [[0] * kinds for _ in range(pools)]
        self._set_month(0)
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
        # per region, category and drawn technology, the options to try in turn (only
        # technologies on in the region); the same lists for every region until a switch-off
        self.off = [False] * (n_reg * n_tech)
        """Per (region, technology), whether it is switched off there."""
        arrival, displaced = self._options(0)
        self.options = [arrival] * n_reg
        self.displaced_options = [displaced] * n_reg
        self.redirect = [row % n_tech for row in range(rows)]
        """Per row (category, region, technology): the technology a new terminal drawn for
        this one joins (itself unless switched off there; -1: none is on)."""
        self.redirecting = False
        """Whether any technology has been switched off (then arrivals are redirected)."""
        self.initial_cohorts, self.arrivals = _draw_arrivals(plan, rng)
        self.later = self._later()
        self.next_index = 0
        self.following: tuple[float, int] = (math.inf, 0)
        """(time, order) of the next arrival; set when the arrivals start."""
        periods = self.months + 1
        self.records = {name: np.zeros((periods, rows), dtype=np.int64) for name in self.counts}
        self.turned_away_record = np.zeros((periods, n_reg * n_tech), dtype=np.int64)
        self.pool_turned_away_record = np.zeros((periods, pools), dtype=np.int64)
        self.pool_terminals_record = np.zeros((periods, pools), dtype=np.int64)
        self.pool_used_record = np.zeros((periods, pools, self.n_res))

    def _option(self, cat: int, tech: int) -> _Option:
        return tech, cat * self.n_tech + tech, self.carrier_of[tech]

    def _options(
        self, region: int
    ) -> tuple[list[list[tuple[_Option, ...]]], list[list[tuple[_Option, ...]]]]:
        """Per category and drawn technology, the (technology, kind, carrier) to try in
        turn in a region, among the technologies on there: on arrival (all of the
        category's under `fallback`, else the drawn one) and when displaced (the others)."""
        n_tech = self.n_tech
        on = [not self.off[region * n_tech + tech] for tech in range(n_tech)]
        arrivals, displaced_all = [], []
        for cat, order in enumerate(self.plan.preference):
            arrival: list[tuple[_Option, ...]] = [()] * n_tech
            displaced: list[tuple[_Option, ...]] = [()] * n_tech
            for tech in order:
                others = tuple(t for t in order if t != tech and on[t])
                tried = (tech, *others) if self.policy[cat] == "fallback" else (tech,)
                arrival[tech] = tuple(self._option(cat, t) for t in tried)
                displaced[tech] = tuple(self._option(cat, t) for t in others)
            arrivals.append(arrival)
            displaced_all.append(displaced)
        return arrivals, displaced_all

    def _set_loads(self, t: int, off: NDArray[np.bool_]) -> None:
        """Per region and kind, the load of one terminal in month t: the load spread over
        the carrier's cells / the share of them carrying its technology there (`off`
        [region, technology]: switched off, so no load fits)."""
        availability = self.plan.network.region_availability[t] * ~off  # [region, tech]
        loads = self.plan.loads  # [cat, tech, resource]
        with np.errstate(divide="ignore", invalid="ignore"):
            table = loads[None, :, :, :] / availability[:, None, :, None]
        table = np.where(availability[:, None, :, None] > 0, table, np.inf)
        table = np.where(loads[None, :, :, :] == 0, 0.0, table)
        # a technology withdrawn from every cell cannot hold terminals, even with no load
        gone = (availability <= 0)[:, None, :, None] & np.ones_like(loads[None, :, :, :], bool)
        table = np.where(gone, np.inf, table)  # [region, cat, tech, resource]
        self.load: list[list[list[float]]] = table.reshape(
            len(availability), -1, loads.shape[2]
        ).tolist()  # [region][kind][resource]
        # what a terminal of each kind takes: None where a resource is unavailable (inf)
        self.takes: list[list[_Terms | None]] = [
            [
                None
                if math.inf in load
                else tuple((j, unit) for j, unit in enumerate(load) if unit > 0)
                for load in region
            ]
            for region in self.load
        ]
        # what a terminal gives back when it leaves: its finite loads
        self.gives: list[list[_Terms]] = [
            [
                tuple((j, unit) for j, unit in enumerate(load) if unit and unit != math.inf)
                for load in region
            ]
            for region in self.load
        ]
        self.gone = [
            [kind for kind, load in enumerate(region) if math.inf in load] for region in self.load
        ]
        # the same per pool, for the hot paths (a pool's region: pool // per_region)
        pools = range(len(self.budget_table[t]))
        self.pool_takes = [self.takes[pool // self.per_region] for pool in pools]
        self.pool_gives = [self.gives[pool // self.per_region] for pool in pools]

    def _set_month(self, t: int) -> None:
        """Budgets and loads of month t, in the forms the hot paths read."""
        self.budget: list[list[float]] = self.budget_table[t].tolist()
        self.ceiling = [[budget * _CEILING for budget in pool] for pool in self.budget]
        self._set_loads(t, self.plan.network.switched_off[t])
        self.open: list[bool] = self.open_table[t].tolist()

    def _shrinking_pools(self) -> list[bool]:
        budgets = self.budget_table
        falls = np.any(np.diff(budgets, axis=0) < 0, axis=(0, 2))  # [pool]
        # a technology's loads rise where its share of the carrier's cells falls (in a
        # region where it is switched off, to infinity)
        network = self.plan.network
        rising = np.any(np.diff(network.region_availability, axis=0) < 0, axis=0)
        rising |= network.switched_off.any(axis=0)  # [region, tech]
        n_tech = self.n_tech
        closes = np.any(np.diff(self.open_table.astype(np.int8), axis=0) < 0, axis=0)
        shrinks = (falls | closes).tolist()
        for pool in range(len(shrinks)):
            carrier = pool % self.n_car
            region = pool // self.per_region
            if any(rising[region, k] and self.carrier_of[k] == carrier for k in range(n_tech)):
                shrinks[pool] = True
        return shrinks

    # -- bookkeeping -------------------------------------------------------

    def _row(self, cat: int, region: int, tech: int) -> int:
        return (cat * self.n_reg + region) * self.n_tech + tech

    def _room(self, pool: int, kind: int, size: int) -> int:
        """How many of `size` terminals of a kind fit in a pool (the binding resource)."""
        takes = self.pool_takes[pool][kind]
        if takes is None or not self.open[pool]:
            return 0
        used, ceiling = self.used[pool], self.ceiling[pool]
        take = size
        for j, unit in takes:
            room = (ceiling[j] - used[j]) / unit
            if room < take:
                take = max(0, math.floor(room))
                if take == 0:
                    return 0
        return take

    def _remove(self, pool: int, kind: int, size: int) -> None:
        used = self.used[pool]
        for j, unit in self.pool_gives[pool][kind]:
            used[j] -= size * unit
        self.pool_counts[pool][kind] -= size

    def _connect(self, pool: int, kind: int, row: int, size: int, life: float) -> None:
        self.joined[row] += size
        self._attach(pool, kind, row, size, self.now + life)

    def _attach(self, pool: int, kind: int, row: int, size: int, end: float) -> None:
        """Connect a cohort that leaves at `end` (months) to a pool where it has room."""
        used = self.used[pool]
        for j, unit in self.pool_takes[pool][kind]:  # type: ignore[union-attr]  # it had room
            used[j] += size * unit
        self.pool_counts[pool][kind] += size
        self.connected[row] += size
        if end < self.months:  # later departures fall outside the records
            cohort = [size, row, pool, kind, end]
            heapq.heappush(self.departures, (end, next(self.order), cohort))
            if self.shrinks[pool]:
                self.members[pool].append(cohort)
        elif self.shrinks[pool]:
            self.members[pool].append([size, row, pool, kind, end])

    def _depart(self, cohort: _Cohort) -> None:
        size, row, pool, kind, _ = cohort
        if size == 0:  # displaced entirely earlier
            return
        self._remove(pool, kind, size)
        self.connected[row] -= size
        self.left[row] += size
        self.retired[row] += size
        cohort[_SIZE] = 0
        if self.queues[pool]:
            self._serve(pool)

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
        base = (region * self.n_cls + cls) * self.n_car
        row = (cat * self.n_reg + region) * self.n_tech + tech
        options = (self.displaced_options if displaced else self.options)[region][cat][tech]
        for option, kind, carrier in options:
            pool = base + carrier
            take = self._room(pool, kind, size)
            if take:
                self._connect(pool, kind, row + option - tech, take, life)
                size -= take
                if size == 0:
                    return
            self.turned_away[region * self.n_tech + option] += size
            self.pool_turned_away[pool] += size
        if self.policy[cat] == "wait" and not displaced:
            deadline = self.now + self.patience[cat]
            self.queues[base + self.carrier_of[tech]].append(
                _Waiting(cat, region, cls, tech, size, life, deadline)
            )
            self.counts["waiting"][row] += size
        else:
            self.counts["blocked"][row] += size

    def _serve(self, pool: int) -> None:
        """Connect waiting terminals, first come first served, while the head fits."""
        queue = self.queues[pool]
        now = self.now
        waiting, blocked = self.counts["waiting"], self.counts["blocked"]
        while queue:
            head = queue[0]
            row = self._row(head.cat, head.region, head.tech)
            if head.deadline < now:  # gave up before this room appeared
                queue.popleft()
                waiting[row] -= head.size
                blocked[row] += head.size
                continue
            kind = head.cat * self.n_tech + head.tech
            take = self._room(pool, kind, head.size)
            if take == 0:
                return
            self._connect(pool, kind, row, take, head.life)
            head.size -= take
            waiting[row] -= take
            if head.size == 0:
                queue.popleft()

    def _expire(self, pool: int) -> None:
        """Block the waiting terminals whose patience has run out."""
        now = self.now
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
        used, ceiling = self.used[pool], self.ceiling[pool]
        return [max(0.0, used[j] - ceiling[j]) for j in range(self.n_res)]

    def _displace(self, pool: int) -> None:
        """Move the newest cohorts out of a pool over its budget, or whose technology left.

        Each cohort gives up as many terminals as the resources over budget need (its
        loads), so a cohort that does not use an exhausted resource stays.
        """
        members = self.members[pool]
        now = self.now
        position = len(members) - 1
        excess = self._excess(pool)
        while position >= 0:
            cohort = members[position]
            position -= 1
            size, row, _, kind, end = cohort
            if size == 0:
                continue
            load = self.load[pool // self.per_region][kind]
            if (
                self.pool_takes[pool][kind] is not None and self.open[pool]
            ):  # it may stay in these cells
                if not any(excess):
                    if not self._gone_kinds(pool):
                        break
                    continue
                need = 0
                for j, over in enumerate(excess):
                    if over > 0 and load[j] > 0:
                        need = max(need, math.ceil(over / load[j]))
                take = min(size, need)
                if take == 0:
                    continue
            else:
                take = size
            cat, tech = divmod(kind, self.n_tech)
            cohort[_SIZE] -= take
            self._remove(pool, kind, take)
            self.connected[row] -= take
            self.left[row] += take
            region = (pool // self.n_car) // self.n_cls
            cls = (pool // self.n_car) % self.n_cls
            self.turned_away[region * self.n_tech + tech] += take
            self.pool_turned_away[pool] += take
            self._place(cat, region, cls, tech, take, end - now, displaced=True)
            excess = self._excess(pool)
        members[:] = [cohort for cohort in members if cohort[_SIZE]]

    def _switch_off(self, row: int) -> None:
        """Switch off the technologies whose switch-off starts in the month ending at row
        `row` (now: that month's start): take their terminals off, block those waiting for
        them, then move or strand the terminals by each switch-off's policy."""
        events = self.switch_offs.get(row)
        if not events:
            return
        n_tech, n_cls, n_car = self.n_tech, self.n_cls, self.n_car
        waiting, blocked = self.counts["waiting"], self.counts["blocked"]
        taken = []  # (cohort's pool, kind, row, size, end, policy), oldest first per pool
        for event in events:
            region, tech = event.region, event.technology
            for cls in range(n_cls):
                pool = (region * n_cls + cls) * n_car + self.carrier_of[tech]
                # shrinking pools (every pool a switch-off touches) keep their members
                for cohort in self.members[pool]:
                    size, cohort_row, _, kind, end = cohort
                    if size and kind % n_tech == tech:
                        self._remove(pool, kind, size)  # with the loads it had
                        self.connected[cohort_row] -= size
                        cohort[_SIZE] = 0
                        taken.append((pool, kind, cohort_row, size, end, event.policy))
                self.members[pool][:] = [cohort for cohort in self.members[pool] if cohort[0]]
                queue = self.queues[pool]
                for entry in queue:
                    if entry.tech == tech:
                        entry_row = self._row(entry.cat, region, tech)
                        waiting[entry_row] -= entry.size
                        blocked[entry_row] += entry.size
                self.queues[pool] = deque(entry for entry in queue if entry.tech != tech)
            self.off[region * n_tech + tech] = True
        self.redirecting = True
        network = self.plan.network
        self._set_loads(row - 1, network.switched_off[row])
        for region in sorted({event.region for event in events}):
            self.options[region], self.displaced_options[region] = self._options(region)
            for cat, order in enumerate(self.plan.preference):
                for tech in order:
                    on = [t for t in self._successors(order, tech) if not self._is_off(region, t)]
                    to = tech if not self._is_off(region, tech) else (on[0] if on else -1)
                    self.redirect[self._row(cat, region, tech)] = to
        migrated, migrated_in = self.counts["migrated"], self.counts["migrated_in"]
        stranded = self.counts["stranded"]
        for pool, kind, cohort_row, count, end, policy in taken:
            size = count  # still to place
            cat, tech = divmod(kind, n_tech)
            region, cls = divmod(pool // n_car, n_cls)
            if policy == "migrate":
                base = (region * n_cls + cls) * n_car
                order = self.plan.preference[cat]
                for option in self._successors(order, tech):
                    if self._is_off(region, option):
                        continue
                    target, target_kind = base + self.carrier_of[option], cat * n_tech + option
                    take = self._room(target, target_kind, size)
                    if take:
                        target_row = cohort_row + option - tech
                        self._attach(target, target_kind, target_row, take, end)
                        migrated[cohort_row] += take
                        migrated_in[target_row] += take
                        size -= take
                        if size == 0:
                            break
            stranded[cohort_row] += size
        self._exact_use()

    def _is_off(self, region: int, tech: int) -> bool:
        return self.off[region * self.n_tech + tech]

    @staticmethod
    def _successors(order: tuple[int, ...], tech: int) -> tuple[int, ...]:
        """A category's other technologies from the one after `tech` in its preference
        order, then those before it: where its terminals go when `tech` is switched off."""
        position = order.index(tech)
        return order[position + 1 :] + order[:position]

    def _gone_kinds(self, pool: int) -> bool:
        """Whether the pool holds terminals it can no longer hold at all: its cells are
        gone, or their technology was withdrawn from them."""
        counts = self.pool_counts[pool]
        if not self.open[pool]:
            return any(counts)
        return any(counts[kind] for kind in self.gone[pool // self.per_region])

    def _compact(self, pool: int) -> None:
        """Drop departed cohorts from a member list once it has doubled (amortised O(1))."""
        members = self.members[pool]
        if len(members) > 2 * self.compacted[pool] + 64:
            members[:] = [cohort for cohort in members if cohort[_SIZE]]
            self.compacted[pool] = len(members)

    def _exact_use(self) -> None:
        """Recompute every pool's use from its terminal counts and current loads (sums of
        many float additions drift; a month end resets them)."""
        counts = np.array(self.pool_counts, dtype=float)  # [pool, kind]
        loads = np.array(self.load)  # [region, kind, resource]
        finite = np.where(np.isinf(loads), 0.0, loads)
        by_region = counts.reshape(self.n_reg, self.per_region, -1)
        self.used = np.matmul(by_region, finite).reshape(len(counts), -1).tolist()

    def _record(self, t: int) -> None:
        for name, values in self.counts.items():
            self.records[name][t] = values
        for name in _FLOWS:  # reset in place: the world holds references to these lists
            flows = self.counts[name]
            flows[:] = [0] * len(flows)
        self.turned_away_record[t] = self.turned_away
        self.turned_away[:] = [0] * len(self.turned_away)
        self.pool_turned_away_record[t] = self.pool_turned_away
        self.pool_turned_away[:] = [0] * len(self.pool_turned_away)
        self.pool_terminals_record[t] = [sum(counts) for counts in self.pool_counts]
        self.pool_used_record[t] = self.used

    # -- events ------------------------------------------------------------

    def _advance(self, until: tuple[float, int]) -> None:
        """Handle the arrivals and departures that come before the event `until`
        (time, order): in time order, ties to the first scheduled.

        An arrival is scheduled when the one before it has been handled, at the time SimPy
        would give it (the previous time plus the gap), so ties and float times are those
        of one SimPy process offering the cohorts one after another.
        """
        departures = self.departures
        later = self.later
        times, rows, cats, regions = later.time, later.row, later.cat, later.region
        classes, techs, sizes, lives = later.cls, later.tech, later.size, later.life
        offered = self.counts["offered"]
        index, count = self.next_index, len(times)
        following = self.following  # (time, order) of the next arrival
        while True:
            if departures and departures[0] < following:
                if departures[0] >= until:
                    break
                self.now, _, cohort = heapq.heappop(departures)
                self._depart(cohort)
                continue
            if following >= until:
                break
            self.now = now = following[0]
            row, tech = rows[index], techs[index]
            if self.redirecting and self.redirect[row] != tech:  # drawn to a switched-off one
                to = self.redirect[row]
                if to < 0:  # the category has no technology on there
                    offered[row] += sizes[index]
                    self.counts["blocked"][row] += sizes[index]
                    tech = -1
                else:
                    row, tech = row + to - tech, to
            if tech >= 0:
                offered[row] += sizes[index]
                self._place(
                    cats[index], regions[index], classes[index], tech, sizes[index], lives[index]
                )
            index += 1
            following = (
                (now + (times[index] - now), next(self.order)) if index < count else (math.inf, 0)
            )
        self.next_index, self.following = index, following

    def _place_initial(self) -> None:
        """Place the initial base at t = 0, in its (shuffled) order."""
        initial = self.initial_cohorts
        offered = self.counts["offered"]
        for cat, region, cls, tech, size, life in zip(
            initial.cat.tolist(), initial.region.tolist(), initial.cls.tolist(),
            initial.tech.tolist(), initial.size.tolist(), initial.life.tolist(), strict=True,
        ):  # fmt: skip
            offered[self._row(cat, region, tech)] += size
            self._place(cat, region, cls, tech, size, life)

    def _later(self) -> _Later:
        arrivals = self.arrivals
        rows = (arrivals.cat * self.n_reg + arrivals.region) * self.n_tech + arrivals.tech
        return _Later(
            arrivals.time.tolist(), rows.tolist(), arrivals.cat.tolist(),
            arrivals.region.tolist(), arrivals.cls.tolist(), arrivals.tech.tolist(),
            arrivals.size.tolist(), arrivals.life.tolist(),
        )  # fmt: skip

    def _start_arrivals(self) -> None:
        """Schedule the first later arrival (at 0 + (its time - 0), its time)."""
        times = self.later.time
        if times:
            self.following = (times[0], next(self.order))

    def clock(self):  # type: ignore[no-untyped-def]
        """Initial placement at t = 0, then the month ends t = 1..M; the cohorts' arrivals
        and departures in between."""
        self._place_initial()
        self._exact_use()
        self._record(0)
        self._switch_off(1)  # at the start of the first month
        # SimPy scheduled the first month end, then started the arrivals
        month_end = (1.0, next(self.order))
        self._start_arrivals()
        pools = range(len(self.budget))
        for t in range(1, self.months + 1):
            self._advance(month_end)
            yield self.env.timeout(1.0)
            self.now = self.env.now
            # all budgets and loads change at once, then pools over budget displace
            # terminals (who may move to pools that just grew), then queues are served
            self._set_month(t)
            self._exact_use()
            moved = False  # whether terminals were displaced or served
            for pool in pools:
                if self.shrinks[pool] and (any(self._excess(pool)) or self._gone_kinds(pool)):
                    self._displace(pool)
                    moved = True
            for pool in pools:
                if self.queues[pool]:
                    self._serve(pool)
                    self._expire(pool)
                    moved = True
                if self.shrinks[pool]:
                    self._compact(pool)
            if moved:  # else the use is still exact: same counts, same loads
                self._exact_use()
            self._record(t)
            if t < self.months:
                self._switch_off(t + 1)  # at the start of the next month
            if self.progress is not None:
                self.progress(t)
            month_end = (t + 1.0, next(self.order))  # scheduled after this month end's work

    def run(self) -> Trajectory:
        cohorts = len(self.initial_cohorts.size) + len(self.arrivals.size)
        clock = self.env.process(self.clock())
        self.env.run(until=clock)
        shape = (self.months + 1, *self.shape)
        records = {name: values.reshape(shape) for name, values in self.records.items()}
        return Trajectory(
            turned_away=self.turned_away_record.reshape(self.months + 1, *self.shape[1:]),
            pool_terminals=self.pool_terminals_record,
            pool_used=self.pool_used_record,
            pool_turned_away=self.pool_turned_away_record,
            resolution=self.plan.resolution,
            cohorts=cohorts,
            **records,
        )


def simulate(
    plan: Plan, rng: np.random.Generator, progress: Callable[[int], None] | None = None
) -> Trajectory:
    """Run the growth layer once.  `progress(t)` is called after each simulated month."""
    return _World(plan, rng, progress).run()
