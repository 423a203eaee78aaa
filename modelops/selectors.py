"""Reads of the model registry: versions, aliases, the reviewed samples split into golden and training, the golden
set's arrays, the operators' override rate on a version's verdicts, and the RQ1 transition of a version."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from edge_worker.vision.dataset import render_arrays
from edge_worker.vision.preprocess import CHANNELS, INPUT_SIZE, to_uint8_input
from edge_worker.vision.render import DEFECT_CLASSES
from inspection.choices import Verdict
from inspection.models import EdgeDevice, Inspection
from modelops.choices import OPEN_DEPLOY_STATUSES, Alias
from modelops.golden import GOLDEN_SEED, GoldenSet, held_out
from modelops.models import AliasChange, DeployIntent, ModelAlias, ModelVersion, ShadowComparison, TrainingRun
from profiling.models import ProfilingRun, ProfilingVariant
from review.choices import ReviewStatus, ReviewVerdict
from review.models import Review, ReviewedInspection
from traceability.models import Cell


def versions() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("created_by").order_by("-created_at", "-id")


def aliases_of(cell: Cell) -> dict[str, ModelAlias]:
    return {a.alias: a for a in ModelAlias.objects.filter(cell=cell).select_related("version", "previous")}


def alias_table() -> list[ModelAlias]:
    return list(ModelAlias.objects.select_related("cell", "version", "previous").order_by("cell__code", "alias"))


def alias_changes(limit: int = 50) -> list[AliasChange]:
    return list(AliasChange.objects.select_related("cell", "from_version", "to_version", "actor")[:limit])


def training_runs(limit: int = 20) -> list[TrainingRun]:
    return list(TrainingRun.objects.select_related("version", "requested_by")[:limit])


def deployments(limit: int = 50) -> list[DeployIntent]:
    return list(DeployIntent.objects.select_related("device", "version")[:limit])


def pending_for(device: EdgeDevice) -> list[DeployIntent]:
    """What the device is still to install: not yet asked for, or begun and not finished (it may have restarted
    mid-build: it starts that one again)."""
    return list(
        DeployIntent.objects.filter(device=device, status__in=OPEN_DEPLOY_STATUSES)
        .select_related("version")
        .order_by("requested_at", "id")
    )


@dataclass(frozen=True)
class Delivery:
    """A deployment of a version with the profiling run the device made of it (None until its report arrives)."""

    intent: DeployIntent
    profiling: ProfilingRun | None


def deliveries_of(version: ModelVersion) -> list[Delivery]:
    """Every deployment of `version`, newest first, each with its profiling run (two queries)."""
    intents = list(DeployIntent.objects.filter(version=version).select_related("device"))
    runs = {
        r.run_id: r
        for r in ProfilingRun.objects.filter(run_id__in=[i.profiling_run_id for i in intents if i.profiling_run_id])
    }
    return [Delivery(i, runs.get(i.profiling_run_id) if i.profiling_run_id else None) for i in intents]


def disagreements(version: ModelVersion, limit: int = 100) -> list[ShadowComparison]:
    """The captures the candidate saw otherwise than the champion, newest first; each says whether its inspection
    waits in Debug Mode (`in_review`: None when the inspection is not stored)."""
    rows = list(
        ShadowComparison.objects.filter(candidate=version, agree=False).select_related("device", "champion")[:limit]
    )
    flagged = dict(
        Inspection.objects.filter(
            result_id__in=[_as_uuid(r.result_id) for r in rows if _as_uuid(r.result_id)]
        ).values_list("result_id", "needs_review")
    )
    for row in rows:
        result_id = _as_uuid(row.result_id)
        row.in_review = flagged.get(result_id) if result_id else None  # type: ignore[attr-defined]
    return rows


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def shadow_summary(version: ModelVersion) -> dict[str, int]:
    rows = ShadowComparison.objects.filter(candidate=version)
    total = rows.count()
    agree = rows.filter(agree=True).count()
    return {"total": total, "agree": agree, "disagree": total - agree}


# --- Reviewed samples: golden or training, once and for all ------------------------------------------------


@dataclass(frozen=True)
class ReviewedSample:
    review_id: int
    image_sha256: str
    label: str
    image_path: str

    @property
    def golden(self) -> bool:
        return held_out(self.image_sha256)


def reviewed_samples() -> list[ReviewedSample]:
    """Every completed review with an image and a surface class (the human's label), oldest first."""
    rows = (
        Review.objects.filter(
            status=ReviewStatus.COMPLETE, inspection__image__isnull=False, defect_label__in=DEFECT_CLASSES
        )
        .select_related("inspection__image")
        .order_by("completed_at", "id")
    )
    return [
        ReviewedSample(r.pk, r.inspection.image.sha256, r.defect_label, r.inspection.image.file.path)
        for r in rows
        if r.inspection.image is not None
    ]


def sample_arrays(samples: list[ReviewedSample]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for s in samples:
        image = cv2.imread(s.image_path, cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"review {s.review_id}: cannot read {s.image_path}")
        xs.append(to_uint8_input(image))
        ys.append(DEFECT_CLASSES.index(s.label))
    if not xs:
        return np.zeros((0, CHANNELS, INPUT_SIZE, INPUT_SIZE), np.uint8), np.zeros((0,), np.int64)
    return np.stack(xs), np.array(ys, dtype=np.int64)


def golden_set(rendered: int) -> GoldenSet:
    """The golden set: `rendered` images of GOLDEN_SEED and every held-out reviewed sample."""
    x, y, _ = render_arrays(rendered, GOLDEN_SEED)
    held = [s for s in reviewed_samples() if s.golden]
    xr, yr = sample_arrays(held)
    return GoldenSet(np.concatenate([x, xr]), np.concatenate([y, yr]), rendered, tuple(s.review_id for s in held))


# --- Operators' override rate on a version's verdicts -------------------------------------------------------


# A review that overrode the machine: a reject signed OK (`override_ok`), or a pass (sent to review for its low
# confidence) signed NOK.
OVERRIDDEN = Q(verdict=ReviewVerdict.OVERRIDE_OK) | Q(
    verdict=ReviewVerdict.CONFIRM_NOK, inspection__verdict=Verdict.PASS
)


def override_rate(cell: Cell, version: ModelVersion, *, since: dt.datetime) -> dict[str, Any]:
    """Of the machine verdicts `version` gave in `cell` since `since` that operators reviewed, how many they
    overrode (OVERRIDDEN)."""
    inspections = Inspection.objects.filter(station__cell=cell, model_sha256=version.sha256, captured_at__gte=since)
    reviews = Review.objects.filter(
        status__in=[ReviewStatus.COMPLETE],
        pk__in=ReviewedInspection.objects.filter(inspection__in=inspections).values("review_id"),
    )
    reviewed = reviews.count()
    overridden = reviews.filter(OVERRIDDEN).count()
    return {
        "reviewed": reviewed,
        "overridden": overridden,
        "verdicts": inspections.count(),
        "rate": round(overridden / reviewed, 4) if reviewed else None,
    }


def transition(version: ModelVersion) -> list[dict[str, Any]]:
    """RQ1: one version's accuracy from training, through each runtime and precision on the device (profiling
    runs of this model, where they exist), to live agreement with operators."""
    card_eval = version.card.get("evaluation", {})
    rows: list[dict[str, Any]] = [
        {
            "stage": _("training (validation set)"),
            "accuracy": card_eval.get("accuracy"),
            "n": card_eval.get("test_size"),
            "note": _("seed %(seed)s") % {"seed": card_eval.get("test_seed")},
        },
        {
            "stage": _("golden set %(version)s") % {"version": version.golden_set},
            "accuracy": version.golden_metrics.get("accuracy"),
            "n": version.golden_metrics.get("n"),
            "note": _("onnxruntime fp32 on the server CPU"),
        },
    ]
    variants = list(
        ProfilingVariant.objects.filter(run__model_sha256=version.sha256)
        .select_related("run")
        .order_by("backend", "precision")
    )
    if variants:
        for v in variants:
            if not v.available:
                rows.append(
                    {
                        "stage": _("device %(backend)s %(precision)s")
                        % {"backend": v.backend, "precision": v.precision},
                        "accuracy": None,
                        "n": None,
                        "note": _("not measured: %(reason)s") % {"reason": v.reason or _("variant not available")},
                    }
                )
                continue
            rows.append(
                {
                    "stage": _("device %(backend)s %(precision)s") % {"backend": v.backend, "precision": v.precision},
                    "accuracy": v.accuracy,
                    "n": v.images,
                    "fps": v.fps,
                    "fps_per_w": v.fps_per_w_inference,
                    "note": "; ".join(
                        x for x in (v.device, v.power_note if v.fps_per_w_inference is None else "") if x
                    ),
                }
            )
    else:
        rows.append(
            {
                "stage": _("device runtimes"),
                "accuracy": None,
                "n": None,
                "note": _("not measured: no profiling run of this model on a device yet"),
            }
        )
    reviewed = Review.objects.filter(
        pk__in=ReviewedInspection.objects.filter(inspection__model_sha256=version.sha256).values("review_id")
    )
    total = reviewed.count()
    overridden = reviewed.filter(OVERRIDDEN).count()
    rows.append(
        {
            "stage": _("live: agreement with operators (reviewed verdicts)"),
            "accuracy": round(1 - overridden / total, 4) if total else None,
            "n": total,
            "note": "" if total else _("not measured: no reviewed verdict of this version yet"),
        }
    )
    return rows


def champion_sha(cell: Cell) -> str:
    row = ModelAlias.objects.filter(cell=cell, alias=Alias.CHAMPION).select_related("version").first()
    return row.version.sha256 if row else ""


def champion_versions() -> list[ModelVersion]:
    """The versions some cell runs as champion now."""
    return list(ModelVersion.objects.filter(aliases__alias=Alias.CHAMPION).distinct().order_by("pk"))
