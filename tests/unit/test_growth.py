"""Unit tests of sim.demand: demand curves, lifetimes, the join schedule and step schedules.

Every expected value is a closed form (or an independent numerical reference) computed here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.demand.curves import installed_base
from sim.demand.joins import join_schedule
from sim.demand.lifetimes import Lifetime
from sim.demand.schedules import step_values
from sim.scenario import Bass, Cagr, Linear, Logistic, Targets, month_index

START = "2023-01"
START_INDEX = month_index(START)
TIMES = np.array([0.0, 1.0, 6.0, 12.0, 30.0, 61.5, 96.0])
N = 200_000  # sample size of the statistical tests


def _weibull_scale(mean: float, shape: float) -> float:
    return mean / math.gamma(1.0 + 1.0 / shape)


def _lower_gamma(s: float, x: float) -> float:
    """Lower incomplete gamma γ(s, x) by its power series (x modest)."""
    if x == 0.0:
        return 0.0
    term = 1.0 / s
    total = term
    n = 0
    while abs(term) > 1e-17 * abs(total):
        n += 1
        term *= x / (s + n)
        total += term
    return x**s * math.exp(-x) * total


def _weibull_c(t: float, mean: float, shape: float) -> float:
    """C(t) = ∫0^t exp(-(u/λ)^k) du = λ/k γ(1/k, (t/λ)^k)."""
    scale = _weibull_scale(mean, shape)
    return scale / shape * _lower_gamma(1.0 / shape, (t / scale) ** shape)


def _weibull_moment(mean: float, shape: float, order: int) -> float:
    return _weibull_scale(mean, shape) ** order * math.gamma(1.0 + order / shape)


def _c_reference(lifetime: Lifetime, t: float) -> float:
    if lifetime.kind == "exponential":
        return lifetime.mean * (1.0 - math.exp(-t / lifetime.mean))
    if lifetime.kind == "fixed":
        return min(t, lifetime.mean)
    return _weibull_c(t, lifetime.mean, lifetime.shape)


# --------------------------------------------------------------------------- curves


def test_cagr_closed_form() -> None:
    """cagr: N0 (1 + r)^(t/12)."""
    got = installed_base(Cagr(model="cagr", rate=0.1), 1e6, TIMES, START_INDEX)
    expected = [1e6 * 1.1 ** (t / 12.0) for t in TIMES]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[3] == pytest.approx(1.1e6, rel=1e-12)  # one year on


def test_cagr_negative_rate_declines() -> None:
    """A negative cagr halves the base in one year at rate -0.5."""
    got = installed_base(Cagr(model="cagr", rate=-0.5), 800.0, np.array([12.0, 24.0]), 0)
    np.testing.assert_allclose(got, [400.0, 200.0], rtol=1e-12)


def test_logistic_closed_form() -> None:
    """logistic: K / (1 + (K/N0 - 1) e^(-r t/12)), N(0) = N0, tends to K."""
    n0, k, r = 1e6, 5e6, 0.45
    growth = Logistic(model="logistic", rate=r, saturation=k)
    got = installed_base(growth, n0, TIMES, START_INDEX)
    expected = [k / (1.0 + (k / n0 - 1.0) * math.exp(-r * t / 12.0)) for t in TIMES]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[0] == pytest.approx(n0, rel=1e-12)
    late = installed_base(growth, n0, np.array([12.0 * 100]), START_INDEX)
    assert late[0] == pytest.approx(k, rel=1e-12)


def test_logistic_above_saturation_falls_to_it() -> None:
    """An initial base above K decays towards K from above."""
    growth = Logistic(model="logistic", rate=1.0, saturation=100.0)
    got = installed_base(growth, 400.0, np.array([0.0, 12.0, 1200.0]), 0)
    expected_one_year = 100.0 / (1.0 - 0.75 * math.exp(-1.0))
    np.testing.assert_allclose(got, [400.0, expected_one_year, 100.0], rtol=1e-12)


def _bass_f(p: float, q: float, t: float) -> float:
    e = math.exp(-(p + q) * t)
    return (1.0 - e) / (1.0 + q / p * e)


def _bass_t0(p: float, q: float, share: float) -> float:
    """Solve F(t0) = share by bisection (F is increasing)."""
    low, high = 0.0, 1.0
    while _bass_f(p, q, high) < share:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if _bass_f(p, q, mid) < share:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


@pytest.mark.parametrize(("p", "q"), [(0.03, 0.38), (0.2, 0.0), (0.01, 1.5)])
def test_bass_curve(p: float, q: float) -> None:
    """bass: N(0) = N0, N(t) = market F(t/12 + t0), increasing, tends to market."""
    n0, market = 2e6, 1e7
    growth = Bass(model="bass", p=p, q=q, market=market)
    got = installed_base(growth, n0, TIMES, START_INDEX)
    assert got[0] == pytest.approx(n0, rel=1e-9)
    t0 = _bass_t0(p, q, n0 / market)
    expected = [market * _bass_f(p, q, t / 12.0 + t0) for t in TIMES]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    fine = installed_base(growth, n0, np.linspace(0.0, 240.0, 2401), START_INDEX)
    assert np.all(np.diff(fine) > 0)
    assert fine[-1] < market
    far = installed_base(growth, n0, np.array([12.0 * 500]), START_INDEX)
    assert far[0] == pytest.approx(market, rel=1e-9)


def test_bass_initial_slope() -> None:
    """dN/dt at t=0 is market f(t0)/12 per month, f = (p + q F)(1 - F) with F = N0/market."""
    p, q, n0, market = 0.03, 0.38, 2e6, 1e7
    growth = Bass(model="bass", p=p, q=q, market=market)
    h = 1e-3
    ends = installed_base(growth, n0, np.array([-h, h]), START_INDEX)
    slope = (ends[1] - ends[0]) / (2 * h)
    share = n0 / market
    assert slope == pytest.approx(market * (p + q * share) * (1 - share) / 12.0, rel=1e-6)


def test_linear_closed_form() -> None:
    """linear: N0 + per_year t/12."""
    got = installed_base(Linear(model="linear", per_year=1200.0), 500.0, TIMES, START_INDEX)
    np.testing.assert_allclose(got, [500.0 + 100.0 * t for t in TIMES], rtol=1e-12)


def test_linear_clips_at_zero() -> None:
    """A falling line stops at 0: 1200 - 2400 t/12 hits 0 at t = 6 months."""
    growth = Linear(model="linear", per_year=-2400.0)
    got = installed_base(growth, 1200.0, np.array([0.0, 3.0, 6.0, 7.0, 60.0]), START_INDEX)
    np.testing.assert_allclose(got, [1200.0, 600.0, 0.0, 0.0, 0.0], atol=1e-9)
    assert np.all(got >= 0.0)


def _anchor_t(month: str) -> float:
    """Month-end convention: an anchor dated D sits at month_index(D) - start + 1 months."""
    return float(month_index(month) - START_INDEX + 1)


def test_targets_through_anchors() -> None:
    """targets: the curve passes exactly through N0 and every anchor."""
    values = {"2024-12": 2e6, "2026-06": 5e6, "2027-12": 6e6}
    growth = Targets(model="targets", values=values)
    times = np.array([0.0, *(_anchor_t(m) for m in values)])
    assert list(times) == [0.0, 24.0, 42.0, 60.0]
    got = installed_base(growth, 1e6, times, START_INDEX)
    np.testing.assert_allclose(got, [1e6, 2e6, 5e6, 6e6], rtol=1e-12)


def test_targets_log_linear_between_anchors() -> None:
    """Midway between anchors the value is their geometric mean; a quarter of the way,
    a^(3/4) b^(1/4)."""
    growth = Targets(model="targets", values={"2024-12": 4e6, "2026-12": 9e6})
    got = installed_base(growth, 1e6, np.array([12.0, 6.0, 36.0, 30.0]), START_INDEX)
    expected = [2e6, 1e6**0.75 * 4e6**0.25, 6e6, 4e6**0.75 * 9e6**0.25]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_targets_extrapolates_last_segment() -> None:
    """Beyond the last anchor the curve keeps the last segment's monthly growth factor."""
    growth = Targets(model="targets", values={"2024-12": 4e6, "2026-12": 9e6})
    monthly = (9e6 / 4e6) ** (1.0 / 24.0)
    times = np.array([48.0, 49.0, 72.0, 96.0])
    got = installed_base(growth, 1e6, times, START_INDEX)
    np.testing.assert_allclose(got, [9e6 * monthly ** (t - 48.0) for t in times], rtol=1e-12)


def test_targets_single_anchor_is_cagr() -> None:
    """One anchor: a constant rate from N0 through the anchor and beyond."""
    growth = Targets(model="targets", values={"2023-12": 1.21e6})
    got = installed_base(growth, 1e6, np.array([6.0, 12.0, 24.0]), START_INDEX)
    np.testing.assert_allclose(got, [1.1e6, 1.21e6, 1.21e6 * 1.21], rtol=1e-12)


def test_targets_anchor_depends_on_start() -> None:
    """The same anchor month sits 12 months later when the horizon starts a year earlier."""
    growth = Targets(model="targets", values={"2024-12": 4e6})
    got = installed_base(growth, 1e6, np.array([18.0, 24.0, 36.0]), month_index("2022-01"))
    np.testing.assert_allclose(got, [2e6, 1e6 ** (1 / 3) * 4e6 ** (2 / 3), 4e6], rtol=1e-12)


# --------------------------------------------------------------------------- lifetimes


def test_integrated_survival_exponential() -> None:
    """C(t) = L (1 - e^(-t/L))."""
    lifetime = Lifetime("exponential", 72.0)
    got = lifetime.integrated_survival(TIMES)
    np.testing.assert_allclose(got, [72.0 * (1 - math.exp(-t / 72.0)) for t in TIMES], rtol=1e-12)


def test_integrated_survival_fixed() -> None:
    """C(t) = min(t, L)."""
    lifetime = Lifetime("fixed", 30.0)
    got = lifetime.integrated_survival(TIMES)
    np.testing.assert_allclose(got, [min(t, 30.0) for t in TIMES], rtol=0, atol=0)


@pytest.mark.parametrize("shape", [0.7, 1.5, 2.0, 3.0])
def test_integrated_survival_weibull(shape: float) -> None:
    """C(t) = λ/k γ(1/k, (t/λ)^k) (incomplete-gamma series), to 1e-5 months."""
    lifetime = Lifetime("weibull", 60.0, shape)
    times = np.array([0.0, 0.37, 1.0, 7.0, 30.0, 60.0, 119.5, 250.0])
    got = lifetime.integrated_survival(times)
    expected = [_weibull_c(t, 60.0, shape) for t in times]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("shape", [0.7, 1.5, 3.0])
def test_integrated_survival_weibull_tends_to_mean(shape: float) -> None:
    """C(∞) = ∫ S = mean: with a long table, C at its end is the mean within 0.1 %."""
    lifetime = Lifetime("weibull", 60.0, shape, horizon=2000.0)
    got = lifetime.integrated_survival(np.array([2000.0, 1e6]))
    np.testing.assert_allclose(got, [60.0, 60.0], rtol=1e-3)
    assert np.all(got <= 60.0 + 1e-6)


def _sample_mean_sd(kind: str, mean: float, shape: float) -> tuple[float, float]:
    if kind == "exponential":
        return mean, mean
    if kind == "fixed":
        return mean, 0.0
    second = _weibull_moment(mean, shape, 2)
    return mean, math.sqrt(second - mean**2)


@pytest.mark.parametrize(
    ("kind", "shape"), [("exponential", 2.0), ("fixed", 2.0), ("weibull", 0.7), ("weibull", 3.0)]
)
def test_sample_mean(kind: str, shape: float) -> None:
    """Sampled lifetimes average the mean within 4 standard errors."""
    lifetime = Lifetime(kind, 48.0, shape)
    draws = lifetime.sample(np.random.default_rng(11), N)
    assert draws.shape == (N,)
    assert np.all(draws >= 0.0)
    mu, sd = _sample_mean_sd(kind, 48.0, shape)
    assert abs(draws.mean() - mu) <= 4 * sd / math.sqrt(N) + 1e-9


def _residual_mean_sd(kind: str, mean: float, shape: float) -> tuple[float, float]:
    """Stationary excess: E[R] = E[X²]/(2E[X]), E[R²] = E[X³]/(3E[X])."""
    if kind == "exponential":
        return mean, mean
    if kind == "fixed":
        return mean / 2.0, mean / math.sqrt(12.0)
    m2, m3 = _weibull_moment(mean, shape, 2), _weibull_moment(mean, shape, 3)
    first, second = m2 / (2 * mean), m3 / (3 * mean)
    return first, math.sqrt(second - first**2)


@pytest.mark.parametrize(
    ("kind", "shape"), [("exponential", 2.0), ("fixed", 2.0), ("weibull", 1.5), ("weibull", 3.0)]
)
def test_sample_residual_mean(kind: str, shape: float) -> None:
    """Residual lifetimes of an equilibrium base average E[X²]/(2E[X]) within 4 SE."""
    lifetime = Lifetime(kind, 48.0, shape)
    draws = lifetime.sample_residual(np.random.default_rng(12), N)
    assert np.all(np.isfinite(draws))
    assert np.all(draws >= 0.0)
    mu, sd = _residual_mean_sd(kind, 48.0, shape)
    assert abs(draws.mean() - mu) <= 4 * sd / math.sqrt(N)
    if kind == "fixed":
        assert draws.max() <= 48.0


def test_sample_residual_beyond_horizon_is_inf() -> None:
    """Residuals beyond a short table are inf, with probability 1 - C(H)/mean."""
    lifetime = Lifetime("weibull", 48.0, 2.0, horizon=48.0)
    draws = lifetime.sample_residual(np.random.default_rng(13), N)
    share_inf = 1.0 - _weibull_c(48.0, 48.0, 2.0) / 48.0
    se = math.sqrt(share_inf * (1 - share_inf) / N)
    assert abs(np.mean(np.isinf(draws)) - share_inf) <= 4 * se
    assert np.all(draws[np.isfinite(draws)] <= 48.0)


# --------------------------------------------------------------------------- join schedule

M = 96
TIMES_M = np.arange(M + 1, dtype=float)
LIFETIMES = [
    Lifetime("exponential", 48.0),
    Lifetime("fixed", 30.0),
    Lifetime("weibull", 60.0, 2.5),
    Lifetime("weibull", 40.0, 0.8),
]
CURVES = {
    "constant": installed_base(Cagr(model="cagr", rate=0.0), 1e6, TIMES_M, START_INDEX),
    "cagr": installed_base(Cagr(model="cagr", rate=0.25), 1e6, TIMES_M, START_INDEX),
    "logistic": installed_base(
        Logistic(model="logistic", rate=0.6, saturation=4e6), 1e6, TIMES_M, START_INDEX
    ),
}


def _lifetime_id(lifetime: Lifetime) -> str:
    return f"{lifetime.kind}-{lifetime.mean:g}-{lifetime.shape:g}"


@pytest.mark.parametrize("lifetime", LIFETIMES, ids=_lifetime_id)
@pytest.mark.parametrize("curve", list(CURVES))
def test_join_schedule_follows_curve(curve: str, lifetime: Lifetime) -> None:
    """base0 S_e(n) + K[n, :] @ joins equals base[n] at every month end (1e-9 relative)."""
    base = CURVES[curve]
    schedule = join_schedule(base, lifetime)
    assert schedule.joins.shape == (M,)
    assert np.all(schedule.joins >= 0.0)
    implied = base[0] * schedule.initial_survival + schedule.survival_kernel @ schedule.joins
    np.testing.assert_allclose(implied, base, rtol=1e-9)


@pytest.mark.parametrize("lifetime", LIFETIMES, ids=_lifetime_id)
def test_join_schedule_kernel_and_initial_survival(lifetime: Lifetime) -> None:
    """K[n, k] = C(n-k) - C(n-k-1) for n > k else 0; S_e(n) = 1 - C(n)/mean."""
    schedule = join_schedule(CURVES["cagr"], lifetime)
    c = np.array([_c_reference(lifetime, float(t)) for t in TIMES_M])
    expected = np.zeros((M + 1, M))
    for n in range(M + 1):
        for k in range(min(n, M)):
            expected[n, k] = c[n - k] - c[n - k - 1]
    np.testing.assert_allclose(schedule.survival_kernel, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(schedule.initial_survival, 1.0 - c / lifetime.mean, atol=1e-6)


@pytest.mark.parametrize("lifetime", LIFETIMES, ids=_lifetime_id)
def test_join_schedule_constant_base_joins_at_rate_n_over_mean(lifetime: Lifetime) -> None:
    """An equilibrium base N held constant needs N/mean joins every month (renewal rate)."""
    schedule = join_schedule(np.full(M + 1, 1e6), lifetime)
    np.testing.assert_allclose(schedule.joins, 1e6 / lifetime.mean, rtol=1e-9)


@pytest.mark.parametrize("curve", list(CURVES))
def test_join_schedule_exponential_recurrence(curve: str) -> None:
    """Exponential: B(n) = B(n-1) e^(-1/L) + j L (1 - e^(-1/L)), solved for j."""
    base, life = CURVES[curve], 48.0
    schedule = join_schedule(base, Lifetime("exponential", life))
    decay = math.exp(-1.0 / life)
    expected = (base[1:] - base[:-1] * decay) / (life * (1.0 - decay))
    np.testing.assert_allclose(schedule.joins, expected, rtol=1e-9)


def test_join_schedule_fixed_recurrence() -> None:
    """Fixed L (whole months): the base is the surviving initial base plus the last L
    months of joins."""
    base, life = CURVES["logistic"], 30
    schedule = join_schedule(base, Lifetime("fixed", float(life)))
    joins: list[float] = []
    for n in range(1, M + 1):
        initial_left = base[0] * max(0.0, 1.0 - n / life)
        recent = sum(joins[max(0, n - life) : n - 1])
        joins.append(base[n] - initial_left - recent)
    np.testing.assert_allclose(schedule.joins, joins, rtol=1e-9)


@pytest.mark.parametrize("lifetime", LIFETIMES, ids=_lifetime_id)
def test_join_schedule_falling_curve_clips_to_zero(lifetime: Lifetime) -> None:
    """A curve falling faster than attrition (to 0 in 6 months) gets no joins; the base
    stays above it."""
    base = installed_base(Linear(model="linear", per_year=-2e6), 1e6, TIMES_M, START_INDEX)
    assert base[6] == 0.0
    schedule = join_schedule(base, lifetime)
    np.testing.assert_array_equal(schedule.joins, np.zeros(M))
    implied = base[0] * schedule.initial_survival + schedule.survival_kernel @ schedule.joins
    assert np.all(implied[1:] >= base[1:])


def test_join_schedule_dip_then_recovery() -> None:
    """Joins are 0 while the curve drops, then resume and track it again exactly."""
    base = np.full(M + 1, 1e6)
    base[10:20] = 5e5  # a sudden drop for ten months
    lifetime = Lifetime("exponential", 48.0)
    schedule = join_schedule(base, lifetime)
    assert np.all(schedule.joins >= 0.0)
    np.testing.assert_array_equal(schedule.joins[9:19], 0.0)
    decay = math.exp(-1.0 / 48.0)
    carried = 1e6 * decay**10  # no joins in months 9..18: B(19) = B(9) e^(-10/L)
    expected_jump = (1e6 - carried * decay) / (48.0 * (1.0 - decay))
    assert schedule.joins[19] == pytest.approx(expected_jump, rel=1e-9)
    implied = base[0] * schedule.initial_survival + schedule.survival_kernel @ schedule.joins
    np.testing.assert_allclose(implied[20:], base[20:], rtol=1e-9)


# --------------------------------------------------------------------------- step schedules


def test_step_values_constant() -> None:
    """A constant schedule repeats at every month."""
    months = np.arange(START_INDEX - 1, START_INDEX + 11, dtype=np.int64)
    np.testing.assert_array_equal(step_values(0.25, months), np.full(12, 0.25))


def test_step_values_dated_steps() -> None:
    """Each dated value holds from its month on; before the first date the first holds."""
    schedule = {"2023-03": 0.1, "2024-01": 0.5, "2024-07": 0.9}
    labels = [
        "2022-12",
        "2023-02",
        "2023-03",
        "2023-12",
        "2024-01",
        "2024-06",
        "2024-07",
        "2030-12",
    ]
    months = np.array([month_index(m) for m in labels], dtype=np.int64)
    got = step_values(schedule, months)
    np.testing.assert_array_equal(got, [0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.9, 0.9])
