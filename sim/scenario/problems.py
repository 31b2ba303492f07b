"""What is wrong with a scenario: one `Problem` per finding, all carried by a `ScenarioError`."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SHOWN_CHARACTERS = 80
"""At most this many characters of a value are quoted in a message."""

MAX_PATH_CHARACTERS = 300
MAX_MESSAGE_CHARACTERS = 600
"""Longest field path and message of a Problem (cut beyond; each stays on one line)."""

_REPR = reprlib.Repr()  # keyword arguments need Python 3.12
_REPR.maxlevel = 3
_REPR.maxtuple = _REPR.maxlist = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 6
_REPR.maxstring = _REPR.maxother = SHOWN_CHARACTERS
_REPR.maxlong = 40


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where, and what to do about it."""

    path: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __post_init__(self) -> None:
        # the net under every message: one line of bounded length, whatever a value held
        # (the messages themselves quote values with `shown`)
        object.__setattr__(self, "path", _one_line(self.path, MAX_PATH_CHARACTERS))
        object.__setattr__(self, "message", _one_line(self.message, MAX_MESSAGE_CHARACTERS))

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario (or an override of one) is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def _one_line(text: str, most: int) -> str:
    """Text on one line (line breaks and other control characters escaped), cut to `most`."""
    if not text.isprintable():
        text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return text if len(text) <= most else text[: most - 3] + "..."


def shown(value: Any) -> str:
    """A value as a message quotes it: its repr, at most SHOWN_CHARACTERS long.

    reprlib never builds the whole repr, so a huge value (a mapping of a million keys, the
    expansion of nested YAML aliases) costs no more than a small one.
    """
    if isinstance(value, int) and value.bit_length() > 256:
        # repr of an int of thousands of digits is slow, beyond 4300 digits an error
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    try:
        text = _REPR.repr(value)
    except ValueError:  # an int of more than 4300 digits inside a list or mapping
        return f"a {type(value).__name__} too large to show"
    if len(text) > SHOWN_CHARACTERS:
        text = text[: SHOWN_CHARACTERS - 3] + "..."
    return text


def listing(items: Iterable[object], most: int = 12) -> str:
    """Items for a message: joined by ', ', each cut like a value, at most `most` of them."""
    every = list(items)
    texts = []
    for item in every[:most]:
        text = str(item)
        texts.append(text if text.isprintable() and len(text) <= SHOWN_CHARACTERS else shown(item))
    more = f", ... ({len(every) - most} more)" if len(every) > most else ""
    return ", ".join(texts) + more


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {shown(close[0])}?)" if close else ""
