"""Debug Mode writes: claim a case, release it, let lapsed claims expire, tell the cobot which view to present,
sign a verdict, countersign an override, record the cobot's acknowledgement.

A signed verdict is one transaction: the review and its signature, the failure case's disposition, the part's
status, the audit records and the cobot command row. The cobot task and the live event leave after commit.
Re-authentication (password hashing) runs before the transaction opens, so the write lock is held briefly.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from edge_worker.cobot import MOVE_PART_TASK, PRESENT_VIEW_TASK, CobotAck, MovePart, PresentView, cobot_queue
from inspection.choices import DeadLetterReason, Verdict
from inspection.models import CobotCommand, DeadLetter, Inspection, Review, ReviewClaim, ReviewPin, Signature
from inspection.review_choices import (
    ClaimEnd,
    CobotCommandKind,
    CobotDestination,
    OverrideReason,
    ReviewDisposition,
    ReviewStatus,
    ReviewVerdict,
    SignatureMeaning,
)
from traceability import actions as trace_actions
from traceability import audit, roles
from traceability.choices import Disposition, FailureCaseStatus, FoundBy, PartStatus
from traceability.errors import DomainError, NotFound, RefusedByRule
from traceability.models import AuditRecord, DefectCode, FailureCase
from twinweb.live import publish_on_commit

log = logging.getLogger(__name__)

# The classes the defect classifier knows (edge_worker.vision.render.DEFECT_CLASSES), for the training label.
CLASSIFIER_CLASSES = ("ok", "scratch", "dent", "burr", "crack", "missing_hole", "oversized_hole")
PIN_PATTERN = re.compile(r"^\d{4,8}$")


class SignatureRefused(DomainError):
    """The signer could not be re-authenticated (wrong password or PIN)."""

    code = "signature_refused"
    http_status = 403


class NotAllowed(DomainError):
    code = "not_allowed"
    http_status = 403


def claim_ttl() -> dt.timedelta:
    return dt.timedelta(seconds=float(settings.TWINWEB_REVIEW_CLAIM_TTL_S))


def printed_name(user: Any) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return f"{full} ({user.get_username()})" if full else user.get_username()


def _cell_id(inspection: Inspection) -> int:
    return inspection.station.cell_id


def inspection_subject(inspection: Inspection) -> tuple[str, str]:
    # Named explicitly: audit.subject_identity would pick Inspection.device_id before result_id.
    return "inspection.inspection", str(inspection.result_id)


def _require(user: Any, permission: str, what: str) -> None:
    if not (user and user.is_authenticated and user.has_perm(permission)):
        raise NotAllowed(f"You may not {what}.")


def needs_human(inspection: Inspection) -> bool:
    """Failed (or errored) inspections, those flagged for review, and passes below the confidence threshold."""
    if inspection.needs_review or inspection.verdict in (Verdict.FAIL, Verdict.ERROR):
        return True
    confidence = inspection.defect_confidence
    return confidence is not None and confidence < settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD


# --- Claims --------------------------------------------------------------------------------------------


def _end_claim(claim: ReviewClaim, *, end: str, actor: Any, at: dt.datetime) -> None:
    claim.ended_at = at
    claim.end_reason = end
    claim.save(update_fields=["ended_at", "end_reason"])
    audit.append(
        actor=actor, action=f"review.claim_{end}", subject=inspection_subject(claim.inspection),
        after={"claim": claim.pk, "holder": claim.holder.get_username(), "ended_at": at},
    )


@transaction.atomic
def expire_claims(*, now: dt.datetime | None = None, inspection: Inspection | None = None) -> int:
    """End every open claim whose time is up (the system is the actor). Returns how many lapsed."""
    now = now or timezone.now()
    lapsed = ReviewClaim.objects.select_related("holder", "inspection").filter(ended_at__isnull=True, expires_at__lte=now)
    if inspection is not None:
        lapsed = lapsed.filter(inspection=inspection)
    count = 0
    for claim in lapsed.select_for_update(of=("self",)):
        _end_claim(claim, end=ClaimEnd.EXPIRED, actor=None, at=now)
        count += 1
    return count


@transaction.atomic
def claim_case(inspection: Inspection, *, actor: Any, now: dt.datetime | None = None) -> ReviewClaim:
    """Hold a case for `actor` for TWINWEB_REVIEW_CLAIM_TTL_S seconds; claiming one's own case again renews it."""
    _require(actor, roles.REVIEW, "review inspections")
    now = now or timezone.now()
    inspection = Inspection.objects.select_for_update(of=("self",)).select_related("part", "station").get(pk=inspection.pk)
    if Review.objects.filter(inspection=inspection).exists():
        raise RefusedByRule(f"Inspection of {inspection.part.serial} has already been reviewed.")
    if not needs_human(inspection):
        raise RefusedByRule(f"Inspection of {inspection.part.serial} does not need a review.")
    expire_claims(now=now, inspection=inspection)
    current = ReviewClaim.objects.select_related("holder").filter(inspection=inspection, ended_at__isnull=True).first()
    if current is not None:
        if current.holder_id != actor.pk:
            raise RefusedByRule(
                f"{printed_name(current.holder)} is reviewing {inspection.part.serial} "
                f"(claim held until {timezone.localtime(current.expires_at):%H:%M:%S})."
            )
        current.expires_at = now + claim_ttl()
        current.save(update_fields=["expires_at"])
        return current
    claim = ReviewClaim(inspection=inspection, holder=actor, claimed_at=now, expires_at=now + claim_ttl())
    try:
        with transaction.atomic():
            claim.save()
    except IntegrityError:
        # Another session's claim committed between our check and our insert: the constraint decided.
        raise RefusedByRule(f"Someone else has just claimed {inspection.part.serial}.") from None
    audit.append(
        actor=actor, action="review.claim", subject=inspection_subject(inspection),
        after={"claim": claim.pk, "serial": inspection.part.serial, "expires_at": claim.expires_at},
    )
    publish_on_commit(_cell_id(inspection), {
        "type": "review.claimed", "result_id": str(inspection.result_id), "serial": inspection.part.serial,
        "holder": actor.get_username(),
    })
    return claim


@transaction.atomic
def renew_claim(claim: ReviewClaim, *, actor: Any, now: dt.datetime | None = None) -> ReviewClaim:
    """Keep a claim alive while its holder works (the step-through page calls this every minute).
    Not audited: it changes only when the claim lapses, which the claim and its end record already show."""
    now = now or timezone.now()
    claim = ReviewClaim.objects.select_for_update(of=("self",)).get(pk=claim.pk)
    if claim.holder_id != actor.pk or claim.ended_at is not None or claim.expires_at <= now:
        raise RefusedByRule("This claim is no longer yours: open the queue and claim the case again.")
    claim.expires_at = now + claim_ttl()
    claim.save(update_fields=["expires_at"])
    return claim


@transaction.atomic
def release_claim(claim: ReviewClaim, *, actor: Any, now: dt.datetime | None = None) -> ReviewClaim:
    claim = ReviewClaim.objects.select_for_update(of=("self",)).select_related("holder", "inspection__part", "inspection__station").get(pk=claim.pk)
    if claim.ended_at is not None:
        return claim
    if claim.holder_id != actor.pk:
        raise NotAllowed("Only the operator holding a claim releases it.")
    _end_claim(claim, end=ClaimEnd.RELEASED, actor=actor, at=now or timezone.now())
    publish_on_commit(_cell_id(claim.inspection), {
        "type": "review.released", "result_id": str(claim.inspection.result_id), "serial": claim.inspection.part.serial,
    })
    return claim


def open_claim_of(inspection: Inspection, user: Any, *, now: dt.datetime | None = None) -> ReviewClaim | None:
    now = now or timezone.now()
    return ReviewClaim.objects.filter(
        inspection=inspection, holder=user, ended_at__isnull=True, expires_at__gt=now
    ).first()


# --- The cobot -----------------------------------------------------------------------------------------


def _send_after_commit(task: str, payload: dict[str, Any], queue: str) -> None:
    def send() -> None:
        from twinweb.celery import app

        try:
            app.send_task(task, args=[payload], queue=queue)
        except Exception:  # the command row stays unacknowledged: visible, and resendable
            log.exception("cobot command %s to %s not sent", payload.get("command_id"), queue)

    transaction.on_commit(send)


@transaction.atomic
def present_finding_view(
    inspection: Inspection, *, finding_index: int, finding_kind: str, finding_name: str, bbox: list[float], actor: Any
) -> CobotCommand:
    """Tell the cell's cobot to hold the part so the operator sees this finding."""
    inspection = Inspection.objects.select_related("part", "station__cell").get(pk=inspection.pk)
    if open_claim_of(inspection, actor) is None:
        raise RefusedByRule("Claim the case before moving the cobot.")
    cell = inspection.station.cell
    command = PresentView(
        command_id=str(uuid.uuid4()), cell=cell.code, serial=inspection.part.serial,
        result_id=str(inspection.result_id), finding_index=finding_index, finding_kind=finding_kind,
        finding_name=finding_name, bbox=[float(v) for v in bbox or []],
    )
    row = CobotCommand.objects.create(
        command_id=command.command_id, cell=cell, inspection=inspection, kind=CobotCommandKind.PRESENT_VIEW,
        payload=command.to_dict(), sent_at=timezone.now(),
    )
    _send_after_commit(PRESENT_VIEW_TASK, command.to_dict(), cobot_queue(cell.code))
    return row


def _move_part(inspection: Inspection, *, destination: str, reason: str) -> CobotCommand:
    cell = inspection.station.cell
    command = MovePart(
        command_id=str(uuid.uuid4()), cell=cell.code, serial=inspection.part.serial,
        result_id=str(inspection.result_id), destination=destination, reason=reason,
    )
    row = CobotCommand.objects.create(
        command_id=command.command_id, cell=cell, inspection=inspection, kind=CobotCommandKind.MOVE_PART,
        payload=command.to_dict(), sent_at=timezone.now(),
    )
    _send_after_commit(MOVE_PART_TASK, command.to_dict(), cobot_queue(cell.code))
    return row


@transaction.atomic
def record_cobot_ack(data: dict[str, Any]) -> tuple[CobotCommand, bool]:
    """Store the cobot's acknowledgement once (a redelivered ack is a no-op). Returns (command, recorded now)."""
    ack = CobotAck.from_dict(data)
    command = CobotCommand.objects.select_for_update(of=("self",)).select_related("inspection__part").filter(command_id=ack.command_id).first()
    if command is None:
        raise NotFound(f"No cobot command {ack.command_id}.")
    if command.acked_at is not None:
        return command, False
    command.acked_at = dt.datetime.fromisoformat(ack.done_at)
    command.ack = ack.to_dict()
    command.save(update_fields=["acked_at", "ack"])
    if command.kind == CobotCommandKind.MOVE_PART and command.inspection is not None:
        audit.append(
            actor=None, action="cobot.move_part", subject=command.inspection.part,
            after={"destination": command.payload.get("destination"), "status": ack.status, "detail": ack.detail,
                   "command_id": ack.command_id, "at": ack.done_at},
        )
    publish_on_commit(command.cell_id, {
        "type": "cobot.ack", "command": command.kind, "command_id": ack.command_id, "status": ack.status,
        "detail": ack.detail, "serial": command.payload.get("serial"),
    })
    return command, True


def dead_letter_cobot_ack(data: Any, *, problem: Exception) -> DeadLetter:
    """Keep an acknowledgement the server could not match or read, with why, for someone to look at."""
    payload = data if isinstance(data, dict) else {"raw": repr(data)[:2000]}
    return DeadLetter.objects.create(
        received_at=timezone.now(), source="inspection.tasks_cobot.record_cobot_ack", detail=str(problem)[:2000],
        reason=DeadLetterReason.CONFLICT if isinstance(problem, NotFound) else DeadLetterReason.MALFORMED,
        payload=payload, payload_bytes=len(json.dumps(payload, default=str)),
    )


# --- Signing ---------------------------------------------------------------------------------------------


def verify_signer(user: Any, credential: str) -> str:
    """Re-authenticate the signer with their password or their PIN; returns which one, or refuses."""
    if not credential:
        raise SignatureRefused("Enter your password or PIN to sign.")
    if user.check_password(credential):
        return "password"
    pin = ReviewPin.objects.filter(user=user).first()
    if pin is not None and check_password(credential, pin.pin_hash):
        return "pin"
    raise SignatureRefused("Password or PIN not accepted: the verdict was not signed.")


def authenticate_signer(user: Any, credential: str, *, subject: tuple[str, str]) -> str:
    """verify_signer, with every refusal audited, and signing locked for a while after repeated refusals."""
    window = dt.timedelta(seconds=float(settings.TWINWEB_SIGNATURE_LOCKOUT_S))
    limit = int(settings.TWINWEB_SIGNATURE_MAX_FAILURES)
    recent = AuditRecord.objects.filter(
        action="review.signature_refused", actor_id=user.pk, created_at__gte=timezone.now() - window
    ).count()
    if recent >= limit:
        raise SignatureRefused(
            f"Signing is locked for {user.get_username()} after {recent} refused attempts; try again in "
            f"{int(window.total_seconds() // 60)} minutes or ask a supervisor."
        )
    try:
        return verify_signer(user, credential)
    except SignatureRefused as exc:
        with transaction.atomic():
            audit.append(actor=user, action="review.signature_refused", subject=subject,
                         after={"attempt": recent + 1, "limit": limit}, reason=str(exc))
        raise


@transaction.atomic
def set_review_pin(user: AbstractBaseUser, *, pin: str, actor: Any) -> ReviewPin:
    if not PIN_PATTERN.match(pin or ""):
        raise RefusedByRule("A PIN is 4 to 8 digits.")
    row, _ = ReviewPin.objects.update_or_create(user=user, defaults={"pin_hash": make_password(pin), "set_at": timezone.now()})
    audit.append(actor=actor, action="review.pin_set", subject=("auth.user", user.get_username()), after={"set_at": row.set_at})
    return row


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(audit.canonical_json(content).encode("utf-8")).hexdigest()


def signature_is_intact(signature: Signature) -> bool:
    """The signature still matches what the review records as signed."""
    review = signature.review
    return content_hash(review.signed_content) == review.content_sha256 == signature.content_sha256


def _allowed_verdicts(inspection: Inspection) -> tuple[str, ...]:
    if inspection.verdict == Verdict.PASS:
        return (ReviewVerdict.CONFIRM_OK, ReviewVerdict.CONFIRM_NOK)
    return (ReviewVerdict.CONFIRM_NOK, ReviewVerdict.OVERRIDE_OK)


def _defect_label(inspection: Inspection, verdict: ReviewVerdict, reason_code: str) -> str:
    if verdict != ReviewVerdict.CONFIRM_NOK:
        return "ok"
    case_code = inspection.failure_case.defect_code.code if inspection.failure_case_id else ""
    for candidate in (reason_code, inspection.defect_class, case_code):
        if candidate and candidate != "ok" and candidate in CLASSIFIER_CLASSES:
            return candidate
    return ""  # a dimensional reject: no surface class to learn from


def _validate_decision(
    inspection: Inspection, *, verdict: str, disposition: str, reason_code: str, note: str
) -> tuple[ReviewVerdict, ReviewDisposition, str]:
    try:
        verdict_ = ReviewVerdict(verdict)
    except ValueError:
        raise RefusedByRule(f"Unknown verdict {verdict!r}.") from None
    if verdict_ not in _allowed_verdicts(inspection):
        raise RefusedByRule(f"A {inspection.get_verdict_display().lower()} inspection cannot be {verdict_.label.lower()}.")
    if verdict_ == ReviewVerdict.CONFIRM_NOK:
        if disposition not in (ReviewDisposition.SCRAP, ReviewDisposition.REWORK):
            raise RefusedByRule("Choose scrap or rework for a NOK part.")
        if inspection.failure_case_id is None:
            if not DefectCode.objects.filter(code=reason_code).exists():
                raise RefusedByRule("Choose the defect you found.")
        else:
            reason_code = ""
    else:
        disposition = ReviewDisposition.RETURN_TO_LINE
    if verdict_ == ReviewVerdict.OVERRIDE_OK:
        if reason_code not in OverrideReason.values:
            raise RefusedByRule("An override to OK needs a reason code from the list.")
        if reason_code == OverrideReason.OTHER and not note.strip():
            raise RefusedByRule("Reason 'other' needs a note saying why.")
    if verdict_ == ReviewVerdict.CONFIRM_OK:
        reason_code = ""
    return verdict_, ReviewDisposition(disposition), reason_code


def _signed_content(inspection: Inspection, review_fields: dict[str, Any], reviewer: Any, at: dt.datetime) -> dict[str, Any]:
    return {
        "inspection": str(inspection.result_id),
        "serial": inspection.part.serial,
        "part_type": inspection.part.part_type.code,
        "image_sha256": inspection.image.sha256 if inspection.image_id else None,
        "machine": {
            "verdict": inspection.verdict, "reason": inspection.reason, "defect_class": inspection.defect_class,
            "defect_confidence": inspection.defect_confidence, "model_version": inspection.model_version,
            "findings_sha256": content_hash({"findings": inspection.findings}),
        },
        "decision": review_fields,
        "reviewer": {"username": reviewer.get_username(), "printed_name": printed_name(reviewer)},
        "signed_at": at,
    }


def sign_verdict(
    inspection: Inspection, *, actor: Any, verdict: str, credential: str, idempotency_key: uuid.UUID | str,
    disposition: str = "", reason_code: str = "", note: str = "", now: dt.datetime | None = None,
) -> tuple[Review, bool]:
    """Record the operator's signed verdict. Returns (review, applied now); a resubmission with the same
    idempotency key returns the review it already made and changes nothing."""
    _require(actor, roles.REVIEW, "sign review verdicts")
    key = uuid.UUID(str(idempotency_key))
    existing = Review.objects.filter(idempotency_key=key).select_related("inspection").first()
    if existing is not None:
        if existing.reviewer_id != actor.pk or existing.inspection_id != inspection.pk:
            raise RefusedByRule("This decision key belongs to another decision.")
        return existing, False
    # Before the transaction: password hashing is slow on purpose, and SQLite's write lock starts with it.
    method = authenticate_signer(actor, credential, subject=inspection_subject(inspection))
    try:
        return _record_verdict(inspection, actor=actor, verdict=verdict, method=method, key=key,
                               disposition=disposition, reason_code=reason_code, note=note, now=now), True
    except IntegrityError:
        # The same decision arrived twice at once: the first one stored it.
        existing = Review.objects.filter(idempotency_key=key, reviewer=actor, inspection=inspection).first()
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def _record_verdict(
    inspection: Inspection, *, actor: Any, verdict: str, method: str, key: uuid.UUID, disposition: str,
    reason_code: str, note: str, now: dt.datetime | None,
) -> Review:
    now = now or timezone.now()
    inspection = (
        Inspection.objects.select_for_update(of=("self",))
        .select_related("part__part_type", "part__batch", "station__cell", "image", "failure_case__defect_code")
        .get(pk=inspection.pk)
    )
    done = Review.objects.filter(inspection=inspection).select_related("reviewer").first()
    if done is not None:
        raise RefusedByRule(f"{inspection.part.serial} was already reviewed by {printed_name(done.reviewer)}.")
    claims = ReviewClaim.objects.select_related("holder").filter(inspection=inspection)
    other = claims.filter(ended_at__isnull=True, expires_at__gt=now).exclude(holder=actor).first()
    if other is not None:
        raise RefusedByRule(f"{printed_name(other.holder)} holds this case now: your verdict was not recorded.")
    # A decision made while holding the claim counts even if the connection came back after the claim lapsed.
    mine = claims.filter(holder=actor).order_by("-claimed_at").first()
    if mine is None:
        raise RefusedByRule("Claim the case before signing a verdict.")
    verdict_, disposition_, reason_code = _validate_decision(
        inspection, verdict=verdict, disposition=disposition, reason_code=reason_code, note=note
    )
    four_eyes = verdict_ == ReviewVerdict.OVERRIDE_OK and inspection.part.part_type.four_eyes_override
    decision = {
        "verdict": verdict_.value, "disposition": disposition_.value, "reason_code": reason_code, "note": note.strip(),
        "defect_label": _defect_label(inspection, verdict_, reason_code), "four_eyes": four_eyes,
    }
    content = _signed_content(inspection, decision, actor, now)
    sha = content_hash(content)
    review = Review(
        inspection=inspection, reviewer=actor, claim=mine, verdict=verdict_, disposition=disposition_,
        reason_code=reason_code, note=decision["note"], defect_label=decision["defect_label"],
        opened_at=mine.claimed_at, signed_at=now, review_seconds=max(0.0, (now - mine.claimed_at).total_seconds()),
        status=ReviewStatus.AWAITING_COUNTERSIGN if four_eyes else ReviewStatus.COMPLETE,
        completed_at=None if four_eyes else now, idempotency_key=key,
        signed_content=json.loads(audit.canonical_json(content)),
        content_sha256=sha,
    )
    review.full_clean()
    review.save()
    signature = Signature.objects.create(
        review=review, signer=actor, printed_name=printed_name(actor), signed_at=now, meaning=SignatureMeaning.AUTHOR,
        content_sha256=sha, method=method, idempotency_key=key,
    )
    if mine.ended_at is None:
        _end_claim(mine, end=ClaimEnd.SIGNED, actor=actor, at=now)
    audit.append(
        actor=actor, action="review.sign", subject=inspection.part,
        after={"inspection": str(inspection.result_id), **decision, "status": review.status,
               "content_sha256": sha, "signature": {"printed_name": signature.printed_name, "meaning": signature.meaning,
                                                     "method": method, "signed_at": now},
               "review_seconds": round(review.review_seconds, 1)},
        reason=note.strip(),
    )
    if four_eyes:
        _move_part(inspection, destination=CobotDestination.HOLD, reason="override awaits a countersignature")
    else:
        _apply(review, actor=actor, at=now)
    _publish_signed(review, signature)
    return review


def countersign_review(
    review: Review, *, actor: Any, credential: str, idempotency_key: uuid.UUID | str, now: dt.datetime | None = None,
) -> tuple[Signature, bool]:
    """A second person approves an override on a four-eyes part type; then the override takes effect."""
    _require(actor, roles.COUNTERSIGN, "countersign overrides")
    key = uuid.UUID(str(idempotency_key))
    existing = Signature.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.signer_id != actor.pk or existing.review_id != review.pk:
            raise RefusedByRule("This decision key belongs to another decision.")
        return existing, False
    if review.reviewer_id == actor.pk:
        raise NotAllowed("The countersignature must come from a second person, not the reviewer.")
    method = authenticate_signer(actor, credential, subject=inspection_subject(review.inspection))
    return _record_countersignature(review, actor=actor, method=method, key=key, now=now), True


@transaction.atomic
def _record_countersignature(review: Review, *, actor: Any, method: str, key: uuid.UUID, now: dt.datetime | None) -> Signature:
    now = now or timezone.now()
    review = Review.objects.select_for_update(of=("self",)).select_related(
        "inspection__part__part_type", "inspection__part__batch", "inspection__station__cell", "reviewer"
    ).get(pk=review.pk)
    if review.status != ReviewStatus.AWAITING_COUNTERSIGN:
        raise RefusedByRule("This review does not await a countersignature.")
    signature = Signature.objects.create(
        review=review, signer=actor, printed_name=printed_name(actor), signed_at=now,
        meaning=SignatureMeaning.COUNTERSIGN, content_sha256=review.content_sha256, method=method, idempotency_key=key,
    )
    audit.append(
        actor=actor, action="review.countersign", subject=review.inspection.part,
        after={"inspection": str(review.inspection.result_id), "content_sha256": review.content_sha256,
               "reviewer": printed_name(review.reviewer),
               "signature": {"printed_name": signature.printed_name, "meaning": signature.meaning, "method": method,
                             "signed_at": now}},
    )
    review.status = ReviewStatus.COMPLETE
    review.completed_at = now
    review.save(update_fields=["status", "completed_at"])
    _apply(review, actor=actor, at=now)
    _publish_signed(review, signature)
    return signature


_DESTINATIONS = {
    ReviewDisposition.SCRAP: CobotDestination.SCRAP,
    ReviewDisposition.REWORK: CobotDestination.REWORK,
    ReviewDisposition.RETURN_TO_LINE: CobotDestination.LINE,
}


def _apply(review: Review, *, actor: Any, at: dt.datetime) -> None:
    """The verdict's effects: failure case, part status, inspection flag, cobot move."""
    inspection = review.inspection
    part = inspection.part
    why = f"Debug Mode review {review.pk} by {printed_name(review.reviewer)}: {review.get_verdict_display()}"
    if review.reason_code:
        why += f" ({review.reason_code})"
    case: FailureCase | None = inspection.failure_case
    if review.verdict == ReviewVerdict.CONFIRM_NOK:
        if case is None:
            case = trace_actions.open_failure_case(
                part, defect_code=DefectCode.objects.get(code=review.reason_code), found_by=FoundBy.PERSON, actor=actor,
                station=inspection.station, description=f"Found in Debug Mode review of inspection {inspection.result_id}",
                at=at,
            )
            inspection.failure_case = case
        trace_actions.disposition_failure_case(case, disposition=Disposition(review.disposition), actor=actor, reason=why, at=at)
    elif review.verdict == ReviewVerdict.OVERRIDE_OK:
        if case is not None and case.status != FailureCaseStatus.CLOSED:
            trace_actions.disposition_failure_case(case, disposition=Disposition.USE_AS_IS, actor=actor, reason=why, at=at)
        else:
            trace_actions.set_part_status(part, status=PartStatus.PASSED, actor=actor, reason=why, at=at)
    else:  # a low-confidence pass confirmed
        if part.status in (PartStatus.IN_PROCESS, PartStatus.FAILED, PartStatus.ON_HOLD):
            trace_actions.set_part_status(part, status=PartStatus.PASSED, actor=actor, reason=why, at=at)
    inspection.needs_review = False
    inspection.save(update_fields=["needs_review", "failure_case"])
    _move_part(inspection, destination=_DESTINATIONS[ReviewDisposition(review.disposition)], reason=why)


def _publish_signed(review: Review, signature: Signature) -> None:
    inspection = review.inspection
    publish_on_commit(_cell_id(inspection), {
        "type": "review.signed", "result_id": str(inspection.result_id), "serial": inspection.part.serial,
        "verdict": review.verdict, "disposition": review.disposition, "status": review.status,
        "signer": signature.printed_name, "meaning": signature.meaning, "at": signature.signed_at.isoformat(),
    })
