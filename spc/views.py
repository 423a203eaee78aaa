"""The /spc/ pages: part types, the capability summary of a part type, a characteristic's charts with its
limits, violations and reaction, CSV exports. Views only adapt: access checks and reads in spc.selectors, writes in
spc.actions; the charts are drawn by static/spc/spc.js from the characteristic's API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from live.models import Alarm
from twinweb.exports import csv_response
from spc import actions, selectors
from spc.choices import CapabilityMethod, ChartKind, SELECTABLE_RULES, Sides
from spc.models import AssignableCause, Characteristic, CorrectiveAction, RuleViolation
from traceability.errors import DomainError
from traceability.models import PartType


def _require_view(request: HttpRequest) -> None:
    if not selectors.can_view_spc(request.user):
        raise PermissionDenied(_("Your role may not see SPC."))


def _characteristic(pk: int) -> Characteristic:
    return get_object_or_404(selectors.characteristics(), pk=pk)


class FreezeForm(forms.Form):
    baseline_size = forms.IntegerField(
        min_value=2,
        max_value=1_000_000,
        initial=125,
        label=gettext_lazy("Baseline size"),
        help_text=gettext_lazy("The latest this many values form the Phase I baseline."),
    )
    baseline_start = forms.IntegerField(
        required=False,
        min_value=0,
        label=gettext_lazy("Baseline start"),
        help_text=gettext_lazy(
            "Optional: the number of the baseline's first value (0 = the oldest). Empty: the latest values."
        ),
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=gettext_lazy("Reason"),
        help_text=gettext_lazy("Required when limits are frozen already (a recomputation)."),
    )


class ConfigureForm(forms.Form):
    chart_kind = forms.ChoiceField(choices=ChartKind.choices, label=gettext_lazy("Chart kind"))
    subgroup_size = forms.IntegerField(min_value=2, max_value=25, label=gettext_lazy("Subgroup size"))
    rules = forms.MultipleChoiceField(
        choices=[(r.value, r.label) for r in SELECTABLE_RULES],
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("Rules"),
    )
    sides = forms.ChoiceField(choices=Sides.choices, label=gettext_lazy("Sides"))
    capability_method = forms.ChoiceField(choices=CapabilityMethod.choices, label=gettext_lazy("Capability method"))
    study_size = forms.IntegerField(min_value=0, max_value=10_000_000, label=gettext_lazy("Study size"))
    reason = forms.CharField(
        required=False,
        label=gettext_lazy("Reason"),
        help_text=gettext_lazy("Required when the change withdraws frozen limits."),
    )


class AcknowledgeForm(forms.Form):
    cause = forms.ModelChoiceField(
        queryset=AssignableCause.objects.filter(active=True),
        empty_label=gettext_lazy("– cause –"),
        label=gettext_lazy("Assignable cause"),
    )
    action = forms.ModelChoiceField(
        queryset=CorrectiveAction.objects.filter(active=True),
        empty_label=gettext_lazy("– action –"),
        label=gettext_lazy("Corrective action"),
    )
    note = forms.CharField(required=False, max_length=2000, label=gettext_lazy("Note"))


def spc_index(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    return render(request, "spc/index.html", {"part_types": selectors.part_types_with_characteristics()})


def part_type_summary(request: HttpRequest, code: str) -> HttpResponse:
    _require_view(request)
    part_type = get_object_or_404(PartType, code=code)
    return render(request, "spc/part_type.html", {"part_type": part_type, "rows": selectors.summary(part_type)})


def characteristic_page(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    ch = _characteristic(pk)
    analysis = selectors.analyse(ch)
    config = {
        "dataUrl": reverse("api-spc-characteristic", args=[ch.pk]),
        "cellId": ch.station.cell_id,
        "wsPath": f"/ws/cells/{ch.station.cell_id}/",
        "station": ch.station.code,
        "pollS": 30,
    }
    return render(
        request,
        "spc/characteristic.html",
        {
            "ch": ch,
            "analysis": analysis,
            "limits": analysis.frozen,
            "limits_history": ch.limits.select_related("frozen_by").all()[:10],
            "violations": selectors.violations(ch),
            "gauge_studies": selectors.gauge_studies(ch),
            "can_freeze": selectors.can_freeze_limits(request.user),
            "can_configure": selectors.can_configure(request.user),
            "can_ack": selectors.can_acknowledge_violation(request.user),
            "freeze_form": FreezeForm(initial={"baseline_size": 125 if ch.chart_kind != ChartKind.IMR else 100}),
            "configure_form": ConfigureForm(initial={**{k: getattr(ch, k) for k in actions.CONFIGURABLE}}),
            "ack_form": AcknowledgeForm(),
            "spc_config": config,
            "cap_rows": capability_rows(analysis),
        },
    )


def capability_rows(analysis: selectors.Analysis) -> list[tuple[str, Any]]:
    c = analysis.capability
    if c is None:
        return []
    names = (
        ("Cp", c.cp),
        ("Cpk", c.cpk),
        ("Cpu", c.cpu),
        ("Cpl", c.cpl),
        ("Pp", c.pp),
        ("Ppk", c.ppk),
        ("Ppu", c.ppu),
        ("Ppl", c.ppl),
    )
    one_sided = {"upper_only": {"Cp", "Cpl", "Pp", "Ppl"}, "lower_only": {"Cp", "Cpu", "Pp", "Ppu"}}.get(c.sides, set())
    percentile = {"Cp", "Cpk", "Cpu", "Cpl"} if c.method == "percentile" else set()
    return [(name, idx) for name, idx in names if name not in one_sided | percentile]


def _refused(request: HttpRequest, exc: Exception) -> None:
    if isinstance(exc, ValidationError):
        text = "; ".join(
            f"{m}"
            for msgs in (exc.message_dict.values() if hasattr(exc, "error_dict") else [exc.messages])
            for m in msgs
        )
    else:
        text = str(exc)
    messages.error(request, text)


@require_POST
def freeze(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    ch = _characteristic(pk)
    form = FreezeForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors.as_text())
    else:
        try:
            actions.freeze_limits(
                ch,
                actor=request.user,
                baseline_size=form.cleaned_data["baseline_size"],
                reason=form.cleaned_data["reason"],
                baseline_start=form.cleaned_data["baseline_start"],
            )
            messages.success(request, _("Control limits frozen."))
        except (DomainError, ValidationError) as exc:
            _refused(request, exc)
    return redirect(ch)


@require_POST
def configure(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    ch = _characteristic(pk)
    form = ConfigureForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors.as_text())
    else:
        data = dict(form.cleaned_data)
        reason = data.pop("reason")
        try:
            actions.configure_characteristic(ch, actor=request.user, reason=reason, **data)
            messages.success(request, _("Characteristic configured."))
        except (DomainError, ValidationError) as exc:
            _refused(request, exc)
    return redirect(ch)


@require_POST
def acknowledge(request: HttpRequest, pk: int, violation_id: int) -> HttpResponse:
    _require_view(request)
    ch = _characteristic(pk)
    violation = get_object_or_404(RuleViolation, pk=violation_id, characteristic=ch)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an assignable cause and a corrective action.") + " " + form.errors.as_text())
    else:
        try:
            actions.acknowledge_violation(
                violation,
                actor=request.user,
                cause=form.cleaned_data["cause"],
                action=form.cleaned_data["action"],
                note=form.cleaned_data["note"],
            )
            messages.success(request, _("Violation acknowledged; its alarm is cleared."))
        except (DomainError, ValidationError) as exc:
            _refused(request, exc)
    return redirect(ch)


def alarm_redirect(request: HttpRequest, alarm_id: int) -> HttpResponse:
    """The live view's SPC alarm links here: the characteristic page where it is acknowledged."""
    _require_view(request)
    alarm = get_object_or_404(Alarm, pk=alarm_id)
    violation = get_object_or_404(RuleViolation, alarm=alarm)
    return redirect(violation.characteristic)


def _csv(rows: list[list[Any]], filename: str) -> HttpResponse:
    return csv_response(rows, filename)


def chart_csv(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    ch = _characteristic(pk)
    return _csv(selectors.csv_points(selectors.analyse(ch)), f"spc-{ch.pk}-{ch.feature.name}-chart.csv")


def histogram_csv(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    ch = _characteristic(pk)
    return _csv(selectors.csv_histogram(selectors.analyse(ch)), f"spc-{ch.pk}-{ch.feature.name}-histogram.csv")
