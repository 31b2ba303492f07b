"""The access layer: contention-based random access in one cell, as evaluated in 3GPP TR 37.868.

A terminal with a report to send transmits a preamble at the next random-access
opportunity (RAO), then goes through the four messages of the procedure:

1. **Msg1**: a preamble chosen uniformly among the contention preambles.  A preamble chosen
   by two or more terminals in the same RAO is not detected (all of them fail this attempt);
   a preamble chosen by one terminal is detected with probability 1 - e^(-k) on its k-th
   transmission (``detection="tr37868"``; ``"certain"`` for an ideal receiver).
2. **Msg2**: at most ``grants_per_rao`` detected preambles get an uplink grant (random
   order), the rest fail this attempt.  The i-th grant goes out in subframe
   i // grants_per_subframe of the RAR window.  By default ``grants_per_rao`` is
   ``grants_per_subframe x rar_window_ms``: 3 per subframe over the 5-subframe window, 15.
3. **Msg3/Msg4** with HARQ: each transmission fails with ``harq_retransmission_probability``
   and is repeated after the round-trip time (8 ms / 5 ms) up to
   ``max_msg3_msg4_transmissions`` times; if either runs out, the terminal notices when the
   contention-resolution timer (48 ms from its last Msg3) expires.
4. A failed attempt is retried after a backoff uniform in [0, BI] ms at the next RAO:
   ``no_grant_wait_ms`` after its RAO for a preamble that got no grant (by default the end
   of the RAR window, t + 1 + 2 + 5 ms), after the contention-resolution timer otherwise.
   After ``max_preamble_transmissions`` failed attempts the terminal gives up.

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

Access class barring (``acb_factor`` < 1) is checked once per report before the first
preamble: a barred terminal waits (0.7 + 0.6 U) x ``acb_time_s`` and checks again.  The
access delay counts from the first RAO after the report was ready, so time spent barred
counts.

The simulation is event-driven over opportunities (SimPy): all terminals contending in an
RAO are processed together as arrays, with exact per-terminal state.  Times are in ms.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import simpy
from numpy.typing import NDArray

from sim.access.procedure import Procedure

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

_MAX_BLOCK = 4096
"""RAOs processed together at most: arrays of up to 4096 x 64 preambles (2 MiB each)."""


@dataclass(frozen=True)
class AccessOutcome:
    """What happened to every terminal in one cell over one run."""

    success: BoolArray
    transmissions: IntArray
    """Preamble transmissions of each terminal (successful or not)."""
    delay_ms: FloatArray
    """First usable RAO to Msg4 for successful terminals, ms; NaN otherwise."""
    collided: BoolArray
    """Whether the terminal's preamble collided at least once."""
    preamble_transmissions: int
    collided_transmissions: int
    collided_preambles: int
    """Preambles chosen by two or more terminals in the same RAO, over every RAO."""
    opportunities_in_period: int
    """RAOs in the traffic period."""
    opportunities: int
    """RAOs from the first of the traffic period to the later of its last and the last one a
    terminal used: the RAOs `collided_preambles` were counted over."""
    preambles: int

    @property
    def devices(self) -> int:
        return len(self.success)


def simulate_cell(
    arrivals_ms: FloatArray,
    procedure: Procedure,
    rng: np.random.Generator,
    period_s: float,
) -> AccessOutcome:
    """Run the random-access procedure for terminals that become ready at `arrivals_ms`.

    `period_s` is the traffic period: collisions per opportunity are counted over its RAOs,
    and over the RAOs after it up to the last one used when retries or barring run past it.
    """
    return _Cell(np.asarray(arrivals_ms, dtype=float), procedure, rng, period_s).run()


class _Cell:
    """One cell's terminals; RAOs are processed in blocks of `block` consecutive RAOs.

    A failed attempt cannot come back before `block` RAOs have passed (the RAR window and
    backoff, or the contention-resolution timer, or the barring time lie in between), so
    the RAOs of a block do not interact and are processed together as arrays: fewer,
    larger NumPy operations, with exactly the outcome of one RAO at a time.
    """

    def __init__(self, arrivals: FloatArray, procedure: Procedure, rng: np.random.Generator,
                 period_s: float) -> None:  # fmt: skip
        p = procedure
        self.p = p
        self.rng = rng
        n = len(arrivals)
        self.transmissions = np.zeros(n, dtype=np.int64)
        self.success = np.zeros(n, dtype=bool)
        self.delay = np.full(n, np.nan)
        self.collided = np.zeros(n, dtype=bool)
        self.cleared = np.full(n, p.acb_factor >= 1.0)  # passed access barring
        first_rao = self._next_rao(arrivals)
        self.start_ms = self._rao_time(first_rao)
        self.buckets: dict[int, list[tuple[IntArray, IntArray]]] = {}
        self.heap: list[int] = []
        self.uniform = _UniformStream(rng)
        self.completed: list[tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]] = []
        self.counts = {"transmissions": 0, "collided_transmissions": 0, "collided_preambles": 0}
        # HARQ: a message fails when all of its allowed transmissions fail; Msg4 is also
        # limited by the contention-resolution timer counted from the last Msg3
        q = p.harq_retransmission_probability
        msg4_fits = p.max_msg3_msg4_transmissions
        spare = p.contention_resolution_timer_ms - (2 + p.connection_request_processing_ms)
        if spare < 0:  # not even the first Msg4 arrives before the timer expires
            msg4_fits = 0
        elif p.rtt_msg4_ms > 0:
            msg4_fits = min(msg4_fits, int(spare // p.rtt_msg4_ms) + 1)
        self.msg3_lost = q**p.max_msg3_msg4_transmissions
        self.msg4_lost = q**msg4_fits
        self.period_raos = round(period_s * 1000.0 / p.rao_period_ms)
        k = np.arange(p.max_preamble_transmissions + 2, dtype=float)
        self.detect = 1.0 - np.exp(-k)  # on the k-th preamble transmission
        if p.detection == "certain":
            self.detect[1:] = 1.0
        self.detect[0] = 0.0
        # the earliest a terminal can come back: after the RAR window (no grant), after the
        # contention-resolution timer from its first Msg3 (Msg3/Msg4 lost, or a collision
        # in contention mode), or after the shortest barring time
        earliest_retry: float = min(
            p.effective_no_grant_wait_ms,
            2 + p.preamble_processing_ms + p.rar_processing_ms + p.contention_resolution_timer_ms,
        )
        if p.acb_factor < 1.0:
            earliest_retry = min(earliest_retry, 0.7 * p.acb_time_s * 1000.0)
        # a retry ready e ms after its RAO lands ceil(e / period) RAOs later at the earliest;
        # a shorter block is as exact, so it is capped to bound the arrays of a block
        spans = math.ceil(earliest_retry / p.rao_period_ms - 1e-9)
        self.block = max(1, min(spans, _MAX_BLOCK))
        self.current = -1
        self.last_used = -1  # the last RAO in which a terminal sent a preamble
        self._schedule(np.arange(n), first_rao)

    def _next_rao(self, times: FloatArray) -> IntArray:
        """Index of the first RAO at or after each time."""
        p = self.p
        raos = np.ceil((times - p.rao_offset_ms) / p.rao_period_ms - 1e-9)
        return np.maximum(raos, 0).astype(np.int64)

    def _rao_time(self, rao: IntArray) -> FloatArray:
        return np.asarray(rao * self.p.rao_period_ms + self.p.rao_offset_ms, dtype=float)

    def _schedule(self, devices: IntArray, raos: IntArray) -> None:
        """File terminals under the block of their next RAO (blocks are aligned: block b
        holds RAOs b*block .. b*block + block - 1)."""
        if len(devices) == 0:
            return
        blocks = raos // self.block
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

    def _retry(self, devices: IntArray, ready_ms: FloatArray) -> None:
        """Back off, then the next RAO; or give up after the last preamble transmission."""
        if len(devices) == 0:
            return
        p = self.p
        keep = self.transmissions[devices] < p.max_preamble_transmissions
        if not keep.all():
            devices, ready_ms = devices[keep], ready_ms[keep]
        backoff = self.uniform.take(len(devices)) * p.backoff_indicator_ms
        self._schedule(devices, self._next_rao(ready_ms + backoff))

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
                times = self._rao_time(checked_raos[barred]) + wait
                later = np.maximum(self._next_rao(times), checked_raos[barred] + 1)
                self._schedule(checked[barred], later)
                keep = self.cleared[devices]
                devices, raos = devices[keep], raos[keep]
        n = len(devices)
        if n == 0:
            return
        self.last_used = max(self.last_used, int(raos.max()))
        t = self._rao_time(raos)
        k = self.transmissions[devices] + 1
        self.transmissions[devices] = k
        local = raos - block * self.block
        # a preamble is (RAO in the block, preamble index)
        draws = self.uniform.take(2 * n)
        preamble = local * p.preambles + (draws[:n] * p.preambles).astype(np.int64)
        chosen = np.bincount(preamble, minlength=self.block * p.preambles)
        collided = chosen[preamble] > 1
        self.counts["transmissions"] += n
        self.counts["collided_transmissions"] += int(collided.sum())
        self.counts["collided_preambles"] += int((chosen > 1).sum())
        self.collided[devices[collided]] = True
        heard = draws[n:] < self.detect[k]
        failed = np.ones(n, dtype=bool)
        if p.collisions == "undetected":
            candidates = np.flatnonzero(~collided & heard)
            granted, rank = self._grant(candidates, local[candidates])
            failed[granted] = False
        else:
            # a collided preamble is heard as one: it takes one grant for all its terminals
            heard_preambles = np.unique(preamble[heard | collided])
            winners, rank_of = self._grant(heard_preambles, heard_preambles // p.preambles)
            slot = np.full(self.block * p.preambles, -1)
            slot[winners] = rank_of
            rank_all = slot[preamble]
            got = rank_all >= 0
            failed[got] = False
            granted = np.flatnonzero(got & ~collided)
            rank = rank_all[granted]
            contenders = np.flatnonzero(got & collided)
            if len(contenders):
                first_msg3 = self._first_msg3(t[contenders], rank_all[contenders])
                self._retry(devices[contenders], first_msg3 + p.contention_resolution_timer_ms)
        if p.no_grant_wait_ms is None:  # the end of the RAR window, summed term by term as
            # before, so that default results stay bit-identical
            rar_end = t[failed] + 1 + p.preamble_processing_ms + p.rar_window_ms
        else:
            rar_end = t[failed] + p.no_grant_wait_ms
        self._retry(devices[failed], rar_end)
        if len(granted):
            self._complete(devices[granted], rank, t[granted])

    def _grant(self, candidates: IntArray, rao_of: IntArray) -> tuple[IntArray, IntArray]:
        """At most grants_per_rao candidates per RAO, in random order: the candidates
        granted, and each one's rank in its RAO's RAR window."""
        if len(candidates) == 0:
            return candidates, candidates
        order = np.lexsort((self.uniform.take(len(candidates)), rao_of))
        sorted_rao = rao_of[order]
        rank = np.arange(len(order)) - np.searchsorted(sorted_rao, sorted_rao, side="left")
        keep = rank < self.p.effective_grants_per_rao
        return candidates[order[keep]], rank[keep]

    def _complete(self, devices: IntArray, rank: IntArray, t: FloatArray) -> None:
        """Msg3 and Msg4 with HARQ for granted terminals.

        Whether each message gets through is decided now (a failure means a retry); the
        number of HARQ transmissions, and so the delay, of the successes is worked out at
        the end from the same draws (`_finish`): it changes no one else's fate.
        """
        p = self.p
        n = len(devices)
        draws = 1.0 - self.uniform.take(2 * n)  # in (0, 1]
        msg3, msg4 = draws[:n], draws[n:]
        ok = (msg3 > self.msg3_lost) & (msg4 > self.msg4_lost)
        if ok.all():
            self.completed.append((devices, rank, t, msg3, msg4))
            return
        self.completed.append((devices[ok], rank[ok], t[ok], msg3[ok], msg4[ok]))
        lost = ~ok
        # the terminal notices when the contention-resolution timer after its last Msg3 expires
        sends3 = np.minimum(self._sends(msg3[lost]), p.max_msg3_msg4_transmissions)
        last_msg3 = self._first_msg3(t[lost], rank[lost]) + (sends3 - 1) * p.rtt_msg3_ms
        self._retry(devices[lost], last_msg3 + p.contention_resolution_timer_ms)

    def _sends(self, draw: FloatArray) -> IntArray:
        """HARQ transmissions until the first success, from a uniform draw in (0, 1]."""
        q = self.p.harq_retransmission_probability
        if q == 0.0:
            return np.ones(len(draw), dtype=np.int64)
        return 1 + np.floor(np.log(draw) / math.log(q)).astype(np.int64)

    def _first_msg3(self, t: FloatArray, rank: IntArray) -> FloatArray:
        p = self.p
        return (t + 1 + p.preamble_processing_ms + 1 + p.rar_processing_ms
                + rank // p.grants_per_subframe)  # fmt: skip

    def _finish(self) -> None:
        """Delays of the successful terminals."""
        if not self.completed:
            return
        p = self.p
        devices, rank, t, msg3, msg4 = (
            np.concatenate(part) for part in zip(*self.completed, strict=True)
        )
        done = (self._first_msg3(t, rank) + (self._sends(msg3) - 1) * p.rtt_msg3_ms
                + 1 + p.connection_request_processing_ms + 1
                + (self._sends(msg4) - 1) * p.rtt_msg4_ms)  # fmt: skip
        self.success[devices] = True
        self.delay[devices] = done - self.start_ms[devices]

    def _process(self, env: simpy.Environment):  # type: ignore[no-untyped-def]
        while self.heap:
            block = heapq.heappop(self.heap)
            start = block * self.block * self.p.rao_period_ms + self.p.rao_offset_ms
            yield env.timeout(start - env.now)
            self._opportunities(block)

    def run(self) -> AccessOutcome:
        env = simpy.Environment()
        env.process(self._process(env))
        env.run()
        self._finish()
        return AccessOutcome(
            success=self.success,
            transmissions=self.transmissions,
            delay_ms=self.delay,
            collided=self.collided,
            preamble_transmissions=self.counts["transmissions"],
            collided_transmissions=self.counts["collided_transmissions"],
            collided_preambles=self.counts["collided_preambles"],
            opportunities_in_period=self.period_raos,
            opportunities=max(self.period_raos, self.last_used + 1),
            preambles=self.p.preambles,
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
