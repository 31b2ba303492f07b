"""Numbers as a planner reads them: counts with thousands separators or B/M, shares as
percentages, p-values to three significant digits; never scientific notation.  Used by the
command line (compare) and the report; the CSVs keep plain numbers."""

from __future__ import annotations

import math


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def count_text(value: float | None) -> str:
    """A count: 499,142; 2.28 M; 3.05 B ('' when missing)."""
    if _missing(value):
        return ""
    assert value is not None
    size = abs(value)
    if size >= 1e12:
        return f"{value / 1e9:,.0f} B"
    if size >= 1e9:
        return f"{_three_digits(value / 1e9)} B"
    if size >= 1e6:
        return f"{_three_digits(value / 1e6)} M"
    if value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _three_digits(value: float) -> str:
    """Three significant digits, trailing zeros kept: 4.00, 12.3, 123."""
    return f"{value:#.3g}".rstrip(".")


def years_text(value: float | None) -> str:
    """A duration in years: 7.1 years, 0.082 years."""
    if _missing(value):
        return ""
    assert value is not None
    return f"{value:.1f} years" if abs(value) >= 1 else f"{value:.2g} years"


def signed_count_text(value: float | None) -> str:
    """A difference of counts with its sign: +40.2 M, −58,969, 0."""
    if _missing(value):
        return ""
    assert value is not None
    text = count_text(abs(value))
    return text if value == 0 else ("+" if value > 0 else "−") + text


def percent_text(share: float | None, digits: int = 3) -> str:
    """A share as a percentage: 0.148 -> '14.8 %', 0.00012 -> '0.012 %', 1 -> '100 %'."""
    if _missing(share):
        return ""
    assert share is not None
    if math.isinf(share):
        return "∞"
    percent = share * 100
    if percent == 0:
        return "0 %"
    if abs(percent) < 0.001:  # .3g would print 1.2e-05
        return "< 0.001 %" if percent > 0 else "> −0.001 %"
    if abs(percent) >= 10**digits:  # .3g would print 1.23e+03
        return f"{percent:,.0f} %"
    return f"{percent:.{digits}g} %"


def signed_percent_text(share: float | None) -> str:
    """A relative difference with its sign: +11.2 %, −0.02 %, 0 %."""
    if _missing(share):
        return ""
    assert share is not None
    if share == 0:
        return "0 %"
    if abs(share) * 100 < 0.001:
        return "< +0.001 %" if share > 0 else "> −0.001 %"
    return ("+" if share > 0 else "−") + percent_text(abs(share))


def p_value_text(p: float | None) -> str:
    """A p-value to three significant digits, small ones as '< 0.001'."""
    if _missing(p):
        return ""
    assert p is not None
    return "< 0.001" if p < 0.001 else f"{p:.3g}"
