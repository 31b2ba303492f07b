"""Parameters declared once: kind, allowed values and meaning, for the checks, their error
messages and the command line's help."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

Value = int | float | str


@dataclass(frozen=True)
class Parameter:
    """One parameter: a whole number, a number or one of some words, and what is allowed."""

    name: str
    kind: type[int] | type[float] | type[str]
    meaning: str
    """What it is, with its unit (for --help)."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """`low` itself is not allowed."""
    high_open: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False
    """None is allowed (a default worked out from other parameters)."""

    @property
    def allowed(self) -> str:
        """What is allowed, in words: 'a whole number from 1 to 64', 'a number in (0, 1]'."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        noun = "a whole number" if self.kind is int else "a number"
        low, high = self.low, self.high
        if low is not None and high is not None:
            if self.kind is int and not (self.low_open or self.high_open):
                return f"{noun} from {_shown(low)} to {_shown(high)}"
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{noun} in {left}{_shown(low, False)}, {_shown(high, False)}{right}"
        if low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {_shown(low)}"
        if high is not None:
            return f"{noun} {'<' if self.high_open else '<='} {_shown(high)}"
        return noun

    def accepts(self, value: object) -> bool:
        """Whether `value` is allowed (of the right kind, finite and in range)."""
        if value is None:
            return self.optional
        if self.choices:
            return isinstance(value, str) and value in self.choices
        if isinstance(value, bool) or not isinstance(value, Real):
            return False  # a boolean is not a number
        number: float
        if isinstance(value, Integral):
            number = int(value)  # exact, however large
        elif self.kind is int:
            return False
        else:
            number = float(value)
            if not math.isfinite(number):
                return False
        low, high = self.low, self.high
        above = low is None or (number > low if self.low_open else number >= low)
        below = high is None or (number < high if self.high_open else number <= high)
        return above and below

    def parse(self, text: str) -> Value:
        """The value of a command-line text; ValueError('must be ...') when not allowed."""
        value: Value | None
        try:
            value = int(text) if self.kind is int else float(text) if self.kind is float else text
        except ValueError:  # not a number at all (or too many digits)
            value = None
        if value is None or not self.accepts(value):
            raise ValueError(f"must be {self.allowed}")
        return value


def _shown(number: float, grouped: bool = True) -> str:
    """A bound as a person writes it: 64, 0.5, 1,000,000 (no commas inside an interval)."""
    if float(number).is_integer():
        return f"{int(number):,}" if grouped else str(int(number))
    return f"{number:g}"
