"""Statistical process control, as pure functions of numpy arrays: the constant tables, control-chart limits,
capability with confidence intervals, the Anderson–Darling normality test, the run rules and the type-1 gauge study.

Nothing here knows Django: selectors feed it arrays read straight from the database, so a characteristic with
100,000 values is one vectorised pass. Definitions follow Montgomery, Introduction to Statistical Quality Control
(constants: Appendix VI), ISO 7870-2 (Shewhart charts), ISO 22514-2 (capability, percentile method) and Nelson's
1984 rules (J. Quality Technology 16(4)).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

FloatArray = NDArray[np.float64]

# --- Constant tables (n = 2..25) ---------------------------------------------------------------------------
# d2 = E[R/σ] and d3 = sd[R/σ] of the range of n normal values, as printed in the standard tables (Montgomery,
# Appendix VI; ASTM E2587). c4 is exact (gamma functions). The chart factors derive from these three, as the
# tables do: A2 = 3/(d2√n), D3,4 = 1 ∓ 3 d3/d2, A3 = 3/(c4√n), B3,4 = 1 ∓ 3√(1−c4²)/c4 (negative lower factors
# are 0). tests/spc/test_stats_known_answers.py checks d2 and d3 against their integrals and the factors against
# printed values.
D2 = {
    2: 1.128,
    3: 1.693,
    4: 2.059,
    5: 2.326,
    6: 2.534,
    7: 2.704,
    8: 2.847,
    9: 2.970,
    10: 3.078,
    11: 3.173,
    12: 3.258,
    13: 3.336,
    14: 3.407,
    15: 3.472,
    16: 3.532,
    17: 3.588,
    18: 3.640,
    19: 3.689,
    20: 3.735,
    21: 3.778,
    22: 3.819,
    23: 3.858,
    24: 3.895,
    25: 3.931,
}
D3_SD = {
    2: 0.853,
    3: 0.888,
    4: 0.880,
    5: 0.864,
    6: 0.848,
    7: 0.833,
    8: 0.820,
    9: 0.808,
    10: 0.797,
    11: 0.787,
    12: 0.778,
    13: 0.770,
    14: 0.763,
    15: 0.756,
    16: 0.750,
    17: 0.744,
    18: 0.739,
    19: 0.734,
    20: 0.729,
    21: 0.724,
    22: 0.720,
    23: 0.716,
    24: 0.712,
    25: 0.708,
}
SUBGROUP_SIZES = range(2, 26)


def c4(n: int) -> float:
    """E[s]/σ for samples of n normal values: √(2/(n−1)) Γ(n/2)/Γ((n−1)/2)."""
    return float(math.sqrt(2.0 / (n - 1)) * math.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2)))


@dataclass(frozen=True)
class Factors:
    n: int
    d2: float
    d3: float
    c4: float
    A2: float
    A3: float
    B3: float
    B4: float
    D3: float
    D4: float


def factors(n: int) -> Factors:
    if n not in D2:
        raise ValueError(f"subgroup size {n} is outside the tables (2..25)")
    d2, d3, c = D2[n], D3_SD[n], c4(n)
    b = 3 * math.sqrt(1 - c * c) / c
    return Factors(
        n=n,
        d2=d2,
        d3=d3,
        c4=c,
        A2=3 / (d2 * math.sqrt(n)),
        A3=3 / (c * math.sqrt(n)),
        B3=max(0.0, 1 - b),
        B4=1 + b,
        D3=max(0.0, 1 - 3 * d3 / d2),
        D4=1 + 3 * d3 / d2,
    )


# --- Control charts -------------------------------------------------------------------------------------------

IMR, XBAR_R, XBAR_S = "imr", "xbar_r", "xbar_s"
MR_D2 = D2[2]  # 1.128: a moving range is the range of two consecutive values


@dataclass(frozen=True)
class Limits:
    """The limits of one chart pair. `sigma_within` is the estimate the chart dictates (R̄/d2, S̄/c4, MR̄/d2(2))."""

    chart_kind: str
    subgroup_size: int
    center: float
    ucl: float
    lcl: float
    dispersion_center: float
    dispersion_ucl: float
    dispersion_lcl: float
    sigma_within: float
    sigma_method: str
    values: int
    subgroups: int

    @property
    def sigma_plotted(self) -> float:
        """σ of the plotted location statistic: (UCL − centre)/3 (σ/√n on an X̄ chart)."""
        return (self.ucl - self.center) / 3.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Points:
    """What a chart plots: one location and one dispersion value per point (a value, or a subgroup of n), and the
    index of the last raw value of each point (to name the part behind it)."""

    location: FloatArray
    dispersion: FloatArray  # NaN where undefined (the first moving range)
    last_index: NDArray[np.int64]


def subgroups(values: FloatArray, n: int) -> FloatArray:
    """Rational subgroups of n consecutive values, as an (m, n) array; an incomplete trailing subgroup waits."""
    m = len(values) // n
    return np.asarray(values[: m * n], dtype=np.float64).reshape(m, n)


def points(values: FloatArray, chart_kind: str, n: int) -> Points:
    values = np.asarray(values, dtype=np.float64)
    if chart_kind == IMR:
        mr = np.full(len(values), np.nan)
        if len(values) > 1:
            mr[1:] = np.abs(np.diff(values))
        return Points(values, mr, np.arange(len(values), dtype=np.int64))
    groups = subgroups(values, n)
    last = np.arange(1, len(groups) + 1, dtype=np.int64) * n - 1
    if chart_kind == XBAR_R:
        return Points(groups.mean(axis=1), np.ptp(groups, axis=1) if len(groups) else np.empty(0), last)
    if chart_kind == XBAR_S:
        return Points(groups.mean(axis=1), groups.std(axis=1, ddof=1) if len(groups) else np.empty(0), last)
    raise ValueError(f"unknown chart kind {chart_kind!r}")


class NotEnoughData(ValueError):
    pass


def compute_limits(values: FloatArray, chart_kind: str, n: int = 5) -> Limits:
    """Phase I limits from a baseline of consecutive values."""
    values = np.asarray(values, dtype=np.float64)
    if chart_kind == IMR:
        if len(values) < 2:
            raise NotEnoughData("an I-MR chart needs at least 2 values")
        mr_bar = float(np.mean(np.abs(np.diff(values))))
        center = float(values.mean())
        sigma = mr_bar / MR_D2
        f2 = factors(2)
        return Limits(
            IMR,
            1,
            center,
            center + 3 * sigma,
            center - 3 * sigma,
            mr_bar,
            f2.D4 * mr_bar,
            f2.D3 * mr_bar,
            sigma,
            "MR̄/1.128",
            len(values),
            len(values),
        )
    f = factors(n)
    groups = subgroups(values, n)
    if len(groups) < 2:
        raise NotEnoughData(f"an X̄ chart needs at least 2 complete subgroups of {n}")
    center = float(groups.mean())
    if chart_kind == XBAR_R:
        r_bar = float(np.ptp(groups, axis=1).mean())
        return Limits(
            XBAR_R,
            n,
            center,
            center + f.A2 * r_bar,
            center - f.A2 * r_bar,
            r_bar,
            f.D4 * r_bar,
            f.D3 * r_bar,
            r_bar / f.d2,
            f"R̄/d2 (d2 = {f.d2})",
            groups.size,
            len(groups),
        )
    if chart_kind == XBAR_S:
        s_bar = float(groups.std(axis=1, ddof=1).mean())
        return Limits(
            XBAR_S,
            n,
            center,
            center + f.A3 * s_bar,
            center - f.A3 * s_bar,
            s_bar,
            f.B4 * s_bar,
            f.B3 * s_bar,
            s_bar / f.c4,
            f"S̄/c4 (c4 = {f.c4:.4f})",
            groups.size,
            len(groups),
        )
    raise ValueError(f"unknown chart kind {chart_kind!r}")


def sigma_within(values: FloatArray, chart_kind: str, n: int) -> tuple[float, float]:
    """σ within as the chart dictates, and the degrees of freedom its confidence intervals use (approximations:
    S̄/c4 ≈ m(n−1); R̄/d2 ≈ 0.9 m(n−1) (Patnaik); MR̄/1.128 ≈ 0.62 (N−1) (Cryer & Ryan 1990))."""
    limits = compute_limits(values, chart_kind, n)
    if chart_kind == IMR:
        return limits.sigma_within, 0.62 * (limits.values - 1)
    m = limits.subgroups
    dof = m * (n - 1) * (0.9 if chart_kind == XBAR_R else 1.0)
    return limits.sigma_within, dof


# --- Run rules ------------------------------------------------------------------------------------------------

# Nelson's eight rules; Western Electric's rules 1-3 are Nelson's 1, 5 and 6; WE's run rule is 8 points.
RULES: dict[str, str] = {
    "nelson_1": "1 point beyond 3σ (Nelson 1, Western Electric 1)",
    "nelson_2": "9 points in a row on one side of the centre line (Nelson 2)",
    "nelson_3": "6 points in a row steadily increasing or decreasing (Nelson 3)",
    "nelson_4": "14 points in a row alternating up and down (Nelson 4)",
    "nelson_5": "2 of 3 points beyond 2σ on one side (Nelson 5, Western Electric 2)",
    "nelson_6": "4 of 5 points beyond 1σ on one side (Nelson 6, Western Electric 3)",
    "nelson_7": "15 points in a row within 1σ (Nelson 7, stratification)",
    "nelson_8": "8 points in a row beyond 1σ on either side (Nelson 8, mixture)",
    "we_4": "8 points in a row on one side of the centre line (Western Electric 4)",
}
DEFAULT_RULES = ("nelson_1", "nelson_2")


def _windows(a: NDArray[Any], k: int) -> NDArray[Any]:
    return np.lib.stride_tricks.sliding_window_view(a, k)


def _at_end(window_hits: NDArray[np.bool_], length: int, k: int) -> NDArray[np.bool_]:
    """A window result (one per window of k) placed at the window's last point."""
    out = np.zeros(length, dtype=bool)
    if length >= k:
        out[k - 1 :] = window_hits
    return out


def _run(mask: NDArray[np.bool_], k: int) -> NDArray[np.bool_]:
    if len(mask) < k:
        return np.zeros(len(mask), dtype=bool)
    return _at_end(np.asarray(_windows(mask, k).all(axis=1), dtype=bool), len(mask), k)


def _k_of_m(mask: NDArray[np.bool_], k: int, m: int) -> NDArray[np.bool_]:
    """k of the last m points in the mask, the last one among them (the rule fires on a point that is itself out)."""
    if len(mask) < m:
        return np.zeros(len(mask), dtype=bool)
    counts: NDArray[np.bool_] = np.asarray(_windows(mask, m).sum(axis=1) >= k, dtype=bool)
    return _at_end(counts, len(mask), m) & mask


def rule_hits(
    values: FloatArray, center: float, sigma: float, rules: tuple[str, ...] | list[str]
) -> dict[str, NDArray[np.bool_]]:
    """For each rule, a boolean per point: True where the rule's pattern is complete at that point. `sigma` is the
    σ of the plotted statistic. Points that are NaN match no zone."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    with np.errstate(invalid="ignore"):
        z = (x - center) / sigma if sigma > 0 else np.zeros(n)
        above, below = z > 0, z < 0
        diffs = np.diff(x)
    out: dict[str, NDArray[np.bool_]] = {}
    for rule in rules:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}")
        if n == 0:
            out[rule] = np.zeros(0, dtype=bool)
            continue
        if rule == "nelson_1":
            hits = np.abs(z) > 3
        elif rule == "nelson_2":
            hits = _run(above, 9) | _run(below, 9)
        elif rule == "we_4":
            hits = _run(above, 8) | _run(below, 8)
        elif rule == "nelson_3":
            up = np.concatenate([[False], diffs > 0])
            down = np.concatenate([[False], diffs < 0])
            hits = _run(up, 5) | _run(down, 5)
        elif rule == "nelson_4":
            # 14 points alternate: their 13 differences change sign 12 times in a row.
            flips = np.concatenate([[False, False], diffs[1:] * diffs[:-1] < 0]) if n > 2 else np.zeros(n, bool)
            hits = _run(flips, 12)
        elif rule == "nelson_5":
            hits = _k_of_m(z > 2, 2, 3) | _k_of_m(z < -2, 2, 3)
        elif rule == "nelson_6":
            hits = _k_of_m(z > 1, 4, 5) | _k_of_m(z < -1, 4, 5)
        elif rule == "nelson_7":
            hits = _run(np.abs(z) < 1, 15)
        elif rule == "nelson_8":
            hits = _run(np.abs(z) > 1, 8)
        else:
            raise ValueError(f"unknown rule {rule!r}")
        out[rule] = np.asarray(hits, dtype=bool)
    return out


def dispersion_hits(values: FloatArray, ucl: float, lcl: float) -> NDArray[np.bool_]:
    """Rule 1 on the dispersion chart (R, S or MR beyond its limits)."""
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (x > ucl) | ((x < lcl) & (lcl > 0))


# --- Normality ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Normality:
    statistic: float  # A²
    adjusted: float  # A*² = A²(1 + 0.75/n + 2.25/n²)
    p_value: float
    normal: bool  # p ≥ 0.05
    n: int


def anderson_darling(values: FloatArray, alpha: float = 0.05) -> Normality | None:
    """Anderson–Darling test for normality with mean and σ estimated (D'Agostino & Stephens 1986, table 4.9)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n < 8:
        return None
    sd = x.std(ddof=1)
    if sd == 0:
        return None
    z = (x - x.mean()) / sd
    i = np.arange(1, n + 1)
    logcdf, logsf = stats.norm.logcdf(z), stats.norm.logsf(z)
    a2 = float(-n - np.sum((2 * i - 1) * (logcdf + logsf[::-1])) / n)
    a = a2 * (1 + 0.75 / n + 2.25 / n**2)
    if a >= 13:  # beyond the formula's range (it turns upwards near A*² = 153): p < 1e-30
        p = 0.0
    elif a >= 0.6:
        p = math.exp(1.2937 - 5.709 * a + 0.0186 * a * a)
    elif a >= 0.34:
        p = math.exp(0.9177 - 4.279 * a - 1.38 * a * a)
    elif a >= 0.2:
        p = 1 - math.exp(-8.318 + 42.796 * a - 59.938 * a * a)
    else:
        p = 1 - math.exp(-13.436 + 101.14 * a - 223.73 * a * a)
    p = min(max(p, 0.0), 1.0)
    return Normality(a2, a, p, p >= alpha, n)


# --- Capability -----------------------------------------------------------------------------------------------

NORMAL, PERCENTILE = "normal", "percentile"
TWO_SIDED, UPPER_ONLY, LOWER_ONLY = "two_sided", "upper_only", "lower_only"
Z_LOW, Z_HIGH = 0.00135, 0.99865  # ±3σ of a normal distribution: ISO 22514-2's percentile method


@dataclass(frozen=True)
class Index:
    value: float | None
    low: float | None = None  # 95 % confidence interval
    high: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Fit:
    """The distribution the histogram shows and the percentile method uses."""

    name: str
    params: tuple[float, ...]
    q_low: float
    median: float
    q_high: float

    def pdf(self, x: FloatArray) -> FloatArray:
        return np.asarray(getattr(stats, self.name).pdf(x, *self.params), dtype=np.float64)


@dataclass(frozen=True)
class Capability:
    method: str
    sides: str
    n: int
    mean: float
    sigma_within: float | None
    sigma_overall: float
    cp: Index
    cpk: Index
    cpu: Index
    cpl: Index
    pp: Index
    ppk: Index
    ppu: Index
    ppl: Index
    normality: Normality | None
    fit: Fit
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fit"] = {
            "name": self.fit.name,
            "params": list(self.fit.params),
            "q_low": self.fit.q_low,
            "median": self.fit.median,
            "q_high": self.fit.q_high,
        }
        return out


def _chi2_ci(value: float | None, dof: float, z: float = 0.95) -> Index:
    if value is None or dof < 1:
        return Index(value)
    a = 1 - z
    return Index(
        value,
        value * math.sqrt(stats.chi2.ppf(a / 2, dof) / dof),
        value * math.sqrt(stats.chi2.ppf(1 - a / 2, dof) / dof),
    )


def _bissell_ci(value: float | None, n: int, dof: float, z: float = 0.95) -> Index:
    """Bissell (1990): Ĉpk ± z √(1/(9n) + Ĉpk²/(2ν))."""
    if value is None or n < 2 or dof < 1:
        return Index(value)
    half = stats.norm.ppf(1 - (1 - z) / 2) * math.sqrt(1 / (9 * n) + value * value / (2 * dof))
    return Index(value, value - half, value + half)


NON_NORMAL_CANDIDATES = ("norm", "lognorm", "gamma", "weibull_min")


def fit_distribution(values: FloatArray, *, normal: bool) -> Fit:
    """A normal fit (mean, sample σ), or else the candidate of highest likelihood (AIC) among the usual shapes of a
    dimensional characteristic bounded on one side."""
    x = np.asarray(values, dtype=np.float64)
    if normal or len(x) < 20:
        params: tuple[float, ...] = (float(x.mean()), float(x.std(ddof=1)))
        name = "norm"
    else:
        best: tuple[float, str, tuple[float, ...]] | None = None
        sample = x if len(x) <= 20000 else np.random.default_rng(0).choice(x, 20000, replace=False)
        for candidate in NON_NORMAL_CANDIDATES:
            dist = getattr(stats, candidate)
            try:
                with np.errstate(all="ignore"):
                    p = tuple(float(v) for v in dist.fit(sample))
                    ll = float(np.sum(dist.logpdf(sample, *p)))
            except Exception:  # a shape that does not fit these data
                continue
            if not math.isfinite(ll):
                continue
            aic = 2 * len(p) - 2 * ll
            if best is None or aic < best[0]:
                best = (aic, candidate, p)
        assert best is not None
        _, name, params = best
    dist = getattr(stats, name)
    q = dist.ppf([Z_LOW, 0.5, Z_HIGH], *params)
    return Fit(name, params, float(q[0]), float(q[1]), float(q[2]))


def capability(
    values: FloatArray, *, lsl: float | None, usl: float | None, chart_kind: str, n: int = 5, method: str = NORMAL
) -> Capability:
    """Cp/Cpk (σ within, as the chart dictates) and Pp/Ppk (σ overall, the sample standard deviation), each with
    a 95 % confidence interval; one-sided characteristics get Cpu or Cpl alone (Cp needs both limits). With the
    percentile method (ISO 22514-2) the spread is X99.865 − X0.135 of the fitted distribution and the location its
    median; it gives performance indices (Pp, Ppk) only."""
    x = np.asarray(values, dtype=np.float64)
    count = len(x)
    if count < 2:
        raise NotEnoughData("capability needs at least 2 values")
    sides = TWO_SIDED if (lsl is not None and usl is not None) else (UPPER_ONLY if usl is not None else LOWER_ONLY)
    mean, s_overall = float(x.mean()), float(x.std(ddof=1))
    normality = anderson_darling(x)
    notes: list[str] = []
    try:
        s_within, dof_within = sigma_within(x, chart_kind, n)
    except NotEnoughData as exc:
        s_within, dof_within = None, 0.0
        notes.append(str(exc))
    if normality is not None and not normality.normal:
        notes.append(
            f"Not normal (Anderson–Darling p = {normality.p_value:.3g})"
            + (
                ": percentile method (ISO 22514-2)"
                if method == PERCENTILE
                else ": the normal-based indices may mislead; consider the percentile method"
            )
        )
    fit = fit_distribution(x, normal=(method == NORMAL))

    def indices(sigma: float | None, dof: float) -> tuple[Index, Index, Index, Index]:
        if sigma is None or sigma <= 0:
            return Index(None), Index(None), Index(None), Index(None)
        cpu = (usl - mean) / (3 * sigma) if usl is not None else None
        cpl = (mean - lsl) / (3 * sigma) if lsl is not None else None
        cp = (usl - lsl) / (6 * sigma) if usl is not None and lsl is not None else None
        cpk = min(v for v in (cpu, cpl) if v is not None)
        return (
            _chi2_ci(cp, dof),
            _bissell_ci(cpk, count, dof),
            _bissell_ci(cpu, count, dof),
            _bissell_ci(cpl, count, dof),
        )

    if method == PERCENTILE:
        cp = cpk = cpu = cpl = Index(None)
        upper = (usl - fit.median) / (fit.q_high - fit.median) if usl is not None else None
        lower = (fit.median - lsl) / (fit.median - fit.q_low) if lsl is not None else None
        whole = (usl - lsl) / (fit.q_high - fit.q_low) if usl is not None and lsl is not None else None
        ppk_value = min(v for v in (upper, lower) if v is not None)
        # Confidence intervals of percentile indices need the fitted distribution's own theory: not given.
        pp, ppk, ppu, ppl = Index(whole), Index(ppk_value), Index(upper), Index(lower)
    else:
        cp, cpk, cpu, cpl = indices(s_within, dof_within)
        pp, ppk, ppu, ppl = indices(s_overall, count - 1)
    return Capability(
        method, sides, count, mean, s_within, s_overall, cp, cpk, cpu, cpl, pp, ppk, ppu, ppl, normality, fit, notes
    )


# --- Type-1 gauge study (VDA 5 / Bosch booklet 10) ------------------------------------------------------------


@dataclass(frozen=True)
class GaugeStudy:
    n: int
    mean: float
    sd: float
    bias: float
    cg: float | None
    cgk: float | None
    capable: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def type1_gauge(
    values: FloatArray, *, reference: float, tolerance: float, k_percent: float = 20.0, spread: float = 6.0
) -> GaugeStudy:
    """Cg = (K/100 · T)/(L · s), Cgk = (K/200 · T − |x̄ − xm|)/(L/2 · s), with K = 20 %, L = 6 (both ≥ 1.33)."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        raise NotEnoughData("a gauge study needs repeated measurements")
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    bias = mean - reference
    if sd == 0:
        return GaugeStudy(len(x), mean, sd, bias, None, None, False)
    cg = (k_percent / 100 * tolerance) / (spread * sd)
    cgk = (k_percent / 200 * tolerance - abs(bias)) / (spread / 2 * sd)
    return GaugeStudy(len(x), mean, sd, bias, cg, cgk, cg >= 1.33 and cgk >= 1.33)
