"""The deck's figures come out of our arithmetic: FPS per watt = FPS / W, energy per image = mW / FPS."""

from __future__ import annotations

import pytest

from edge_worker.profiling.deck import (
    DECK_ROWS,
    deck_check,
    energy_per_image_mj,
    fps_per_watt,
)


@pytest.mark.parametrize(
    "fps, mw, expected",
    [
        (41, 3386, 12.11),  # original model, whole run (the deck prints 12.10: truncated)
        (82, 3185, 25.75),  # TensorRT FP32, whole run (deck: 25.74)
        (41, 6125, 6.69),  # original model, inference rounds
        (82, 5711, 14.36),  # TensorRT FP32, inference rounds (deck: 14.35)
    ],
)
def test_it_reproduces_the_decks_fps_per_watt(fps: float, mw: float, expected: float) -> None:
    result = fps_per_watt(fps, mw)
    assert result is not None and round(result, 2) == expected


def test_it_agrees_with_every_published_figure_to_the_last_printed_digit() -> None:
    for row in [r for r in deck_check() if not r["fps_derived"]]:  # FP16's FPS is derived from its FPS/W
        # The deck truncates to two decimals: the published value is at most 0.01 below ours.
        assert 0 <= row["fps_per_w_total"] - row["published_total"] < 0.01, row
        assert 0 <= row["fps_per_w_inference"] - row["published_inference"] < 0.01, row


def test_it_derives_what_the_deck_left_out_for_fp16() -> None:
    fp16 = next(r for r in deck_check() if r["variant"] == "TensorRT FP16")
    assert fp16["fps_derived"] and fp16["total_power_derived"]
    assert fp16["fps"] == pytest.approx(83.97, abs=0.01)
    assert fp16["total_power_mw"] == pytest.approx(3228, abs=1)
    assert [r.accuracy_pct for r in DECK_ROWS] == [97, 97, 97]


def test_it_gives_energy_per_image_in_millijoules() -> None:
    assert energy_per_image_mj(6125, 41) == pytest.approx(149.39, abs=0.01)
    assert energy_per_image_mj(5000, 50) == 100.0


def test_it_says_unknown_rather_than_zero() -> None:
    assert fps_per_watt(41, None) is None
    assert fps_per_watt(None, 3386) is None
    assert fps_per_watt(41, 0) is None
    assert energy_per_image_mj(None, 41) is None
    assert energy_per_image_mj(3386, 0) is None
