"""Inference backend benchmark: throughput, latency and accuracy per available backend and batch size.

    python bench/inference.py [--test-count 700] [--seconds 3] [--write-docs]

Protocol per (backend, batch size): load, 5 warm-up calls, then timed calls on real preprocessed test
images for at least ``--seconds`` (and at least 20 calls); latency is per call (one batch), images/s is
images / total timed wall time. Accuracy is each backend's on the same test set, rendered with a seed the
model never saw in training. ``--write-docs`` replaces only the section
"## Inference backends (`bench/inference.py`)" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_worker.vision.backends import available_backends, create_backend, default_threads  # noqa: E402
from edge_worker.vision.dataset import iter_dataset  # noqa: E402
from edge_worker.vision.metrics import classification_report  # noqa: E402
from edge_worker.vision.preprocess import preprocess  # noqa: E402
from edge_worker.vision.render import DEFECT_CLASSES  # noqa: E402

SECTION = "## Inference backends (`bench/inference.py`)"
BATCHES = (1, 8, 32)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench_one(clf, x: np.ndarray, batch: int, seconds: float) -> dict:
    n = len(x)
    for i in range(5):
        clf.predict(x[(i * batch) % (n - batch) : (i * batch) % (n - batch) + batch])
    lat = []
    images = 0
    t_start = time.perf_counter()
    i = 0
    while time.perf_counter() - t_start < seconds or len(lat) < 20:
        s = (i * batch) % (n - batch)
        t0 = time.perf_counter()
        clf.predict(x[s : s + batch])
        lat.append(time.perf_counter() - t0)
        images += batch
        i += 1
    total = time.perf_counter() - t_start
    lat_ms = np.array(lat) * 1000
    return {"ips": images / total, "p50": float(np.percentile(lat_ms, 50)), "p99": float(np.percentile(lat_ms, 99))}


def run(args: argparse.Namespace) -> str:
    threads = default_threads()
    t0 = time.perf_counter()
    parts = [p for _i, p in iter_dataset(args.test_count, seed=args.seed)]
    x = np.stack([preprocess(p.image) for p in parts])
    y = np.array([DEFECT_CLASSES.index(p.truth["defect_class"]) for p in parts])
    print(
        f"# {len(x)} test images (seed {args.seed}) rendered and preprocessed in {time.perf_counter() - t0:.0f}s",
        file=sys.stderr,
    )
    rows = []
    skipped = []
    acc = {}
    for name, (ok, why) in available_backends().items():
        if not ok:
            skipped.append(f"- `{name}`: not measured: {why}")
            continue
        for precision in args.precisions:
            try:
                clf = create_backend(name, precision=precision, threads=threads, model_dir=args.model_dir)
            except Exception as exc:
                if precision == "fp32":
                    skipped.append(f"- `{name}` {precision}: not measured: {exc}")
                continue
            probs = np.concatenate([clf.predict(x[i : i + 32]) for i in range(0, len(x), 32)])
            rep = classification_report(y, probs.argmax(1))
            acc[(name, precision)] = probs
            for b in BATCHES:
                r = bench_one(clf, x, b, args.seconds)
                rows.append(
                    {
                        "backend": name,
                        "version": clf.version,
                        "precision": clf.precision,
                        "device": clf.device,
                        "batch": b,
                        **r,
                        "accuracy": rep["accuracy"],
                        "recall": rep["defect_recall"],
                    }
                )
                print(
                    f"# {name} {precision} b{b}: {r['ips']:.0f} img/s p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms",
                    file=sys.stderr,
                )
            clf.close()
    ref = acc.get(("torch", "fp32"))
    lines = [
        "| backend | version | precision | device | batch | images/s | p50 ms | p99 ms | accuracy | defect recall | max abs prob diff vs torch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        diff = "n/a" if ref is None else f"{np.abs(acc[(r['backend'], r['precision'])] - ref).max():.1e}"
        lines.append(
            f"| {r['backend']} | {r['version']} | {r['precision']} | {r['device']} | {r['batch']} | {r['ips']:.0f} | "
            f"{r['p50']:.2f} | {r['p99']:.2f} | {r['accuracy']:.4f} | {r['recall']:.4f} | {diff} |"
        )
    best = {}
    for r in rows:
        if r["device"].startswith("cpu"):
            best[(r["backend"], r["batch"])] = r["ips"]
    ratio_lines = []
    for b in BATCHES:
        base = best.get(("torch", b))
        if not base:
            continue
        cands = {k[0]: v for k, v in best.items() if k[1] == b and k[0] != "torch"}
        if cands:
            name = max(cands, key=cands.get)
            ratio_lines.append(f"batch {b}: {name} {cands[name] / base:.2f}x torch")
    table = "\n".join(lines)
    summary = "Best CPU backend / torch throughput: " + ("; ".join(ratio_lines) if ratio_lines else "n/a") + "."
    out = [table, "", summary]
    if skipped:
        out += ["", "Not measured:", *skipped]
    return "\n".join(out)


def write_docs(body: str, args: argparse.Namespace, measurement_md: str | None) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text()
    cmd = "python bench/inference.py " + " ".join(a for a in sys.argv[1:])
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    machine = (
        f"{cpu_model()}, {os.cpu_count()} cores visible, {default_threads()} inference threads; Python {platform.python_version()}; "
        f"load average at the end {load} (the cores are shared with other jobs: treat absolute figures as indicative, "
        "ratios between backends measured in the same run as the result)"
    )
    section = [
        SECTION,
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {machine}  ",
        f"Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"Test set: {args.test_count} images rendered with seed {args.seed} (the model was trained on seed 1), both part types,"
        " balanced classes. Throughput and latency are for the classifier call only (preprocessed batches), after 5 warm-up calls,"
        f" at least {args.seconds} s per cell.",
        "",
        body,
    ]
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        section += [
            "",
            f"Caveat: the machine was oversubscribed during this run (load average {load} on {os.cpu_count()} cores). "
            "torch's OpenMP threads busy-wait and suffer far more from that than ONNX Runtime's or OpenCV's pools, so the "
            "torch figures (and the ratios against them) are distorted; re-run on idle cores for a fair baseline.",
        ]
    if measurement_md:
        section += [
            "",
            "### Dimensional measurement error",
            "",
            "Command: `python -m edge_worker.vision.measure_accuracy --count 500`",
            "",
            measurement_md,
        ]
    new = "\n".join(section) + "\n\n"
    pattern = re.compile(re.escape(SECTION) + r".*?(?=^## |\Z)", re.S | re.M)
    if not pattern.search(text):
        raise SystemExit(f"section {SECTION!r} not found in {path}")
    path.write_text(pattern.sub(lambda _m: new, text, count=1))
    print(f"# wrote {path}", file=sys.stderr)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--test-count", type=int, default=700)
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--precisions", nargs="+", default=["fp32"], help="also fp16/int8 where a backend supports them")
    p.add_argument("--measurement-count", type=int, default=500, help="images for the measurement error (0: skip)")
    p.add_argument("--model-dir", type=Path, default=None, help="default: edge_worker/models")
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()
    body = run(args)
    print(body)
    measurement_md = None
    if args.measurement_count:
        from edge_worker.vision.measure_accuracy import markdown, measurement_errors

        measurement_md = markdown(measurement_errors(args.measurement_count))
        print("\n" + measurement_md)
    if args.write_docs:
        write_docs(body, args, measurement_md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
