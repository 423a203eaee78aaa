"""Debug Mode writes: claim a case, release it, let lapsed claims expire, tell the cobot which view to present,
sign a verdict, countersign an override, record the cobot's acknowledgement.

A case is a part: a claim holds the part (every inspection of it that needs a human, from whichever station),
and one signed verdict decides them all, so the cobot is told once where the part goes. Writes about a part are
decided under its row lock. Once a part is final (scrapped, shipped) or a disposition has acted on an inspection
(a review or a failure case closed after it was captured), that inspection is no longer reviewable: claims and
verdicts on it are refused, never recorded a second time, and the cobot is not moved again.

A verdict needs a live claim (held, not lapsed, not released); only the resent copy of a decision already
recorded (the same idempotency key) passes without one. Review time runs from that live claim's start.

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
from review import selectors
from review.models import CobotCommand, Review, ReviewClaim, ReviewedInspection, ReviewPin, Signature
from inspection.models import DeadLetter, Inspection
from review.models import SIGNATURE_HASH_VERSION
from review.choices import (
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
from traceability.models import AuditRecord, DefectCode, FailureCase, Part
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


class ClaimLapsed(RefusedByRule):
    """The signer's claim lapsed or was released: nothing was recorded; claiming the case again lets them sign."""

    code = "claim_lapsed"


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


def _at(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%H:%M:%S}"


def _locked_part(inspection: Inspection) -> Part:
    """The part's row, locked: claims and verdicts on one part are decided one at a time."""
    return Part.objects.select_for_update(of=("self",)).select_related("part_type", "batch").get(pk=inspection.part_id)


def _nothing_to_review(part: Part, inspection: Inspection) -> RefusedByRule:
    """Why `inspection` (of `part`) is not reviewable now, in the operator's words."""
    serial = part.serial
    if part.status in trace_actions.FINAL_PART_STATES:
        return RefusedByRule(f"{serial} is {part.get_status_display().lower()}: its status is final, so there is "
                             "nothing left to review and the cobot will not move it again.")
    pending = Review.objects.filter(inspection__part=part, status=ReviewStatus.AWAITING_COUNTERSIGN).select_related("reviewer").first()
    if pending is not None:
        return RefusedByRule(f"{serial}: the override by {printed_name(pending.reviewer)} awaits a countersignature.")
    decided = ReviewedInspection.objects.filter(inspection=inspection).select_related("review__reviewer").first()
    if decided is not None:
        return RefusedByRule(f"{serial} was already reviewed by {printed_name(decided.review.reviewer)} "
                             f"(signed {_at(decided.review.signed_at)}).")
    later = (Review.objects.filter(inspection__part=part, signed_at__gte=inspection.captured_at)
             .select_related("reviewer").order_by("signed_at").first())
    if later is not None:
        return RefusedByRule(f"{serial} was already decided by {printed_name(later.reviewer)}'s review signed "
                             f"{_at(later.signed_at)}, after this inspection was captured: the cobot has moved it.")
    closed = (FailureCase.objects.filter(part=part, status=FailureCaseStatus.CLOSED, closed_at__gte=inspection.captured_at)
              .order_by("closed_at").first())
    if closed is not None:
        assert closed.closed_at is not None  # closed_at__gte: never None
        return RefusedByRule(f"{serial} was already dispositioned ({closed.get_disposition_display().lower()}, "
                             f"failure case {closed.pk}, {_at(closed.closed_at)}) after this inspection was captured.")
    return RefusedByRule(f"Inspection of {serial} does not need a review.")


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
def expire_claims(*, now: dt.datetime | None = None, part: Part | None = None) -> int:
    """End every open claim whose time is up (the system is the actor). Returns how many lapsed."""
    now = now or timezone.now()
    lapsed = ReviewClaim.objects.select_related("holder", "inspection").filter(ended_at__isnull=True, expires_at__lte=now)
    if part is not None:
        lapsed = lapsed.filter(part=part)
    count = 0
    for claim in lapsed.select_for_update(of=("self",)):
        _end_claim(claim, end=ClaimEnd.EXPIRED, actor=None, at=now)
        count += 1
    return count


@transaction.atomic
def claim_case(inspection: Inspection, *, actor: Any, now: dt.datetime | None = None) -> ReviewClaim:
    """Hold the part of `inspection` (every inspection of it that needs a human) for `actor` for
    TWINWEB_REVIEW_CLAIM_TTL_S seconds; claiming one's own case again renews it. The claim is addressed by the
    part's leading inspection, whichever of its inspections was opened."""
    _require(actor, roles.REVIEW, "review inspections")
    now = now or timezone.now()
    part = _locked_part(inspection)
    open_ = selectors.case_inspections(part)
    if not any(i.pk == inspection.pk for i in open_):
        raise _nothing_to_review(part, inspection)
    lead = selectors.lead_inspection(open_)
    expire_claims(now=now, part=part)
    current = ReviewClaim.objects.select_related("holder").filter(part=part, ended_at__isnull=True).first()
    if current is not None:
        if current.holder_id != actor.pk:
            raise RefusedByRule(
                f"{printed_name(current.holder)} is reviewing {part.serial} (claim held until {_at(current.expires_at)})."
            )
        current.expires_at = now + claim_ttl()
        current.save(update_fields=["expires_at"])
        return current
    claim = ReviewClaim(part=part, inspection=lead, holder=actor, claimed_at=now, expires_at=now + claim_ttl())
    try:
        with transaction.atomic():
            claim.save()
    except IntegrityError:
        # Another session's claim committed between our check and our insert: the constraint decided.
        raise RefusedByRule(f"Someone else has just claimed {part.serial}.") from None
    audit.append(
        actor=actor, action="review.claim", subject=inspection_subject(lead),
        after={"claim": claim.pk, "serial": part.serial, "inspections": [str(i.result_id) for i in open_],
               "expires_at": claim.expires_at},
    )
    publish_on_commit(_cell_id(lead), {
        "type": "review.claimed", "result_id": str(lead.result_id), "serial": part.serial,
        "holder": actor.get_username(),
    })
    return claim


@transaction.atomic
def renew_claim(claim: ReviewClaim, *, actor: Any, now: dt.datetime | None = None) -> ReviewClaim:
    """Keep a claim alive while its holder works (the step-through page calls this at most every minute, and only
    after the operator touched the tablet or a key since the last call). Not audited: it changes only when the
    claim lapses, which the claim and its end record already show."""
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
    """`user`'s live claim on the part of `inspection`, if they hold one."""
    now = now or timezone.now()
    return ReviewClaim.objects.select_related("inspection").filter(
        part_id=inspection.part_id, holder=user, ended_at__isnull=True, expires_at__gt=now
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


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat()


def signature_manifest(signature: Signature, *, review_sha256: str) -> dict[str, Any]:
    """What a version-2 signature binds: the review's content hash, and who signed it, under which printed name,
    with which meaning, when (21 CFR 11.50 and 11.70: the manifestation is linked to the record)."""
    return {
        "hash_version": 2, "review_content_sha256": review_sha256, "signer_id": signature.signer_id,
        "printed_name": signature.printed_name, "meaning": signature.meaning, "signed_at": _utc(signature.signed_at),
    }


def _bind(signature: Signature, review: Review) -> Signature:
    signature.hash_version = SIGNATURE_HASH_VERSION
    signature.content_sha256 = content_hash(signature_manifest(signature, review_sha256=review.content_sha256))
    return signature


def signature_is_intact(signature: Signature) -> bool:
    """The signature still matches what the review records as signed and, from version 2 on, its own printed
    name, meaning and time. Version 1 signatures (made before) bound the review's content hash alone."""
    review = signature.review
    if content_hash(review.signed_content) != review.content_sha256:
        return False
    if signature.hash_version == 1:
        return signature.content_sha256 == review.content_sha256
    if signature.hash_version == 2:
        return signature.content_sha256 == content_hash(signature_manifest(signature, review_sha256=review.content_sha256))
    return False


def machine_failed(inspections: list[Inspection]) -> bool:
    """The machine's verdict on the part: failed when any of its stations failed (or could not inspect) it."""
    return any(i.verdict != Verdict.PASS for i in inspections)


def _allowed_verdicts(failed: bool) -> tuple[str, ...]:
    if not failed:
        return (ReviewVerdict.CONFIRM_OK, ReviewVerdict.CONFIRM_NOK)
    return (ReviewVerdict.CONFIRM_NOK, ReviewVerdict.OVERRIDE_OK)


def _defect_label(lead: Inspection, inspections: list[Inspection], case: FailureCase | None, verdict: ReviewVerdict,
                  reason_code: str) -> str:
    if verdict != ReviewVerdict.CONFIRM_NOK:
        return "ok"
    case_code = case.defect_code.code if case is not None else ""
    classes = [lead.defect_class] + [i.defect_class for i in inspections if i.pk != lead.pk]
    for candidate in (reason_code, *classes, case_code):
        if candidate and candidate != "ok" and candidate in CLASSIFIER_CLASSES:
            return candidate
    return ""  # a dimensional reject: no surface class to learn from


def _validate_decision(
    *, failed: bool, has_case: bool, verdict: str, disposition: str, reason_code: str, note: str
) -> tuple[ReviewVerdict, ReviewDisposition, str]:
    try:
        verdict_ = ReviewVerdict(verdict)
    except ValueError:
        raise RefusedByRule(f"Unknown verdict {verdict!r}.") from None
    if verdict_ not in _allowed_verdicts(failed):
        raise RefusedByRule(f"A part the machine {'failed' if failed else 'passed'} cannot be {verdict_.label.lower()}.")
    if verdict_ == ReviewVerdict.CONFIRM_NOK:
        if disposition not in (ReviewDisposition.SCRAP, ReviewDisposition.REWORK):
            raise RefusedByRule("Choose scrap or rework for a NOK part.")
        if not has_case:
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


def _machine(inspection: Inspection) -> dict[str, Any]:
    return {
        "verdict": inspection.verdict, "reason": inspection.reason, "defect_class": inspection.defect_class,
        "defect_confidence": inspection.defect_confidence, "model_version": inspection.model_version,
        "findings_sha256": content_hash({"findings": inspection.findings}),
    }


def _signed_content(lead: Inspection, inspections: list[Inspection], review_fields: dict[str, Any], reviewer: Any,
                    at: dt.datetime) -> dict[str, Any]:
    """The evidence decided (every inspection of the part, the leading one also at the top level) and the decision."""
    return {
        "inspection": str(lead.result_id),
        "serial": lead.part.serial,
        "part_type": lead.part.part_type.code,
        "image_sha256": lead.image.sha256 if lead.image is not None else None,
        "machine": _machine(lead),
        "inspections": [
            {"inspection": str(i.result_id), "station": i.station.code,
             "image_sha256": i.image.sha256 if i.image is not None else None, "machine": _machine(i)}
            for i in inspections
        ],
        "decision": review_fields,
        "reviewer": {"username": reviewer.get_username(), "printed_name": printed_name(reviewer)},
        "meaning": SignatureMeaning.AUTHOR.value,
        "signed_at": at,
    }


def sign_verdict(
    inspection: Inspection, *, actor: Any, verdict: str, credential: str, idempotency_key: uuid.UUID | str,
    disposition: str = "", reason_code: str = "", note: str = "", reviewed: list[str] | None = None,
    now: dt.datetime | None = None,
) -> tuple[Review, bool]:
    """Record the operator's signed verdict on the part of `inspection` (every inspection of it that needs a
    human). `reviewed`: the result ids of the inspections the operator was shown; when given, a verdict is refused
    if the part's evidence changed meanwhile (a station reported again), so a signature never covers evidence its
    signer did not see. Returns (review, applied now); a resubmission with the same idempotency key returns the
    review it already made and changes nothing, claim or no claim."""
    _require(actor, roles.REVIEW, "sign review verdicts")
    key = uuid.UUID(str(idempotency_key))
    existing = Review.objects.filter(idempotency_key=key).select_related("inspection").first()
    if existing is not None:
        if existing.reviewer_id != actor.pk or existing.inspection.part_id != inspection.part_id:
            raise RefusedByRule("This decision key belongs to another decision.")
        return existing, False
    # Before the transaction: password hashing is slow on purpose, and SQLite's write lock starts with it.
    method = authenticate_signer(actor, credential, subject=inspection_subject(inspection))
    try:
        return _record_verdict(inspection, actor=actor, verdict=verdict, method=method, key=key,
                               disposition=disposition, reason_code=reason_code, note=note, reviewed=reviewed,
                               now=now), True
    except IntegrityError:
        # The same decision arrived twice at once: the first one stored it.
        existing = Review.objects.filter(idempotency_key=key, reviewer=actor, inspection__part_id=inspection.part_id).first()
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def _record_verdict(
    inspection: Inspection, *, actor: Any, verdict: str, method: str, key: uuid.UUID, disposition: str,
    reason_code: str, note: str, reviewed: list[str] | None, now: dt.datetime | None,
) -> Review:
    now = now or timezone.now()
    part = _locked_part(inspection)
    open_ = selectors.case_inspections(part)
    if not any(i.pk == inspection.pk for i in open_):
        raise _nothing_to_review(part, inspection)
    if reviewed is not None and sorted(map(str, reviewed)) != sorted(str(i.result_id) for i in open_):
        raise RefusedByRule(f"The evidence for {part.serial} changed while you reviewed it (a station reported "
                            "again): reopen the case, look at it and sign again. Nothing was recorded.")
    claims = ReviewClaim.objects.select_related("holder").filter(part=part)
    live = claims.filter(ended_at__isnull=True, expires_at__gt=now)
    other = live.exclude(holder=actor).first()
    if other is not None:
        raise RefusedByRule(f"{printed_name(other.holder)} holds this case now: your verdict was not recorded.")
    mine = live.filter(holder=actor).first()
    if mine is None:
        last = claims.filter(holder=actor).order_by("-claimed_at").first()
        if last is None:
            raise RefusedByRule("Claim the case before signing a verdict.")
        how = "was released" if last.end_reason == ClaimEnd.RELEASED else "lapsed"
        raise ClaimLapsed(f"Your claim on {part.serial} {how} at {_at(last.ended_at or last.expires_at)}: the verdict "
                          "was not recorded. Claim the case again to sign it.")
    lead = selectors.lead_inspection(open_)
    case = selectors.open_failure_case(open_)
    failed = machine_failed(open_)
    verdict_, disposition_, reason_code = _validate_decision(
        failed=failed, has_case=case is not None, verdict=verdict, disposition=disposition, reason_code=reason_code,
        note=note,
    )
    four_eyes = verdict_ == ReviewVerdict.OVERRIDE_OK and part.part_type.four_eyes_override
    decision: dict[str, Any] = {
        "verdict": verdict_.value, "disposition": disposition_.value, "reason_code": reason_code, "note": note.strip(),
        "defect_label": _defect_label(lead, open_, case, verdict_, reason_code), "four_eyes": four_eyes,
    }
    content = _signed_content(lead, open_, decision, actor, now)
    sha = content_hash(content)
    review = Review(
        inspection=lead, reviewer=actor, claim=mine, verdict=verdict_, disposition=disposition_,
        reason_code=reason_code, note=decision["note"], defect_label=decision["defect_label"],
        # The live claim began when this stretch of work did: time before a lapse or a release is not counted.
        opened_at=mine.claimed_at, signed_at=now, review_seconds=max(0.0, (now - mine.claimed_at).total_seconds()),
        status=ReviewStatus.AWAITING_COUNTERSIGN if four_eyes else ReviewStatus.COMPLETE,
        completed_at=None if four_eyes else now, idempotency_key=key,
        signed_content=json.loads(audit.canonical_json(content)),
        content_sha256=sha,
    )
    review.full_clean()
    review.save()
    ReviewedInspection.objects.bulk_create([ReviewedInspection(review=review, inspection=i) for i in open_])
    signature = _bind(Signature(
        review=review, signer=actor, printed_name=printed_name(actor), signed_at=now, meaning=SignatureMeaning.AUTHOR,
        method=method, idempotency_key=key,
    ), review)
    signature.save()
    _end_claim(mine, end=ClaimEnd.SIGNED, actor=actor, at=now)
    audit.append(
        actor=actor, action="review.sign", subject=part,
        after={"inspection": str(lead.result_id), "inspections": [str(i.result_id) for i in open_], **decision,
               "status": review.status, "content_sha256": sha,
               "signature": {"printed_name": signature.printed_name, "meaning": signature.meaning, "method": method,
                             "signed_at": now, "sha256": signature.content_sha256,
                             "hash_version": signature.hash_version},
               "review_seconds": round(review.review_seconds, 1)},
        reason=note.strip(),
    )
    if four_eyes:
        _move_part(lead, destination=CobotDestination.HOLD, reason="override awaits a countersignature")
    else:
        _apply(review, open_, actor=actor, at=now)
    _publish_signed(review, signature, open_)
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
    part = _locked_part(review.inspection)
    review = Review.objects.select_for_update(of=("self",)).select_related(
        "inspection__part__part_type", "inspection__part__batch", "inspection__station__cell", "reviewer"
    ).get(pk=review.pk)
    if review.status != ReviewStatus.AWAITING_COUNTERSIGN:
        raise RefusedByRule("This review does not await a countersignature.")
    if part.status in trace_actions.FINAL_PART_STATES:
        raise RefusedByRule(f"{part.serial} is {part.get_status_display().lower()} now: the override can no longer "
                            "take effect.")
    decided = list(
        Inspection.objects.filter(decided_by__review=review)
        .select_related(*selectors.CASE_RELATED).order_by("captured_at", "id")
    )
    signature = _bind(Signature(
        review=review, signer=actor, printed_name=printed_name(actor), signed_at=now,
        meaning=SignatureMeaning.COUNTERSIGN, method=method, idempotency_key=key,
    ), review)
    signature.save()
    audit.append(
        actor=actor, action="review.countersign", subject=part,
        after={"inspection": str(review.inspection.result_id), "content_sha256": review.content_sha256,
               "reviewer": printed_name(review.reviewer),
               "signature": {"printed_name": signature.printed_name, "meaning": signature.meaning, "method": method,
                             "signed_at": now, "sha256": signature.content_sha256,
                             "hash_version": signature.hash_version}},
    )
    review.status = ReviewStatus.COMPLETE
    review.completed_at = now
    review.save(update_fields=["status", "completed_at"])
    _apply(review, decided, actor=actor, at=now)
    _publish_signed(review, signature, decided)
    return signature


_DESTINATIONS = {
    ReviewDisposition.SCRAP: CobotDestination.SCRAP,
    ReviewDisposition.REWORK: CobotDestination.REWORK,
    ReviewDisposition.RETURN_TO_LINE: CobotDestination.LINE,
}


def _apply(review: Review, decided: list[Inspection], *, actor: Any, at: dt.datetime) -> None:
    """The verdict's effects on the part: failure case, part status, the inspections' flags, one cobot move.
    Called once per review (when signed, or when a four-eyes override is countersigned)."""
    inspection = review.inspection
    part = inspection.part
    why = f"Debug Mode review {review.pk} by {printed_name(review.reviewer)}: {review.get_verdict_display()}"
    if review.reason_code:
        why += f" ({review.reason_code})"
    case: FailureCase | None = selectors.open_failure_case(decided)
    if review.verdict == ReviewVerdict.CONFIRM_NOK:
        if case is None:
            case = trace_actions.open_failure_case(
                part, defect_code=DefectCode.objects.get(code=review.reason_code), found_by=FoundBy.PERSON, actor=actor,
                station=inspection.station, description=f"Found in Debug Mode review of inspection {inspection.result_id}",
                at=at,
            )
            if inspection.failure_case_id is None:  # (never re-point an inspection's earlier, closed case)
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
    Inspection.objects.filter(pk__in=[i.pk for i in decided if i.pk != inspection.pk]).update(needs_review=False)
    _move_part(inspection, destination=_DESTINATIONS[ReviewDisposition(review.disposition)], reason=why)


def _publish_signed(review: Review, signature: Signature, decided: list[Inspection]) -> None:
    # One event per inspection decided (the same schema as ever), so each shows the human decision.
    for inspection in decided:
        publish_on_commit(_cell_id(inspection), {
            "type": "review.signed", "result_id": str(inspection.result_id), "serial": inspection.part.serial,
            "verdict": review.verdict, "disposition": review.disposition, "status": review.status,
            "signer": signature.printed_name, "meaning": signature.meaning, "at": signature.signed_at.isoformat(),
        })
