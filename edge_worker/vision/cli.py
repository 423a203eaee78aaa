"""Command line for a line engineer: no web app needed.

    python -m edge_worker.vision.cli inspect PATH [--json] [--part-type CF-80] [--backend auto] [--px-per-mm 5.0]
    python -m edge_worker.vision.cli render --out DIR --count N --seed S
    python -m edge_worker.vision.cli backends

PATH is one image or a folder (every .png/.jpg/.jpeg/.bmp/.tif in it). Without --part-type, a file name
containing a known part code (e.g. ``00012_TF-12_ok.png``) selects it, else CF-80.
Exit status: 0 all pass, 1 any fail, 2 any error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from .parts import DEMO_PART_TYPES, PartTypeSpec

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def _part_for(path: Path, forced: str | None) -> PartTypeSpec:
    if forced:
        return DEMO_PART_TYPES[forced]
    for code, spec in DEMO_PART_TYPES.items():
        if code in path.name:
            return spec
    return DEMO_PART_TYPES["CF-80"]


def _format_text(path: Path, o: dict[str, Any]) -> str:
    lines = [f"{path}: {o['verdict'].upper()} [{o['part_type']}]" + (f"  {o['reason']}" if o["reason"] else "")]
    for m in o["measurements"]:
        val = "   n/a  " if m["value"] is None else f"{m['value']:8.3f}"
        lo, hi = m["nominal"] + m["lower_tol"], m["nominal"] + m["upper_tol"]
        lines.append(
            f"    {'ok  ' if m['passed'] else 'FAIL'} {m['name']:<24} {val} {m['unit']}  [{lo:.3f} .. {hi:.3f}]"
        )
    if o["defect_class"] is not None:
        lines.append(f"    defect class: {o['defect_class']} (p={o['defect_confidence']:.3f})")
    t = o["timings_ms"]
    lines.append("    ms: " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
    return "\n".join(lines)


def cmd_inspect(args: argparse.Namespace) -> int:
    from .backends import load_classifier
    from .inspect import inspect_image

    root = Path(args.path)
    if root.is_dir():
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    elif root.exists():
        paths = [root]
    else:
        print(f"no such file or folder: {root}", file=sys.stderr)
        return 2
    classifier = None
    if args.backend != "none":
        classifier, reason = load_classifier(args.backend, precision=args.precision)
        print(f"# classifier: {reason}", file=sys.stderr)
    worst = 0
    results = []
    for p in paths:
        spec = _part_for(p, args.part_type)
        outcome = inspect_image(p.read_bytes(), spec, classifier=classifier, px_per_mm=args.px_per_mm).to_dict()
        worst = max(worst, {"pass": 0, "fail": 1, "error": 2}[outcome["verdict"]])
        if args.json:
            results.append({"file": str(p), **outcome})
        else:
            print(_format_text(p, outcome))
    if args.json:
        print(json.dumps(results[0] if root.is_file() else results, indent=2))
    return worst


def cmd_render(args: argparse.Namespace) -> int:
    from .dataset import write_dataset

    out = write_dataset(Path(args.out), args.count, args.seed, args.px_per_mm)
    print(f"wrote {args.count} images and labels.json/labels.csv to {out}")
    return 0


def cmd_backends(_args: argparse.Namespace) -> int:
    from .backends import available_backends

    for name, (ok, why) in available_backends().items():
        print(f"{name:<12} {'yes' if ok else 'no '}  {why}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .render import DEFAULT_PX_PER_MM

    p = argparse.ArgumentParser(
        prog="python -m edge_worker.vision.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    pi = sub.add_parser("inspect", help="inspect one image or a folder")
    pi.add_argument("path")
    pi.add_argument("--json", action="store_true")
    pi.add_argument("--part-type", choices=sorted(DEMO_PART_TYPES))
    pi.add_argument("--backend", default="auto", help="torch|onnxruntime|opencv|tensorrt|auto|none")
    pi.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "int8"))
    pi.add_argument("--px-per-mm", type=float, default=None)
    pi.set_defaults(func=cmd_inspect)
    pr = sub.add_parser("render", help="write a rendered dataset folder")
    pr.add_argument("--out", required=True)
    pr.add_argument("--count", type=int, default=100)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--px-per-mm", type=float, default=DEFAULT_PX_PER_MM)
    pr.set_defaults(func=cmd_render)
    pb = sub.add_parser("backends", help="list inference backends and why each is (un)available")
    pb.set_defaults(func=cmd_backends)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
