"""Forms of the auditor pages."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from traceability import genealogy
from traceability.choices import PartFamily
from traceability.models import DefectCode, Station


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def _day_start(value: dt.date | None, *, days: int = 0) -> dt.datetime | None:
    if value is None:
        return None
    return timezone.make_aware(dt.datetime.combine(value + dt.timedelta(days=days), dt.time.min))


class TraceSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=80, label=_("Serial, lot, batch or pallet (SSCC)"))
    station = forms.ChoiceField(required=False, label=_("Station"))
    window_start = forms.DateTimeField(
        required=False, label=_("At the station from"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    window_end = forms.DateTimeField(
        required=False, label=_("until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    verdict = forms.ChoiceField(required=False, label=_("Inspection verdict"))
    defect_code = forms.ChoiceField(required=False, label=_("Defect code"))
    created_from = forms.DateField(required=False, label=_("Made from"), widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(
        required=False, label=_("to (inclusive)"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        codes = sorted(set(Station.objects.values_list("code", flat=True)))
        self.fields["station"].choices = [("", _("any station"))] + [(c, c) for c in codes]  # type: ignore[attr-defined]
        self.fields["verdict"].choices = [("", _("any verdict"))] + genealogy.verdict_choices()  # type: ignore[attr-defined]
        self.fields["defect_code"].choices = [("", _("any defect"))] + [  # type: ignore[attr-defined]
            (d.code, f"{d.code} – {d.name}") for d in DefectCode.objects.order_by("code")
        ]

    def criteria(self) -> genealogy.SearchCriteria:
        data = self.cleaned_data
        return genealogy.SearchCriteria(
            query=data.get("q") or "",
            station=data.get("station") or "",
            window_start=_aware(data.get("window_start")),
            window_end=_aware(data.get("window_end")),
            verdict=data.get("verdict") or "",
            defect_code=data.get("defect_code") or "",
            created_from=_day_start(data.get("created_from")),
            created_to=_day_start(data.get("created_to"), days=1),
        )


class ContainLotForm(forms.Form):
    reason = forms.CharField(max_length=500, label=_("Reason (recorded in the audit trail)"))


class ReleaseContainmentForm(forms.Form):
    reason = forms.CharField(max_length=500, label=_("Why the lot is cleared (recorded in the audit trail)"))
    credential = forms.CharField(
        max_length=200,
        label=_("Your password or signing PIN (the release is signed)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class DispositionForm(forms.Form):
    disposition = forms.ChoiceField(
        choices=[("scrap", _("Scrap")), ("rework", _("Rework")), ("use_as_is", _("Use as is"))],
        label=_("Disposition"),
    )
    reason = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), label=_("Reason (part of the signed record)")
    )
    credential = forms.CharField(
        max_length=200,
        label=_("Your password or signing PIN"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CountersignForm(forms.Form):
    credential = forms.CharField(
        max_length=200,
        label=_("Your password or signing PIN (second person)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class PartTypeForm(forms.Form):
    code = forms.SlugField(max_length=40, label=_("Code"), help_text=_("e.g. CF-100"))
    name = forms.CharField(max_length=200, label=_("Name"))
    family = forms.ChoiceField(
        choices=PartFamily.choices,
        label=_("Family"),
        help_text=_("The measurement programme the edge device runs."),
    )
    drawing_number = forms.CharField(max_length=60, label=_("Drawing number"))
    revision = forms.CharField(max_length=10, initial="A", label=_("Revision"))
    gtin = forms.CharField(max_length=14, required=False, label=_("GTIN-14 (for EPCIS)"))
    four_eyes_override = forms.BooleanField(
        required=False, label=_("Overrides need a second person's countersignature")
    )


class FeatureForm(forms.Form):
    name = forms.CharField(max_length=80, label=_("Feature"))
    kind = forms.ChoiceField(
        choices=[("diameter", _("diameter")), ("distance", _("distance")), ("length", _("length"))], label=_("Kind")
    )
    nominal = forms.FloatField(label=_("Nominal"))
    lower_tol = forms.FloatField(label=_("Lower deviation"), help_text=_("0 or negative"))
    upper_tol = forms.FloatField(label=_("Upper deviation"), help_text=_("0 or positive"))
    unit = forms.CharField(max_length=10, initial="mm", label=_("Unit"))


class BaseFeatureFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        # The formset is a table: each row's inputs are named by their column (and row), not by a <label> of their own.
        for field in form.fields.values():
            label = str(field.label or _("Remove"))
            field.widget.attrs["aria-label"] = f"{label} ({index + 1})" if index is not None else label


FeatureFormSet = forms.formset_factory(FeatureForm, formset=BaseFeatureFormSet, extra=2, can_delete=True)


class RevisionForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Why the drawing changes (part of the revision's record)"),
    )
