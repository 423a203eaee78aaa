"""Auditor pages: the trace search, a part's genealogy (tree and timeline), a lot's recall (counts by status,
CSV download, containment). Server-rendered, no build step. Each trace page shows how long the trace took."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from traceability import access, actions, epcis, genealogy, selectors
from traceability.choices import LotStatus, PartStatus, badge_colour
from traceability.errors import DomainError
from traceability.forms import (
    ContainLotForm,
    FeatureFormSet,
    PartTypeForm,
    ReleaseContainmentForm,
    RevisionForm,
    TraceSearchForm,
)
from traceability.genealogy import BackwardTrace, ForwardTrace, PartNode
from traceability.models import LotLink, MaterialLot
from twinweb.exports import csv_response

RECALL_ROWS_SHOWN = 500
P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]


def _allowed(check: Callable[[Any], bool]) -> Callable[[View[P]], View[P]]:
    """Refuse the page (403) unless the access check of its object type passes: the same helper
    (traceability.access) the API and consumers use."""

    def decorate(view: View[P]) -> View[P]:
        @functools.wraps(view)
        def checked(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return checked

    return decorate


@_allowed(access.can_trace)
def trace_search(request: HttpRequest) -> HttpResponse:
    form = TraceSearchForm(request.GET or None)
    result = None
    if form.is_bound and form.is_valid():
        result = genealogy.search(form.criteria())
        if result.go_to:
            kind, key = result.go_to
            return redirect("trace-part" if kind == "part" else "trace-lot", key)
    return render(
        request,
        "traceability/search.html",
        {
            "form": form,
            "result": result,
            "query": request.GET.get("q", ""),
            "filters_open": form.is_bound and not form.errors and form.criteria().has_filters,
            "part_rows": [(p, badge_colour(PartStatus, p.status)) for p in (result.parts if result else [])],
        },
    )


def _lot_tree(
    lot_id: int, trace_lots: dict[int, MaterialLot], links: list[LotLink], *, up: bool, depth: int = 0
) -> dict[str, Any]:
    """A lot with its parents (up) or children (down), for the page's nested lists."""
    lot = trace_lots[lot_id]
    related = [link for link in links if (link.child_id if up else link.parent_id) == lot_id]
    return {
        "lot": lot,
        "badge": badge_colour_lot(lot.status),
        "related": []
        if depth > 30
        else [
            {
                "link": link,
                "node": _lot_tree(link.parent_id if up else link.child_id, trace_lots, links, up=up, depth=depth + 1),
            }
            for link in related
            if (link.parent_id if up else link.child_id) in trace_lots
        ],
    }


def badge_colour_lot(status: str) -> str:
    return badge_colour(LotStatus, status)


def _part_tree(trace: BackwardTrace, node: PartNode) -> dict[str, Any]:
    part = node.part
    return {
        "part": part,
        "badge": badge_colour(PartStatus, part.status),
        "lots": [
            {"consumption": c, "node": _lot_tree(c.lot_id, trace.lots, trace.lot_links, up=True)}
            for c in trace.consumptions_of(part.pk)
        ],
        "components": [_part_tree(trace, child) for child in trace.components_of(part.pk)],
    }


@_allowed(access.can_trace)
def trace_part(request: HttpRequest, serial: str) -> HttpResponse:
    part = get_object_or_404(selectors.parts(), serial=serial)
    trace = genealogy.backward_trace(part)
    # By part id; a timeline item with no part_id looks up None (and gets "").
    serials: dict[int | None, str] = {node.part.pk: node.part.serial for node in trace.parts}
    return render(
        request,
        "traceability/part.html",
        {
            "part": trace.part,
            "trace": trace,
            "tree": _part_tree(trace, trace.parts[0]),
            "badge": badge_colour(PartStatus, trace.part.status),
            "timeline": [
                {"at": at, "kind": kind, "item": item, "serial": serials.get(getattr(item, "part_id", None), "")}
                for at, kind, item in trace.timeline()
            ],
        },
    )


@_allowed(access.can_trace)
def trace_lot(request: HttpRequest, lot_key: str) -> HttpResponse:
    lot = get_object_or_404(selectors.lots(), lot_key=lot_key)
    trace = genealogy.forward_trace(lot)
    every_lot = {**trace.sources, **trace.lots}
    counts = trace.counts_by_status()
    return render(
        request,
        "traceability/lot.html",
        {
            "lot": trace.lot,
            "trace": trace,
            "badge": badge_colour_lot(trace.lot.status),
            "sources": _lot_tree(lot.pk, every_lot, trace.source_links, up=True),
            "descendants": _lot_tree(lot.pk, trace.lots, trace.lot_links, up=False),
            "counts": [(PartStatus(s).label, n, badge_colour(PartStatus, s)) for s, n in counts.items() if n],
            "shipped_count": counts.get(str(PartStatus.SHIPPED), 0),
            "part_rows": [
                (p, badge_colour(PartStatus, p.status), PartStatus(p.status).label)
                for p in trace.parts[:RECALL_ROWS_SHOWN]
            ],
            "rows_shown": min(len(trace.parts), RECALL_ROWS_SHOWN),
            "can_contain": access.can_contain(request.user),
            "epcis_on_the_web": len(trace.parts) <= epcis.WEB_EXPORT_MAX_PARTS,
            "contain_form": ContainLotForm(),
            "active_containment": lot.containments.filter(released_at__isnull=True).first(),
            "release_form": ReleaseContainmentForm(),
        },
    )


@_allowed(access.can_trace)
def trace_lot_csv(request: HttpRequest, lot_key: str) -> HttpResponse:
    lot = get_object_or_404(selectors.lots(), lot_key=lot_key)
    trace: ForwardTrace = genealogy.forward_trace(lot, with_sources=False)
    # The headers are column keys other tools read; they stay as they are in every language.
    rows: list[list[Any]] = [
        ["serial", "status", "part_type", "batch", "pallet_sscc", "pallet_status", "via_lots", "via_components"]
    ]
    rows += [
        [
            p.serial,
            p.status,
            p.part_type,
            p.batch_number,
            p.pallet_sscc or "",
            p.pallet_status or "",
            " ".join(p.via_lots),
            " ".join(p.via_components),
        ]
        for p in trace.parts
    ]
    return csv_response(rows, f"recall-{lot.lot_key}.csv")


@require_POST
@_allowed(access.can_contain)
def contain_lot(request: HttpRequest, lot_key: str) -> HttpResponse:
    lot = get_object_or_404(selectors.lots(), lot_key=lot_key)
    form = ContainLotForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Containment needs a reason."))
        return redirect("trace-lot", lot.lot_key)
    try:
        shipped = actions.contain_lot(lot, actor=request.user, reason=form.cleaned_data["reason"])
    except DomainError as refusal:
        messages.error(request, str(refusal))
        return redirect("trace-lot", lot.lot_key)
    held = genealogy.forward_trace(lot, with_sources=False).counts_by_status().get(str(PartStatus.ON_HOLD), 0)
    messages.success(
        request,
        _("Lot %(lot)s is suspect; %(held)s parts it reached are on hold.") % {"lot": lot.lot_key, "held": held},
    )
    if shipped:
        listed = ", ".join(p.serial for p in shipped[:50]) + (" …" if len(shipped) > 50 else "")
        messages.error(
            request,
            _("%(n)s parts had already shipped and need a customer recall: %(serials)s")
            % {"n": len(shipped), "serials": listed},
        )
    return redirect("trace-lot", lot.lot_key)


@require_POST
@_allowed(access.can_contain)
def release_containment(request: HttpRequest, lot_key: str) -> HttpResponse:
    lot = get_object_or_404(selectors.lots(), lot_key=lot_key)
    form = ReleaseContainmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Releasing a containment needs a reason and your signature (password or PIN)."))
        return redirect("trace-lot", lot.lot_key)
    try:
        released = actions.release_containment(
            lot,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            credential=form.cleaned_data["credential"],
            request=request,
        )
    except DomainError as refusal:
        messages.error(request, str(refusal))
        return redirect("trace-lot", lot.lot_key)
    messages.success(
        request,
        _("Containment of lot %(lot)s released: %(n)s parts back to their status, lots %(lots)s cleared.")
        % {
            "lot": lot.lot_key,
            "n": len(released.parts_released),
            "lots": ", ".join(released.lots_released) or _("none"),
        },
    )
    if released.parts_still_held:
        messages.error(
            request, _("%(n)s parts stay on hold under another containment.") % {"n": len(released.parts_still_held)}
        )
    return redirect("trace-lot", lot.lot_key)


# --- Drawings: part types and their revisions (quality engineers) --------------------------------------------


def _features(formset: Any) -> list[actions.FeatureInput]:
    return [
        actions.FeatureInput(
            name=f["name"].strip(),
            kind=f["kind"],
            nominal=f["nominal"],
            lower_tol=f["lower_tol"],
            upper_tol=f["upper_tol"],
            unit=f["unit"] or "mm",
        )
        for f in formset.cleaned_data
        if f and not f.get("DELETE")
    ]


@_allowed(access.can_view_drawings)
def drawings(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "traceability/drawings.html",
        {
            "part_types": selectors.part_types_with_drawings(),
            "can_edit": access.can_edit_drawings(request.user),
        },
    )


@_allowed(access.can_edit_drawings)
def new_part_type(request: HttpRequest) -> HttpResponse:
    form = PartTypeForm(request.POST or None)
    features = FeatureFormSet(request.POST or None, prefix="f")
    if request.method == "POST" and form.is_valid() and features.is_valid():
        try:
            part_type = actions.create_part_type(
                **form.cleaned_data, features=_features(features), actor=request.user, reason=_("new part type")
            )
        except (DomainError, ValidationError) as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(
                request,
                _("%(code)s created with drawing %(number)s rev %(revision)s.")
                % {"code": part_type.code, "number": part_type.drawing_number, "revision": part_type.revision},
            )
            return redirect("drawing", part_type.code)
    return render(request, "traceability/drawing_new.html", {"form": form, "features": features})


@_allowed(access.can_view_drawings)
def drawing(request: HttpRequest, code: str) -> HttpResponse:
    part_type = get_object_or_404(selectors.part_types_with_drawings(), code=code)
    current = selectors.current_drawing(part_type)
    can_edit = access.can_edit_drawings(request.user)
    initial = [
        {
            "name": f.name,
            "kind": f.kind,
            "nominal": f.nominal,
            "lower_tol": f.lower_tol,
            "upper_tol": f.upper_tol,
            "unit": f.unit,
        }
        for f in current.features.all().order_by("id")
    ]
    form = RevisionForm(request.POST or None)
    features = FeatureFormSet(request.POST or None, prefix="f", initial=initial)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid() and features.is_valid():
            try:
                released = actions.revise_drawing(
                    part_type, features=_features(features), actor=request.user, reason=form.cleaned_data["reason"]
                )
            except DomainError as refusal:
                messages.error(request, str(refusal))
            else:
                messages.success(
                    request,
                    _("Revision %(revision)s released: the next capture of %(code)s is measured against it.")
                    % {"revision": released.revision, "code": code},
                )
                return redirect("drawing", code)
    return render(
        request,
        "traceability/drawing.html",
        {
            "part_type": part_type,
            "current": current,
            "revisions": selectors.drawing_revisions(part_type),
            "form": form,
            "features": features,
            "can_edit": can_edit,
        },
    )
