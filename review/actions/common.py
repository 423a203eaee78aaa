"""What every Debug Mode write shares: its refusals, the claim's lifetime, the audit subject of a case, the part's
row lock, and the check that a part still has something to review."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext

from inspection.models import Inspection
from review.choices import (
    ReviewStatus,
)
from review.models import Review, ReviewedInspection
from traceability import actions as trace_actions
from traceability.choices import FailureCaseStatus
from traceability.actions.esign import SignatureRefused  # noqa: F401  (Debug Mode's refusals are the signing path's)
from traceability.errors import DomainError, RefusedByRule
from traceability.models import FailureCase, Part

log = logging.getLogger(__name__)


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


def cell_id_of(inspection: Inspection) -> int:
    return inspection.station.cell_id


def inspection_subject(inspection: Inspection) -> tuple[str, str]:
    # Named explicitly: audit.subject_identity would pick Inspection.device_id before result_id.
    return "inspection.inspection", str(inspection.result_id)


def require_permission(user: Any, permission: str, refusal: Promise) -> None:
    """`refusal`: the sentence a user without `permission` reads (lazy: it is rendered in their language)."""
    if not (user and user.is_authenticated and user.has_perm(permission)):
        raise NotAllowed(str(refusal))


def iso_at(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%H:%M:%S}"


def locked_part(inspection: Inspection) -> Part:
    """The part's row, locked: claims and verdicts on one part are decided one at a time."""
    return Part.objects.select_for_update(of=("self",)).select_related("part_type", "batch").get(pk=inspection.part_id)


def nothing_to_review(part: Part, inspection: Inspection) -> RefusedByRule:
    """Why `inspection` (of `part`) is not reviewable now, in the operator's words."""
    serial = part.serial
    if part.status in trace_actions.FINAL_PART_STATES:
        return RefusedByRule(
            gettext(
                "%(serial)s is %(status)s: its status is final, so there is nothing left to review and the cobot "
                "will not move it again."
            )
            % {"serial": serial, "status": part.get_status_display().lower()}
        )
    pending = (
        Review.objects.filter(inspection__part=part, status=ReviewStatus.AWAITING_COUNTERSIGN)
        .select_related("reviewer")
        .first()
    )
    if pending is not None:
        return RefusedByRule(
            gettext("%(serial)s: the override by %(reviewer)s awaits a countersignature.")
            % {"serial": serial, "reviewer": printed_name(pending.reviewer)}
        )
    decided = ReviewedInspection.objects.filter(inspection=inspection).select_related("review__reviewer").first()
    if decided is not None:
        return RefusedByRule(
            gettext("%(serial)s was already reviewed by %(reviewer)s (signed %(at)s).")
            % {
                "serial": serial,
                "reviewer": printed_name(decided.review.reviewer),
                "at": iso_at(decided.review.signed_at),
            }
        )
    later = (
        Review.objects.filter(inspection__part=part, signed_at__gte=inspection.captured_at)
        .select_related("reviewer")
        .order_by("signed_at")
        .first()
    )
    if later is not None:
        return RefusedByRule(
            gettext(
                "%(serial)s was already decided by %(reviewer)s's review signed %(at)s, after this inspection was "
                "captured: the cobot has moved it."
            )
            % {"serial": serial, "reviewer": printed_name(later.reviewer), "at": iso_at(later.signed_at)}
        )
    closed = (
        FailureCase.objects.filter(part=part, status=FailureCaseStatus.CLOSED, closed_at__gte=inspection.captured_at)
        .order_by("closed_at")
        .first()
    )
    if closed is not None:
        assert closed.closed_at is not None  # closed_at__gte: never None
        return RefusedByRule(
            gettext(
                "%(serial)s was already dispositioned (%(disposition)s, failure case %(case)s, %(at)s) after this "
                "inspection was captured."
            )
            % {
                "serial": serial,
                "disposition": closed.get_disposition_display().lower(),
                "case": closed.pk,
                "at": iso_at(closed.closed_at),
            }
        )
    return RefusedByRule(gettext("Inspection of %(serial)s does not need a review.") % {"serial": serial})


# --- Claims --------------------------------------------------------------------------------------------
