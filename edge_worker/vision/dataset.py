"""Rendered datasets: a folder of PNGs with labels (the ``render`` command) and in-memory arrays for
training. Deterministic: image i of a dataset with seed S is rendered with seed ``S * 1_000_003 + i``,
part type ``codes[i % 2]`` and defect class ``DEFECT_CLASSES[(i // 2) % 7]`` (balanced classes)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from .parts import DEMO_PART_TYPES
from .preprocess import CHANNELS, INPUT_SIZE, to_uint8_input
from .render import DEFECT_CLASSES, DEFAULT_PX_PER_MM, RenderedPart, encode_png, render_part


def iter_dataset(count: int, seed: int, px_per_mm: float = DEFAULT_PX_PER_MM) -> Iterator[tuple[int, RenderedPart]]:
    codes = sorted(DEMO_PART_TYPES)
    for i in range(count):
        code = codes[i % len(codes)]
        defect = DEFECT_CLASSES[(i // len(codes)) % len(DEFECT_CLASSES)]
        yield i, render_part(code, seed=seed * 1_000_003 + i, defect=defect, px_per_mm=px_per_mm)


def render_arrays(count: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """(N, S, S) uint8 classifier inputs, (N,) int64 labels, and each image's truth."""
    xs, ys, truths = [], [], []
    for _i, part in iter_dataset(count, seed):
        xs.append(to_uint8_input(part.image))
        ys.append(DEFECT_CLASSES.index(part.truth["defect_class"]))
        truths.append(part.truth)
    return np.stack(xs), np.array(ys, dtype=np.int64), truths


def write_dataset(out_dir: Path, count: int, seed: int, px_per_mm: float = DEFAULT_PX_PER_MM) -> Path:
    """Write ``images/NNNNN_<part>_<class>.png``, ``labels.json`` (full truth) and ``labels.csv``."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for i, part in iter_dataset(count, seed, px_per_mm):
        t = part.truth
        name = f"images/{i:05d}_{t['part_type']}_{t['defect_class']}.png"
        (out_dir / name).write_bytes(encode_png(part.image))
        rows.append({"file": name, **t})
    write_labels(out_dir, rows, seed=seed)
    return out_dir


def write_labels(out_dir: Path, rows: list[dict[str, Any]], *, seed: int | None, **meta: Any) -> None:
    """``labels.json`` (every item whole) and ``labels.csv`` (file, class and dimensions) of a dataset folder.
    Each row has at least file, part_type, defect_class, px_per_mm and dimensions_mm."""
    document = {
        "seed": seed,
        "count": len(rows),
        "classes": list(DEFECT_CLASSES),
        "image": "PNG, grayscale uint8",
        **meta,
        "items": rows,
    }
    (out_dir / "labels.json").write_text(json.dumps(document, indent=1))
    dim_names = sorted({k for r in rows for k in r["dimensions_mm"]})
    with (out_dir / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "part_type", "seed", "defect_class", "px_per_mm", *[f"{n}_mm" for n in dim_names]])
        for r in rows:
            dims = r["dimensions_mm"]
            w.writerow(
                [
                    r["file"],
                    r["part_type"],
                    "" if r.get("seed") is None else r["seed"],
                    r["defect_class"],
                    r["px_per_mm"],
                    *[("" if dims.get(n) is None else f"{dims[n]:.5f}") for n in dim_names],
                ]
            )


def load_labelled_folder(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Classifier inputs and labels from a dataset folder (``labels.json`` + PNGs): one written by
    ``write_dataset`` or by the server's ``export_reviewed_samples`` (images labelled by people in Debug Mode)."""
    folder = Path(folder)
    meta = json.loads((folder / "labels.json").read_text())
    xs, ys = [], []
    for item in meta["items"]:
        label = item["defect_class"]
        if label not in DEFECT_CLASSES:
            raise ValueError(f"{folder}: {item['file']} has unknown class {label!r}")
        image = cv2.imread(str(folder / item["file"]), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"{folder}: cannot read {item['file']}")
        xs.append(to_uint8_input(image))
        ys.append(DEFECT_CLASSES.index(label))
    if not xs:
        return np.zeros((0, CHANNELS, INPUT_SIZE, INPUT_SIZE), np.uint8), np.zeros((0,), np.int64)
    return np.stack(xs), np.array(ys, dtype=np.int64)
