"""The random-access parameters: each declared once, and every bad value refused with what
is allowed."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest

from sim.access import PROCEDURE_PARAMETERS, Procedure
from sim.access.procedure import PARAMETERS


def bad_values(name: str) -> list[object]:
    """Values just outside what the declaration of `name` allows, and values of a wrong kind."""
    parameter = PARAMETERS[name]
    if parameter.choices:
        return ["nonsense", 1]
    values: list[object] = [math.nan, math.inf, True, "5"]
    step = 1 if parameter.kind is int else 1e-9
    if parameter.low is not None:
        values.append(parameter.low if parameter.low_open else parameter.low - step)
    if parameter.high is not None:
        values.append(parameter.high if parameter.high_open else parameter.high + step)
    if parameter.kind is int:
        values.append(2.5)
    return values


def test_every_procedure_field_is_declared_once() -> None:
    # every field but the list of further coverage levels (each a `Level`, checked alike)
    every = tuple(f.name for f in fields(Procedure) if f.name != "coverage_levels")
    assert tuple(PARAMETERS) == PROCEDURE_PARAMETERS == every
    for parameter in PARAMETERS.values():
        assert parameter.meaning
        assert parameter.accepts(getattr(Procedure(), parameter.name)), parameter.name


@pytest.mark.parametrize("name", PROCEDURE_PARAMETERS)
def test_every_bad_value_is_refused_with_what_is_allowed(name: str) -> None:
    for value in bad_values(name):
        with pytest.raises(ValueError, match="invalid random-access parameters") as error:
            Procedure().replace(**{name: value})
        message = str(error.value)
        assert f"{name}={value!r}" in message
        assert f"must be {PARAMETERS[name].allowed}" in message


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("acb_factor", 2.0, "a number in (0, 1]"),
        ("preambles", 65, "a whole number from 1 to 64"),
        ("preambles", 1000, "a whole number from 1 to 64"),
        ("harq_retransmission_probability", 1.0, "a number in [0, 1)"),
        ("backoff_indicator_ms", -1.0, "a number in [0, 524288]"),
        ("detection", "perfect", "one of tr37868, certain"),
        ("collisions", "x", "one of undetected, contention"),
    ],
)
def test_the_allowed_values_read_as_a_person_would_write_them(
    name: str, value: object, allowed: str
) -> None:
    with pytest.raises(ValueError, match="invalid") as error:
        Procedure().replace(**{name: value})
    assert f"{name}={value!r} (must be {allowed})" in str(error.value)


def test_the_first_rao_lies_within_its_period() -> None:
    with pytest.raises(
        ValueError, match=r"rao_offset_ms=5\.0 \(must be less than rao_period_ms=5\.0\)"
    ):
        Procedure(rao_offset_ms=5.0)
    assert Procedure(rao_period_ms=10.0, rao_offset_ms=9.5).rao_offset_ms == 9.5


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(ValueError, match="preambles=0") as error:
        Procedure(preambles=0, acb_factor=0.0)
    assert "acb_factor=0.0" in str(error.value)


@pytest.mark.parametrize(("text", "value"), [("54", 54), (" 7 ", 7), ("1_000", None), ("64", 64)])
def test_command_line_texts_parse_to_values(text: str, value: int | None) -> None:
    parameter = PARAMETERS["preambles"]
    if value is None:
        with pytest.raises(ValueError, match="from 1 to 64"):
            parameter.parse(text)
    else:
        assert parameter.parse(text) == value


@pytest.mark.parametrize("text", ["", "abc", "2.5", "1e3", "nan", "0"])
def test_bad_command_line_texts_say_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match=r"^must be a whole number from 1 to 64$"):
        PARAMETERS["preambles"].parse(text)
    with pytest.raises(ValueError, match=r"^must be one of tr37868, certain$"):
        PARAMETERS["detection"].parse(text)
