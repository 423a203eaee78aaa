"""The golden set: a fixed, versioned set of labelled images that training never sees, on which every version is
measured the same way, and the comparison of a candidate with its champion.

Golden set `golden-v1` is
  - images rendered with seed GOLDEN_SEED (edge_worker.vision.dataset: image i uses seed S * 1_000_003 + i), and
  - the reviewed samples (Debug Mode's human labels) that `held_out` sets aside: a fixed function of the image's
    sha256, so a sample is golden or training once and for all, whoever trains and whenever.
Training refuses its own seed being the golden seed, and `check_disjoint` compares the actual arrays (sha256 of
each classifier input) before anything trains: an overlap stops the run instead of flattering the metrics.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_worker.vision.metrics import OK_INDEX, classification_report
from edge_worker.vision.preprocess import normalise_uint8
from edge_worker.vision.render import DEFECT_CLASSES

GOLDEN_SET_VERSION = "golden-v1"
GOLDEN_SEED = 7_919
HOLD_OUT_ONE_IN = 5


class GoldenOverlap(ValueError):
    """Training data that is also in the golden set."""


def held_out(image_sha256: str, *, version: str = GOLDEN_SET_VERSION) -> bool:
    """Whether a reviewed sample belongs to the golden set (deterministic: a hash of the image and the set's
    version, one in HOLD_OUT_ONE_IN)."""
    digest = hashlib.sha256(f"{version}:{image_sha256}".encode()).hexdigest()
    return int(digest[:8], 16) % HOLD_OUT_ONE_IN == 0


def input_hashes(x_u8: np.ndarray) -> set[str]:
    """sha256 of each classifier input (the (C, S, S) uint8 array), to compare data sets by content."""
    return {hashlib.sha256(np.ascontiguousarray(row).tobytes()).hexdigest() for row in x_u8}


def check_disjoint(training: Iterable[np.ndarray], golden: np.ndarray) -> int:
    """The number of training inputs checked; GoldenOverlap when any of them is a golden input."""
    golden_hashes = input_hashes(golden)
    checked = 0
    for block in training:
        overlap = input_hashes(block) & golden_hashes
        if overlap:
            raise GoldenOverlap(f"{len(overlap)} training image(s) are in the golden set {GOLDEN_SET_VERSION}")
        checked += len(block)
    return checked


@dataclass(frozen=True)
class GoldenSet:
    x: np.ndarray
    y: np.ndarray
    rendered: int
    reviewed_ids: tuple[int, ...]

    def describe(self) -> dict[str, Any]:
        return {
            "version": GOLDEN_SET_VERSION,
            "rendered_seed": GOLDEN_SEED,
            "rendered": self.rendered,
            "reviewed_ids": list(self.reviewed_ids),
            "size": int(len(self.y)),
        }


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (95 % by default); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def predict_onnx(onnx_bytes: bytes, x_u8: np.ndarray, batch: int = 64) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    out = [session.run(None, {"input": normalise_uint8(x_u8[i : i + batch])})[0] for i in range(0, len(x_u8), batch)]
    return np.concatenate(out) if out else np.zeros((0, len(DEFECT_CLASSES)), np.float32)


def evaluate(onnx_bytes: bytes, golden: GoldenSet) -> dict[str, Any]:
    """Accuracy, the confusion matrix, and per defect class the NOK recall (a defective part predicted as anything
    but `ok`, i.e. failed) with its Wilson interval; the false reject rate likewise."""
    pred = predict_onnx(onnx_bytes, golden.x).argmax(1)
    report = classification_report(golden.y, pred)
    correct = int((pred == golden.y).sum())
    report["accuracy_ci95"] = wilson(correct, len(golden.y))
    nok = {}
    for index, name in enumerate(DEFECT_CLASSES):
        if index == OK_INDEX:
            continue
        truth = golden.y == index
        n, k = int(truth.sum()), int((pred[truth] != OK_INDEX).sum())
        nok[name] = {"caught": k, "n": n, "recall": round(k / n, 4) if n else None, "ci95": wilson(k, n)}
    report["nok_recall"] = nok
    ok = golden.y == OK_INDEX
    rejected = int((pred[ok] != OK_INDEX).sum())
    report["false_reject"] = {"rejected": rejected, "n": int(ok.sum()), "ci95": wilson(rejected, int(ok.sum()))}
    report["golden_set"] = golden.describe()
    return report


def compare(candidate: dict[str, Any], champion: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Rows for the page: each figure of candidate and champion side by side, with the intervals. `overlap` says
    whether the intervals overlap (then the golden set cannot tell the two apart on that figure)."""
    rows = [
        {
            "figure": "accuracy",
            "candidate": candidate["accuracy"],
            "candidate_ci": candidate["accuracy_ci95"],
            "champion": champion["accuracy"] if champion else None,
            "champion_ci": champion["accuracy_ci95"] if champion else None,
        }
    ]
    for name, c in candidate["nok_recall"].items():
        p = champion["nok_recall"].get(name) if champion else None
        rows.append(
            {
                "figure": f"NOK recall {name}",
                "defect_class": name,  # the page names the figure in its own language
                "candidate": c["recall"],
                "candidate_ci": c["ci95"],
                "champion": p["recall"] if p else None,
                "champion_ci": p["ci95"] if p else None,
            }
        )
    for row in rows:
        a, b = row["candidate_ci"], row["champion_ci"]
        row["overlap"] = None if b is None else not (a[1] < b[0] or b[1] < a[0])
    return rows
