"""Non-conformances: a failure case opened on a part, assigned, and closed with a disposition that moves the part.

One way to decide a failed part, whichever door it comes through (Debug Mode, the API, the admin): a reason, an
electronic signature (traceability.actions.esign), and the four-eyes rule. On a four-eyes part type, using a failed
part as it is (an override of the machine's verdict) waits for a second person's countersignature; while it waits,
every other decision on that part is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from traceability import audit, roles
from traceability.actions import esign
from traceability.actions.common import Actor, signed_in_user, snapshot
from traceability.actions.parts import set_part_status
from traceability.choices import (
    Disposition,
    FailureCaseStatus,
    FoundBy,
    PartStatus,
    RecordSignatureMeaning,
)
from traceability.errors import NotAllowed, RefusedByRule
from traceability.models import DefectCode, FailureCase, Part, Station


@transaction.atomic
def open_failure_case(
    part: Part,
    *,
    defect_code: DefectCode,
    found_by: FoundBy,
    actor: Actor,
    station: Station | None = None,
    description: str = "",
    owner: User | None = None,
    at: dt.datetime | None = None,
) -> FailureCase:
    case = FailureCase(
        part=part,
        defect_code=defect_code,
        found_by=found_by,
        station=station,
        description=description,
        owner=owner,
        opened_at=at or timezone.now(),
        found_by_user=signed_in_user(actor) if found_by == FoundBy.PERSON else None,
    )
    case.full_clean()
    case.save()
    audit.append(
        actor=actor,
        action="failure_case.open",
        subject=("traceability.failurecase", str(case.pk)),
        after=snapshot(case),
    )
    return case


@transaction.atomic
def assign_failure_case(case: FailureCase, *, owner: User, actor: Actor) -> FailureCase:
    before = case.owner_id
    case.owner = owner
    case.save(update_fields=["owner"])
    audit.append(
        actor=actor,
        action="failure_case.assign",
        subject=("traceability.failurecase", str(case.pk)),
        before={"owner_id": before},
        after={"owner_id": owner.pk},
    )
    return case


# Part status that follows from each disposition.
DISPOSITION_PART_STATUS = {
    Disposition.SCRAP: PartStatus.SCRAPPED,
    Disposition.REWORK: PartStatus.REWORKED,
    Disposition.USE_AS_IS: PartStatus.PASSED,
}


@transaction.atomic
def disposition_failure_case(
    case: FailureCase, *, disposition: Disposition, actor: Actor, reason: str = "", at: dt.datetime | None = None
) -> FailureCase:
    """Close the case with a disposition already signed for (Debug Mode's verdict and countersignature, or
    `decide_failure_case` / `countersign_failure_case` below), and move the part to the matching status. People
    decide through those signed paths; this is the step they share."""
    case = FailureCase.objects.select_for_update().get(pk=case.pk)
    if case.status == FailureCaseStatus.CLOSED:
        raise RefusedByRule(
            gettext("Failure case %(case)s is already closed (%(disposition)s).")
            % {"case": case.pk, "disposition": case.get_disposition_display()}
        )
    if disposition == Disposition.PENDING:
        raise RefusedByRule(gettext("Choose a disposition: scrap, rework or use as is."))
    at = at or timezone.now()
    before = snapshot(case, ["disposition", "status", "closed_at"])
    case.disposition = disposition
    case.status = FailureCaseStatus.CLOSED
    case.pending_disposition = Disposition.PENDING
    case.closed_at = at
    case.full_clean()
    case.save(update_fields=["disposition", "status", "pending_disposition", "closed_at"])
    audit.append(
        actor=actor,
        action="failure_case.disposition",
        subject=("traceability.failurecase", str(case.pk)),
        before=before,
        after=snapshot(case, ["disposition", "status", "closed_at"]),
        reason=reason,
    )
    set_part_status(
        case.part,
        status=DISPOSITION_PART_STATUS[Disposition(disposition)],
        actor=actor,
        reason=f"failure case {case.pk}: {disposition}",
        at=at,
    )
    return case


# --- Signed decisions (the API, the admin, pages) -----------------------------------------------------------


def _subject(case: FailureCase) -> tuple[str, str]:
    return ("traceability.failurecase", str(case.pk))


def _decision_content(case: FailureCase, *, disposition: str, reason: str, at: dt.datetime) -> dict[str, object]:
    return {
        "failure_case": case.pk,
        "part": case.part.serial,
        "defect_code": case.defect_code_id,
        "opened_at": case.opened_at,
        "disposition": disposition,
        "reason": reason,
        "decided_at": at,
    }


def _refuse_while_awaiting(case: FailureCase) -> None:
    if case.status == FailureCaseStatus.AWAITING_COUNTERSIGN:
        raise RefusedByRule(
            gettext(
                "Failure case %(case)s (%(serial)s): a signed disposition (%(disposition)s) awaits a second "
                "person's countersignature; no other decision is accepted until it is countersigned."
            )
            % {
                "case": case.pk,
                "serial": case.part.serial,
                "disposition": Disposition(case.pending_disposition).label,
            }
        )


def decide_failure_case(
    case: FailureCase,
    *,
    disposition: Disposition,
    reason: str,
    credential: str,
    actor: Any,
    request: Any = None,
) -> FailureCase:
    """A quality engineer's signed decision on a failed part (API, admin, pages). Needs a reason and a signature;
    using a part as it is on a four-eyes part type then waits for a countersignature (the part stays failed)."""
    if not (actor and actor.is_authenticated and actor.has_perm("traceability.change_failurecase")):
        raise NotAllowed(gettext("Your role may not decide failure cases."))
    reason = (reason or "").strip()
    if not reason:
        raise RefusedByRule(gettext("Give the reason for the disposition: it is part of the signed record."))
    if disposition not in (Disposition.SCRAP, Disposition.REWORK, Disposition.USE_AS_IS):
        raise RefusedByRule(gettext("Choose a disposition: scrap, rework or use as is."))
    # Before the transaction: password hashing is slow on purpose.
    method = esign.authenticate_signer(actor, credential, subject=_subject(case), request=request)
    return _record_decision(case, disposition=Disposition(disposition), reason=reason, actor=actor, method=method)


@transaction.atomic
def _record_decision(
    case: FailureCase, *, disposition: Disposition, reason: str, actor: Any, method: str
) -> FailureCase:
    case = FailureCase.objects.select_for_update().select_related("part__part_type").get(pk=case.pk)
    if case.status == FailureCaseStatus.CLOSED:
        raise RefusedByRule(
            gettext("Failure case %(case)s is already closed (%(disposition)s).")
            % {"case": case.pk, "disposition": case.get_disposition_display()}
        )
    _refuse_while_awaiting(case)
    pending_review = awaiting_countersignature_elsewhere(case.part)
    if pending_review:
        raise RefusedByRule(pending_review)
    now = timezone.now()
    esign.sign_record(
        _subject(case),
        content=_decision_content(case, disposition=disposition, reason=reason, at=now),
        meaning=RecordSignatureMeaning.DISPOSITION,
        signer=actor,
        method=method,
        at=now,
    )
    if disposition == Disposition.USE_AS_IS and case.part.part_type.four_eyes_override:
        return await_countersignature(case, disposition=disposition, actor=actor, reason=reason)
    return disposition_failure_case(case, disposition=disposition, actor=actor, reason=reason, at=now)


@transaction.atomic
def await_countersignature(case: FailureCase, *, disposition: Disposition, actor: Actor, reason: str) -> FailureCase:
    """A signed override on a four-eyes part type: the case waits for a second person, and blocks every other
    decision on the part meanwhile (Debug Mode's overrides wait here too)."""
    case = FailureCase.objects.select_for_update().get(pk=case.pk)
    before = snapshot(case, ["status", "pending_disposition"])
    case.status = FailureCaseStatus.AWAITING_COUNTERSIGN
    case.pending_disposition = disposition
    case.save(update_fields=["status", "pending_disposition"])
    audit.append(
        actor=actor,
        action="failure_case.awaits_countersignature",
        subject=_subject(case),
        before=before,
        after=snapshot(case, ["status", "pending_disposition"]),
        reason=reason,
    )
    return case


def countersign_failure_case(case: FailureCase, *, credential: str, actor: Any, request: Any = None) -> FailureCase:
    """A second person approves a disposition that awaits their countersignature; then it takes effect."""
    if not (actor and actor.is_authenticated and actor.has_perm(roles.COUNTERSIGN)):
        raise NotAllowed(gettext("Your role may not countersign dispositions."))
    method = esign.authenticate_signer(actor, credential, subject=_subject(case), request=request)
    return _record_countersignature(case, actor=actor, method=method)


@transaction.atomic
def _record_countersignature(case: FailureCase, *, actor: Any, method: str) -> FailureCase:
    case = FailureCase.objects.select_for_update().select_related("part").get(pk=case.pk)
    if case.status != FailureCaseStatus.AWAITING_COUNTERSIGN:
        raise RefusedByRule(gettext("Failure case %(case)s does not await a countersignature.") % {"case": case.pk})
    authors = {
        s.signer_id for s in esign.signatures_of(_subject(case)) if s.meaning == RecordSignatureMeaning.DISPOSITION
    }
    if actor.pk in authors:
        raise NotAllowed(gettext("The countersignature must come from a second person, not the one who decided."))
    now = timezone.now()
    disposition = Disposition(case.pending_disposition)
    esign.sign_record(
        _subject(case),
        content=_decision_content(case, disposition=disposition, reason="countersigned", at=now),
        meaning=RecordSignatureMeaning.COUNTERSIGN,
        signer=actor,
        method=method,
        at=now,
    )
    return disposition_failure_case(case, disposition=disposition, actor=actor, reason="countersigned", at=now)


def awaiting_countersignature_elsewhere(part: Part) -> str:
    """Why the part's decision is held by an override awaiting its countersignature in another app (Debug Mode
    registers its check here: traceability knows no other app), or ""."""
    for check in _COUNTERSIGNATURE_CHECKS:
        held = check(part)
        if held:
            return held
    return ""


_COUNTERSIGNATURE_CHECKS: list[Callable[[Part], str]] = []


def register_countersignature_check(check: Callable[[Part], str]) -> None:
    """Debug Mode tells traceability which parts its overrides hold (see review.apps)."""
    if check not in _COUNTERSIGNATURE_CHECKS:
        _COUNTERSIGNATURE_CHECKS.append(check)
