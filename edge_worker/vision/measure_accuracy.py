"""Dimensional measurement error against the renderer's ground truth.

    python -m edge_worker.vision.measure_accuracy --count 500

Renders ``count`` defect-free parts (alternating CF-80 and TF-12; true dimensions scattered around the
tolerance band, random pose, lighting, blur and noise), measures every feature and compares it with the
truth in pixels: diameters, centre distances and outer lengths alike.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from .measure import measure_part
from .parts import DEMO_PART_TYPES
from .render import render_part


def measurement_errors(count: int = 500, seed: int = 500) -> dict[str, Any]:
    codes = sorted(DEMO_PART_TYPES)
    per_feature: dict[str, list[float]] = {}
    verdict_agree = 0
    verdict_total = 0
    t_measure = []
    for i in range(count):
        code = codes[i % len(codes)]
        spec = DEMO_PART_TYPES[code]
        part = render_part(code, seed=seed * 1_000_003 + i)
        s = part.truth["px_per_mm"]
        t0 = time.perf_counter()
        meas = measure_part(part.image, spec, s)
        t_measure.append(time.perf_counter() - t0)
        for f in spec.features:
            true_px = part.truth["dimensions_px"][f.name]
            got = meas.values_px.get(f.name)
            err = float("inf") if got is None else abs(got - true_px)
            per_feature.setdefault(f"{code}.{f.name}", []).append(err)
            verdict_total += 1
            verdict_agree += int(f.passes(None if got is None else got / s) == part.truth["features_pass"][f.name])
    allv = np.concatenate([np.array(v) for v in per_feature.values()])
    return {
        "images": count,
        "seed": seed,
        "count_values": int(allv.size),
        "mean_px": float(allv.mean()),
        "max_px": float(allv.max()),
        "p99_px": float(np.percentile(allv, 99)),
        "verdict_agreement": verdict_agree / verdict_total,
        "measure_ms_mean": 1000 * float(np.mean(t_measure)),
        "per_feature": {k: {"mean_px": float(np.mean(v)), "max_px": float(np.max(v))} for k, v in per_feature.items()},
    }


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"{res['images']} rendered parts (seed {res['seed']}), {res['count_values']} feature values: "
        f"**mean error {res['mean_px']:.4f} px, max {res['max_px']:.4f} px** (p99 {res['p99_px']:.4f} px); "
        f"pass/fail agrees with the truth for {100 * res['verdict_agreement']:.2f} % of features; "
        f"measurement {res['measure_ms_mean']:.1f} ms per image.",
        "",
        "| feature | mean error (px) | max error (px) |",
        "|---|---|---|",
        *[f"| {k} | {v['mean_px']:.4f} | {v['max_px']:.4f} |" for k, v in res["per_feature"].items()],
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--seed", type=int, default=500)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    res = measurement_errors(args.count, args.seed)
    print(json.dumps(res, indent=2) if args.json else markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
