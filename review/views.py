"""Debug Mode pages: the review queue, the step-through of one case, signing, countersigning.

Views adapt only: they parse input, call one action or selector, and render. Domain errors become a message and
a redirect (forms) or a JSON error with the error's status (the step-through page's fetch calls).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from inspection.models import Inspection
from review import selectors
from review.actions import claims, cobot, signing, verdicts
from review.choices import OverrideReason, ReviewStatus
from review.models import Review, ReviewClaim
from traceability import roles
from traceability.actions import esign
from traceability.access import can_review
from traceability.errors import DomainError
from traceability.models import DefectCode

View = Callable[..., HttpResponse]


class SignedInRequest(HttpRequest):
    """The request a `reviewer_required` view gets: `login_required` lets only a signed-in user through."""

    user: User


def reviewer_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (can_review(request.user) or request.user.has_perm(roles.COUNTERSIGN)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _json_error(exc: DomainError) -> JsonResponse:
    return JsonResponse({"detail": str(exc), "code": exc.code}, status=exc.http_status)


def _inspection(result_id: uuid.UUID) -> Inspection:
    return get_object_or_404(
        Inspection.objects.select_related("part__part_type", "station__cell", "image"), result_id=result_id
    )


def _deciding_review(inspection: Inspection) -> Review | None:
    """The review that decided this inspection (its own, or its part's, made from another station's)."""
    return Review.objects.filter(decided__inspection=inspection).first()


# --- Queue ---------------------------------------------------------------------------------------------


@reviewer_required
def queue(request: SignedInRequest) -> HttpResponse:
    sort = "confidence" if request.GET.get("sort") == "confidence" else "oldest"
    cases = selectors.review_queue(sort=sort)
    for case in cases:
        case.mine = case.claim_holder_id == request.user.pk
        case.free = case.claim_holder_id is None
    next_free = next((c for c in cases if c.free or c.mine), None)
    supervisor = request.user.has_perm(roles.COUNTERSIGN)
    context = {
        "cases": cases,
        "counts": selectors.queue_counts(cases),
        "sort": sort,
        "next_case": next_free,
        "threshold": settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD,
        "can_review": can_review(request.user),
        "awaiting": list(selectors.awaiting_countersign()) if supervisor else [],
        "shift_times": selectors.review_time_by_shift() if supervisor else [],
        "supervisor": supervisor,
        "recent": list(selectors.reviews().filter(reviewer=request.user).order_by("-signed_at")[:5]),
    }
    return render(request, "review/queue.html", context)


@reviewer_required
@require_POST
def claim_next(request: HttpRequest) -> HttpResponse:
    for case in selectors.review_queue():
        if case.claim_holder_id in (None, request.user.pk):
            return claim(request, case.result_id)
    messages.info(request, _("No case is waiting for you."))
    return redirect("review-queue")


@reviewer_required
@require_POST
def claim(request: HttpRequest, result_id: uuid.UUID) -> HttpResponse:
    inspection = _inspection(result_id)
    decided = _deciding_review(inspection)
    if decided is not None:
        messages.info(request, _("%(serial)s already has a signed verdict.") % {"serial": inspection.part.serial})
        return redirect("review-review", pk=decided.pk)
    try:
        claim_ = claims.claim_case(inspection, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("review-queue")
    return redirect("review-case", result_id=claim_.inspection.result_id)


# --- One case ------------------------------------------------------------------------------------------


@reviewer_required
def case(request: HttpRequest, result_id: uuid.UUID) -> HttpResponse:
    """The step-through of a part: the findings of every inspection of it that needs a human."""
    inspection = _inspection(result_id)
    decided = _deciding_review(inspection)
    if decided is not None:
        return redirect("review-review", pk=decided.pk)
    claim_ = selectors.open_claim_of(inspection, request.user)
    if claim_ is None:
        messages.error(
            request,
            _("Claim %(serial)s before reviewing it (your claim may have lapsed).")
            % {"serial": inspection.part.serial},
        )
        return redirect("review-queue")
    if claim_.inspection_id != inspection.pk:  # one address per case: the claim's
        return redirect("review-case", result_id=claim_.inspection.result_id)
    inspections = selectors.case_inspections(inspection.part)
    if not inspections:
        messages.error(request, _("%(serial)s has nothing left to review.") % {"serial": inspection.part.serial})
        return redirect("review-queue")
    machine_failed = verdicts.machine_failed(inspections)
    case_data = {
        "resultId": str(inspection.result_id),
        "serial": inspection.part.serial,
        "partType": inspection.part.part_type.code,
        "fourEyes": inspection.part.part_type.four_eyes_override,
        "machineVerdict": "fail" if machine_failed else "pass",
        "machineReason": "; ".join(f"{i.station.code}: {i.reason}" for i in inspections if i.reason),
        "stations": [i.station.code for i in inspections],
        "inspections": [str(i.result_id) for i in inspections],  # sent back with the verdict: what was shown
        "imageUrl": inspection.image.get_absolute_url() if inspection.image is not None else "",
        "findings": selectors.part_case_findings(inspections),
        "claimExpiresAt": claim_.expires_at.isoformat(),
        "claimExpiresInS": max(0.0, (claim_.expires_at - timezone.now()).total_seconds()),  # free of clock skew
        "claimTtlS": settings.TWINWEB_REVIEW_CLAIM_TTL_S,
        "openedAt": claim_.claimed_at.isoformat(),
        "username": request.user.get_username(),
        "urls": {
            "sign": reverse("review-sign", args=[inspection.result_id]),
            "view": reverse("review-view", args=[inspection.result_id]),
            "renew": reverse("review-renew", args=[inspection.result_id]),
            "release": reverse("review-release", args=[inspection.result_id]),
            "claim": reverse("review-claim", args=[inspection.result_id]),
            "queue": reverse("review-queue"),
        },
        # The verdict choices, in digit order.
        "choices": (
            [
                {"verdict": "confirm_nok", "disposition": "scrap", "label": "NOK: scrap"},
                {"verdict": "confirm_nok", "disposition": "rework", "label": "NOK: rework"},
                {"verdict": "override_ok", "disposition": "line", "label": "OK: false reject, back to line"},
            ]
            if machine_failed
            else [
                {"verdict": "confirm_ok", "disposition": "line", "label": "OK: confirm, back to line"},
                {"verdict": "confirm_nok", "disposition": "scrap", "label": "NOK: scrap"},
                {"verdict": "confirm_nok", "disposition": "rework", "label": "NOK: rework"},
            ]
        ),
        "overrideReasons": [{"code": code, "label": label} for code, label in OverrideReason.choices],
        "defectCodes": [{"code": d.code, "label": d.name} for d in DefectCode.objects.order_by("code")],
        "needsDefectCode": selectors.open_failure_case(inspections) is None,
    }
    context = {
        "inspection": inspection,
        "inspections": inspections,
        "machine_failed": machine_failed,
        "claim": claim_,
        "case_data": case_data,
    }
    return render(request, "review/case.html", context)


@reviewer_required
@require_POST
def release(request: SignedInRequest, result_id: uuid.UUID) -> HttpResponse:
    inspection = _inspection(result_id)
    claim_ = ReviewClaim.objects.filter(part_id=inspection.part_id, holder=request.user, ended_at__isnull=True).first()
    if claim_ is not None:
        try:
            claims.release_claim(claim_, actor=request.user)
        except DomainError as exc:
            messages.error(request, str(exc))
    if request.headers.get("accept", "").startswith("application/json"):
        return JsonResponse({"released": True})
    messages.info(request, _("Released %(serial)s: it is back in the queue.") % {"serial": inspection.part.serial})
    return redirect("review-queue")


@reviewer_required
@require_POST
def renew(request: HttpRequest, result_id: uuid.UUID) -> JsonResponse:
    inspection = _inspection(result_id)
    claim_ = selectors.open_claim_of(inspection, request.user)
    if claim_ is None:
        return JsonResponse({"detail": _("Your claim has lapsed."), "code": "claim_lapsed"}, status=409)
    try:
        claim_ = claims.renew_claim(claim_, actor=request.user)
    except DomainError as exc:
        return _json_error(exc)
    return JsonResponse(
        {
            "expires_at": claim_.expires_at.isoformat(),
            "expires_in_s": max(0.0, (claim_.expires_at - timezone.now()).total_seconds()),
        }
    )


@reviewer_required
@require_POST
def present_view(request: HttpRequest, result_id: uuid.UUID) -> JsonResponse:
    inspection = _inspection(result_id)
    data = _json_body(request)
    try:
        index = int(data.get("index", 0))
        inspections = {str(i.result_id): i for i in selectors.case_inspections(inspection.part)}
        findings = selectors.part_case_findings(list(inspections.values()))
        if not 0 <= index < len(findings):
            raise ValueError(index)
        finding = findings[index]  # what the cobot shows comes from the record, not from the browser
        command = cobot.present_finding_view(
            inspections[finding["resultId"]],
            finding_index=index,
            finding_kind=finding["kind"],
            finding_name=finding["name"],
            bbox=[float(v) for v in finding.get("bbox") or []],
            actor=request.user,
        )
    except (TypeError, ValueError):
        return JsonResponse({"detail": _("Malformed view request."), "code": "malformed"}, status=400)
    except DomainError as exc:
        return _json_error(exc)
    return JsonResponse({"command_id": str(command.command_id)})


@reviewer_required
@require_POST
def sign(request: HttpRequest, result_id: uuid.UUID) -> JsonResponse:
    inspection = _inspection(result_id)
    data = _json_body(request)
    try:
        key = uuid.UUID(str(data.get("idempotency_key", "")))
    except ValueError:
        return JsonResponse({"detail": _("A decision needs its idempotency key."), "code": "malformed"}, status=400)
    shown = data.get("inspections")
    try:
        review, applied = verdicts.sign_verdict(
            inspection,
            actor=request.user,
            verdict=str(data.get("verdict", "")),
            disposition=str(data.get("disposition", "")),
            reason_code=str(data.get("reason_code", "")),
            note=str(data.get("note", ""))[:2000],
            credential=str(data.get("credential", "")),
            idempotency_key=key,
            reviewed=[str(r) for r in shown] if isinstance(shown, list) else None,
            request=request,
        )
    except DomainError as exc:
        return _json_error(exc)
    return JsonResponse(
        {
            "review": review.pk,
            "applied": applied,
            "status": review.status,
            "verdict": review.verdict,
            "disposition": review.disposition,
            "content_sha256": review.content_sha256,
            "review_seconds": round(review.review_seconds, 1),
            "url": reverse("review-review", args=[review.pk]),
        },
        status=201 if applied else 200,
    )


# --- A signed review -----------------------------------------------------------------------------------


@reviewer_required
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    review = get_object_or_404(selectors.reviews(), pk=pk)
    signatures = list(review.signatures.all())
    context = {
        "review": review,
        "signatures": signatures,
        "decided": list(review.decided_inspections.select_related("station").order_by("captured_at", "id")),
        "intact": all(signing.signature_is_intact(s) for s in signatures),
        "can_countersign": review.status == ReviewStatus.AWAITING_COUNTERSIGN
        and request.user.has_perm(roles.COUNTERSIGN)
        and review.reviewer_id != request.user.pk,
        "decision_key": uuid.uuid4(),
    }
    return render(request, "review/review.html", context)


@reviewer_required
@require_POST
def countersign(request: HttpRequest, pk: int) -> HttpResponse:
    review = get_object_or_404(Review, pk=pk)
    try:
        verdicts.countersign_review(
            review,
            actor=request.user,
            credential=request.POST.get("credential", ""),
            idempotency_key=request.POST.get("idempotency_key", "") or uuid.uuid4(),
            request=request,
        )
    except (DomainError, ValueError) as exc:
        messages.error(request, str(exc))
        return redirect("review-review", pk=pk)
    messages.success(request, _("Countersigned: the override is in effect."))
    return redirect("review-review", pk=pk)


@reviewer_required
@require_POST
def set_pin(request: SignedInRequest) -> HttpResponse:
    try:
        esign.set_signing_pin(
            request.user,
            pin=request.POST.get("pin", ""),
            current_password=request.POST.get("current_password", ""),
            actor=request.user,
            request=request,
        )
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Signing PIN set at %(time)s.") % {"time": f"{timezone.localtime():%H:%M}"})
    return redirect("review-queue")
