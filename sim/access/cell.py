"""The access layer: contention-based random access in one cell, as evaluated in 3GPP TR 37.868.

A terminal with a report to send transmits a preamble at the next random-access
opportunity (RAO) of its level, then goes through the four messages of the procedure:

1. **Msg1**: a preamble chosen uniformly among the level's contention preambles and
   occasions (``occasions``: NR msg1-FDM, RAOs at the same time on other frequencies).  A
   preamble chosen by two or more terminals in the same RAO and occasion is not detected
   (all of them fail this attempt); a preamble chosen by one terminal is detected with
   probability 1 - e^(-k) on its k-th transmission (``detection="tr37868"``; ``"certain"``
   for an ideal receiver).
2. **Msg2**: at most ``grants_per_rao`` detected preambles get an uplink grant (random
   order), the rest fail this attempt.  The i-th grant's RAR is received in slot
   i // grants_per_subframe of the RAR window.  By default ``grants_per_rao`` is
   ``grants_per_subframe x rar_window_ms``: 3 per subframe over the 5-subframe window, 15.
3. **Msg3/Msg4** with HARQ: each transmission fails with ``harq_retransmission_probability``
   and is repeated after the round-trip time (8 ms / 5 ms) up to
   ``max_msg3_msg4_transmissions`` times; if either runs out, the terminal notices when the
   contention-resolution timer expires (48 ms, started in the subframe of the last Msg3).
4. A failed attempt is retried after a backoff uniform in [0, BI] ms at the next RAO:
   ``no_grant_wait_ms`` after its RAO for a preamble that got no grant (by default the end
   of the RAR window, t + 1 + 2 + 5 ms), after the contention-resolution timer otherwise.
   After ``max_preamble_transmissions`` failed attempts the terminal gives up.

**The timeline of one attempt** at an RAO at time t of a level (all figures the level's,
`sim.access.procedure.Level`): the preamble (with its repetitions) takes ``preamble_ms``;
the RAR window opens ``preamble_processing_ms`` after it and lasts ``rar_window_ms``; the
i-th grant's RAR is received from slot i // grants_per_subframe of the window (1 ms
slots) for ``rar_ms``; Msg3 starts ``rar_processing_ms`` after the RAR and takes
``msg3_ms``, its HARQ retransmissions start every ``rtt_msg3_ms``; Msg4 is received from
``connection_request_processing_ms`` after the (successful) Msg3 for ``msg4_ms``, its
retransmissions every ``rtt_msg4_ms``.  The contention-resolution timer starts in the
subframe that holds the end of the last Msg3 (TS 36.321 5.1.5: for NB-IoT and BL/CE UEs
"in the subframe containing the last repetition"; for LTE the subframe of Msg3), i.e.
max(msg3_ms - 1, 0) ms after the last Msg3 starts, and Msg4 must end before it expires.
With all defaults the minimum access delay (first preamble to Msg4) is
1 + 2 + 1 + 5 + 1 + 4 + 1 = 15 ms.  These are the semantics of the public LTE-A
random-access simulator of Leyva-Mayorga, Tello-Oquendo et al. (IEEE TWC 2017) whose
figures are the reference table, as long as the grants per RAO and the no-grant wait are
the ones it ties to its RAO period (``grants_per_subframe x rao_period_ms`` and
1 + ``preamble_processing_ms`` + ``rao_period_ms``): at the TR 37.868 period of 5 ms the
defaults are; at another period give ``rar_window_ms`` = the period (README, "Access
layer", says exactly when the two agree).  ``collisions="contention"`` offers the other
common reading of the TR (collided preambles are detected as one, get a grant, and all
their terminals fail at contention resolution).

**Coverage levels** (NB-IoT CE levels, `Procedure.levels`): each level is its own
random-access resource (own RAOs, preambles, grants; RAOs of different levels never
collide).  A terminal starts at its `start_level` and counts its transmissions per level
and in total (TS 36.321 5.1.4/5.1.5): after ``max_attempts`` failed transmissions on a
level it moves to the next one (on the last level it stays), and after
``max_preamble_transmissions`` in all it gives up.  Detection keeps the TR 37.868 law
1 - e^-k with k the terminal's total transmission number on every level (an assumption:
the TR evaluates one LTE PRACH; a CE level's repetitions are meant to make its
detection as likely as level 0's at its coverage, which this treats as equal).

Access class barring (``acb_factor`` < 1) is checked once per report before the first
preamble: a barred terminal waits (0.7 + 0.6 U) x ``acb_time_s`` and checks again.  The
access delay counts from the first RAO (of the start level) after the report was ready,
so time spent barred counts.

**Where the time goes** (`AccessOutcome.step_ms`, columns `STEPS`): per terminal, ms spent
transmitting preambles (with repetitions), listening for RARs (from the window's opening
to the end of the RAR, or the whole window when no grant came, cut at the no-grant wait),
transmitting Msg3 (every HARQ transmission), listening for Msg4 (from the end of the last
Msg3 to the end of Msg4, or to the expiry of the contention-resolution timer) and waiting
(no radio activity: from the end of a failed attempt, the RAR window or the timer, to the
next preamble, backoff and barring included).  The processing delays between messages
(``preamble_processing_ms``, ``rar_processing_ms``, and the HARQ round trips between Msg3
transmissions) are in no step: a success's delay is its steps plus exactly those.

The simulation is event-driven over blocks of opportunities (SimPy): all terminals
contending in the RAOs of a block (of every level) are processed together as arrays, with
exact per-terminal state.  Times are in ms.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import simpy
from numpy.typing import NDArray

from sim.access.procedure import Level, Procedure

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

STEPS = ("preamble", "rar", "msg3", "msg4", "wait")
"""The columns of `AccessOutcome.step_ms`: transmit (preamble, msg3), receive (rar, msg4)
and no radio activity (wait)."""
PREAMBLE, RAR, MSG3, MSG4, WAIT = range(len(STEPS))

_MAX_BLOCK = 4096
"""RAOs of one level processed together at most: arrays of up to 4096 x 64 preambles
(2 MiB each)."""


@dataclass(frozen=True)
class AccessOutcome:
    """What happened to every terminal in one cell over one run."""

    success: BoolArray
    transmissions: IntArray
    """Preamble transmissions of each terminal (successful or not), all levels."""
    delay_ms: FloatArray
    """First usable RAO to Msg4 for successful terminals, ms; NaN otherwise."""
    collided: BoolArray
    """Whether the terminal's preamble collided at least once."""
    preamble_transmissions: int
    collided_transmissions: int
    collided_preambles: int
    """Preambles chosen by two or more terminals in the same RAO (and occasion), over every
    RAO of every level."""
    opportunities_in_period: int
    """RAOs of the first level in the traffic period."""
    opportunities: int
    """RAOs of the first level from the first of the traffic period to the later of its last
    and the last one a terminal used."""
    preambles: int
    """Contention preambles per RAO of the first level (per occasion)."""
    final_level: IntArray
    """Level at which each terminal succeeded or gave up (its start level if barred all
    along)."""
    level_transmissions: IntArray
    """Preamble transmissions of each terminal per level, shape (terminals, levels)."""
    step_ms: FloatArray
    """Time each terminal spent in each step of `STEPS`, ms, shape (terminals, 5)."""
    preamble_opportunities: int
    """Preamble opportunities (preambles x occasions x RAOs) of every level over the RAOs
    `collided_preambles` were counted on (for each level as `opportunities`): the
    denominator of TR 37.868's collision probability."""

    @property
    def devices(self) -> int:
        return len(self.success)


def simulate_cell(
    arrivals_ms: FloatArray,
    procedure: Procedure,
    rng: np.random.Generator,
    period_s: float,
    start_level: IntArray | None = None,
) -> AccessOutcome:
    """Run the random-access procedure for terminals that become ready at `arrivals_ms`.

    `period_s` is the traffic period: collisions per opportunity are counted over its RAOs,
    and over the RAOs after it up to the last one used when retries or barring run past it.
    `start_level` is each terminal's first level (an index into `procedure.levels`; default
    all 0).  ValueError for a start level that is not one of the procedure's levels.
    """
    arrivals = np.asarray(arrivals_ms, dtype=float)
    levels = len(procedure.levels)
    if start_level is None:
        start = np.zeros(len(arrivals), dtype=np.int64)
    else:
        given = np.asarray(start_level)
        if given.shape != arrivals.shape:
            raise ValueError(f"start_level has shape {given.shape}; it needs one level per "
                             f"terminal, shape {arrivals.shape}")  # fmt: skip
        if given.size and (
            not np.issubdtype(given.dtype, np.integer) or given.min() < 0 or given.max() >= levels
        ):
            raise ValueError(f"start_level must hold level indices from 0 to {levels - 1} "
                             f"(the procedure has {levels} level(s)); got values from "
                             f"{given.min()} to {given.max()}")  # fmt: skip
        start = given.astype(np.int64)
    return _Cell(arrivals, procedure, rng, period_s, start).run()


class _Level:
    """One level's figures as plain numbers, its RAO timeline and its attempt's times."""

    def __init__(self, index: int, level: Level, procedure: Procedure, period_s: float) -> None:
        self.index = index
        self.preambles = level.preambles
        self.domain = level.preambles * level.occasions  # the collision domain of an RAO
        self.period = level.rao_period_ms
        self.offset = level.rao_offset_ms
        self.grants_per_subframe = level.grants_per_subframe
        self.grants = level.effective_grants_per_rao
        self.no_grant_wait = level.no_grant_wait_ms
        self.preamble_ms = level.preamble_ms
        self.preamble_processing = level.preamble_processing_ms
        self.window = level.rar_window_ms
        self.rar_ms = level.rar_ms
        self.rar_processing = level.rar_processing_ms
        self.msg3_ms = level.msg3_ms
        self.request_processing = level.connection_request_processing_ms
        self.msg4_ms = level.msg4_ms
        self.timer = level.contention_resolution_timer_ms
        self.timer_start = max(level.msg3_ms - 1.0, 0.0)  # after the last Msg3 starts
        self.rtt3 = level.rtt_msg3_ms
        self.rtt4 = level.rtt_msg4_ms
        self.max_attempts = level.max_attempts if level.max_attempts is not None else math.inf
        # HARQ: a message fails when all of its allowed transmissions fail; Msg4 is also
        # limited by the contention-resolution timer started with the last Msg3
        most = procedure.max_msg3_msg4_transmissions
        spare = (self.timer_start + self.timer
                 - (self.msg3_ms + self.request_processing + self.msg4_ms))  # fmt: skip
        if spare < 0:  # not even the first Msg4 ends before the timer expires
            fits = 0
        elif self.rtt4 > 0:
            fits = min(most, int(spare // self.rtt4) + 1)
        else:
            fits = most
        q = procedure.harq_retransmission_probability
        self.msg4_lost = q**fits
        self.period_raos = round(period_s * 1000.0 / self.period)
        self.last_used = -1  # the last RAO in which a terminal sent a preamble
        # the earliest a terminal can come back: after the RAR window (no grant), or after
        # the contention-resolution timer from its first Msg3 (Msg3/Msg4 lost, or a
        # collision in contention mode)
        self.earliest_retry: float = min(
            level.effective_no_grant_wait_ms,
            self.preamble_ms + self.preamble_processing + self.rar_ms + self.rar_processing
            + self.timer_start + self.timer,
        )  # fmt: skip

    def next_rao(self, times: FloatArray) -> IntArray:
        """Index of the first RAO at or after each time."""
        raos = np.ceil((times - self.offset) / self.period - 1e-9)
        return np.maximum(raos, 0).astype(np.int64)

    def rao_time(self, rao: IntArray) -> FloatArray:
        return np.asarray(rao * self.period + self.offset, dtype=float)

    def window_open(self, t: FloatArray) -> FloatArray:
        return t + self.preamble_ms + self.preamble_processing

    def no_grant_end(self, t: FloatArray) -> FloatArray:
        """When a terminal that got no grant starts its backoff."""
        if self.no_grant_wait is None:  # the end of the RAR window, summed term by term
            return t + self.preamble_ms + self.preamble_processing + self.window
        return t + self.no_grant_wait

    def first_msg3(self, t: FloatArray, rank: IntArray) -> FloatArray:
        """Start of the first Msg3 of the grant of rank `rank` in the RAO at `t`."""
        return (t + self.preamble_ms + self.preamble_processing + self.rar_ms
                + self.rar_processing + rank // self.grants_per_subframe)  # fmt: skip

    def rar_listening(self, rank: IntArray) -> FloatArray:
        """From the window's opening to the end of the RAR of the grant of rank `rank`."""
        return np.asarray(rank // self.grants_per_subframe + self.rar_ms, dtype=float)


class _Cell:
    """One cell's terminals; RAOs are processed in blocks.

    A failed attempt cannot come back before the shortest earliest retry of all levels
    has passed (the RAR window and backoff, or the contention-resolution timer, or the
    barring time lie in between), so RAOs closer together than that do not interact and
    are processed together as arrays: fewer, larger NumPy operations, with exactly the
    outcome of one RAO at a time.  A block is a window of time, `width` ms long: with one
    level, `block` whole RAO periods from the first RAO (the retry lands on the first RAO
    after its earliest time, so whole periods are as safe); with several, the shortest
    earliest retry itself, less a margin for rounding.
    """

    def __init__(self, arrivals: FloatArray, procedure: Procedure, rng: np.random.Generator,
                 period_s: float, start_level: IntArray) -> None:  # fmt: skip
        p = procedure
        self.p = p
        self.rng = rng
        self.levels = [_Level(i, lv, p, period_s) for i, lv in enumerate(p.levels)]
        n = len(arrivals)
        self.level = start_level.copy()
        self.transmissions = np.zeros(n, dtype=np.int64)
        self.level_transmissions = np.zeros((n, len(self.levels)), dtype=np.int64)
        self.success = np.zeros(n, dtype=bool)
        self.delay = np.full(n, np.nan)
        self.collided = np.zeros(n, dtype=bool)
        self.steps = np.zeros((n, len(STEPS)))
        self.cleared = np.full(n, p.acb_factor >= 1.0)  # passed access barring
        self.periods = np.array([lv.period for lv in self.levels])
        self.offsets = np.array([lv.offset for lv in self.levels])
        self.buckets: dict[int, list[tuple[IntArray, IntArray]]] = {}
        self.heap: list[int] = []
        self.uniform = _UniformStream(rng)
        self.completed: list[tuple[int, IntArray, IntArray, FloatArray, FloatArray,
                                   FloatArray]] = []  # fmt: skip
        self.counts = {"transmissions": 0, "collided_transmissions": 0, "collided_preambles": 0}
        self.msg3_lost = p.harq_retransmission_probability**p.max_msg3_msg4_transmissions
        k = np.arange(p.max_preamble_transmissions + 2, dtype=float)
        self.detect = 1.0 - np.exp(-k)  # on the k-th preamble transmission
        if p.detection == "certain":
            self.detect[1:] = 1.0
        self.detect[0] = 0.0
        earliest_retry = min(lv.earliest_retry for lv in self.levels)
        if p.acb_factor < 1.0:
            earliest_retry = min(earliest_retry, 0.7 * p.acb_time_s * 1000.0)
        first = self.levels[0]
        self.single = len(self.levels) == 1
        if self.single:
            # a retry ready e ms after its RAO lands ceil(e / period) RAOs later at the
            # earliest; a shorter block is as exact, so it is capped to bound the arrays
            spans = math.ceil(earliest_retry / first.period - 1e-9)
            self.block = max(1, min(spans, _MAX_BLOCK))
            self.width = self.block * first.period
            self.base = first.offset
        else:
            # RAO times are rounded and the next RAO may lie 1e-9 periods before its time
            # (`_Level.next_rao`): the margin keeps every retry in a later block
            width = earliest_retry * (1 - 1e-6) - 1e-5 * max(1.0, float(self.periods.max()))
            width = width if width > 0 else earliest_retry / 2
            self.width = min(width, _MAX_BLOCK * float(self.periods.min()))
            self.block = 0
            self.base = 0.0
        self.current = -1
        self.start_ms = np.zeros(n)
        raos = np.zeros(n, dtype=np.int64)
        for lv in self.levels:
            mine = self.level == lv.index
            raos[mine] = lv.next_rao(arrivals[mine])
            self.start_ms[mine] = lv.rao_time(raos[mine])
        self._schedule(np.arange(n), raos)

    def _times(self, devices: IntArray, raos: IntArray) -> FloatArray:
        """Time of each terminal's RAO on its level."""
        if self.single:
            return self.levels[0].rao_time(raos)
        level = self.level[devices]
        return np.asarray(raos * self.periods[level] + self.offsets[level], dtype=float)

    def _blocks(self, devices: IntArray, raos: IntArray) -> IntArray:
        if self.single:
            return raos // self.block
        return np.floor((self._times(devices, raos) - self.base) / self.width).astype(np.int64)

    def _schedule(self, devices: IntArray, raos: IntArray) -> None:
        """File terminals (at their current level) under the block of their next RAO."""
        if len(devices) == 0:
            return
        blocks = self._blocks(devices, raos)
        low, high = int(blocks.min()), int(blocks.max())
        if low == high:  # all in one block
            self._file(low, devices, raos)
            return
        if high - low <= 8:  # a few blocks (a backoff spans a few): masks beat sorting
            for block in range(low, high + 1):
                mask = blocks == block
                if mask.any():
                    self._file(block, devices[mask], raos[mask])
            return
        order = np.argsort(blocks, kind="stable")
        blocks, devices, raos = blocks[order], devices[order], raos[order]
        keys, starts = np.unique(blocks, return_index=True)
        bounds = [*starts.tolist(), len(blocks)]
        for position, key in enumerate(keys.tolist()):
            part = slice(bounds[position], bounds[position + 1])
            self._file(key, devices[part], raos[part])

    def _file(self, block: int, devices: IntArray, raos: IntArray) -> None:
        if block <= self.current:  # would break the independence of a block's RAOs
            raise AssertionError(f"retry filed into block {block} while at {self.current}")
        if block not in self.buckets:
            self.buckets[block] = []
            heapq.heappush(self.heap, block)
        self.buckets[block].append((devices, raos))

    def _retry(self, devices: IntArray, ready_ms: FloatArray, idle_ms: FloatArray,
               lv: _Level) -> None:  # fmt: skip
        """Back off, then the next RAO (on the next level after the level's last attempt);
        or give up after the last preamble transmission.  `ready_ms`: when the backoff
        starts; `idle_ms`: when the radio went quiet (the wait counts from there)."""
        if len(devices) == 0:
            return
        p = self.p
        keep = self.transmissions[devices] < p.max_preamble_transmissions
        if not keep.all():
            devices, ready_ms, idle_ms = devices[keep], ready_ms[keep], idle_ms[keep]
        backoff = self.uniform.take(len(devices)) * p.backoff_indicator_ms
        ready = ready_ms + backoff
        if lv.index + 1 < len(self.levels):
            up = self.level_transmissions[devices, lv.index] >= lv.max_attempts
            if up.any():
                self.level[devices[up]] = lv.index + 1
                after = self.levels[lv.index + 1]
                raos = np.empty(len(devices), dtype=np.int64)
                raos[up] = after.next_rao(ready[up])
                raos[~up] = lv.next_rao(ready[~up])
                self.steps[devices, WAIT] += self._times(devices, raos) - idle_ms
                self._schedule(devices, raos)
                return
        raos = lv.next_rao(ready)
        self.steps[devices, WAIT] += lv.rao_time(raos) - idle_ms
        self._schedule(devices, raos)

    def _take(self, block: int) -> tuple[IntArray, IntArray]:
        """Terminals contending in the RAOs of a block, with their RAO."""
        parts = self.buckets.pop(block)
        if len(parts) == 1:
            return parts[0]
        devices, raos = zip(*parts, strict=True)
        return np.concatenate(devices), np.concatenate(raos)

    def _opportunities(self, block: int) -> None:
        p = self.p
        devices, raos = self._take(block)
        self.current = block
        if p.acb_factor < 1.0:
            new = ~self.cleared[devices]
            if new.any():
                passed = self.uniform.take(int(new.sum())) < p.acb_factor
                checked, checked_raos = devices[new], raos[new]
                self.cleared[checked[passed]] = True
                barred = ~passed
                wait = (0.7 + 0.6 * self.uniform.take(int(barred.sum()))) * p.acb_time_s * 1000.0
                barred_devices, barred_raos = checked[barred], checked_raos[barred]
                now = self._times(barred_devices, barred_raos)
                later = np.empty(len(barred_devices), dtype=np.int64)
                level = self.level[barred_devices]
                for lv in self.levels:  # barred terminals stay at their level
                    mine = level == lv.index
                    later[mine] = np.maximum(lv.next_rao(now[mine] + wait[mine]),
                                             barred_raos[mine] + 1)  # fmt: skip
                self.steps[barred_devices, WAIT] += self._times(barred_devices, later) - now
                self._schedule(barred_devices, later)
                keep = self.cleared[devices]
                devices, raos = devices[keep], raos[keep]
        if len(devices) == 0:
            return
        if self.single:
            self._attempts(self.levels[0], devices, raos)
            return
        level = self.level[devices]
        for lv in self.levels:
            mine = level == lv.index
            if mine.any():
                self._attempts(lv, devices[mine], raos[mine])

    def _attempts(self, lv: _Level, devices: IntArray, raos: IntArray) -> None:
        """The preambles of one level's RAOs in a block, and what follows from them."""
        p = self.p
        n = len(devices)
        lv.last_used = max(lv.last_used, int(raos.max()))
        t = lv.rao_time(raos)
        k = self.transmissions[devices] + 1
        self.transmissions[devices] = k
        self.level_transmissions[devices, lv.index] += 1
        self.steps[devices, PREAMBLE] += lv.preamble_ms
        local = raos - (int(raos.min()) if not self.single else self.current * self.block)
        rows = int(local.max()) + 1
        # a preamble is (RAO in the block, occasion x preamble index)
        draws = self.uniform.take(2 * n)
        preamble = local * lv.domain + (draws[:n] * lv.domain).astype(np.int64)
        chosen = np.bincount(preamble, minlength=rows * lv.domain)
        collided = chosen[preamble] > 1
        self.counts["transmissions"] += n
        self.counts["collided_transmissions"] += int(collided.sum())
        self.counts["collided_preambles"] += int((chosen > 1).sum())
        self.collided[devices[collided]] = True
        heard = draws[n:] < self.detect[k]
        failed = np.ones(n, dtype=bool)
        if p.collisions == "undetected":
            candidates = np.flatnonzero(~collided & heard)
            granted, rank = self._grant(lv, candidates, local[candidates])
            failed[granted] = False
        else:
            # a collided preamble is heard as one: it takes one grant for all its terminals
            heard_preambles = np.unique(preamble[heard | collided])
            winners, rank_of = self._grant(lv, heard_preambles, heard_preambles // lv.domain)
            slot = np.full(rows * lv.domain, -1)
            slot[winners] = rank_of
            rank_all = slot[preamble]
            got = rank_all >= 0
            failed[got] = False
            granted = np.flatnonzero(got & ~collided)
            rank = rank_all[granted]
            contenders = np.flatnonzero(got & collided)
            if len(contenders):
                # one Msg3 each, then the timer runs out: all of them fail
                who, their_rank = devices[contenders], rank_all[contenders]
                self.steps[who, RAR] += lv.rar_listening(their_rank)
                msg3 = lv.first_msg3(t[contenders], their_rank)
                expiry = msg3 + lv.timer_start + lv.timer
                self.steps[who, MSG3] += lv.msg3_ms
                self.steps[who, MSG4] += np.maximum(expiry - (msg3 + lv.msg3_ms), 0.0)
                self._retry(who, expiry, expiry, lv)
        # no grant: listened to the whole window, cut at the no-grant wait
        ended = lv.no_grant_end(t[failed])
        opened = lv.window_open(t[failed])
        listened = np.clip(np.minimum(opened + lv.window, ended) - opened, 0.0, None)
        losers = devices[failed]
        self.steps[losers, RAR] += listened
        # the radio goes quiet at the end of the listening, or at the no-grant wait when
        # that ends before the window even opens
        self._retry(losers, ended, np.minimum(opened + listened, ended), lv)
        if len(granted):
            self.steps[devices[granted], RAR] += lv.rar_listening(rank)
            self._complete(lv, devices[granted], rank, t[granted])

    def _grant(self, lv: _Level, candidates: IntArray, rao_of: IntArray
               ) -> tuple[IntArray, IntArray]:  # fmt: skip
        """At most the level's grants per RAO to the candidates, in random order: the
        candidates granted, and each one's rank in its RAO's RAR window."""
        if len(candidates) == 0:
            return candidates, candidates
        order = np.lexsort((self.uniform.take(len(candidates)), rao_of))
        sorted_rao = rao_of[order]
        rank = np.arange(len(order)) - np.searchsorted(sorted_rao, sorted_rao, side="left")
        keep = rank < lv.grants
        return candidates[order[keep]], rank[keep]

    def _complete(self, lv: _Level, devices: IntArray, rank: IntArray, t: FloatArray) -> None:
        """Msg3 and Msg4 with HARQ for granted terminals.

        Whether each message gets through is decided now (a failure means a retry); the
        number of HARQ transmissions, and so the delay, of the successes is worked out at
        the end from the same draws (`_finish`): it changes no one else's fate.
        """
        p = self.p
        n = len(devices)
        draws = 1.0 - self.uniform.take(2 * n)  # in (0, 1]
        msg3, msg4 = draws[:n], draws[n:]
        ok = (msg3 > self.msg3_lost) & (msg4 > lv.msg4_lost)
        if ok.all():
            self.completed.append((lv.index, devices, rank, t, msg3, msg4))
            return
        self.completed.append((lv.index, devices[ok], rank[ok], t[ok], msg3[ok], msg4[ok]))
        lost = ~ok
        # the terminal notices when the contention-resolution timer after its last Msg3
        # expires, listening for Msg4 from the end of that Msg3
        who = devices[lost]
        sends3 = np.minimum(self._sends(msg3[lost]), p.max_msg3_msg4_transmissions)
        last_msg3 = lv.first_msg3(t[lost], rank[lost]) + (sends3 - 1) * lv.rtt3
        expiry = last_msg3 + lv.timer_start + lv.timer
        self.steps[who, MSG3] += sends3 * lv.msg3_ms
        self.steps[who, MSG4] += np.maximum(expiry - (last_msg3 + lv.msg3_ms), 0.0)
        self._retry(who, expiry, expiry, lv)

    def _sends(self, draw: FloatArray) -> IntArray:
        """HARQ transmissions until the first success, from a uniform draw in (0, 1]."""
        q = self.p.harq_retransmission_probability
        if q == 0.0:
            return np.ones(len(draw), dtype=np.int64)
        return 1 + np.floor(np.log(draw) / math.log(q)).astype(np.int64)

    def _finish(self) -> None:
        """Delays and Msg3/Msg4 times of the successful terminals."""
        for lv in self.levels:
            parts = [part[1:] for part in self.completed if part[0] == lv.index]
            if not parts:
                continue
            devices, rank, t, msg3, msg4 = (
                np.concatenate(part) for part in zip(*parts, strict=True)
            )
            sends3, sends4 = self._sends(msg3), self._sends(msg4)
            msg4_start = lv.first_msg3(t, rank) + (sends3 - 1) * lv.rtt3 + lv.msg3_ms
            done = (msg4_start + lv.request_processing + lv.msg4_ms
                    + (sends4 - 1) * lv.rtt4)  # fmt: skip
            self.success[devices] = True
            self.delay[devices] = done - self.start_ms[devices]
            self.steps[devices, MSG3] += sends3 * lv.msg3_ms
            self.steps[devices, MSG4] += done - msg4_start

    def _process(self, env: simpy.Environment):  # type: ignore[no-untyped-def]
        while self.heap:
            block = heapq.heappop(self.heap)
            yield env.timeout(max(block * self.width + self.base - env.now, 0.0))
            self._opportunities(block)

    def run(self) -> AccessOutcome:
        env = simpy.Environment()
        env.process(self._process(env))
        env.run()
        self._finish()
        first = self.levels[0]
        return AccessOutcome(
            success=self.success,
            transmissions=self.transmissions,
            delay_ms=self.delay,
            collided=self.collided,
            preamble_transmissions=self.counts["transmissions"],
            collided_transmissions=self.counts["collided_transmissions"],
            collided_preambles=self.counts["collided_preambles"],
            opportunities_in_period=first.period_raos,
            opportunities=max(first.period_raos, first.last_used + 1),
            preambles=first.preambles,
            final_level=self.level,
            level_transmissions=self.level_transmissions,
            step_ms=self.steps,
            preamble_opportunities=sum(
                lv.domain * max(lv.period_raos, lv.last_used + 1) for lv in self.levels
            ),
        )


class _UniformStream:
    """Uniform draws in [0, 1) taken from the generator in large chunks (fewer calls)."""

    def __init__(self, rng: np.random.Generator, chunk: int = 1 << 15) -> None:
        self.rng, self.chunk = rng, chunk
        self.buffer = rng.random(chunk)
        self.position = 0

    def take(self, count: int) -> FloatArray:
        if self.position + count > len(self.buffer):
            rest = self.buffer[self.position :]
            self.buffer = np.concatenate([rest, self.rng.random(max(self.chunk, count))])
            self.position = 0
        draws = self.buffer[self.position : self.position + count]
        self.position += count
        return draws
