"""Claims: an operator holds a part (every inspection of it that needs a human) until the claim is released,
signed or lapses; at most one open claim per part (a database constraint). Writes about a part are decided under
its row lock."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from inspection.models import Inspection
from review import selectors
from review.actions.common import (
    NotAllowed,
    cell_id_of,
    claim_ttl,
    inspection_subject,
    iso_at,
    locked_part,
    nothing_to_review,
    printed_name,
    require_permission,
)
from review.choices import (
    ClaimEnd,
)
from review.models import ReviewClaim
from traceability import audit, roles
from traceability.errors import RefusedByRule
from traceability.models import Part
from twinweb.events import ReviewClaimed, ReviewReleased
from twinweb.live import publish_on_commit

log = logging.getLogger(__name__)


def end_claim(claim: ReviewClaim, *, end: str, actor: Any, at: dt.datetime) -> None:
    claim.ended_at = at
    claim.end_reason = end
    claim.save(update_fields=["ended_at", "end_reason"])
    audit.append(
        actor=actor,
        action=f"review.claim_{end}",
        subject=inspection_subject(claim.inspection),
        after={"claim": claim.pk, "holder": claim.holder.get_username(), "ended_at": at},
    )


@transaction.atomic
def expire_claims(*, now: dt.datetime | None = None, part: Part | None = None) -> int:
    """End every open claim whose time is up (the system is the actor). Returns how many lapsed."""
    now = now or timezone.now()
    lapsed = ReviewClaim.objects.select_related("holder", "inspection").filter(
        ended_at__isnull=True, expires_at__lte=now
    )
    if part is not None:
        lapsed = lapsed.filter(part=part)
    count = 0
    for claim in lapsed.select_for_update(of=("self",)):
        end_claim(claim, end=ClaimEnd.EXPIRED, actor=None, at=now)
        count += 1
    return count


@transaction.atomic
def claim_case(inspection: Inspection, *, actor: Any, now: dt.datetime | None = None) -> ReviewClaim:
    """Hold the part of `inspection` (every inspection of it that needs a human) for `actor` for
    TWINWEB_REVIEW_CLAIM_TTL_S seconds; claiming one's own case again renews it. The claim is addressed by the
    part's leading inspection, whichever of its inspections was opened."""
    require_permission(actor, roles.REVIEW, gettext_lazy("You may not review inspections."))
    now = now or timezone.now()
    part = locked_part(inspection)
    open_ = selectors.case_inspections(part)
    if not any(i.pk == inspection.pk for i in open_):
        raise nothing_to_review(part, inspection)
    lead = selectors.lead_inspection(open_)
    expire_claims(now=now, part=part)
    current = ReviewClaim.objects.select_related("holder").filter(part=part, ended_at__isnull=True).first()
    if current is not None:
        if current.holder_id != actor.pk:
            raise RefusedByRule(
                gettext("%(holder)s is reviewing %(serial)s (claim held until %(until)s).")
                % {"holder": printed_name(current.holder), "serial": part.serial, "until": iso_at(current.expires_at)}
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
        raise RefusedByRule(gettext("Someone else has just claimed %(serial)s.") % {"serial": part.serial}) from None
    audit.append(
        actor=actor,
        action="review.claim",
        subject=inspection_subject(lead),
        after={
            "claim": claim.pk,
            "serial": part.serial,
            "inspections": [str(i.result_id) for i in open_],
            "expires_at": claim.expires_at,
        },
    )
    publish_on_commit(
        cell_id_of(lead),
        ReviewClaimed(
            result_id=str(lead.result_id),
            serial=part.serial,
            holder=actor.get_username(),
        ),
    )
    return claim


@transaction.atomic
def renew_claim(claim: ReviewClaim, *, actor: Any, now: dt.datetime | None = None) -> ReviewClaim:
    """Keep a claim alive while its holder works (the step-through page calls this at most every minute, and only
    after the operator touched the tablet or a key since the last call). Not audited: it changes only when the
    claim lapses, which the claim and its end record already show."""
    now = now or timezone.now()
    claim = ReviewClaim.objects.select_for_update(of=("self",)).get(pk=claim.pk)
    if claim.holder_id != actor.pk or claim.ended_at is not None or claim.expires_at <= now:
        raise RefusedByRule(gettext("This claim is no longer yours: open the queue and claim the case again."))
    claim.expires_at = now + claim_ttl()
    claim.save(update_fields=["expires_at"])
    return claim


@transaction.atomic
def release_claim(claim: ReviewClaim, *, actor: Any, now: dt.datetime | None = None) -> ReviewClaim:
    claim = (
        ReviewClaim.objects.select_for_update(of=("self",))
        .select_related("holder", "inspection__part", "inspection__station")
        .get(pk=claim.pk)
    )
    if claim.ended_at is not None:
        return claim
    if claim.holder_id != actor.pk:
        raise NotAllowed(gettext("Only the operator holding a claim releases it."))
    end_claim(claim, end=ClaimEnd.RELEASED, actor=actor, at=now or timezone.now())
    publish_on_commit(
        cell_id_of(claim.inspection),
        ReviewReleased(
            result_id=str(claim.inspection.result_id),
            serial=claim.inspection.part.serial,
        ),
    )
    return claim
