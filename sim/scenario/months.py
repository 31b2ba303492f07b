"""Months as `YYYY-MM` text and as whole numbers (months since year 0)."""

from __future__ import annotations

import re

from sim.scenario.problems import shown

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_index(month: str) -> int:
    """Months since year 0 of a `YYYY-MM` string (2023-01 -> 2023*12)."""
    match = MONTH_RE.match(month)
    if match is None:
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2024-07), got {shown(month)}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_label(index: int) -> str:
    """Inverse of `month_index`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
