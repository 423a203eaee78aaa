"""Non-conformances: a failure case opened on a part, assigned, and closed with a disposition that moves the part."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from traceability import audit
from traceability.actions.common import Actor, signed_in_user, snapshot
from traceability.actions.parts import set_part_status
from traceability.choices import Disposition, FailureCaseStatus, FoundBy, PartStatus
from traceability.errors import RefusedByRule
from traceability.models import DefectCode, FailureCase, Part, Station


@transaction.atomic
def open_failure_case(
    part: Part, *, defect_code: DefectCode, found_by: FoundBy, actor: Actor, station: Station | None = None,
    description: str = "", owner: User | None = None, at: dt.datetime | None = None,
) -> FailureCase:
    case = FailureCase(
        part=part, defect_code=defect_code, found_by=found_by, station=station, description=description,
        owner=owner, opened_at=at or timezone.now(),
        found_by_user=signed_in_user(actor) if found_by == FoundBy.PERSON else None,
    )
    case.full_clean()
    case.save()
    audit.append(actor=actor, action="failure_case.open", subject=("traceability.failurecase", str(case.pk)), after=snapshot(case))
    return case


@transaction.atomic
def assign_failure_case(case: FailureCase, *, owner: User, actor: Actor) -> FailureCase:
    before = case.owner_id
    case.owner = owner
    case.save(update_fields=["owner"])
    audit.append(actor=actor, action="failure_case.assign", subject=("traceability.failurecase", str(case.pk)),
                 before={"owner_id": before}, after={"owner_id": owner.pk})
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
    """Decide what happens to a non-conforming part, close the case and move the part to the matching status."""
    case = FailureCase.objects.select_for_update().get(pk=case.pk)
    if case.status == FailureCaseStatus.CLOSED:
        raise RefusedByRule(f"Failure case {case.pk} is already closed ({case.get_disposition_display()}).")
    if disposition == Disposition.PENDING:
        raise RefusedByRule("Choose a disposition: scrap, rework or use as is.")
    at = at or timezone.now()
    before = snapshot(case, ["disposition", "status", "closed_at"])
    case.disposition = disposition
    case.status = FailureCaseStatus.CLOSED
    case.closed_at = at
    case.full_clean()
    case.save(update_fields=["disposition", "status", "closed_at"])
    audit.append(actor=actor, action="failure_case.disposition", subject=("traceability.failurecase", str(case.pk)),
                 before=before, after=snapshot(case, ["disposition", "status", "closed_at"]), reason=reason)
    set_part_status(case.part, status=DISPOSITION_PART_STATUS[Disposition(disposition)], actor=actor,
                    reason=f"failure case {case.pk}: {disposition}", at=at)
    return case
