"""export_reviewed_samples writes the human-labelled images in the dataset format the training pipeline reads."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from edge_worker.vision.dataset import (
    load_labelled_folder,
    render_arrays,
    write_dataset,
)
from edge_worker.vision.render import DEFECT_CLASSES
from review.actions import claims, verdicts
from tests.support import factories
from tests.support.review_cases import make_review_case

pytestmark = pytest.mark.django_db


def decide(case: Any, user: Any, **decision: Any) -> None:
    claims.claim_case(case, actor=user)
    verdicts.sign_verdict(case, actor=user, credential=factories.PASSWORD, idempotency_key=uuid.uuid4(), **decision)


def test_it_exports_human_labels_in_the_training_dataset_format(cell: Any, operator: Any, tmp_path: Path) -> None:
    false_reject = make_review_case(cell, defect="scratch", seed=2)
    confirmed = make_review_case(cell, defect="dent", seed=2, code="TF-12")
    unsure = make_review_case(cell, defect="ok", confidence=0.5, seed=4)
    make_review_case(cell, defect="crack", seed=2)  # not reviewed: not exported
    decide(false_reject, operator, verdict="override_ok", reason_code="dirt")
    decide(confirmed, operator, verdict="confirm_nok", disposition="scrap")
    decide(unsure, operator, verdict="confirm_ok")

    call_command("export_reviewed_samples", "--out", str(tmp_path / "reviewed"))

    out = tmp_path / "reviewed"
    meta = json.loads((out / "labels.json").read_text())
    labels = {item["result_id"]: item["defect_class"] for item in meta["items"]}
    assert labels == {str(false_reject.result_id): "ok", str(confirmed.result_id): "dent", str(unsure.result_id): "ok"}
    assert meta["count"] == 3 and meta["classes"] == list(DEFECT_CLASSES)

    # Same layout as the rendered datasets the training code writes and reads.
    reference = write_dataset(tmp_path / "rendered", count=2, seed=1)
    ref_meta = json.loads((reference / "labels.json").read_text())
    assert set(ref_meta) <= set(meta)
    assert set(ref_meta["items"][0]) - {
        "defect",
        "dimensions_px",
        "features_pass",
        "geometry",
        "blur_sigma_px",
        "image_size",
        "edges",
    } <= set(meta["items"][0])
    with (reference / "labels.csv").open() as fh:
        ref_header = next(csv.reader(fh))
    with (out / "labels.csv").open() as fh:
        header = next(csv.reader(fh))
    assert header[:5] == ref_header[:5]

    # The training command reads the folder as it is.
    xs, ys = load_labelled_folder(out)
    rendered_x, _y, _truth = render_arrays(1, seed=1)
    assert xs.shape == (3, *rendered_x.shape[1:])  # the same classifier input as the rendered data
    assert sorted(ys.tolist()) == sorted([0, 0, DEFECT_CLASSES.index("dent")])
    assert abs(meta["items"][0]["px_per_mm"] - 5.0) < 0.1


@pytest.mark.slow
def test_the_training_command_learns_from_the_exported_reviews(cell: Any, operator: Any, tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="torch not installed (requirements-train.txt)")
    from edge_worker.vision import train

    decide(make_review_case(cell, defect="scratch", seed=2), operator, verdict="override_ok", reason_code="dirt")
    call_command("export_reviewed_samples", "--out", str(tmp_path / "reviewed"))

    card = train.main(
        [
            "--out",
            str(tmp_path / "model"),
            "--train-per-class",
            "1",
            "--test-per-class",
            "1",
            "--epochs",
            "1",
            "--batch",
            "8",
            "--extra-data",
            str(tmp_path / "reviewed"),
        ]
    )

    assert card["training"]["extra_data"] == [{"folder": str(tmp_path / "reviewed"), "images": 1}]
    assert card["training"]["train_size"] == 2 * 7 + 1


def test_it_leaves_out_dimensional_only_rejects(cell: Any, operator: Any, tmp_path: Path) -> None:
    dimensional = make_review_case(
        cell, defect="ok", seed=5, dimensions_mm={"bore_diameter": 29.9}
    )  # an undersized bore
    assert dimensional.verdict == "fail"
    dimensional.defect_class = ""
    dimensional.save(update_fields=["defect_class"])
    decide(dimensional, operator, verdict="confirm_nok", disposition="scrap")
    call_command("export_reviewed_samples", "--out", str(tmp_path))
    assert json.loads((tmp_path / "labels.json").read_text())["count"] == 0
