"""The golden set never enters training: the rule that holds reviewed samples out is fixed, the check compares the
actual classifier inputs, and the figures on it carry Wilson intervals."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from edge_worker.vision.dataset import render_arrays
from modelops import golden


def test_it_holds_out_the_same_reviewed_samples_whoever_asks() -> None:
    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(500)]
    first = [s for s in shas if golden.held_out(s)]
    assert first == [s for s in shas if golden.held_out(s)]
    assert 60 <= len(first) <= 140  # one in five, give or take
    # Another version of the golden set draws another sample.
    assert first != [s for s in shas if golden.held_out(s, version="golden-v2")]


def test_it_finds_no_overlap_between_training_seeds_and_the_golden_set() -> None:
    golden_x, _, _ = render_arrays(14, golden.GOLDEN_SEED)
    train_x, _, _ = render_arrays(14, 1)
    val_x, _, _ = render_arrays(14, 2)
    assert golden.check_disjoint([train_x, val_x], golden_x) == 28


def test_it_stops_when_a_training_image_is_a_golden_one() -> None:
    golden_x, _, _ = render_arrays(14, golden.GOLDEN_SEED)
    train_x, _, _ = render_arrays(14, 1)
    leaked = np.concatenate([train_x, golden_x[3:4]])
    with pytest.raises(golden.GoldenOverlap, match="1 training image"):
        golden.check_disjoint([leaked], golden_x)


def test_it_computes_wilson_intervals_as_published() -> None:
    # Known answers (Newcombe 1998, table I: 81/263 -> 0.2553 to 0.3662; 0/10 -> 0 to 0.2775).
    assert golden.wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert golden.wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert golden.wilson(0, 0) == (0.0, 1.0)


def test_it_flags_overlapping_intervals_as_indistinguishable() -> None:
    def metrics(acc: float, ci: tuple[float, float]) -> dict:
        return {"accuracy": acc, "accuracy_ci95": ci, "nok_recall": {"scratch": {"recall": acc, "ci95": ci}}}

    rows = golden.compare(metrics(0.9, (0.85, 0.94)), metrics(0.7, (0.6, 0.78)))
    assert [r["overlap"] for r in rows] == [False, False]
    rows = golden.compare(metrics(0.9, (0.8, 0.95)), metrics(0.85, (0.75, 0.9)))
    assert [r["overlap"] for r in rows] == [True, True]
    assert golden.compare(metrics(0.9, (0.8, 0.95)), None)[0]["overlap"] is None
