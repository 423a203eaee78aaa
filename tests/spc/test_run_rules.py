"""The run rules, on constructed sequences (each fires exactly where its pattern completes, and not one point
short of it) and as a property: the vectorised engine agrees with a plain loop over Nelson's definitions on
random sequences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spc import stats

ALL = list(stats.RULES)


def fired(x: list[float], rule: str) -> list[int]:
    return [int(i) for i in np.nonzero(stats.rule_hits(np.array(x, dtype=float), 0.0, 1.0, [rule])[rule])[0]]


QUIET = [0.5, -0.5] * 3  # six points inside 1σ, alternating sides, no trend


@pytest.mark.parametrize(
    "rule, pattern, fires_at_last",
    [
        ("nelson_1", [3.1], True),
        ("nelson_1", [2.99], False),
        ("nelson_1", [-3.5], True),
        ("nelson_2", [0.2] * 9, True),
        ("nelson_2", [0.2] * 8, False),
        ("we_4", [-0.2] * 8, True),
        ("we_4", [-0.2] * 7, False),
        ("nelson_3", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], True),
        ("nelson_3", [0.1, 0.2, 0.3, 0.4, 0.5], False),
        ("nelson_3", [0.6, 0.5, 0.4, 0.3, 0.2, 0.1], True),
        ("nelson_4", [0.1 * ((-1) ** i) + (0.01 * i) for i in range(14)], True),
        ("nelson_4", [0.1 * ((-1) ** i) for i in range(13)], False),
        ("nelson_5", [2.5, 0.0, 2.2], True),
        ("nelson_5", [2.5, 0.0, -2.2], False),
        ("nelson_5", [2.5, 2.1, 0.0], False),  # 2 of 3 complete at the second point, not at the third
        ("nelson_6", [1.5, 1.2, 0.0, 1.1, 1.3], True),
        ("nelson_6", [1.5, 1.2, 0.0, 0.0, 1.3], False),
        ("nelson_7", [0.5 if i % 3 else -0.5 for i in range(15)], True),
        ("nelson_7", [0.5 if i % 3 else -0.5 for i in range(14)], False),
        ("nelson_8", [1.5 if i % 2 else -1.5 for i in range(8)], True),
        ("nelson_8", [1.5 if i % 2 else -1.5 for i in range(7)], False),
    ],
)
def test_it_fires_exactly_when_the_pattern_completes(rule: str, pattern: list[float], fires_at_last: bool) -> None:
    assert fired(QUIET, rule) == []
    if fires_at_last:  # at the point that completes it, and at no earlier one
        assert fired(pattern, rule) == [len(pattern) - 1]
    else:  # one point short, or the wrong shape
        assert len(pattern) - 1 not in fired(pattern, rule)


def test_it_separates_the_nelson_and_western_electric_runs() -> None:
    x = QUIET + [0.3] * 8
    assert fired(x, "we_4") == [len(x) - 1] and fired(x, "nelson_2") == []


def test_it_flags_dispersion_beyond_its_limits_only() -> None:
    hits = stats.dispersion_hits(np.array([np.nan, 0.01, 0.05, 0.02]), ucl=0.04, lcl=0.0)
    assert hits.tolist() == [False, False, True, False]


def _naive(x: list[float], rule: str) -> list[bool]:
    z = x
    out = []
    for i in range(len(z)):

        def last(k: int, i: int = i) -> list[float] | None:
            return z[i - k + 1 : i + 1] if i >= k - 1 else None

        ok = False
        if rule == "nelson_1":
            ok = abs(z[i]) > 3
        elif rule in ("nelson_2", "we_4"):
            w = last(9 if rule == "nelson_2" else 8)
            ok = w is not None and (all(v > 0 for v in w) or all(v < 0 for v in w))
        elif rule == "nelson_3":
            w = last(6)
            ok = w is not None and (all(b > a for a, b in zip(w, w[1:])) or all(b < a for a, b in zip(w, w[1:])))
        elif rule == "nelson_4":
            w = last(14)
            if w is not None:
                d = [b - a for a, b in zip(w, w[1:])]
                ok = all(d1 * d2 < 0 for d1, d2 in zip(d, d[1:]))
        elif rule == "nelson_5":
            w = last(3)
            ok = w is not None and (
                (z[i] > 2 and sum(v > 2 for v in w) >= 2) or (z[i] < -2 and sum(v < -2 for v in w) >= 2)
            )
        elif rule == "nelson_6":
            w = last(5)
            ok = w is not None and (
                (z[i] > 1 and sum(v > 1 for v in w) >= 4) or (z[i] < -1 and sum(v < -1 for v in w) >= 4)
            )
        elif rule == "nelson_7":
            w = last(15)
            ok = w is not None and all(abs(v) < 1 for v in w)
        elif rule == "nelson_8":
            w = last(8)
            ok = w is not None and all(abs(v) > 1 for v in w)
        out.append(ok)
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -0.2, 0.2, 0.7, -2.1]), min_size=0, max_size=60
    ),
    st.sampled_from(ALL),
)
def test_it_agrees_with_the_plain_definitions(x: list[float], rule: str) -> None:
    got = stats.rule_hits(np.array(x, dtype=float), 0.0, 1.0, [rule])[rule].tolist()
    assert got == _naive(x, rule)


def test_it_rarely_fires_rule_one_on_an_in_control_process() -> None:
    x = np.random.default_rng(0).normal(0, 1, 100_000)
    rate = stats.rule_hits(x, 0.0, 1.0, ["nelson_1"])["nelson_1"].mean()
    assert rate == pytest.approx(0.0027, abs=0.0006)  # ARL 370


def test_it_names_each_rule_in_english_as_the_statistics_module_does() -> None:
    """spc.choices marks the rules' words for translation; spc.stats (no Django) keeps its own copy in English."""
    from spc import stats
    from spc.choices import RunRule

    assert {r.value: str(r.label) for r in RunRule if r.value in stats.RULES} == stats.RULES
