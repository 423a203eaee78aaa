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
import json
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from inspection.choices import Verdict
from inspection.models import Inspection
from review import selectors
from review.actions.claims import end_claim
from review.actions.cobot import move_part
from review.actions.common import (
    ClaimLapsed,
    NotAllowed,
    cell_id_of,
    inspection_subject,
    iso_at,
    locked_part,
    nothing_to_review,
    printed_name,
    require_permission,
)
from review.actions.signing import authenticate_signer, bind_signature, content_hash
from review.choices import (
    ClaimEnd,
    CobotDestination,
    OverrideReason,
    ReviewDisposition,
    ReviewStatus,
    ReviewVerdict,
    SignatureMeaning,
)
from review.models import Review, ReviewClaim, ReviewedInspection, Signature
from traceability import actions as trace_actions
from traceability import audit, roles
from traceability.choices import Disposition, FailureCaseStatus, FoundBy, PartStatus
from traceability.errors import RefusedByRule
from traceability.models import DefectCode, FailureCase
from twinweb.events import ReviewSigned
from twinweb.live import publish_on_commit

log = logging.getLogger(__name__)
# The classes the defect classifier knows (edge_worker.vision.render.DEFECT_CLASSES), for the training label.
CLASSIFIER_CLASSES = ("ok", "scratch", "dent", "burr", "crack", "missing_hole", "oversized_hole")


def machine_failed(inspections: list[Inspection]) -> bool:
    """The machine's verdict on the part: failed when any of its stations failed (or could not inspect) it."""
    return any(i.verdict != Verdict.PASS for i in inspections)


def _allowed_verdicts(failed: bool) -> tuple[str, ...]:
    if not failed:
        return (ReviewVerdict.CONFIRM_OK, ReviewVerdict.CONFIRM_NOK)
    return (ReviewVerdict.CONFIRM_NOK, ReviewVerdict.OVERRIDE_OK)


def _defect_label(
    lead: Inspection, inspections: list[Inspection], case: FailureCase | None, verdict: ReviewVerdict, reason_code: str
) -> str:
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
        raise RefusedByRule(gettext("Unknown verdict %(verdict)s.") % {"verdict": repr(verdict)}) from None
    if verdict_ not in _allowed_verdicts(failed):
        refusal = (
            gettext("A part the machine failed cannot be %(verdict)s.")
            if failed
            else gettext("A part the machine passed cannot be %(verdict)s.")
        )
        raise RefusedByRule(refusal % {"verdict": verdict_.label.lower()})
    if verdict_ == ReviewVerdict.CONFIRM_NOK:
        if disposition not in (ReviewDisposition.SCRAP, ReviewDisposition.REWORK):
            raise RefusedByRule(gettext("Choose scrap or rework for a NOK part."))
        if not has_case:
            if not DefectCode.objects.filter(code=reason_code).exists():
                raise RefusedByRule(gettext("Choose the defect you found."))
        else:
            reason_code = ""
    else:
        disposition = ReviewDisposition.RETURN_TO_LINE
    if verdict_ == ReviewVerdict.OVERRIDE_OK:
        if reason_code not in OverrideReason.values:
            raise RefusedByRule(gettext("An override to OK needs a reason code from the list."))
        if reason_code == OverrideReason.OTHER and not note.strip():
            raise RefusedByRule(gettext("Reason 'other' needs a note saying why."))
    if verdict_ == ReviewVerdict.CONFIRM_OK:
        reason_code = ""
    return verdict_, ReviewDisposition(disposition), reason_code


def _machine(inspection: Inspection) -> dict[str, Any]:
    return {
        "verdict": inspection.verdict,
        "reason": inspection.reason,
        "defect_class": inspection.defect_class,
        "defect_confidence": inspection.defect_confidence,
        "model_version": inspection.model_version,
        "findings_sha256": content_hash({"findings": inspection.findings}),
    }


def _signed_content(
    lead: Inspection, inspections: list[Inspection], review_fields: dict[str, Any], reviewer: Any, at: dt.datetime
) -> dict[str, Any]:
    """The evidence decided (every inspection of the part, the leading one also at the top level) and the decision."""
    return {
        "inspection": str(lead.result_id),
        "serial": lead.part.serial,
        "part_type": lead.part.part_type.code,
        "image_sha256": lead.image.sha256 if lead.image is not None else None,
        "machine": _machine(lead),
        "inspections": [
            {
                "inspection": str(i.result_id),
                "station": i.station.code,
                "image_sha256": i.image.sha256 if i.image is not None else None,
                "machine": _machine(i),
            }
            for i in inspections
        ],
        "decision": review_fields,
        "reviewer": {"username": reviewer.get_username(), "printed_name": printed_name(reviewer)},
        "meaning": SignatureMeaning.AUTHOR.value,
        "signed_at": at,
    }


def sign_verdict(
    inspection: Inspection,
    *,
    actor: Any,
    verdict: str,
    credential: str,
    idempotency_key: uuid.UUID | str,
    disposition: str = "",
    reason_code: str = "",
    note: str = "",
    reviewed: list[str] | None = None,
    now: dt.datetime | None = None,
    request: Any = None,
) -> tuple[Review, bool]:
    """Record the operator's signed verdict on the part of `inspection` (every inspection of it that needs a
    human). `reviewed`: the result ids of the inspections the operator was shown; when given, a verdict is refused
    if the part's evidence changed meanwhile (a station reported again), so a signature never covers evidence its
    signer did not see. Returns (review, applied now); a resubmission with the same idempotency key returns the
    review it already made and changes nothing, claim or no claim."""
    require_permission(actor, roles.REVIEW, gettext_lazy("You may not sign review verdicts."))
    key = uuid.UUID(str(idempotency_key))
    existing = Review.objects.filter(idempotency_key=key).select_related("inspection").first()
    if existing is not None:
        if existing.reviewer_id != actor.pk or existing.inspection.part_id != inspection.part_id:
            raise RefusedByRule(gettext("This decision key belongs to another decision."))
        return existing, False
    # Before the transaction: password hashing is slow on purpose, and SQLite's write lock starts with it.
    method = authenticate_signer(actor, credential, subject=inspection_subject(inspection), request=request)
    try:
        return _record_verdict(
            inspection,
            actor=actor,
            verdict=verdict,
            method=method,
            key=key,
            disposition=disposition,
            reason_code=reason_code,
            note=note,
            reviewed=reviewed,
            now=now,
        ), True
    except IntegrityError:
        # The same decision arrived twice at once: the first one stored it.
        existing = Review.objects.filter(
            idempotency_key=key, reviewer=actor, inspection__part_id=inspection.part_id
        ).first()
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def _record_verdict(
    inspection: Inspection,
    *,
    actor: Any,
    verdict: str,
    method: str,
    key: uuid.UUID,
    disposition: str,
    reason_code: str,
    note: str,
    reviewed: list[str] | None,
    now: dt.datetime | None,
) -> Review:
    now = now or timezone.now()
    part = locked_part(inspection)
    open_ = selectors.case_inspections(part)
    if not any(i.pk == inspection.pk for i in open_):
        raise nothing_to_review(part, inspection)
    if reviewed is not None and sorted(map(str, reviewed)) != sorted(str(i.result_id) for i in open_):
        raise RefusedByRule(
            gettext(
                "The evidence for %(serial)s changed while you reviewed it (a station reported again): reopen the "
                "case, look at it and sign again. Nothing was recorded."
            )
            % {"serial": part.serial}
        )
    claims = ReviewClaim.objects.select_related("holder").filter(part=part)
    live = claims.filter(ended_at__isnull=True, expires_at__gt=now)
    other = live.exclude(holder=actor).first()
    if other is not None:
        raise RefusedByRule(
            gettext("%(holder)s holds this case now: your verdict was not recorded.")
            % {"holder": printed_name(other.holder)}
        )
    mine = live.filter(holder=actor).first()
    if mine is None:
        last = claims.filter(holder=actor).order_by("-claimed_at").first()
        if last is None:
            raise RefusedByRule(gettext("Claim the case before signing a verdict."))
        lapsed = (
            gettext(
                "Your claim on %(serial)s was released at %(at)s: the verdict was not recorded. Claim the case "
                "again to sign it."
            )
            if last.end_reason == ClaimEnd.RELEASED
            else gettext(
                "Your claim on %(serial)s lapsed at %(at)s: the verdict was not recorded. Claim the case again to "
                "sign it."
            )
        )
        raise ClaimLapsed(lapsed % {"serial": part.serial, "at": iso_at(last.ended_at or last.expires_at)})
    waiting = FailureCase.objects.filter(part=part, status=FailureCaseStatus.AWAITING_COUNTERSIGN).first()
    if waiting is not None:
        raise RefusedByRule(
            gettext(
                "%(serial)s: a signed disposition (%(disposition)s) of failure case %(case)s awaits a "
                "countersignature; no other decision is accepted until it is countersigned. Nothing was recorded."
            )
            % {
                "serial": part.serial,
                "disposition": waiting.get_pending_disposition_display(),
                "case": waiting.pk,
            }
        )
    lead = selectors.lead_inspection(open_)
    case = selectors.open_failure_case(open_)
    failed = machine_failed(open_)
    verdict_, disposition_, reason_code = _validate_decision(
        failed=failed,
        has_case=case is not None,
        verdict=verdict,
        disposition=disposition,
        reason_code=reason_code,
        note=note,
    )
    four_eyes = verdict_ == ReviewVerdict.OVERRIDE_OK and part.part_type.four_eyes_override
    decision: dict[str, Any] = {
        "verdict": verdict_.value,
        "disposition": disposition_.value,
        "reason_code": reason_code,
        "note": note.strip(),
        "defect_label": _defect_label(lead, open_, case, verdict_, reason_code),
        "four_eyes": four_eyes,
    }
    content = _signed_content(lead, open_, decision, actor, now)
    sha = content_hash(content)
    review = Review(
        inspection=lead,
        reviewer=actor,
        claim=mine,
        verdict=verdict_,
        disposition=disposition_,
        reason_code=reason_code,
        note=decision["note"],
        defect_label=decision["defect_label"],
        # The live claim began when this stretch of work did: time before a lapse or a release is not counted.
        opened_at=mine.claimed_at,
        signed_at=now,
        review_seconds=max(0.0, (now - mine.claimed_at).total_seconds()),
        status=ReviewStatus.AWAITING_COUNTERSIGN if four_eyes else ReviewStatus.COMPLETE,
        completed_at=None if four_eyes else now,
        idempotency_key=key,
        signed_content=json.loads(audit.canonical_json(content)),
        content_sha256=sha,
    )
    review.full_clean()
    review.save()
    ReviewedInspection.objects.bulk_create([ReviewedInspection(review=review, inspection=i) for i in open_])
    signature = bind_signature(
        Signature(
            review=review,
            signer=actor,
            printed_name=printed_name(actor),
            signed_at=now,
            meaning=SignatureMeaning.AUTHOR,
            method=method,
            idempotency_key=key,
        ),
        review,
    )
    signature.save()
    end_claim(mine, end=ClaimEnd.SIGNED, actor=actor, at=now)
    audit.append(
        actor=actor,
        action="review.sign",
        subject=part,
        after={
            "inspection": str(lead.result_id),
            "inspections": [str(i.result_id) for i in open_],
            **decision,
            "status": review.status,
            "content_sha256": sha,
            "signature": {
                "printed_name": signature.printed_name,
                "meaning": signature.meaning,
                "method": method,
                "signed_at": now,
                "sha256": signature.content_sha256,
                "hash_version": signature.hash_version,
            },
            "review_seconds": round(review.review_seconds, 1),
        },
        reason=note.strip(),
    )
    if four_eyes:
        if case is not None:  # the API and the admin see the wait too, and refuse other decisions meanwhile
            trace_actions.await_countersignature(
                case,
                disposition=Disposition.USE_AS_IS,
                actor=actor,
                reason=f"Debug Mode review {review.pk}: override awaits a countersignature",
            )
        move_part(lead, destination=CobotDestination.HOLD, reason="override awaits a countersignature")
    else:
        _apply(review, open_, actor=actor, at=now)
    _publish_signed(review, signature, open_)
    return review


def countersign_review(
    review: Review,
    *,
    actor: Any,
    credential: str,
    idempotency_key: uuid.UUID | str,
    now: dt.datetime | None = None,
    request: Any = None,
) -> tuple[Signature, bool]:
    """A second person approves an override on a four-eyes part type; then the override takes effect."""
    require_permission(actor, roles.COUNTERSIGN, gettext_lazy("You may not countersign overrides."))
    key = uuid.UUID(str(idempotency_key))
    existing = Signature.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.signer_id != actor.pk or existing.review_id != review.pk:
            raise RefusedByRule(gettext("This decision key belongs to another decision."))
        return existing, False
    if review.reviewer_id == actor.pk:
        raise NotAllowed(gettext("The countersignature must come from a second person, not the reviewer."))
    method = authenticate_signer(actor, credential, subject=inspection_subject(review.inspection), request=request)
    return _record_countersignature(review, actor=actor, method=method, key=key, now=now), True


@transaction.atomic
def _record_countersignature(
    review: Review, *, actor: Any, method: str, key: uuid.UUID, now: dt.datetime | None
) -> Signature:
    now = now or timezone.now()
    part = locked_part(review.inspection)
    review = (
        Review.objects.select_for_update(of=("self",))
        .select_related(
            "inspection__part__part_type", "inspection__part__batch", "inspection__station__cell", "reviewer"
        )
        .get(pk=review.pk)
    )
    if review.status != ReviewStatus.AWAITING_COUNTERSIGN:
        raise RefusedByRule(gettext("This review does not await a countersignature."))
    if part.status in trace_actions.FINAL_PART_STATES:
        raise RefusedByRule(
            gettext("%(serial)s is %(status)s now: the override can no longer take effect.")
            % {"serial": part.serial, "status": part.get_status_display().lower()}
        )
    decided = list(
        Inspection.objects.filter(decided_by__review=review)
        .select_related(*selectors.CASE_RELATED)
        .order_by("captured_at", "id")
    )
    signature = bind_signature(
        Signature(
            review=review,
            signer=actor,
            printed_name=printed_name(actor),
            signed_at=now,
            meaning=SignatureMeaning.COUNTERSIGN,
            method=method,
            idempotency_key=key,
        ),
        review,
    )
    signature.save()
    audit.append(
        actor=actor,
        action="review.countersign",
        subject=part,
        after={
            "inspection": str(review.inspection.result_id),
            "content_sha256": review.content_sha256,
            "reviewer": printed_name(review.reviewer),
            "signature": {
                "printed_name": signature.printed_name,
                "meaning": signature.meaning,
                "method": method,
                "signed_at": now,
                "sha256": signature.content_sha256,
                "hash_version": signature.hash_version,
            },
        },
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
    # Stored in the records (failure case, audit): in the product's base language, not the signer's.
    with translation.override(settings.LANGUAGE_CODE):
        verdict_text = review.get_verdict_display()
    why = f"Debug Mode review {review.pk} by {printed_name(review.reviewer)}: {verdict_text}"
    if review.reason_code:
        why += f" ({review.reason_code})"
    case: FailureCase | None = selectors.open_failure_case(decided)
    if review.verdict == ReviewVerdict.CONFIRM_NOK:
        if case is None:
            case = trace_actions.open_failure_case(
                part,
                defect_code=DefectCode.objects.get(code=review.reason_code),
                found_by=FoundBy.PERSON,
                actor=actor,
                station=inspection.station,
                description=f"Found in Debug Mode review of inspection {inspection.result_id}",
                at=at,
            )
            if inspection.failure_case_id is None:  # (never re-point an inspection's earlier, closed case)
                inspection.failure_case = case
        trace_actions.disposition_failure_case(
            case, disposition=Disposition(review.disposition), actor=actor, reason=why, at=at
        )
    elif review.verdict == ReviewVerdict.OVERRIDE_OK:
        if case is not None and case.status != FailureCaseStatus.CLOSED:
            trace_actions.disposition_failure_case(
                case, disposition=Disposition.USE_AS_IS, actor=actor, reason=why, at=at
            )
        else:
            trace_actions.set_part_status(part, status=PartStatus.PASSED, actor=actor, reason=why, at=at)
    else:  # a low-confidence pass confirmed
        if part.status in (PartStatus.IN_PROCESS, PartStatus.FAILED, PartStatus.ON_HOLD):
            trace_actions.set_part_status(part, status=PartStatus.PASSED, actor=actor, reason=why, at=at)
    inspection.needs_review = False
    inspection.save(update_fields=["needs_review", "failure_case"])
    Inspection.objects.filter(pk__in=[i.pk for i in decided if i.pk != inspection.pk]).update(needs_review=False)
    move_part(inspection, destination=_DESTINATIONS[ReviewDisposition(review.disposition)], reason=why)


def _publish_signed(review: Review, signature: Signature, decided: list[Inspection]) -> None:
    # One event per inspection decided (the same schema as ever), so each shows the human decision.
    for inspection in decided:
        publish_on_commit(
            cell_id_of(inspection),
            ReviewSigned(
                result_id=str(inspection.result_id),
                serial=inspection.part.serial,
                verdict=review.verdict,
                disposition=review.disposition,
                status=review.status,
                signer=signature.printed_name,
                meaning=signature.meaning,
                at=signature.signed_at.isoformat(),
            ),
        )
