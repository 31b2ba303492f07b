"""Numbers as a planner reads them, never in scientific notation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.results.formatting import (
    count_text,
    p_value_text,
    percent_text,
    signed_count_text,
    signed_percent_text,
    years_text,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [(3_054_412_311, "3.05 B"), (4.004e9, "4.00 B"), (2_280_000, "2.28 M"), (1e6, "1.00 M"),
     (499_142, "499,142"), (12.5, "12.5"), (0, "0"), (math.nan, "")],
)  # fmt: skip
def test_counts(value: float, text: str) -> None:
    assert count_text(value) == text


@pytest.mark.parametrize(
    ("share", "text", "signed"),
    [(0.148, "14.8 %", "+14.8 %"), (-0.0123, "-1.23 %", "−1.23 %"), (12.345, "1,234 %", "+1,234 %"),
     (1e-7, "< 0.001 %", "< +0.001 %"), (0, "0 %", "0 %")],
)  # fmt: skip
def test_shares(share: float, text: str, signed: str) -> None:
    assert percent_text(share) == text
    assert signed_percent_text(share) == signed


def test_p_values_and_years() -> None:
    assert p_value_text(0.0004) == "< 0.001"
    assert p_value_text(0.04567) == "0.0457"
    assert years_text(7.12) == "7.1 years"
    assert years_text(0.0823) == "0.082 years"
    assert signed_count_text(-58_969) == "−58,969"


@given(st.floats(-1e15, 1e15, allow_nan=False))
def test_no_scientific_notation(value: float) -> None:
    for text in (count_text(value), percent_text(value), signed_percent_text(value),
                 signed_count_text(value)):  # fmt: skip
        assert "e+" not in text
        assert "e-" not in text
