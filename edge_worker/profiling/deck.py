"""The deck's arithmetic (pure): FPS per watt, energy per image, and the published "Edge results" checked
against their own inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def fps_per_watt(fps: float | None, avg_power_mw: float | None) -> float | None:
    """Frames per second per watt: FPS / (mW / 1000). None when either is unknown (never 0)."""
    if fps is None or avg_power_mw is None or avg_power_mw <= 0:
        return None
    return fps / (avg_power_mw / 1000.0)


def energy_per_image_mj(avg_power_mw: float | None, fps: float | None) -> float | None:
    """Energy per image in mJ: mW / FPS (mJ/s divided by images/s)."""
    if fps is None or avg_power_mw is None or fps <= 0:
        return None
    return avg_power_mw / fps


@dataclass(frozen=True)
class DeckRow:
    """One column of the deck's "Edge results" slide (MobileNetV2 on a Jetson Nano), as published."""

    variant: str
    accuracy_pct: float
    fps: float | None
    total_power_mw: float | None
    inference_power_mw: float
    fps_per_w_total: float
    fps_per_w_inference: float


DECK_ROWS = (
    DeckRow("Cloud-based (original)", 97, 41, 3386, 6125, 12.10, 6.69),
    DeckRow("TensorRT FP32", 97, 82, 3185, 5711, 25.74, 14.35),
    DeckRow("TensorRT FP16", 97, None, None, 5860, 26.01, 14.33),
)


def deck_check() -> list[dict[str, Any]]:
    """The deck's FPS/W recomputed from its own FPS and power. The published figures are truncated to two
    decimals (41 / 3.386 = 12.1087 is printed 12.10); rounded they are 12.11, 25.75, 6.69, 14.36. For FP16 the
    deck gives no FPS: FPS = 14.33 x 5.860 = 84.0 and total power = 84.0 / 26.01 = 3.23 W are derived."""
    rows = []
    for r in DECK_ROWS:
        fps = r.fps if r.fps is not None else r.fps_per_w_inference * r.inference_power_mw / 1000.0
        total_mw = r.total_power_mw if r.total_power_mw is not None else fps / r.fps_per_w_total * 1000.0
        rows.append(
            {
                "variant": r.variant,
                "fps": fps,
                "fps_derived": r.fps is None,
                "total_power_mw": total_mw,
                "total_power_derived": r.total_power_mw is None,
                "inference_power_mw": r.inference_power_mw,
                "fps_per_w_total": fps_per_watt(fps, total_mw),
                "fps_per_w_inference": fps_per_watt(fps, r.inference_power_mw),
                "published_total": r.fps_per_w_total,
                "published_inference": r.fps_per_w_inference,
            }
        )
    return rows
