"""Every write of the model registry: one transaction each, its audit record inside.

Moving an alias (assign, promote, roll back) is an electronic signature of a quality engineer through the
product's one signing path (traceability.actions.esign), and it stores a deploy intent for every edge device of
the cell: the device picks the model up when it next asks, whether it is online now or not. The automatic
rollback on the operators' override rate is the one alias move without a signature; its audit record says why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from inspection.models import EdgeDevice, Inspection
from modelops import selectors
from modelops.choices import ALIAS_NAMES, OPEN_DEPLOY_STATUSES, Alias, AliasChangeKind, DeployStatus, TrainingStatus
from modelops.errors import ModelRefused
from modelops.models import AliasChange, DeployIntent, ModelAlias, ModelVersion, ShadowComparison, TrainingRun
from traceability import audit
from traceability.actions import esign
from traceability.actions.esign import SignatureRefused  # noqa: F401  (the views catch it from here)
from traceability.choices import RecordSignatureMeaning
from traceability.models import Cell

MANAGE_MODELS = "modelops.manage_models"


def require_manager(user: Any) -> None:
    if not user.has_perm(MANAGE_MODELS):
        raise SignatureRefused(gettext("Only a quality engineer may change the defect models."))


def code_version() -> str:
    """`git describe` of the running code, or TWINWEB_VERSION where there is no git checkout."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()[:80]
    except (OSError, subprocess.SubprocessError):
        pass
    return os.environ.get("TWINWEB_VERSION", "unknown")[:80]


def model_path(sha256: str) -> str:
    return f"models/{sha256[:2]}/{sha256}.onnx"


def store_file(onnx: bytes) -> tuple[str, str]:
    """Write the ONNX bytes under their sha256 (outside any transaction: file I/O); (sha256, relative path)."""
    sha = hashlib.sha256(onnx).hexdigest()
    relative = model_path(sha)
    target = Path(settings.MEDIA_ROOT) / relative
    if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != sha:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(onnx)
        os.replace(tmp, target)
    return sha, relative


def register_version(
    *,
    onnx: bytes,
    card: dict[str, Any],
    provenance: dict[str, Any],
    golden_set: str,
    golden_metrics: dict[str, Any],
    actor: Any,
    code: str | None = None,
) -> ModelVersion:
    """A new version (or the existing one with the same bytes: content addressing makes this idempotent)."""
    sha, relative = store_file(onnx)
    if card.get("files", {}).get("onnx", {}).get("sha256") not in (None, sha):
        raise ModelRefused(gettext("The model card names another ONNX file than the one registered."))
    with transaction.atomic(durable=True):
        existing = ModelVersion.objects.filter(sha256=sha).first()
        if existing is not None:
            return existing
        base = str(card.get("model_version") or "defect")
        version = ModelVersion(
            sha256=sha,
            version=f"{base}+{sha[:8]}",
            file=relative,
            bytes=len(onnx),
            card=card,
            provenance=provenance,
            golden_set=golden_set,
            golden_metrics=golden_metrics,
            code_version=code if code is not None else code_version(),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        version.full_clean()
        version.save()
        audit.append(
            actor=actor,
            action="modelops.version.registered",
            subject=("modelops.modelversion", sha),
            after={
                "version": version.version,
                "bytes": len(onnx),
                "golden_set": golden_set,
                "accuracy": golden_metrics.get("accuracy"),
                "code_version": version.code_version,
            },
        )
    return version


def request_training(*, params: dict[str, Any], actor: Any) -> TrainingRun:
    """A training run, queued on the `training` queue once committed."""
    require_manager(actor)
    from modelops.tasks import train_model

    with transaction.atomic(durable=True):
        run = TrainingRun.objects.create(params=params, requested_by=actor, requested_at=timezone.now())
        audit.append(
            actor=actor,
            action="modelops.training.requested",
            subject=("modelops.trainingrun", str(run.pk)),
            after={"params": params},
        )
        transaction.on_commit(lambda: train_model.apply_async(args=[run.pk], queue=settings.TWINWEB_TRAINING_QUEUE))
    return run


def record_training_state(
    run_id: int,
    *,
    status: str | None = None,
    progress: dict[str, Any] | None = None,
    error: str = "",
    version: ModelVersion | None = None,
) -> None:
    """The worker's progress (not audited: a measurement, not a decision; the version it registers is)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        now = timezone.now()
        if status == TrainingStatus.RUNNING and run.started_at is None:
            run.started_at = now
        if status in (TrainingStatus.DONE, TrainingStatus.FAILED):
            run.finished_at = now
        if status:
            run.status = status
        if progress is not None:
            run.progress = [*run.progress, progress]
        if error:
            run.error = error[:4000]
        if version is not None:
            run.version = version
        run.save()


# --- Aliases ---------------------------------------------------------------------------------------------


def _deploy_to_cell(cell: Cell, alias: str, version: ModelVersion | None, at: dt.datetime) -> int:
    """Store what each device of the cell is to install; an older pending intent for the same alias is superseded."""
    count = 0
    for device in EdgeDevice.objects.filter(cell=cell).order_by("pk"):
        DeployIntent.objects.filter(device=device, alias=alias, status__in=OPEN_DEPLOY_STATUSES).update(
            status=DeployStatus.SUPERSEDED, reported_at=at
        )
        if version is not None:
            DeployIntent.objects.create(device=device, alias=alias, version=version, requested_at=at)
            count += 1
    return count


def _move(
    cell: Cell,
    alias: str,
    to: ModelVersion | None,
    *,
    kind: str,
    actor: Any,
    reason: str,
    method: str | None,
    at: dt.datetime,
) -> AliasChange:
    """Inside the caller's transaction: sign (unless automatic), move, record, deploy."""
    row = ModelAlias.objects.select_for_update().filter(cell=cell, alias=alias).first()
    before = row.version if row else None
    signature = None
    if method is not None:
        signature = esign.sign_record(
            ("modelops.alias", f"{cell.code}:{alias}"),
            meaning=RecordSignatureMeaning.MODEL_ALIAS,
            content={
                "cell": cell.code,
                "alias": alias,
                "kind": kind,
                "from": before.sha256 if before else None,
                "to": to.sha256 if to else None,
                "reason": reason,
                "at": at,
            },
            signer=actor,
            method=method,
            at=at,
        )
    if to is None:
        if row is not None:
            row.delete()
    elif row is None:
        row = ModelAlias.objects.create(cell=cell, alias=alias, version=to, changed_at=at, changed_by=esign_user(actor))
    else:
        row.previous, row.version, row.changed_at, row.changed_by = before, to, at, esign_user(actor)
        row.save()
    change = AliasChange.objects.create(
        cell=cell,
        alias=alias,
        kind=kind,
        from_version=before,
        to_version=to,
        reason=reason,
        at=at,
        actor=esign_user(actor),
        signature_id=signature.pk if signature else None,
    )
    devices = _deploy_to_cell(cell, alias, to, at)
    audit.append(
        actor=actor,
        action=f"modelops.alias.{kind}",
        subject=("modelops.alias", f"{cell.code}:{alias}"),
        before={"version": before.version if before else None},
        after={
            "version": to.version if to else None,
            "devices": devices,
            "signature": signature.pk if signature else None,
        },
        reason=reason,
    )
    return change


def esign_user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _signed(actor: Any, credential: str, cell: Cell, alias: str, request: Any) -> str:
    require_manager(actor)
    return esign.authenticate_signer(
        actor, credential, subject=("modelops.alias", f"{cell.code}:{alias}"), request=request
    )


def assign_alias(
    version: ModelVersion, *, cell: Cell, alias: str, actor: Any, credential: str, reason: str, request: Any = None
) -> AliasChange:
    """Make `version` the cell's champion or candidate (a candidate runs in shadow beside the champion)."""
    if alias not in Alias.values:
        raise ModelRefused(gettext("Unknown alias %(alias)s.") % {"alias": repr(alias)})
    if not reason.strip():
        raise ModelRefused(gettext("Moving a model alias needs a reason."))
    method = _signed(actor, credential, cell, alias, request)
    with transaction.atomic(durable=True):
        if ModelAlias.objects.filter(cell=cell, alias=alias, version=version).exists():
            raise ModelRefused(
                gettext("%(version)s already is the %(alias)s of %(cell)s.")
                % {"version": version.version, "alias": ALIAS_NAMES.get(alias, alias), "cell": cell.code}
            )
        return _move(
            cell,
            alias,
            version,
            kind=AliasChangeKind.ASSIGN,
            actor=actor,
            reason=reason.strip(),
            method=method,
            at=timezone.now(),
        )


def promote(cell: Cell, *, actor: Any, credential: str, reason: str, request: Any = None) -> AliasChange:
    """The candidate becomes champion; the old champion is kept as what a rollback returns to."""
    if not reason.strip():
        raise ModelRefused(gettext("Promoting a model needs a reason."))
    method = _signed(actor, credential, cell, Alias.CHAMPION, request)
    with transaction.atomic(durable=True):
        candidate = ModelAlias.objects.select_for_update().filter(cell=cell, alias=Alias.CANDIDATE).first()
        if candidate is None:
            raise ModelRefused(gettext("Cell %(cell)s has no candidate to promote.") % {"cell": cell.code})
        at = timezone.now()
        change = _move(
            cell,
            Alias.CHAMPION,
            candidate.version,
            kind=AliasChangeKind.PROMOTE,
            actor=actor,
            reason=reason.strip(),
            method=method,
            at=at,
        )
        _move(
            cell,
            Alias.CANDIDATE,
            None,
            kind=AliasChangeKind.PROMOTE,
            actor=actor,
            reason=reason.strip(),
            method=None,
            at=at,
        )
        return change


def _rollback(cell: Cell, *, actor: Any, reason: str, method: str | None, kind: str) -> AliasChange:
    champion = ModelAlias.objects.select_for_update().filter(cell=cell, alias=Alias.CHAMPION).first()
    if champion is None or champion.previous is None:
        raise ModelRefused(gettext("Cell %(cell)s has no previous champion to roll back to.") % {"cell": cell.code})
    change = _move(
        cell, Alias.CHAMPION, champion.previous, kind=kind, actor=actor, reason=reason, method=method, at=timezone.now()
    )
    # A rollback is not itself rolled back to the version it left (an automatic check would flip-flop): going
    # forward again is a promotion.
    ModelAlias.objects.filter(cell=cell, alias=Alias.CHAMPION).update(previous=None)
    return change


def rollback(cell: Cell, *, actor: Any, credential: str, reason: str, request: Any = None) -> AliasChange:
    """One action: the champion goes back to the version it replaced."""
    if not reason.strip():
        raise ModelRefused(gettext("Rolling back a model needs a reason."))
    method = _signed(actor, credential, cell, Alias.CHAMPION, request)
    with transaction.atomic(durable=True):
        return _rollback(cell, actor=actor, reason=reason.strip(), method=method, kind=AliasChangeKind.ROLLBACK)


def auto_rollback_on_overrides(cell: Cell, *, now: dt.datetime | None = None) -> AliasChange | None:
    """Roll the champion back when operators overrode more than TWINWEB_MODEL_OVERRIDE_RATE_MAX of its reviewed
    verdicts (at least TWINWEB_MODEL_OVERRIDE_MIN_REVIEWS of them) within TWINWEB_MODEL_OVERRIDE_WINDOW_S since it
    became champion. None when nothing was rolled back."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        champion = ModelAlias.objects.select_for_update().filter(cell=cell, alias=Alias.CHAMPION).first()
        if champion is None or champion.previous is None:
            return None
        window = dt.timedelta(seconds=float(settings.TWINWEB_MODEL_OVERRIDE_WINDOW_S))
        since = max(champion.changed_at, now - window)
        rate = selectors.override_rate(cell, champion.version, since=since)
        limit = float(settings.TWINWEB_MODEL_OVERRIDE_RATE_MAX)
        if rate["reviewed"] < int(settings.TWINWEB_MODEL_OVERRIDE_MIN_REVIEWS) or rate["rate"] <= limit:
            return None
        reason = (
            f"automatic: operators overrode {rate['overridden']} of {rate['reviewed']} reviewed verdicts of "
            f"{champion.version.version} since {since.isoformat()} ({rate['rate']:.0%} > {limit:.0%})"
        )
        return _rollback(cell, actor=None, reason=reason, method=None, kind=AliasChangeKind.AUTO_ROLLBACK)


# --- What devices say -------------------------------------------------------------------------------------


def mark_offered(intents: list[DeployIntent]) -> None:
    DeployIntent.objects.filter(pk__in=[i.pk for i in intents]).update(offered_at=timezone.now())


_PROGRESS_STATUSES = (DeployStatus.DOWNLOADING, DeployStatus.BUILDING, DeployStatus.PROFILING)


def _engines(engines: Any) -> list[dict[str, Any]]:
    """The device's engine builds, kept to the fields the page shows (ValueError when they are not a list)."""
    if not isinstance(engines, list):
        raise ValueError("engines must be a list")
    out = []
    for e in engines[:20]:
        seconds = e.get("seconds") if isinstance(e, dict) else None
        out.append(
            {
                "backend": str(e.get("backend", ""))[:40],
                "precision": str(e.get("precision", ""))[:10],
                "built": bool(e.get("built")),
                "seconds": float(seconds)
                if isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
                else None,
                "detail": str(e.get("detail", ""))[:500],
            }
        )
    return out


@transaction.atomic(durable=True)
def record_device_report(
    device: EdgeDevice,
    *,
    intent_id: int,
    sha256: str,
    status: str,
    reason: str,
    progress: str = "",
    engines: Any = None,
    profiling_run_id: str = "",
) -> DeployIntent:
    """What the device says of a deployment: how far it got (downloading, building k of n, profiling; not audited:
    a measurement, like a training run's epochs), or where it ended: ready (installed) or failed (refused), audited
    with the engines it built and the profiling run that measured it."""
    intent = (
        DeployIntent.objects.select_for_update().select_related("version").filter(pk=intent_id, device=device).first()
    )
    if intent is None or intent.version.sha256 != sha256:
        raise ModelRefused(gettext("No such deployment for this device."))
    if status not in (*_PROGRESS_STATUSES, DeployStatus.INSTALLED, DeployStatus.REFUSED):
        raise ModelRefused(gettext("Unknown status %(status)s.") % {"status": repr(status)})
    if intent.status not in OPEN_DEPLOY_STATUSES:
        return intent  # a repeated final report (or one for a superseded deployment) changes nothing
    run_id = uuid.UUID(profiling_run_id) if profiling_run_id else intent.profiling_run_id
    intent.status, intent.reported_at = status, timezone.now()
    intent.progress = progress[:200]
    intent.engines = _engines(engines) if engines is not None else intent.engines
    intent.profiling_run_id = run_id
    if status in _PROGRESS_STATUSES:
        intent.save(update_fields=["status", "progress", "engines", "profiling_run_id", "reported_at"])
        return intent
    intent.reason = reason[:500]
    intent.save(update_fields=["status", "reason", "progress", "engines", "profiling_run_id", "reported_at"])
    audit.append(
        actor=None,
        action=f"modelops.deploy.{status}",
        subject=("modelops.deployintent", str(intent.pk)),
        after={
            "device": device.device_id,
            "alias": intent.alias,
            "version": intent.version.version,
            "reason": reason[:500],
            "engines": {
                f"{e['backend']} {e['precision']}": e["seconds"] if e["built"] else e["detail"] for e in intent.engines
            },
            "profiling_run": str(run_id) if run_id else None,
        },
    )
    return intent


@transaction.atomic(durable=True)
def record_shadow(device: EdgeDevice, comparisons: list[dict[str, Any]]) -> int:
    """Store the device's shadow comparisons (idempotent on device, result and candidate)."""
    by_sha = {
        v.sha256: v
        for v in ModelVersion.objects.filter(
            sha256__in={c.get("champion_sha256") for c in comparisons}
            | {c.get("candidate_sha256") for c in comparisons}
        )
    }
    stored = 0
    for c in comparisons:
        champion, candidate = by_sha.get(c.get("champion_sha256", "")), by_sha.get(c.get("candidate_sha256", ""))
        if champion is None or candidate is None:
            continue  # a model the registry does not know (the shipped one): nothing to compare against
        _, created = ShadowComparison.objects.get_or_create(
            device=device,
            result_id=str(c["result_id"])[:40],
            candidate=candidate,
            defaults={
                "champion": champion,
                "champion_class": str(c["champion_class"])[:40],
                "candidate_class": str(c["candidate_class"])[:40],
                "champion_confidence": float(c["champion_confidence"]),
                "candidate_confidence": float(c["candidate_confidence"]),
                "agree": c["champion_class"] == c["candidate_class"],
                "at": timezone.now(),
            },
        )
        stored += created
    return stored


@transaction.atomic
def send_disagreement_to_review(comparison: ShadowComparison, *, actor: Any) -> Inspection:
    """Put the capture champion and candidate disagreed on in Debug Mode's queue: its stored inspection (the
    champion's, the one that counted) is flagged for review with the two verdicts as the reason. Sending it again
    changes nothing."""
    require_manager(actor)
    inspection = Inspection.objects.select_for_update().filter(result_id=comparison.result_id).first()
    if inspection is None:
        raise ModelRefused(
            gettext("The champion's result for capture %(result)s is not stored yet: nothing to review.")
            % {"result": comparison.result_id}
        )
    if inspection.needs_review:
        return inspection
    inspection.needs_review = True
    inspection.save(update_fields=["needs_review"])
    audit.append(
        actor=actor,
        action="modelops.shadow.send_to_review",
        subject=("inspection.inspection", str(inspection.result_id)),
        before={"needs_review": False},
        after={"needs_review": True},
        reason=(
            f"shadow disagreement on {comparison.device.device_id}: champion {comparison.champion.version} said "
            f"{comparison.champion_class} ({comparison.champion_confidence:.3f}), candidate "
            f"{comparison.candidate.version} said {comparison.candidate_class} ({comparison.candidate_confidence:.3f})"
        ),
    )
    return inspection
