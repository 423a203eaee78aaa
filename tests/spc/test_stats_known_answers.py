"""Known answers: Montgomery's piston rings, the constant tables against their definitions and printed values,
capability on data of known σ, Anderson–Darling against scipy, the percentile method on a known distribution,
and the type-1 gauge study."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats as sstats

from spc import stats

# Montgomery, Introduction to Statistical Quality Control, Table 6.3: inside diameters (mm) of automobile engine
# piston rings, 25 samples of 5, with the published sample mean and range of each. Every row's mean and range
# below reproduce the published ones, and so do their sums (Σx̄ = 1850.028, ΣR = 0.581): the data are checked.
PISTON_RINGS = [
    ((74.030, 74.002, 74.019, 73.992, 74.008), 74.010, 0.038),
    ((73.995, 73.992, 74.001, 74.011, 74.004), 74.001, 0.019),
    ((73.988, 74.024, 74.021, 74.005, 74.002), 74.008, 0.036),
    ((74.002, 73.996, 73.993, 74.015, 74.009), 74.003, 0.022),
    ((73.992, 74.007, 74.015, 73.989, 74.014), 74.003, 0.026),
    ((74.009, 73.994, 73.997, 73.985, 73.993), 73.996, 0.024),
    ((73.995, 74.006, 73.994, 74.000, 74.005), 74.000, 0.012),
    ((73.985, 74.003, 73.993, 74.015, 73.988), 73.997, 0.030),
    ((74.008, 73.995, 74.009, 74.005, 74.004), 74.004, 0.014),
    ((73.998, 74.000, 73.990, 74.007, 73.995), 73.998, 0.017),
    ((73.994, 73.998, 73.994, 73.995, 73.990), 73.994, 0.008),
    ((74.004, 74.000, 74.007, 74.000, 73.996), 74.001, 0.011),
    ((73.983, 74.002, 73.998, 73.997, 74.012), 73.998, 0.029),
    ((74.006, 73.967, 73.994, 74.000, 73.984), 73.990, 0.039),
    ((74.012, 74.014, 73.998, 73.999, 74.007), 74.006, 0.016),
    ((74.000, 73.984, 74.005, 73.998, 73.996), 73.997, 0.021),
    ((73.994, 74.012, 73.986, 74.005, 74.007), 74.001, 0.026),
    ((74.006, 74.010, 74.018, 74.003, 74.000), 74.007, 0.018),
    ((73.984, 74.002, 74.003, 74.005, 73.997), 73.998, 0.021),
    ((74.000, 74.010, 74.013, 74.020, 74.003), 74.009, 0.020),
    ((73.982, 74.001, 74.015, 74.005, 73.996), 74.000, 0.033),
    ((74.004, 73.999, 73.990, 74.006, 74.009), 74.002, 0.019),
    ((74.010, 73.989, 73.990, 74.009, 74.014), 74.002, 0.025),
    ((74.015, 74.008, 73.993, 74.000, 74.010), 74.005, 0.022),
    ((73.982, 73.984, 73.995, 74.017, 74.013), 73.998, 0.035),
]
RINGS = np.array([v for row, _, _ in PISTON_RINGS for v in row])


def test_it_reproduces_the_published_piston_ring_table() -> None:
    points = stats.points(RINGS, stats.XBAR_R, 5)
    assert np.allclose(np.round(points.location, 3), [m for _, m, _ in PISTON_RINGS])
    assert np.allclose(np.round(points.dispersion, 3), [r for _, _, r in PISTON_RINGS])
    assert round(sum(m for _, m, _ in PISTON_RINGS), 3) == 1850.028
    assert round(sum(r for _, _, r in PISTON_RINGS), 3) == 0.581


def test_it_computes_montgomerys_piston_ring_limits() -> None:
    limits = stats.compute_limits(RINGS, stats.XBAR_R, 5)
    assert round(limits.center, 3) == 74.001
    assert round(limits.dispersion_center, 3) == 0.023
    # Published: 73.988 and 74.014 (Montgomery rounds x̄̄ and R̄ to 74.001 and 0.023 first; unrounded the UCL is
    # 74.0146): equal to the printed precision of one unit in the third decimal.
    assert abs(limits.lcl - 73.988) <= 0.0005
    assert abs(limits.ucl - 74.014) <= 0.001
    assert round(limits.dispersion_ucl, 3) == 0.049
    assert limits.dispersion_lcl == 0
    assert limits.sigma_within == pytest.approx(0.02324 / 2.326)
    # Montgomery: the process is in control (no subgroup beyond the limits, on either chart).
    hits = stats.rule_hits(
        stats.points(RINGS, stats.XBAR_R, 5).location, limits.center, limits.sigma_plotted, ["nelson_1"]
    )
    assert not hits["nelson_1"].any()


def test_it_gives_montgomerys_piston_ring_capability() -> None:
    # Montgomery (Section 6.2.3): specifications 74.000 ± 0.05 mm, σ̂ = R̄/d2 = 0.0099, PCR = Cp = 1.68.
    cap = stats.capability(RINGS, lsl=73.95, usl=74.05, chart_kind=stats.XBAR_R, n=5)
    # Montgomery divides by σ̂ = 0.023/2.326 rounded to 0.0099; unrounded R̄ = 0.02324 gives σ̂ = 0.00999 and
    # Cp = 1.668: the published figure to the precision of its rounded inputs.
    assert round(cap.sigma_within, 3) == 0.010 and abs(cap.cp.value - 1.68) < 0.015
    assert round(0.10 / (6 * round(0.023 / stats.D2[5], 4)), 2) == 1.68
    assert cap.n == 125 and cap.cp.low < cap.cp.value < cap.cp.high


@pytest.mark.parametrize("n", [2, 3, 5, 8, 12, 25])
def test_it_tables_d2_and_d3_as_their_integrals(n: int) -> None:
    phi, Phi = sstats.norm.pdf, sstats.norm.cdf
    d2, _ = integrate.quad(lambda x: 1 - Phi(x) ** n - (1 - Phi(x)) ** n, -10, 10)
    assert stats.D2[n] == pytest.approx(d2, abs=0.0006)
    # E[R²] = 2 ∫∫_{x<y} (1 − Φ(y)^n − (1−Φ(x))^n + (Φ(y)−Φ(x))^n) dx dy; d3² = E[R²] − d2².
    er2, _ = integrate.dblquad(
        lambda x, y: 1 - Phi(y) ** n - (1 - Phi(x)) ** n + (Phi(y) - Phi(x)) ** n, -8, 8, lambda y: -8, lambda y: y
    )
    assert stats.D3_SD[n] == pytest.approx(math.sqrt(2 * er2 - d2 * d2), abs=0.0006)
    del phi


@pytest.mark.parametrize(
    "n, printed",
    [
        (2, {"A2": 1.880, "A3": 2.659, "c4": 0.7979, "B4": 3.267, "D4": 3.267, "D3": 0}),
        (5, {"A2": 0.577, "A3": 1.427, "c4": 0.9400, "B3": 0, "B4": 2.089, "D4": 2.114}),
        (7, {"A2": 0.419, "A3": 1.182, "c4": 0.9594, "B3": 0.118, "B4": 1.882, "D3": 0.076, "D4": 1.924}),
        (10, {"A2": 0.308, "A3": 0.975, "c4": 0.9727, "B3": 0.284, "B4": 1.716, "D3": 0.223, "D4": 1.777}),
        (25, {"A2": 0.153, "A3": 0.606, "c4": 0.9896, "B3": 0.565, "B4": 1.435, "D3": 0.459, "D4": 1.541}),
    ],
)
def test_it_derives_the_printed_chart_factors(n: int, printed: dict[str, float]) -> None:
    f = stats.factors(n)
    for name, value in printed.items():
        # Factors derived from the 3-decimal d2 and d3 agree with those printed (from more decimals) to ±0.002.
        assert getattr(f, name) == pytest.approx(value, abs=0.002), name


def test_it_estimates_capability_of_a_process_of_known_sigma() -> None:
    rng = np.random.default_rng(7)
    sigma, mean = 0.01, 10.005
    x = rng.normal(mean, sigma, 5000)
    cap = stats.capability(x, lsl=9.95, usl=10.05, chart_kind=stats.XBAR_S, n=5)
    true_cp, true_cpk = 0.1 / (6 * sigma), (10.05 - mean) / (3 * sigma)
    assert cap.cp.low < true_cp < cap.cp.high and cap.cp.value == pytest.approx(true_cp, rel=0.03)
    assert cap.cpk.low < true_cpk < cap.cpk.high
    assert cap.pp.value == pytest.approx(true_cp, rel=0.03) and cap.ppk.value == pytest.approx(true_cpk, rel=0.03)
    assert cap.normality is not None and cap.normality.normal


def test_it_estimates_sigma_within_from_moving_ranges() -> None:
    x = np.random.default_rng(3).normal(0, 2.0, 20000)
    limits = stats.compute_limits(x, stats.IMR)
    assert limits.sigma_within == pytest.approx(2.0, rel=0.02)
    assert limits.dispersion_ucl == pytest.approx(3.267 * limits.dispersion_center, rel=1e-3)


def test_it_separates_sigma_within_from_sigma_overall_when_the_mean_drifts() -> None:
    rng = np.random.default_rng(11)
    drift = np.repeat(rng.normal(0, 0.02, 200), 5)  # subgroup-to-subgroup shifts
    x = drift + rng.normal(0, 0.01, 1000)
    cap = stats.capability(x, lsl=-0.1, usl=0.1, chart_kind=stats.XBAR_R, n=5)
    assert cap.sigma_within == pytest.approx(0.01, rel=0.08)
    assert cap.sigma_overall == pytest.approx(math.hypot(0.01, 0.02), rel=0.1)
    assert cap.ppk.value < cap.cpk.value


def test_it_matches_scipys_anderson_darling_statistic_and_rejects_skewed_data() -> None:
    rng = np.random.default_rng(5)
    normal = rng.normal(3, 1, 300)
    ad = stats.anderson_darling(normal)
    assert ad is not None and ad.statistic == pytest.approx(
        sstats.anderson(normal, method="interpolate").statistic, rel=1e-9
    )
    assert ad.normal
    skewed = rng.exponential(1.0, 300)
    assert not stats.anderson_darling(skewed).normal  # type: ignore[union-attr]


def test_it_reports_one_sided_and_percentile_capability_for_a_skewed_characteristic() -> None:
    # Runout: lognormal, bounded at zero, upper limit only. True quantiles known in closed form.
    rng = np.random.default_rng(9)
    s, scale = 0.5, 0.01
    x = rng.lognormal(math.log(scale), s, 20000)
    usl = 0.05
    cap = stats.capability(x, lsl=None, usl=usl, chart_kind=stats.IMR, method=stats.PERCENTILE)
    q_med, q_hi = scale, scale * math.exp(s * sstats.norm.ppf(0.99865))
    assert cap.sides == stats.UPPER_ONLY and cap.cp.value is None and cap.pp.value is None
    assert cap.fit.name == "lognorm"
    assert cap.ppk.value == pytest.approx((usl - q_med) / (q_hi - q_med), rel=0.05)
    assert any("Not normal" in note for note in cap.notes)
    normal_based = stats.capability(x, lsl=None, usl=usl, chart_kind=stats.IMR)
    assert normal_based.cpu.value is not None and normal_based.cpl.value is None
    assert normal_based.cpk.value == normal_based.cpu.value


def test_it_computes_a_type1_gauge_study() -> None:
    # T = 0.1, s = 0.001, bias 0.002: Cg = 0.02/0.006 = 3.33, Cgk = (0.01 − 0.002)/0.003 = 2.67.
    x = 20.002 + 0.001 * np.array([-1, 1] * 25, dtype=float) * math.sqrt(49 / 50)
    study = stats.type1_gauge(x, reference=20.0, tolerance=0.1)
    assert study.sd == pytest.approx(0.001)
    assert study.cg == pytest.approx(0.02 / 0.006) and study.cgk == pytest.approx(0.008 / 0.003)
    assert study.capable
