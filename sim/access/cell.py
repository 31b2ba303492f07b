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

**How it is computed.**  Every draw an attempt needs is a function of (seed, terminal,
transmission number, purpose), `KeyedDraws`: SplitMix64 at a counter made of those, the
seed taken once from `rng`.  What happens in an RAO then depends only on the attempts in
it, never on the order they are processed in, which allows a shortcut that stays exact:

1. every terminal's chain of attempts is worked out as if it never met anyone, for all
   terminals at once, one transmission number after the other;
2. an attempt can be touched by others only in an RAO where two attempts chose the same
   preamble (and occasion), or where more attempts came than min(grants_per_subframe,
   grants_per_rao) (then the grants' order or number matters); a terminal with such an
   attempt is *dirty*;
3. the dirty terminals are run exactly by the block engine below, with the same draws;
4. a clean terminal that one of their attempts now meets becomes dirty, and 3 is run
   again, until no clean attempt shares an RAO with an attempt that can touch it.

Clean chains and exact dirty chains are then the outcome of one RAO at a time (by
induction over time, every RAO holds the same attempts in both, and an RAO with a clean
attempt in it is one where no attempt's fate depends on another's).  In a dense burst,
where most first attempts would be dirty, the block engine runs on everyone at once.

The block engine processes RAOs in blocks: a failed attempt cannot come back before the
shortest earliest retry of all levels has passed (the RAR window and backoff, or the
contention-resolution timer, or the barring time lie in between), so the RAOs of a block
(of every level) do not interact and are processed together as arrays.  It is a plain
loop over a heap of blocks (the order of events a SimPy process gave before, without
its per-event cost).  Times are in ms.
"""

from __future__ import annotations

import heapq
import itertools
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

_DENSE = 0.3
"""Share of first attempts likely to be dirty above which the block engine runs on every
terminal at once (a matter of speed only: both ways give the same outcome)."""

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
_COLLIDED = np.uint64(1 << 24)  # collided at least once
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


Retries = list[tuple[WordArray, IntArray]]


class _Cell:
    """One cell's terminals: their barring, clean chains, dirty set and block engine."""

    def __init__(self, arrivals: FloatArray, procedure: Procedure, draws: KeyedDraws,
                 period_s: float, start_level: IntArray) -> None:  # fmt: skip
        p = procedure
        self.p = p
        self.draws = draws
        self.levels = [_Level(i, lv, p, period_s) for i, lv in enumerate(p.levels)]
        n = len(arrivals)
        self.n = n
        self.start_level = start_level
        self.success = np.zeros(n, dtype=bool)
        self.transmissions = np.zeros(n, dtype=np.int64)
        self.final_level = start_level.copy()
        self.last_ms = np.zeros(n)  # RAO time of the last attempt
        self.done_ms = np.full(n, np.nan)
        self.collided = np.zeros(n, dtype=bool)
        self.rar_extra = np.zeros(n)  # RAR listening of grants, less the no-grant listening
        self.msg3 = np.zeros(n)
        self.msg4 = np.zeros(n)
        self.quiet_extra = np.zeros(n)  # radio time of retried grants, less a no-grant's
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
        self.first_rao = np.zeros(n, dtype=np.int64)
        for lv in self.levels:
            mine = start_level == lv.index
            self.first_rao[mine] = lv.next_rao(arrivals[mine])
        self.start_ms = self._times(start_level, self.first_rao)
        self.attempt_rao = self._barring(self.first_rao.copy())
        # the engine's state
        self.buckets: dict[int, list[tuple[WordArray, IntArray]]] = {}
        self.heap: list[int] = []
        self.current = -1
        self.recording = False
        self.recorded: list[tuple[IntArray, IntArray, IntArray]] = []
        self.counts = {"collided_transmissions": 0, "collided_preambles": 0}
        self.last_used = [-1] * len(self.levels)

    # -- times and records ---------------------------------------------------------------

    def _times(self, level: IntArray, raos: IntArray) -> FloatArray:
        """Time of each RAO on its level."""
        if self.single:
            return self.levels[0].rao_time(raos)
        return np.asarray(raos * self.periods[level] + self.offsets[level], dtype=float)

    def _first_records(self, terminals: IntArray) -> WordArray:
        """Each terminal's first attempt: transmission 1, 1 at its start level."""
        level = self.start_level[terminals].astype(np.uint64)
        return ((terminals.astype(np.uint64) << _TERMINAL) | (level << _LEVEL)
                | np.uint64((1 << 4) | (1 << 12)))  # fmt: skip

    def _barring(self, raos: IntArray) -> IntArray:
        """The RAO of each terminal's first preamble: access class barring is checked at
        the RAOs before it, with draws of its own (it touches no one else)."""
        p = self.p
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
                mine = level == lv.index if not self.single else slice(None)
                raos[active[mine]] = np.maximum(lv.next_rao(now[mine] + wait[mine]),
                                                raos[active[mine]] + 1)  # fmt: skip
            check += 1
        return raos

    # -- one attempt's consequences ------------------------------------------------------

    def _give_up_or_retry(self, lv: _Level, records: WordArray, t: FloatArray,
                          ready: FloatArray, backoff: FloatArray,
                          quiet: FloatArray | None) -> Retries:  # fmt: skip
        """Failed attempts: give up after the last transmission, or back off from `ready`
        (a uniform of the backoff window each) to the next RAO, on the next level after
        the level's last attempt.  `quiet`: when the radio went quiet, if not `lv.quiet`
        after the RAO (a grant that failed)."""
        p = self.p
        number = _number(records)
        last = number >= p.max_preamble_transmissions
        if last.any():
            self._end(lv, records[last], t[last])
            keep = ~last
            records, t, ready, backoff = records[keep], t[keep], ready[keep], backoff[keep]
            if quiet is not None:
                quiet = quiet[keep]
        if len(records) == 0:
            return []
        if quiet is not None:
            self.quiet_extra[_terminals(records)] += quiet - t - lv.quiet
        ready = ready + backoff * p.backoff_indicator_ms
        records = records + _NEXT
        if lv.index + 1 < len(self.levels):
            up = ((records >> _KL) & _BYTE).astype(np.int64) > lv.max_attempts
            if up.any():
                after = self.levels[lv.index + 1]
                moved = (records[up] & _LEVEL_FIELDS) | np.uint64((1 << 12) | (after.index << 20))
                stay = ~up
                return [(moved, after.next_rao(ready[up])),
                        (records[stay], lv.next_rao(ready[stay]))]  # fmt: skip
        return [(records, lv.next_rao(ready))]

    def _end(self, lv: _Level, records: WordArray, t: FloatArray) -> None:
        terminals = _terminals(records)
        self.transmissions[terminals] = _number(records)
        self.final_level[terminals] = lv.index
        self.last_ms[terminals] = t
        self.collided[terminals] = (records & _COLLIDED) != 0

    def _granted(self, lv: _Level, records: WordArray, t: FloatArray, rank: IntArray,
                 backoff: FloatArray) -> Retries:  # fmt: skip
        """Msg3 and Msg4 with HARQ for granted attempts: success, or a retry when the
        contention-resolution timer after the last Msg3 expires."""
        if len(records) == 0:
            return []
        p = self.p
        terminals = _terminals(records)
        words = _word_draws(self.draws, records, HARQ)
        msg3, msg4 = 1.0 - high(words), 1.0 - low(words)  # in (0, 1]
        slot = rank // lv.grants_per_subframe
        self.rar_extra[terminals] += slot + lv.rar_ms - lv.listen
        first_msg3 = t + lv.to_msg3 + slot
        ok = (msg3 > self.msg3_lost) & (msg4 > lv.msg4_lost)
        if ok.any():
            who, sends3, sends4 = terminals[ok], self._sends(msg3[ok]), self._sends(msg4[ok])
            msg4_start = first_msg3[ok] + (sends3 - 1) * lv.rtt3 + lv.msg3_ms
            done = msg4_start + lv.request_processing + lv.msg4_ms + (sends4 - 1) * lv.rtt4
            self.msg3[who] += sends3 * lv.msg3_ms
            self.msg4[who] += done - msg4_start
            self.success[who] = True
            self.done_ms[who] = done
            self._end(lv, records[ok], t[ok])
            if ok.all():
                return []
        lost = ~ok
        who = terminals[lost]
        sends3 = np.minimum(self._sends(msg3[lost]), p.max_msg3_msg4_transmissions)
        last_msg3 = first_msg3[lost] + (sends3 - 1) * lv.rtt3
        expiry = last_msg3 + lv.timer_start + lv.timer
        self.msg3[who] += sends3 * lv.msg3_ms
        self.msg4[who] += np.maximum(expiry - (last_msg3 + lv.msg3_ms), 0.0)
        return self._give_up_or_retry(lv, records[lost], t[lost], expiry, backoff[lost], expiry)

    def _contenders(self, lv: _Level, records: WordArray, t: FloatArray, rank: IntArray,
                    backoff: FloatArray) -> Retries:  # fmt: skip
        """Collided preambles granted (contention mode): one Msg3 each, then the timer
        runs out for all of them."""
        terminals = _terminals(records)
        slot = rank // lv.grants_per_subframe
        self.rar_extra[terminals] += slot + lv.rar_ms - lv.listen
        first_msg3 = t + lv.to_msg3 + slot
        expiry = first_msg3 + lv.timer_start + lv.timer
        self.msg3[terminals] += lv.msg3_ms
        self.msg4[terminals] += np.maximum(expiry - (first_msg3 + lv.msg3_ms), 0.0)
        return self._give_up_or_retry(lv, records, t, expiry, backoff, expiry)

    def _sends(self, draw: FloatArray) -> IntArray:
        """HARQ transmissions until the first success, from a uniform draw in (0, 1]."""
        if self.q == 0.0:
            return np.ones(len(draw), dtype=np.int64)
        return 1 + np.floor(np.log(draw) / math.log(self.q)).astype(np.int64)

    # -- clean chains: every terminal as if alone ----------------------------------------

    def _alone(self, records: WordArray, raos: IntArray) -> None:
        """Every chain as if its attempts met no one, one transmission number at a time;
        the attempts are recorded."""
        self.recorded = []
        while len(records):
            retries: Retries = []
            level = ((records >> _LEVEL) & np.uint64(0xF)).astype(np.int64)
            for lv in self.levels:
                mine = level == lv.index
                if self.single:
                    part, at = records, raos
                elif mine.any():
                    part, at = records[mine], raos[mine]
                else:
                    continue
                t = lv.rao_time(at)
                choice = _word_draws(self.draws, part, CHOICE)
                detection = _word_draws(self.draws, part, DETECTION)
                heard = high(detection) < self.detect[_number(part)]
                self.recorded.append((at * len(self.levels) + lv.index,
                                      pick(choice, lv.domain), _terminals(part)))  # fmt: skip
                backoff = low(choice)
                retries += self._granted(lv, part[heard], t[heard],
                                         np.zeros(int(heard.sum()), dtype=np.int64),
                                         backoff[heard])  # fmt: skip
                missed = ~heard
                retries += self._give_up_or_retry(lv, part[missed], t[missed],
                                                  t[missed] + lv.no_grant_wait,
                                                  backoff[missed], None)  # fmt: skip
            if not retries:
                break
            records = np.concatenate([r for r, _ in retries])
            raos = np.concatenate([a for _, a in retries])

    def _meeting(self, keys: IntArray, preambles: IntArray) -> BoolArray:
        """Whether each attempt (RAO key = rao x levels + level, preamble) is in an RAO
        where some attempt's fate can depend on another's: two on one preamble, or more
        than the level's `alone_cap` attempts."""
        count = len(keys)
        if count < 2:
            return np.zeros(count, dtype=bool)
        domain = max(lv.domain for lv in self.levels)
        combined = keys * domain + preambles
        order = np.argsort(combined)
        ordered = combined[order]
        rao_keys = keys[order]
        new = np.empty(count, dtype=bool)
        new[0] = True
        np.not_equal(rao_keys[1:], rao_keys[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        sizes = np.diff(np.append(starts, count))
        caps = np.array([lv.alone_cap for lv in self.levels])[rao_keys[starts] % len(self.levels)]
        bad = sizes > caps
        same = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
        if len(same):
            bad[np.cumsum(new)[same] - 1] = True
        meets = np.empty(count, dtype=bool)
        meets[order] = np.repeat(bad, sizes)
        return meets

    def _crowded(self, records: WordArray, raos: IntArray) -> float:
        """Expected share of first attempts that meet another: with N first attempts in
        an RAO of D preambles, 1 - (1 - 1/D)^(N-1), or 1 above the level's `alone_cap`."""
        if self.n == 0:
            return 0.0
        level = ((records >> _LEVEL) & np.uint64(0xF)).astype(np.int64)
        keys = raos * len(self.levels) + level
        low_key = int(keys.min())
        span = int(keys.max()) - low_key + 1
        if span <= 4 * self.n + 1024:
            load = np.bincount(keys - low_key)[keys - low_key]
        else:
            _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
            load = counts[inverse]
        domain = np.array([lv.domain for lv in self.levels])[level]
        caps = np.array([lv.alone_cap for lv in self.levels])[level]
        meet = np.where(load > caps, 1.0, 1.0 - (1.0 - 1.0 / domain) ** (load - 1))
        return float(meet.mean())

    # -- the block engine ----------------------------------------------------------------

    def _blocks(self, records: WordArray, raos: IntArray) -> IntArray:
        if self.single:
            return raos // self.block
        level = ((records >> _LEVEL) & np.uint64(0xF)).astype(np.int64)
        times = raos * self.periods[level] + self.offsets[level]
        return np.floor(times / self.width).astype(np.int64)

    def _schedule(self, records: WordArray, raos: IntArray) -> None:
        """File attempts under the block of their RAO."""
        if len(records) == 0:
            return
        blocks = self._blocks(records, raos)
        low_block, high_block = int(blocks.min()), int(blocks.max())
        if low_block == high_block:  # all in one block
            self._file(low_block, records, raos)
            return
        if high_block - low_block <= 4:  # a few blocks (a backoff spans a few)
            for block in range(low_block, high_block + 1):
                mask = blocks == block
                if mask.any():
                    self._file(block, records[mask], raos[mask])
            return
        order = np.argsort(blocks, kind="stable")
        blocks, records, raos = blocks[order], records[order], raos[order]
        starts = np.flatnonzero(np.diff(blocks)) + 1
        bounds = [0, *starts.tolist(), len(blocks)]
        for first, end in itertools.pairwise(bounds):
            self._file(int(blocks[first]), records[first:end], raos[first:end])

    def _file(self, block: int, records: WordArray, raos: IntArray) -> None:
        if block <= self.current:  # would break the independence of a block's RAOs
            raise AssertionError(f"retry filed into block {block} while at {self.current}")
        if block not in self.buckets:
            self.buckets[block] = []
            heapq.heappush(self.heap, block)
        self.buckets[block].append((records, raos))

    def _engine(self, terminals: IntArray, recording: bool) -> None:
        """Run `terminals` exactly, RAO after RAO, as if no one else were in the cell."""
        self.recording = recording
        self.recorded = []
        self.counts = {"collided_transmissions": 0, "collided_preambles": 0}
        self.engine_last_used = [-1] * len(self.levels)
        self.current = -1
        self._schedule(self._first_records(terminals), self.attempt_rao[terminals])
        while self.heap:
            block = heapq.heappop(self.heap)
            parts = self.buckets.pop(block)
            self.current = block
            if len(parts) == 1:
                records, raos = parts[0]
            else:
                records = np.concatenate([r for r, _ in parts])
                raos = np.concatenate([a for _, a in parts])
            if self.single:
                retries = self._attempts(self.levels[0], records, raos)
            else:
                retries = []
                level = ((records >> _LEVEL) & np.uint64(0xF)).astype(np.int64)
                for lv in self.levels:
                    mine = level == lv.index
                    if mine.any():
                        retries += self._attempts(lv, records[mine], raos[mine])
            for again, at in retries:
                self._schedule(again, at)

    def _attempts(self, lv: _Level, records: WordArray, raos: IntArray) -> Retries:
        """The preambles of one level's RAOs in a block, and what follows from them."""
        n = len(records)
        base = int(raos.min())
        self.engine_last_used[lv.index] = max(self.engine_last_used[lv.index], int(raos.max()))
        t = lv.rao_time(raos)
        choice = _word_draws(self.draws, records, CHOICE)
        preamble = pick(choice, lv.domain)
        backoff = low(choice)
        local = raos - base
        key = local * lv.domain + preamble
        chosen = np.bincount(key)
        collided = chosen[key] > 1
        many = int(np.count_nonzero(collided))
        if many:
            self.counts["collided_transmissions"] += many
            self.counts["collided_preambles"] += int(np.count_nonzero(chosen > 1))
            records = records | (collided.astype(np.uint64) << np.uint64(24))
        if self.recording:
            self.recorded.append((raos * len(self.levels) + lv.index, preamble,
                                  _terminals(records)))  # fmt: skip
        failed = np.ones(n, dtype=bool)
        retries: Retries = []
        contention = self.p.collisions == "contention"
        looked = np.arange(n) if (contention or not many) else np.flatnonzero(~collided)
        detection = _word_draws(self.draws, records[looked], DETECTION)
        heard = high(detection) < self.detect[_number(records[looked])]
        if not contention:
            candidates = looked[heard]
            order_key = low(detection[heard])
            chosen_ones, rank = self._grant(lv, local[candidates], order_key,
                                            records[candidates])  # fmt: skip
            granted = candidates[chosen_ones]
        else:
            # a collided preamble is heard as one: it takes one grant for all its
            # terminals, in the order of the draw of its lowest-numbered terminal
            lone = ~collided & heard
            together = np.flatnonzero(collided)
            if len(together):
                by_key = together[np.lexsort((records[together], key[together]))]
                firsts = by_key[np.r_[True, key[by_key][1:] != key[by_key][:-1]]]
            else:
                firsts = together
            candidates = np.concatenate([np.flatnonzero(lone), firsts])
            order_key = low(detection[candidates])
            chosen_ones, rank = self._grant(lv, local[candidates], order_key,
                                            records[candidates])  # fmt: skip
            winners = candidates[chosen_ones]
            rank_of = np.full(len(chosen), -1)
            rank_of[key[winners]] = rank
            got = rank_of[key] >= 0
            failed[got] = False
            contenders = np.flatnonzero(got & collided)
            if len(contenders):
                retries += self._contenders(
                    lv, records[contenders], t[contenders], rank_of[key[contenders]],
                    backoff[contenders],
                )  # fmt: skip
            granted = np.flatnonzero(got & ~collided)
            rank = rank_of[key[granted]]
        failed[granted] = False
        if failed.all():
            retries += self._give_up_or_retry(lv, records, t, t + lv.no_grant_wait, backoff,
                                              None)  # fmt: skip
        else:
            retries += self._give_up_or_retry(lv, records[failed], t[failed],
                                              t[failed] + lv.no_grant_wait, backoff[failed],
                                              None)  # fmt: skip
            retries += self._granted(lv, records[granted], t[granted], rank, backoff[granted])
        return retries

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

    # -- the run -------------------------------------------------------------------------

    def _reset(self, terminals: IntArray) -> None:
        for array in (self.rar_extra, self.msg3, self.msg4, self.quiet_extra):
            array[terminals] = 0.0
        self.success[terminals] = False
        self.done_ms[terminals] = np.nan

    def run(self) -> AccessOutcome:
        n = self.n
        everyone = np.arange(n)
        first = self._first_records(everyone)
        used = [-1] * len(self.levels)
        if n == 0:
            return self._outcome(used)
        if self._crowded(first, self.attempt_rao) > _DENSE:
            self._engine(everyone, recording=False)
            used = self.engine_last_used
        else:
            self._alone(first, self.attempt_rao)
            keys, preambles, terminals = (
                np.concatenate(part) for part in zip(*self.recorded, strict=True)
            )
            dirty = np.zeros(n, dtype=bool)
            dirty[terminals[self._meeting(keys, preambles)]] = True
            order = np.argsort(keys, kind="stable")
            keys, preambles, terminals = keys[order], preambles[order], terminals[order]
            self.counts = {"collided_transmissions": 0, "collided_preambles": 0}
            self.engine_last_used = [-1] * len(self.levels)
            while dirty.any():
                chosen = np.flatnonzero(dirty)
                self._reset(chosen)
                self._engine(chosen, recording=True)
                their_keys, their_preambles, _ = (
                    np.concatenate(part) for part in zip(*self.recorded, strict=True)
                )
                # the clean attempts in the RAOs the dirty terminals now use
                rao_keys = np.unique(their_keys)
                lo = np.searchsorted(keys, rao_keys, side="left")
                hi = np.searchsorted(keys, rao_keys, side="right")
                sizes = hi - lo
                if sizes.sum() == 0:
                    break
                inside = np.repeat(lo - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
                inside = inside[~dirty[terminals[inside]]]
                if len(inside) == 0:
                    break
                union_keys = np.concatenate([keys[inside], their_keys])
                union_preambles = np.concatenate([preambles[inside], their_preambles])
                met = self._meeting(union_keys, union_preambles)[: len(inside)]
                if not met.any():
                    break
                dirty[terminals[inside[met]]] = True
            clean = ~dirty[terminals]
            for lv in self.levels:
                mine = clean & (keys % len(self.levels) == lv.index)
                own = int((keys[mine] // len(self.levels)).max()) if mine.any() else -1
                used[lv.index] = max(own, self.engine_last_used[lv.index])
        return self._outcome(used)

    def _outcome(self, used: list[int]) -> AccessOutcome:
        levels = self.levels
        count = len(levels)
        # transmissions per level follow from start, final level and total: every level
        # left behind used its full allowance
        allowance = [int(lv.max_attempts) if lv.index + 1 < count and lv.max_attempts < math.inf
                     else 0 for lv in levels]  # fmt: skip
        per_level = np.zeros((self.n, count), dtype=np.int64)
        spent = np.zeros(self.n, dtype=np.int64)
        for lv in levels:
            below = (self.start_level <= lv.index) & (lv.index < self.final_level)
            per_level[below, lv.index] = allowance[lv.index]
            spent += per_level[:, lv.index]
        at = self.final_level
        per_level[np.arange(self.n), at] = self.transmissions - spent
        preamble_ms = np.array([lv.preamble_ms for lv in levels])
        listen = np.array([lv.listen for lv in levels])
        quiet = np.array([lv.quiet for lv in levels])
        steps = np.empty((self.n, len(STEPS)))
        steps[:, 0] = per_level @ preamble_ms
        steps[:, 1] = per_level @ listen + self.rar_extra
        steps[:, 2] = self.msg3
        steps[:, 3] = self.msg4
        # waiting: from the first RAO to the last attempt, less the attempts retried
        radio = per_level @ quiet - quiet[self.final_level] + self.quiet_extra
        steps[:, 4] = self.last_ms - self.start_ms - radio
        first = levels[0]
        return AccessOutcome(
            success=self.success,
            transmissions=self.transmissions,
            delay_ms=self.done_ms - self.start_ms,
            collided=self.collided,
            preamble_transmissions=int(self.transmissions.sum()),
            collided_transmissions=self.counts["collided_transmissions"],
            collided_preambles=self.counts["collided_preambles"],
            opportunities_in_period=first.period_raos,
            opportunities=max(first.period_raos, used[0] + 1),
            preambles=first.preambles,
            final_level=self.final_level,
            level_transmissions=per_level,
            step_ms=steps,
            preamble_opportunities=sum(
                lv.domain * max(lv.period_raos, used[lv.index] + 1) for lv in levels
            ),
        )
