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
retransmissions every ``rtt_msg4_ms``.  The contention-resolution timer is restarted
with each Msg3 transmission (TS 36.321 5.1.5) and starts in the last 1 ms subframe of the
last Msg3, max(msg3_ms - 1, 0) ms after it starts (an assumption: with a 1 ms Msg3 it is
the TR 37.868 timing, the timer counted from Msg3's subframe; TS 38.321 5.1.5 starts NR's
in the first symbol after Msg3, at most 1 ms later); Msg4 must end before it expires.
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

**How it is computed.**  Every draw an attempt needs is a function of (seed, terminal,
transmission number, purpose), `KeyedDraws`: SplitMix64 at a counter made of those, the
seed taken once from `rng`.  What happens in an RAO then depends only on the set of
attempts in it, never on the order they are processed in, and the outcome of the cell is
the one *consistent table of attempts*: every attempt's outcome is what the attempts in
its RAO make of it, and every chain goes on from its attempts' outcomes.  There is only
one (by induction over time: retries land later, so the attempts in an RAO are fixed by
the outcomes before it).  Time is cut into blocks shorter than the shortest earliest
retry of all levels (the RAR window and backoff, the contention-resolution timer, or the
barring time lie in between), so the RAOs of a block never interact, and the blocks are
taken in time order (a plain loop over a heap of blocks, the order of events of the SimPy
process it replaces without its per-event cost):

* where first attempts come thick (a burst), one block at a time, its RAOs of every level
  together as arrays (`_Cell._step`, the block engine);
* elsewhere a window of many blocks at once (`_Cell._relax`): every chain as if it met no
  one, for all terminals together, one transmission number after the other; then, round
  after round, the outcomes in the RAOs whose attempts changed are recomputed from all
  the attempts in them, and a chain whose attempt's outcome changed is cut there and
  grown again.  Each round fixes at least the earliest RAO still wrong, so it ends, with
  few meetings in a few rounds; a window that would take many is given to the block
  engine, and windows grow while they settle quickly.

Barring touches no one else and is worked out first.  The time of each step is added up
at the end from each terminal's last attempt and its granted ones.  Times are in ms.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.access.procedure import Level, Procedure

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
WordArray = NDArray[np.uint64]

STEPS = ("preamble", "rar", "msg3", "msg4", "wait")
"""The columns of `AccessOutcome.step_ms`: transmit (preamble, msg3), receive (rar, msg4)
and no radio activity (wait)."""

_MAX_BLOCK = 4096
"""RAOs of one level processed together at most (bounds a block's arrays)."""

_DENSE_SHARE = 0.3
"""Share of first attempts that would meet another above which a block goes to the block
engine rather than into a relaxed window (a matter of speed only: both give the same
outcome)."""
_SPAN = 64
"""Blocks around a block over which its load is judged."""
_WINDOW = 64
"""Blocks of the first relaxed window (then grown or shrunk by how it went)."""
_MAX_ROUNDS = 12
"""Rounds of a window's relaxation at most before the block engine takes over."""
_FUSED = 1024
"""Attempts in a block up to which the detection and HARQ draws are made with the
preamble draws (fewer, larger calls; above it only those needed are drawn)."""
_NONE = np.iinfo(np.int64).max

# -- keyed draws -------------------------------------------------------------------------

CHOICE, DETECTION, HARQ, BARRING = 1, 2, 3, 4
"""Purposes of a draw, each a 64-bit word read as two 32-bit uniforms: CHOICE, the
preamble (high) and the backoff (low); DETECTION, detection (high) and the grants' order
(low); HARQ, Msg3 (high) and Msg4 (low); BARRING, the check (high) and the barring time
(low).  The number is the transmission number (1, 2 ...), for BARRING the check (0, 1 ...)."""

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
_UNIT = 2.0**-32
_NUMBER_BITS = 24
"""Bits of the number in a counter: 4 purpose bits, then the number, then the terminal."""
_TERMINAL_SHIFT = 4 + _NUMBER_BITS


class KeyedDraws:
    """Random words as a function of (terminal, number, purpose): SplitMix64 (Steele, Lea
    and Flood, OOPSLA 2014) at counter = terminal x 2^28 + number x 2^4 + purpose, from a
    64-bit seed; each word gives two uniforms in [0, 1) of 32 bits (`high`, `low`), so a
    probability is resolved to 2^-32."""

    def __init__(self, seed: int) -> None:
        self.seed = np.uint64(seed)

    def words(self, counters: WordArray) -> WordArray:
        z = counters * _GAMMA
        z += self.seed
        t = z >> np.uint64(30)
        z ^= t
        z *= _MIX1
        np.right_shift(z, np.uint64(27), out=t)
        z ^= t
        z *= _MIX2
        np.right_shift(z, np.uint64(31), out=t)
        z ^= t
        return z

    def draw(self, terminals: IntArray, number: IntArray | int, purpose: int) -> WordArray:
        """The words of `purpose` for terminals at a number (transmission or check)."""
        counters = (np.asarray(terminals).astype(np.uint64) << np.uint64(_TERMINAL_SHIFT)) | (
            np.asarray(number).astype(np.uint64) << np.uint64(4)
        )
        return self.words(counters | np.uint64(purpose))


def high(words: WordArray) -> FloatArray:
    """The first uniform of each word, in [0, 1)."""
    return (words >> np.uint64(32)).astype(np.float64) * _UNIT


def low(words: WordArray) -> FloatArray:
    """The second uniform of each word, in [0, 1)."""
    return (words & _LOW32).astype(np.float64) * _UNIT


def pick(words: WordArray, count: int) -> IntArray:
    """One of `count` (<= 2^31) uniformly from each word's first uniform."""
    return ((words >> np.uint64(32)) * np.uint64(count) >> np.uint64(32)).astype(np.int64)


# -- a pending attempt, packed in one word (its transmission number where a counter has it,
# so that masking gives the counter of its draws) --------------------------------------

_K = np.uint64(4)  # bits 4-11: transmission number, 1..200
_KL = np.uint64(12)  # bits 12-19: transmission number at its level
_LEVEL = np.uint64(20)  # bits 20-23: level
_TERMINAL = np.uint64(_TERMINAL_SHIFT)
_BYTE = np.uint64(0xFF)
_KEY = np.uint64(((2**64 - 1) >> _TERMINAL_SHIFT << _TERMINAL_SHIFT) | (0xFF << 4))
_NEXT = np.uint64((1 << 4) + (1 << 12))  # the next transmission, at the same level
_LEVEL_FIELDS = np.uint64((2**64 - 1) ^ ((0xFF << 12) | (0xF << 20)))


def _word_draws(draws: KeyedDraws, records: WordArray, purpose: int) -> WordArray:
    return draws.words((records & _KEY) | np.uint64(purpose))


def _terminals(records: WordArray) -> IntArray:
    return (records >> _TERMINAL).astype(np.int64)


def _number(records: WordArray) -> IntArray:
    return ((records >> _K) & _BYTE).astype(np.int64)


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
    """Level at which each terminal succeeded or gave up."""
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
    all 0).  One 64-bit seed is taken from `rng`.  ValueError for a start level that is not
    one of the procedure's levels.
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
    seed = int(rng.integers(0, 2**64, dtype=np.uint64))
    return _Cell(arrivals, procedure, KeyedDraws(seed), period_s, start).run()


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
        self.alone_cap = min(self.grants_per_subframe, self.grants)
        """Attempts an RAO can hold with none touching another's fate (all granted in the
        first slot) if no two chose the same preamble."""
        self.no_grant_wait = level.effective_no_grant_wait_ms
        self.preamble_ms = level.preamble_ms
        self.window = level.rar_window_ms
        self.rar_ms = level.rar_ms
        self.msg3_ms = level.msg3_ms
        self.request_processing = level.connection_request_processing_ms
        self.msg4_ms = level.msg4_ms
        self.timer = level.contention_resolution_timer_ms
        self.timer_start = max(level.msg3_ms - 1.0, 0.0)  # after the last Msg3 starts
        self.rtt3 = level.rtt_msg3_ms
        self.rtt4 = level.rtt_msg4_ms
        self.to_msg3 = (level.preamble_ms + level.preamble_processing_ms + level.rar_ms
                        + level.rar_processing_ms)  # fmt: skip
        """From the RAO to the first Msg3 of a grant in the first slot."""
        # no grant: the RAR window, cut at the no-grant wait; the radio goes quiet at the
        # end of the listening, or at the no-grant wait when that comes before the window
        opens = level.preamble_ms + level.preamble_processing_ms
        self.listen = min(max(min(opens + self.window, self.no_grant_wait) - opens, 0.0),
                          float(self.window))  # fmt: skip
        self.quiet = min(opens + self.listen, self.no_grant_wait)
        """From the RAO to the end of a no-grant attempt's radio activity."""
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
        self.msg4_lost = procedure.harq_retransmission_probability**fits
        self.period_raos = round(period_s * 1000.0 / self.period)
        # the earliest a terminal can come back: after the RAR window (no grant), or after
        # the contention-resolution timer from its first Msg3 (Msg3/Msg4 lost, or a
        # collision in contention mode)
        self.earliest_retry: float = min(self.no_grant_wait,
                                         self.to_msg3 + self.timer_start + self.timer)  # fmt: skip

    def next_rao(self, times: FloatArray) -> IntArray:
        """Index of the first RAO at or after each time."""
        raos = np.ceil((times - self.offset) / self.period - 1e-9)
        return np.maximum(raos, 0).astype(np.int64)

    def rao_time(self, rao: IntArray) -> FloatArray:
        return np.asarray(rao * self.period + self.offset, dtype=float)


class _Rows:
    """Attempts as parallel arrays: the record, the RAO, the outcome code (the grant's
    slot >= 0; -1 no grant; -2 - slot a collided preamble's grant in contention mode),
    whether it collided, and whether it was the terminal's last."""

    def __init__(self, records: WordArray, raos: IntArray, code: IntArray, hit: BoolArray,
                 last: BoolArray) -> None:  # fmt: skip
        self.records, self.raos, self.code, self.hit, self.last = records, raos, code, hit, last

    @staticmethod
    def join(parts: list[_Rows]) -> _Rows:
        if not parts:
            return _Rows(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64),
                          np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool),
                          np.zeros(0, dtype=bool))  # fmt: skip
        if len(parts) == 1:
            return parts[0]
        return _Rows(*(np.concatenate([getattr(part, name) for part in parts])
                       for name in ("records", "raos", "code", "hit", "last")))  # fmt: skip

    def take(self, index: IntArray | BoolArray | slice) -> _Rows:
        return _Rows(self.records[index], self.raos[index], self.code[index], self.hit[index],
                     self.last[index])  # fmt: skip


def _level_of(records: WordArray) -> IntArray:
    return ((records >> _LEVEL) & np.uint64(0xF)).astype(np.int64)


class _Cell:
    """One cell's terminals: their barring, the table of attempts (relaxed to the exact
    outcome) or the block engine, and the accounting of every terminal's time."""

    def __init__(self, arrivals: FloatArray, procedure: Procedure, draws: KeyedDraws,
                 period_s: float, start_level: IntArray) -> None:  # fmt: skip
        p = procedure
        self.p = p
        self.draws = draws
        self.levels = [_Level(i, lv, p, period_s) for i, lv in enumerate(p.levels)]
        n = len(arrivals)
        self.n = n
        self.start_level = start_level
        self.q = p.harq_retransmission_probability
        self.msg3_lost = self.q**p.max_msg3_msg4_transmissions
        k = np.arange(p.max_preamble_transmissions + 2, dtype=float)
        self.detect = 1.0 - np.exp(-k)  # on the k-th preamble transmission
        if p.detection == "certain":
            self.detect[1:] = 1.0
        self.detect[0] = 0.0
        self.periods = np.array([lv.period for lv in self.levels])
        self.offsets = np.array([lv.offset for lv in self.levels])
        self.single = len(self.levels) == 1
        earliest_retry = min(lv.earliest_retry for lv in self.levels)
        if p.acb_factor < 1.0:
            earliest_retry = min(earliest_retry, 0.7 * p.acb_time_s * 1000.0)
        first = self.levels[0]
        if self.single:
            # a retry ready e ms after its RAO lands ceil(e / period) RAOs later at the
            # earliest; a shorter block is as exact, so it is capped to bound the arrays
            spans = math.ceil(earliest_retry / first.period - 1e-9)
            self.block = max(1, min(spans, _MAX_BLOCK))
            self.width = self.block * first.period
        else:
            # RAO times are rounded and the next RAO may lie 1e-9 periods before its time
            # (`_Level.next_rao`): the margin keeps every retry in a later block
            width = earliest_retry * (1 - 1e-6) - 1e-5 * max(1.0, float(self.periods.max()))
            width = width if width > 0 else earliest_retry / 2
            self.width = min(width, _MAX_BLOCK * float(self.periods.min()))
            self.block = 0
        # the first RAO at or after the arrival, at the start level; then barring
        first_rao = np.zeros(n, dtype=np.int64)
        for lv in self.levels:
            mine = start_level == lv.index
            first_rao[mine] = lv.next_rao(arrivals[mine])
        self.start_ms = self._times(start_level, first_rao)
        self.attempt_rao = self._barring(first_rao)
        self.counts = {"collided_transmissions": 0, "collided_preambles": 0}
        self.used = [-1] * len(self.levels)
        self.buckets: dict[int, list[tuple[WordArray, IntArray]]] = {}
        self.heap: list[int] = []
        self.current = -1
        self.kept: list[_Rows] = []  # granted attempts and each terminal's last
        self.collided = np.zeros(n, dtype=bool)  # collided at least once
        self.scratch = np.full(n, _NONE)  # per terminal, kept at _NONE between uses
        self.first_records = np.zeros(0, dtype=np.uint64)  # first attempts by block
        self.first_raos = np.zeros(0, dtype=np.int64)
        self.first_blocks = np.zeros(0, dtype=np.int64)
        self.first_taken = 0

    # -- times and records ---------------------------------------------------------------

    def _times(self, level: IntArray, raos: IntArray) -> FloatArray:
        """Time of each RAO on its level."""
        if self.single:
            return self.levels[0].rao_time(raos)
        return np.asarray(raos * self.periods[level] + self.offsets[level], dtype=float)

    def _first_records(self) -> WordArray:
        """Each terminal's first attempt: transmission 1, 1 at its start level."""
        terminals = np.arange(self.n, dtype=np.uint64)
        level = self.start_level.astype(np.uint64)
        return ((terminals << _TERMINAL) | (level << _LEVEL)
                | np.uint64((1 << 4) | (1 << 12)))  # fmt: skip

    def _barring(self, raos: IntArray) -> IntArray:
        """The RAO of each terminal's first preamble: access class barring is checked at
        the RAOs before it, with draws of its own (it touches no one else)."""
        p = self.p
        raos = raos.copy()
        if p.acb_factor >= 1.0:
            return raos
        active = np.arange(self.n)
        check = 0
        while len(active):
            if check >= 2**_NUMBER_BITS:
                raise ValueError(f"acb_factor={p.acb_factor!r} bars terminals for more than "
                                 f"{2**_NUMBER_BITS:,} checks; give a larger one")  # fmt: skip
            words = self.draws.draw(active, check, BARRING)
            barred = high(words) >= p.acb_factor
            active = active[barred]
            wait = (0.7 + 0.6 * low(words[barred])) * p.acb_time_s * 1000.0
            level = self.start_level[active]
            now = self._times(level, raos[active])
            for lv in self.levels:  # barred terminals stay at their level
                mine = level == lv.index
                raos[active[mine]] = np.maximum(lv.next_rao(now[mine] + wait[mine]),
                                                raos[active[mine]] + 1)  # fmt: skip
            check += 1
        return raos

    # -- one RAO's attempts, and what follows ---------------------------------------------

    def _evaluate(self, lv: _Level, records: WordArray, local: IntArray
                  ) -> tuple[IntArray, BoolArray, int, FloatArray, WordArray | None]:  # fmt: skip
        """The outcome codes of attempts in RAOs of one level (`local`: the RAO of each,
        numbered from 0 and compact), whether each collided, the collided preambles, each
        attempt's backoff uniform, and its HARQ words when they were drawn with the rest."""
        n = len(records)
        keyed = records & _KEY
        if n <= _FUSED:  # small: one call for all purposes beats more calls on subsets
            words = self.draws.words(np.concatenate([keyed | np.uint64(CHOICE),
                                                     keyed | np.uint64(DETECTION),
                                                     keyed | np.uint64(HARQ)]))  # fmt: skip
            choice, every_detection, harq = words[:n], words[n : 2 * n], words[2 * n :]
        else:
            choice, every_detection = self.draws.words(keyed | np.uint64(CHOICE)), None
            harq = None
        preamble = pick(choice, lv.domain)
        backoff = low(choice)
        key = local * lv.domain + preamble
        chosen = np.bincount(key)
        hit = chosen[key] > 1
        many = int(np.count_nonzero(hit))
        crowded = int(np.count_nonzero(chosen > 1)) if many else 0
        code = np.full(n, -1, dtype=np.int64)
        contention = self.p.collisions == "contention"
        if contention or not many:
            looked = np.arange(n)
            detection = (every_detection if every_detection is not None
                         else self.draws.words(keyed | np.uint64(DETECTION)))  # fmt: skip
            numbers = (keyed >> _K) & _BYTE
        else:
            looked = np.flatnonzero(~hit)
            detection = (every_detection[looked] if every_detection is not None
                         else self.draws.words(keyed[looked] | np.uint64(DETECTION)))  # fmt: skip
            numbers = (keyed[looked] >> _K) & _BYTE
        heard = high(detection) < self.detect[numbers]
        if not contention:
            candidates = looked[heard]
            chosen_ones, rank = self._grant(lv, local[candidates], low(detection[heard]),
                                            records[candidates])  # fmt: skip
            code[candidates[chosen_ones]] = rank // lv.grants_per_subframe
            return code, hit, crowded, backoff, harq
        # a collided preamble is heard as one: it takes one grant for all its terminals,
        # in the order of the draw of its lowest-numbered terminal
        together = np.flatnonzero(hit)
        if len(together):
            by_key = together[np.lexsort((records[together], key[together]))]
            firsts = by_key[np.r_[True, key[by_key][1:] != key[by_key][:-1]]]
        else:
            firsts = together
        candidates = np.concatenate([np.flatnonzero(~hit & heard), firsts])
        chosen_ones, rank = self._grant(lv, local[candidates], low(detection[candidates]),
                                        records[candidates])  # fmt: skip
        slot_of = np.full(len(chosen), -1)
        slot_of[key[candidates[chosen_ones]]] = rank // lv.grants_per_subframe
        slot = slot_of[key]
        code = np.where(slot < 0, -1, np.where(hit, -2 - slot, slot))
        return code, hit, crowded, backoff, harq

    def _grant(self, lv: _Level, rao_of: IntArray, order_key: FloatArray,
               records: WordArray) -> tuple[IntArray, IntArray]:  # fmt: skip
        """At most the level's grants per RAO, in the order of each candidate's draw (ties,
        of probability 2^-32, by terminal): the candidates granted (positions in the
        input), and each one's rank in its RAO's RAR window."""
        count = len(rao_of)
        if count <= lv.alone_cap:  # all granted, all in the first slot
            return np.arange(count), np.zeros(count, dtype=np.int64)
        order = np.lexsort((records >> _TERMINAL, order_key, rao_of))
        sorted_rao = rao_of[order]
        rank = np.arange(count) - np.searchsorted(sorted_rao, sorted_rao, side="left")
        keep = rank < lv.grants
        return order[keep], rank[keep]

    def _follow(self, lv: _Level, records: WordArray, raos: IntArray, code: IntArray,
                backoff: FloatArray | None = None, harq: WordArray | None = None
                ) -> tuple[BoolArray, WordArray, IntArray]:  # fmt: skip
        """What follows attempts with known outcomes: which go on (the others succeeded or
        gave up), and their next attempts (record, RAO): after a backoff from the end of
        the RAR window (no grant) or the contention-resolution timer (a failed grant), at
        the first RAO at or after it, of the next level after the level's last attempt.
        `backoff`: each attempt's backoff uniform (drawn here if None)."""
        p = self.p
        go_on = ((records >> _K) & _BYTE) < p.max_preamble_transmissions
        special = np.flatnonzero(code != -1)
        wait: FloatArray | None = None  # None: the no-grant wait for all that go on
        if len(special):
            later, ok = self._grants(lv, records[special], code[special],
                                     None if harq is None else harq[special])  # fmt: skip
            go_on[special[ok]] = False
            if not ok.all():  # some failed after a grant: they wait for the timer
                wait = np.full(len(records), lv.no_grant_wait)
                wait[special] = later
        if not go_on.all():
            records, raos = records[go_on], raos[go_on]
            if backoff is not None:
                backoff = backoff[go_on]
            if wait is not None:
                wait = wait[go_on]
        if backoff is None:
            backoff = low(_word_draws(self.draws, records, CHOICE))
        # from the RAO to the end of the backoff
        backoff = backoff * p.backoff_indicator_ms
        wait = backoff + lv.no_grant_wait if wait is None else wait + backoff
        records = records + _NEXT
        # the first RAO at or after t + wait: on the same level, wait / period RAOs on
        nexts = raos + np.ceil(wait / lv.period - 1e-9).astype(np.int64)
        if lv.index + 1 < len(self.levels):
            up = ((records >> _KL) & _BYTE).astype(np.int64) > lv.max_attempts
            if up.any():
                after = self.levels[lv.index + 1]
                records[up] = (records[up] & _LEVEL_FIELDS) | np.uint64(
                    (1 << 12) | (after.index << 20)
                )
                nexts[up] = after.next_rao(lv.rao_time(raos[up]) + wait[up])
        return go_on, records, nexts

    def _grants(self, lv: _Level, records: WordArray, code: IntArray,
                words: WordArray | None = None) -> tuple[FloatArray, BoolArray]:  # fmt: skip
        """Granted attempts: from the RAO to when the contention-resolution timer after
        the last Msg3 expires, and which succeed (Msg3 and Msg4 through within their HARQ
        budget)."""
        contender = code < -1
        if words is None:
            words = _word_draws(self.draws, records, HARQ)
        msg3 = 1.0 - high(words)  # in (0, 1]
        ok = (msg3 > self.msg3_lost) & (1.0 - low(words) > lv.msg4_lost)
        if not contender.any():
            if ok.all():  # all succeed: no retry to time
                return np.zeros(len(records)), ok
        else:
            ok &= ~contender
        slot = np.where(contender, -2 - code, code)
        sends3 = np.where(contender, 1, np.minimum(self._sends(msg3),
                                                   self.p.max_msg3_msg4_transmissions))  # fmt: skip
        later = lv.to_msg3 + slot + (sends3 - 1) * lv.rtt3 + lv.timer_start + lv.timer
        return later, ok

    def _sends(self, draw: FloatArray) -> IntArray:
        """HARQ transmissions until the first success, from a uniform draw in (0, 1]."""
        if self.q == 0.0:
            return np.ones(len(draw), dtype=np.int64)
        return 1 + np.floor(np.log(draw) / math.log(self.q)).astype(np.int64)

    # -- the table of attempts, relaxed to the exact outcome ------------------------------

    def _by_level(self, records: WordArray) -> list[tuple[_Level, IntArray | slice]]:
        if self.single:
            return [(self.levels[0], slice(None))]
        level = _level_of(records)
        return [(lv, np.flatnonzero(level == lv.index)) for lv in self.levels]

    def _chains(self, records: WordArray, raos: IntArray, limit: int | None
                ) -> tuple[_Rows, WordArray, IntArray]:  # fmt: skip
        """Chains from these attempts on, each attempt as if it met no one (heard: a grant
        in the first slot), up to block `limit` (None: to their end); the attempts at or
        after it are returned apart (record, RAO)."""
        parts, exits = [], []
        while len(records):
            if limit is not None:
                out = self._blocks(records, raos) >= limit
                if out.any():
                    exits.append((records[out], raos[out]))
                    records, raos = records[~out], raos[~out]
            following = []
            for lv, mine in self._by_level(records):
                part, at = records[mine], raos[mine]
                if len(part) == 0:
                    continue
                detection = _word_draws(self.draws, part, DETECTION)
                code = np.where(high(detection) < self.detect[_number(part)], 0, -1)
                go_on, after, later = self._follow(lv, part, at, code, None)
                parts.append(_Rows(part, at, code, np.zeros(len(part), dtype=bool), ~go_on))
                following.append((after, later))
            if not following:
                break
            records = np.concatenate([r for r, _ in following])
            raos = np.concatenate([a for _, a in following])
        if not exits:
            return _Rows.join(parts), np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        return (_Rows.join(parts), np.concatenate([r for r, _ in exits]),
                np.concatenate([a for _, a in exits]))  # fmt: skip

    def _keys(self, rows: _Rows) -> IntArray:
        """Each attempt's RAO as one number: RAO x levels + level."""
        if self.single:
            return rows.raos
        return rows.raos * len(self.levels) + _level_of(rows.records)

    def _relax(self, records: WordArray, raos: IntArray, limit: int | None
               ) -> tuple[_Rows, WordArray, IntArray, int] | None:  # fmt: skip
        """The exact table of the attempts from these on, up to block `limit`: chains as if
        alone, then, until nothing changes, the outcome of every attempt in an RAO whose
        attempts changed, recomputed from all the attempts in it; a chain is cut after an
        attempt whose outcome changed and grown again from it.  The RAOs before the
        earliest changed one are final after each round (retries land later), so this
        ends, in the one consistent table: the outcome of one RAO at a time.  Returns the
        table, the attempts after the limit (record, RAO) and the rounds; None if it takes
        more than `_MAX_ROUNDS` (dense traffic)."""
        rows, exit_records, exit_raos = self._chains(records, raos, limit)
        keys = self._keys(rows)
        order = np.argsort(keys, kind="stable")
        rows, keys = rows.take(order), keys[order]
        repeated = np.flatnonzero(keys[1:] == keys[:-1])
        touched = np.unique(keys[repeated])
        for rounds in range(_MAX_ROUNDS):
            if len(touched) == 0:
                return rows, exit_records, exit_raos, rounds
            low_end = np.searchsorted(keys, touched, side="left")
            high_end = np.searchsorted(keys, touched, side="right")
            sizes = high_end - low_end
            inside = np.repeat(low_end - np.cumsum(sizes) + sizes, sizes) + np.arange(
                int(sizes.sum())
            )
            here = rows.take(inside)
            local = np.repeat(np.arange(len(touched)), sizes)  # compact RAO numbers
            code = np.empty(len(inside), dtype=np.int64)
            hit = np.empty(len(inside), dtype=bool)
            for lv, mine in self._by_level(here.records):
                if isinstance(mine, slice) or len(mine):
                    numbered = local[mine]  # ascending: renumber 0, 1 ... without gaps
                    compact = np.zeros(len(numbered), dtype=np.int64)
                    np.cumsum(numbered[1:] != numbered[:-1], out=compact[1:])
                    code[mine], hit[mine], *_ = self._evaluate(lv, here.records[mine], compact)
            rows.hit[inside] = hit
            changed = inside[code != here.code]
            if len(changed) == 0:
                return rows, exit_records, exit_raos, rounds + 1
            rows.code[changed] = code[code != here.code]
            # each terminal's earliest changed attempt: cut its chain after it, grow again
            terminals = _terminals(rows.records[changed])
            earliest = self.scratch
            np.minimum.at(earliest, terminals, _number(rows.records[changed]))
            all_terminals, all_numbers = _terminals(rows.records), _number(rows.records)
            cut = all_numbers > earliest[all_terminals]
            again = np.flatnonzero(earliest[all_terminals] == all_numbers)
            if len(exit_records):
                exits_kept = earliest[_terminals(exit_records)] == _NONE
                exit_records, exit_raos = exit_records[exits_kept], exit_raos[exits_kept]
            earliest[terminals] = _NONE
            gone = keys[cut]
            grown, new_exits = [], [(exit_records, exit_raos)]
            for lv, mine in self._by_level(rows.records[again]):
                rows_lv = again[mine]
                if len(rows_lv) == 0:
                    continue
                go_on, after, later = self._follow(
                    lv, rows.records[rows_lv], rows.raos[rows_lv], rows.code[rows_lv]
                )
                rows.last[rows_lv] = ~go_on
                table, out_records, out_raos = self._chains(after, later, limit)
                grown.append(table)
                new_exits.append((out_records, out_raos))
            exit_records = np.concatenate([r for r, _ in new_exits])
            exit_raos = np.concatenate([a for _, a in new_exits])
            new = _Rows.join(grown)
            new_keys = self._keys(new)
            keep = ~cut
            rows = _Rows.join([rows.take(keep), new])
            keys = np.concatenate([keys[keep], new_keys])
            order = np.argsort(keys, kind="stable")
            rows, keys = rows.take(order), keys[order]
            touched = np.unique(np.concatenate([gone, new_keys]))
        return None

    # -- in time order: the block engine, or windows of sparse blocks relaxed --------------

    def _blocks(self, records: WordArray, raos: IntArray) -> IntArray:
        if self.single:
            return raos // self.block
        level = _level_of(records)
        times = raos * self.periods[level] + self.offsets[level]
        return np.floor(times / self.width).astype(np.int64)

    def _schedule(self, records: WordArray, raos: IntArray) -> None:
        """File attempts under the block of their RAO."""
        if len(records) == 0:
            return
        blocks = self._blocks(records, raos)
        low_block, high_block = int(blocks.min()), int(blocks.max())
        if low_block <= self.current:  # would break the independence of a block's RAOs
            raise AssertionError(f"retry filed into block {low_block} while at {self.current}")
        if low_block == high_block:
            groups = [(low_block, records, raos)]
        else:  # a counting sort by block (radix for 16-bit keys)
            spread = high_block - low_block
            relative = blocks - low_block
            relative = relative.astype(np.uint16) if spread < 2**16 else relative
            order = np.argsort(relative, kind="stable")
            records, raos = records[order], raos[order]
            sizes = np.bincount(relative)
            filled = np.flatnonzero(sizes)
            ends = np.cumsum(sizes)[filled].tolist()
            starts = [0, *ends[:-1]]
            groups = [
                (low_block + int(b), records[a:z], raos[a:z])
                for b, a, z in zip(filled.tolist(), starts, ends, strict=True)
            ]
        for block, part, at in groups:
            if block not in self.buckets:
                self.buckets[block] = []
                heapq.heappush(self.heap, block)
            self.buckets[block].append((part, at))

    def _take(self, below: int) -> tuple[WordArray, IntArray]:
        """The attempts of the blocks before `below`: first attempts (kept sorted by block,
        apart) and the ones filed."""
        parts = []
        end = int(np.searchsorted(self.first_blocks, below, side="left"))
        if end > self.first_taken:
            part = slice(self.first_taken, end)
            parts.append((self.first_records[part], self.first_raos[part]))
            self.first_taken = end
        while self.heap and self.heap[0] < below:
            parts += self.buckets.pop(heapq.heappop(self.heap))
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([r for r, _ in parts]), np.concatenate([a for _, a in parts])

    def _next_block(self) -> int | None:
        """The first block with an attempt to process, if any."""
        filed = self.heap[0] if self.heap else None
        if self.first_taken < len(self.first_blocks):
            first = int(self.first_blocks[self.first_taken])
            return first if filed is None else min(first, filed)
        return filed

    def _step(self, block: int) -> None:
        """The block engine: the RAOs of one block together (none of their attempts can
        come back within it)."""
        records, raos = self._take(block + 1)
        self.current = block
        for lv, mine in self._by_level(records):
            part, at = records[mine], raos[mine]
            if len(part) == 0:
                continue
            base = int(at.min())
            self.used[lv.index] = max(self.used[lv.index], int(at.max()))
            code, hit, crowded, backoff, harq = self._evaluate(lv, part, at - base)
            many = int(np.count_nonzero(hit))
            if many:
                self.counts["collided_transmissions"] += many
                self.counts["collided_preambles"] += crowded
                self.collided[_terminals(part[hit])] = True
            go_on, after, later = self._follow(lv, part, at, code, backoff, harq)
            keep = ~go_on | (code != -1)
            if keep.any():
                self.kept.append(_Rows(part[keep], at[keep], code[keep], hit[keep],
                                       ~go_on[keep]))  # fmt: skip
            self._schedule(after, later)

    def _window(self, start: int, end: int) -> int | None:
        """Blocks start .. end - 1 relaxed together; the rounds it took, None if too many
        (then nothing is changed)."""
        records, raos = self._take(end)
        relaxed = self._relax(records, raos, end)
        if relaxed is None:
            self._schedule(records, raos)  # back where they were
            return None
        rows, exit_records, exit_raos, rounds = relaxed
        self.current = end - 1
        hits = rows.take(rows.hit)
        if len(hits.records):
            self.collided[_terminals(hits.records)] = True
            self.counts["collided_transmissions"] += len(hits.records)
            preambles = np.empty(len(hits.records), dtype=np.int64)
            for lv, mine in self._by_level(hits.records):
                preambles[mine] = pick(_word_draws(self.draws, hits.records[mine], CHOICE),
                                       lv.domain)  # fmt: skip
            self.counts["collided_preambles"] += len(np.unique(self._keys(hits) * 1024
                                                               + preambles))  # fmt: skip
        for lv, mine in self._by_level(rows.records):
            at = rows.raos[mine]
            if len(at):
                self.used[lv.index] = max(self.used[lv.index], int(at.max()))
        self.kept.append(rows.take(rows.last | (rows.code != -1)))
        self._schedule(exit_records, exit_raos)
        return rounds

    def _load(self, keys: IntArray) -> IntArray:
        """For each key, how many times it occurs."""
        if self.single:  # sorted: runs
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            sizes = np.diff(np.r_[starts, len(keys)])
            return np.repeat(sizes, sizes)
        low_key = int(keys.min())
        if int(keys.max()) - low_key <= 4 * len(keys) + 1024:
            return np.bincount(keys - low_key)[keys - low_key]
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        return counts[inverse]

    def _drive(self) -> None:
        """Blocks in time order: one at a time by the block engine where the first
        attempts alone make meetings likely (and as far as their retries reach), else
        windows of blocks relaxed together: a window grows while a few rounds settle it;
        where it takes many, the block engine goes on over as many blocks."""
        first = self._first_records()
        blocks = self._blocks(first, self.attempt_rao)
        low = int(blocks.min())
        spread = int(blocks.max()) - low
        # a stable sort (radix for 16-bit keys)
        order = np.argsort(blocks - low if spread >= 2**16 else (blocks - low).astype(np.uint16),
                           kind="stable")  # fmt: skip
        self.first_records, self.first_raos = first[order], self.attempt_rao[order]
        self.first_blocks, self.first_taken = blocks[order], 0
        low = int(self.first_blocks[0])
        # a block is dense where its first attempts alone would mostly meet others: with
        # N first attempts in an RAO of D preambles, each meets one with probability
        # 1 - (1 - 1/D)^(N-1), or surely above the level's alone_cap; over `_SPAN` blocks
        # around, more than one a block and a share of `_DENSE_SHARE` (a lone busy block
        # is no burst)
        level = self.start_level[order]
        load = self._load(self.first_raos * len(self.levels) + level)
        domain = np.array([lv.domain for lv in self.levels])[level]
        caps = np.array([lv.alone_cap for lv in self.levels])[level]
        meet = np.where(load > caps, 1.0, 1.0 - (1.0 - 1.0 / domain) ** (load - 1))
        relative = self.first_blocks - low
        kernel = np.ones(_SPAN)
        attempts = np.convolve(np.bincount(relative).astype(float), kernel, mode="same")
        meeting = np.convolve(np.bincount(relative, weights=meet), kernel, mode="same")
        dense = (meeting > _DENSE_SHARE * attempts) & (meeting > _SPAN)
        # and so are the blocks a burst's retries reach: up to the longest wait after an
        # attempt (timer or window, and the whole backoff) times the transmissions
        longest = max(max(lv.no_grant_wait, lv.to_msg3 + lv.timer_start + lv.timer
                          + (self.p.max_msg3_msg4_transmissions - 1) * lv.rtt3)
                      for lv in self.levels) + self.p.backoff_indicator_ms  # fmt: skip
        reach = min(math.ceil(longest / self.width) * self.p.max_preamble_transmissions,
                    len(dense))  # fmt: skip
        if reach > 0 and dense.any():
            behind = np.concatenate([np.zeros(reach + 1), np.cumsum(dense)])
            dense = (behind[reach + 1 :] - behind[: len(dense)]) > 0
        # for each block, the next dense one at or after it (len: none)
        positions = np.where(dense, np.arange(len(dense)), len(dense))
        next_dense = np.minimum.accumulate(positions[::-1])[::-1]
        window = _WINDOW
        engine_until = -1
        while (block := self._next_block()) is not None:
            index = block - low
            if block < engine_until or (0 <= index < len(dense) and dense[index]):
                self._step(block)
                continue
            end = block + window
            if 0 <= index < len(dense):
                end = min(end, low + int(next_dense[index]))
            rounds = self._window(block, end)
            if rounds is None or rounds > _MAX_ROUNDS // 2:
                # retries too dense for windows: the block engine for as long
                engine_until = end
            elif rounds <= 3:
                window = min(window * 4, 2**40)

    # -- the run -------------------------------------------------------------------------

    def run(self) -> AccessOutcome:
        if self.n:
            self._drive()
        return self._outcome(_Rows.join(self.kept))

    def _outcome(self, rows: _Rows) -> AccessOutcome:
        """Every terminal's figures from the attempts that matter: its last (success or
        giving up), and the granted ones (their RAR, Msg3 and Msg4 times)."""
        n = self.n
        levels = self.levels
        count = len(levels)
        ends = rows.take(rows.last)
        terminals = _terminals(ends.records)
        transmissions = np.zeros(n, dtype=np.int64)
        transmissions[terminals] = _number(ends.records)
        final_level = self.start_level.copy()
        final_level[terminals] = _level_of(ends.records)
        last_ms = np.zeros(n)
        last_ms[terminals] = self._times(final_level[terminals], ends.raos)
        success = np.zeros(n, dtype=bool)
        done_ms = np.full(n, np.nan)
        extra = np.zeros((4, n))  # RAR (less a no-grant's), Msg3, Msg4, radio (retried)
        granted = rows.take(rows.code != -1)
        for lv, mine in self._by_level(granted.records):
            part = granted.take(mine)
            if len(part.records) == 0:
                continue
            who = _terminals(part.records)
            t = lv.rao_time(part.raos)
            contender = part.code < -1
            slot = np.where(contender, -2 - part.code, part.code)
            first_msg3 = t + lv.to_msg3 + slot
            words = _word_draws(self.draws, part.records, HARQ)
            msg3, msg4 = 1.0 - high(words), 1.0 - low(words)
            ok = ~contender & (msg3 > self.msg3_lost) & (msg4 > lv.msg4_lost)
            most = self.p.max_msg3_msg4_transmissions
            sends3 = np.where(contender, 1, np.minimum(self._sends(msg3), most))
            last_msg3 = first_msg3 + (sends3 - 1) * lv.rtt3
            expiry = last_msg3 + lv.timer_start + lv.timer
            done = (last_msg3 + lv.msg3_ms + lv.request_processing + lv.msg4_ms
                    + (np.where(ok, self._sends(msg4), 1) - 1) * lv.rtt4)  # fmt: skip
            listened = np.where(ok, done, np.maximum(expiry, last_msg3 + lv.msg3_ms))
            retried = ~ok & ~part.last
            for row, values in enumerate((
                slot + lv.rar_ms - lv.listen,
                sends3 * lv.msg3_ms,
                listened - (last_msg3 + lv.msg3_ms),
                np.where(retried, expiry - t - lv.quiet, 0.0),
            )):  # fmt: skip
                extra[row] += np.bincount(who, weights=values, minlength=n)
            success[who[ok]] = True
            done_ms[who[ok]] = done[ok]
        steps = np.empty((len(STEPS), n))  # rows, transposed at the end (contiguous writes)
        if count == 1:
            lv = levels[0]
            per_level = transmissions.reshape(n, 1)
            np.multiply(transmissions, lv.preamble_ms, out=steps[0])
            np.multiply(transmissions, lv.listen, out=steps[1])
            radio = transmissions * lv.quiet - lv.quiet
        else:
            # transmissions per level follow from start, final level and total: every
            # level left behind used its full allowance
            allowance = [int(lv.max_attempts) if lv.index + 1 < count
                         and lv.max_attempts < math.inf else 0 for lv in levels]  # fmt: skip
            per_level = np.zeros((n, count), dtype=np.int64)
            spent = np.zeros(n, dtype=np.int64)
            for lv in levels:
                below = (self.start_level <= lv.index) & (lv.index < final_level)
                per_level[below, lv.index] = allowance[lv.index]
                spent += per_level[:, lv.index]
            per_level[np.arange(n), final_level] = transmissions - spent
            steps[0] = steps[1] = 0.0
            radio = np.zeros(n)
            for lv in levels:
                column = per_level[:, lv.index]
                steps[0] += column * lv.preamble_ms
                steps[1] += column * lv.listen
                radio += column * lv.quiet
            radio -= np.array([lv.quiet for lv in levels])[final_level]
        steps[1] += extra[0]
        steps[2] = extra[1]
        steps[3] = extra[2]
        # waiting: from the first RAO to the last attempt, less the attempts retried
        steps[4] = last_ms - self.start_ms - (radio + extra[3])
        first = levels[0]
        used = self.used
        return AccessOutcome(
            success=success,
            transmissions=transmissions,
            delay_ms=done_ms - self.start_ms,
            collided=self.collided,
            preamble_transmissions=int(transmissions.sum()),
            collided_transmissions=self.counts["collided_transmissions"],
            collided_preambles=self.counts["collided_preambles"],
            opportunities_in_period=first.period_raos,
            opportunities=max(first.period_raos, used[0] + 1),
            preambles=first.preambles,
            final_level=final_level,
            level_transmissions=per_level,
            step_ms=steps.T,
            preamble_opportunities=sum(
                lv.domain * max(lv.period_raos, used[lv.index] + 1) for lv in levels
            ),
        )
