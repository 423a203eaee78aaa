"""The loop, end to end on the CPU with a tiny model: Debug Mode's reviewed samples -> a training run on the
`training` queue -> a registered version measured on the golden set -> deployed to the cell's device over signed
HTTP -> shadow (candidate beside champion, disagreements listed) -> promoted (signed) -> rolled back (signed)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge_worker.model_update import installed_sha256, shadow_compare
from edge_worker.vision.backends import create_backend
from edge_worker.vision.preprocess import normalise_uint8
from modelops import selectors
from modelops.choices import Alias, AliasChangeKind, TrainingStatus
from modelops.models import AliasChange, ModelAlias, ModelVersion, ShadowComparison, TrainingRun
from modelops.tasks import train_model
from review.actions import claims, verdicts
from tests.modelops.support import PASSWORD, client, device_of
from tests.support.review_cases import make_review_case
from twinweb.celery import app as celery_app
from traceability.models import AuditRecord, RecordSignature

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

TINY = {"epochs": 1, "train_per_class": 1, "val_per_class": 1, "golden_rendered": 14}


def review(case: Any, user: Any, **decision: Any) -> None:
    claims.claim_case(case, actor=user)
    verdicts.sign_verdict(case, actor=user, credential=PASSWORD, idempotency_key=uuid.uuid4(), **decision)


def train_via_queue(page: Any, queue: str, **params: Any) -> ModelVersion:
    """Start training on the page; the run lands on the broker's training queue; the training worker's task body
    runs it here (a real worker would take minutes of the two shared cores)."""
    with celery_app.connection_for_write() as connection:
        broker = connection.default_channel.client  # the broker's own Redis: the queue is a list there
        before = broker.llen(queue)
        response = page.post("/modelops/train", {**TINY, "seed": 1, **params})
        assert response.status_code == 302
        assert broker.llen(queue) == before + 1  # queued on `training`, not run inline
        broker.delete(queue)
    run = TrainingRun.objects.latest("id")
    assert train_model(run.pk) is not None
    run.refresh_from_db()
    assert run.status == TrainingStatus.DONE, run.error
    assert run.version is not None
    return run.version


def test_reviewed_samples_become_a_model_that_is_shadowed_promoted_and_rolled_back(
    cell: Any, operator: Any, quality_engineer: Any, login: Any, live_server: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TWINWEB_TRAINING_QUEUE = queue = f"training-test-{uuid.uuid4().hex[:8]}"
    for seed, defect in enumerate(["scratch", "dent", "ok", "burr", "crack", "scratch", "dent", "ok"], start=2):
        case = make_review_case(cell, defect=defect, seed=seed, confidence=0.5 if defect == "ok" else 0.93)
        if defect == "ok":
            review(case, operator, verdict="confirm_ok")
        else:
            review(case, operator, verdict="confirm_nok", disposition="scrap")
    samples = selectors.reviewed_samples()
    golden_ids = {s.review_id for s in samples if s.golden}
    training_ids = {s.review_id for s in samples if not s.golden}
    assert len(samples) == 8 and golden_ids and training_ids  # this fixed data puts samples on both sides

    page = login(quality_engineer)
    first = train_via_queue(page, queue)

    # Registered: content-addressed file, card, provenance, golden-set metrics, code version.
    stored = Path(settings.MEDIA_ROOT) / first.file
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == first.sha256 and first.sha256 in first.file
    assert set(first.provenance["reviewed_training_ids"]) == training_ids
    assert set(first.provenance["reviewed_golden_ids"]) == golden_ids
    assert first.provenance["golden_disjointness"]["overlap"] == 0
    assert first.golden_metrics["golden_set"]["size"] == 14 + len(golden_ids)
    assert set(first.golden_metrics["nok_recall"]) == {
        "scratch",
        "dent",
        "burr",
        "crack",
        "missing_hole",
        "oversized_hole",
    }
    assert first.code_version and first.card["files"]["onnx"]["sha256"] == first.sha256
    run = TrainingRun.objects.get(version=first)
    assert [p["epoch"] for p in run.progress] == [1] and run.progress[0]["loss"] > 0
    assert "val_accuracy" in run.progress[0]
    registry = page.get("/modelops/")
    assert first.version in registry.content.decode() and "loss" in registry.content.decode()

    device, credentials = device_of(cell, quality_engineer)
    page.post(
        f"/modelops/v/{first.sha256}/assign",
        {"cell": cell.code, "alias": "champion", "reason": "first", "credential": PASSWORD},
    )
    second = train_via_queue(page, queue, seed=3)
    assert second.sha256 != first.sha256
    # The champion measured on the same golden images as the new version, for a like-with-like comparison.
    assert second.golden_metrics["champions"][first.sha256]["n"] == second.golden_metrics["n"]

    edge = client(live_server.url, credentials, tmp_path / "edge")
    for version, alias in ((first, "champion"), (second, "candidate")):
        response = page.post(
            f"/modelops/v/{version.sha256}/assign",
            {"cell": cell.code, "alias": alias, "reason": f"{alias} for the trial", "credential": PASSWORD},
        )
        assert response.status_code == 302
    assert selectors.aliases_of(cell)[Alias.CANDIDATE].version == second
    assert edge.sync().installed and installed_sha256(tmp_path / "edge") == {
        "champion": first.sha256,
        "candidate": second.sha256,
    }

    # Shadow: the device runs both on every capture; only the champion's verdict counts; disagreements listed.
    champion = create_backend("onnxruntime", model_dir=tmp_path / "edge" / "champion", threads=1)
    candidate = create_backend("onnxruntime", model_dir=tmp_path / "edge" / "candidate", threads=1)
    golden = selectors.golden_set(14)
    comparisons = [
        shadow_compare(champion, candidate, normalise_uint8(golden.x[i : i + 1]), result_id=f"r{i}")
        for i in range(len(golden.x))
    ]
    edge.send_shadow(comparisons)
    edge.send_shadow(comparisons)  # a resent batch is stored once
    stored_rows = ShadowComparison.objects.filter(candidate=second)
    assert stored_rows.count() == len(comparisons)
    disagree = sum(c["champion_class"] != c["candidate_class"] for c in comparisons)
    assert stored_rows.filter(agree=False).count() == disagree
    detail = page.get(f"/modelops/v/{second.sha256}/").content.decode()
    assert f"{disagree} disagree" in detail and "NOK recall scratch" in detail  # comparison with the champion
    assert "Both measured on the same golden-set images" in detail

    # A wrong password moves nothing.
    page.post(f"/modelops/cell/{cell.code}/promote", {"reason": "looks better", "credential": "wrong"})
    assert selectors.aliases_of(cell)[Alias.CHAMPION].version == first

    page.post(f"/modelops/cell/{cell.code}/promote", {"reason": "better NOK recall", "credential": PASSWORD})
    aliases = selectors.aliases_of(cell)
    assert aliases[Alias.CHAMPION].version == second and aliases[Alias.CHAMPION].previous == first
    assert Alias.CANDIDATE not in aliases
    signature = RecordSignature.objects.get(
        subject_type="modelops.alias", subject_key=f"{cell.code}:champion", signed_content__kind="promote"
    )
    assert signature.signer == quality_engineer and signature.signed_content["to"] == second.sha256
    assert AuditRecord.objects.filter(action="modelops.alias.promote").exists()
    promoted = edge.sync()
    assert promoted.installed and promoted.retired == ["candidate"]  # no longer shadowed: it is the champion
    assert installed_sha256(tmp_path / "edge") == {"champion": second.sha256}

    page.post(f"/modelops/cell/{cell.code}/rollback", {"reason": "operators unhappy", "credential": PASSWORD})
    assert selectors.aliases_of(cell)[Alias.CHAMPION].version == first
    assert AliasChange.objects.filter(kind=AliasChangeKind.ROLLBACK, to_version=first).count() == 1
    assert edge.sync().installed and installed_sha256(tmp_path / "edge")["champion"] == first.sha256

    transition = page.get(f"/modelops/v/{second.sha256}/transition").content.decode()
    # The device profiled the version when it was delivered: its runtimes are on the transition page.
    assert "device onnxruntime fp32" in transition and "no profiling run of this model" not in transition
    assert ModelAlias.objects.filter(cell=cell).count() == 1


def test_an_operator_can_neither_train_nor_move_aliases(cell: Any, operator: Any, login: Any) -> None:
    page = login(operator)
    assert page.post("/modelops/train", {**TINY, "seed": 1}).status_code == 403
    assert not TrainingRun.objects.exists()
    page.post(f"/modelops/cell/{cell.code}/promote", {"reason": "x", "credential": PASSWORD})
    assert not AliasChange.objects.exists()
