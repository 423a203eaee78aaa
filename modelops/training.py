"""One training run, as the `training` worker performs it (CPU; minutes for the demo model, seconds in tests):

1. the reviewed samples split by the golden rule: the held-out ones join the golden set, the others train;
2. rendered training and validation arrays (seeds that are not the golden seed), checked image by image against
   the golden set before anything trains (golden.check_disjoint);
3. edge_worker.vision.train on those arrays plus the training samples, each epoch's loss and validation accuracy
   recorded on the run;
4. the new ONNX measured on the golden set and registered with its card, provenance and code version.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from edge_worker.vision.dataset import render_arrays, write_labels
from edge_worker.vision.render import DEFECT_CLASSES
from modelops import actions, golden, selectors
from modelops.choices import TrainingStatus
from modelops.models import ModelVersion, TrainingRun

DEFAULTS: dict[str, Any] = {
    "seed": 1,
    "val_seed": 2,
    "train_per_class": 150,
    "val_per_class": 50,
    "epochs": 30,
    "batch": 32,
    "lr": 2e-3,
    "golden_rendered": 280,
}


def _write_samples(folder: Path, samples: list[selectors.ReviewedSample]) -> None:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for i, s in enumerate(samples):
        name = f"images/{i:05d}_{s.label}.png"
        shutil.copyfile(s.image_path, folder / name)
        rows.append(
            {
                "file": name,
                "part_type": "",
                "seed": None,
                "defect_class": s.label,
                "px_per_mm": 0.0,
                "dimensions_mm": {},
                "review_id": s.review_id,
                "image_sha256": s.image_sha256,
            }
        )
    write_labels(folder, rows, seed=None, source="modelops training (reviewed samples not held out)")


def run_training(run_id: int) -> ModelVersion:
    run = TrainingRun.objects.select_related("requested_by").get(pk=run_id)
    p = {**DEFAULTS, **run.params}
    if golden.GOLDEN_SEED in (p["seed"], p["val_seed"]):
        raise golden.GoldenOverlap(f"seed {golden.GOLDEN_SEED} renders the golden set; choose another")
    actions.record_training_state(run_id, status=TrainingStatus.RUNNING)
    from edge_worker.vision import train as trainer

    samples = selectors.reviewed_samples()
    training_samples = [s for s in samples if not s.golden]
    golden_set = selectors.golden_set(int(p["golden_rendered"]))
    n_classes = len(DEFECT_CLASSES)
    x_train, y_train, _ = render_arrays(int(p["train_per_class"]) * n_classes * 2, int(p["seed"]))
    x_val, y_val, _ = render_arrays(int(p["val_per_class"]) * n_classes * 2, int(p["val_seed"]))
    x_reviewed, _ = selectors.sample_arrays(training_samples)
    checked = golden.check_disjoint([x_train, x_val, x_reviewed], golden_set.x)

    with tempfile.TemporaryDirectory(prefix="twinweb-train-") as tmp:
        work = Path(tmp)
        cache = work / "rendered.npz"
        np.savez(cache, x=x_train, y=y_train, xt=x_val, yt=y_val)
        extra = []
        if training_samples:
            _write_samples(work / "reviewed", training_samples)
            extra.append(str(work / "reviewed"))
        args = argparse.Namespace(
            out=str(work / "model"),
            seed=int(p["seed"]),
            test_seed=int(p["val_seed"]),
            train_per_class=int(p["train_per_class"]),
            test_per_class=int(p["val_per_class"]),
            epochs=int(p["epochs"]),
            batch=int(p["batch"]),
            lr=float(p["lr"]),
            ok_weight=0.7,
            threads=2,
            extra_data=extra,
            data_cache=str(cache),
            model_version=f"defect-mnv2-r{run_id}",
            argv=[f"(modelops training run {run_id})"],
        )
        card = trainer.train(args, progress=lambda entry: actions.record_training_state(run_id, progress=entry))
        card["training"]["extra_data"] = [
            {"source": "reviewed samples (not held out)", "images": len(training_samples)}
        ]
        onnx = (work / "model" / trainer.ONNX_NAME).read_bytes()
    metrics = golden.evaluate(onnx, golden_set)
    # The golden set grows with reviewed samples held out since: measure today's champions on the very same
    # images, so the comparison on the version's page is like with like.
    metrics["champions"] = {}
    for champion in selectors.champion_versions():
        path = Path(settings.MEDIA_ROOT) / champion.file
        if path.is_file():
            metrics["champions"][champion.sha256] = golden.evaluate(path.read_bytes(), golden_set)
    provenance = {
        "rendered": {
            "train_seed": p["seed"],
            "train_images": int(len(x_train)),
            "val_seed": p["val_seed"],
            "val_images": int(len(x_val)),
        },
        "reviewed_training_ids": [s.review_id for s in training_samples],
        "reviewed_golden_ids": list(golden_set.reviewed_ids),
        "golden_disjointness": {"checked_inputs": checked, "golden_inputs": int(len(golden_set.y)), "overlap": 0},
        "training_run": run_id,
        "params": p,
    }
    version = actions.register_version(
        onnx=onnx,
        card=json.loads(json.dumps(card)),
        provenance=provenance,
        golden_set=golden.GOLDEN_SET_VERSION,
        golden_metrics=metrics,
        actor=run.requested_by,
    )
    actions.record_training_state(run_id, status=TrainingStatus.DONE, version=version)
    return version
