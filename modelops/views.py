"""The /modelops/ pages (quality engineer): the registry, a version with its card and golden-set comparison, the
RQ1 transition view, and the forms that start training and move aliases (each a signed action)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from modelops import actions, golden, selectors
from modelops.choices import ALIAS_NAMES, Alias
from modelops.errors import ModelRefused
from modelops.models import ModelVersion, ShadowComparison
from traceability.actions import esign
from traceability.errors import DomainError
from traceability.models import Cell


class TrainForm(forms.Form):
    epochs = forms.IntegerField(min_value=1, max_value=100, initial=30, label=gettext_lazy("Epochs"))
    train_per_class = forms.IntegerField(
        min_value=1, max_value=1000, initial=150, label=gettext_lazy("Training images per class")
    )
    val_per_class = forms.IntegerField(
        min_value=1, max_value=500, initial=50, label=gettext_lazy("Validation images per class")
    )
    golden_rendered = forms.IntegerField(
        min_value=14, max_value=5000, initial=280, label=gettext_lazy("Rendered golden-set images")
    )
    seed = forms.IntegerField(initial=1, label=gettext_lazy("Seed"))


class SignedForm(forms.Form):
    reason = forms.CharField(max_length=500, label=gettext_lazy("Reason"))
    credential = forms.CharField(widget=forms.PasswordInput, label=gettext_lazy("Password or signing PIN"))


class AssignForm(SignedForm):
    cell = forms.ModelChoiceField(
        queryset=Cell.objects.order_by("code"), to_field_name="code", label=gettext_lazy("Cell")
    )
    alias = forms.ChoiceField(choices=Alias.choices, label=gettext_lazy("Alias"))


def _require_view(request: HttpRequest) -> None:
    if not request.user.has_perm("modelops.view_modelversion"):
        raise PermissionDenied(_("Your role may not see the model registry."))


@login_required
def registry(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    return render(
        request,
        "modelops/registry.html",
        {
            "versions": selectors.versions(),
            "aliases": selectors.alias_table(),
            "runs": selectors.training_runs(),
            "deployments": selectors.deployments(),
            "changes": selectors.alias_changes(),
            "train_form": TrainForm(),
            "can_manage": request.user.has_perm(actions.MANAGE_MODELS),
            "signer_name": esign.printed_name(request.user),
        },
    )


@login_required
def version_detail(request: HttpRequest, sha256: str) -> HttpResponse:
    _require_view(request)
    version = get_object_or_404(ModelVersion, sha256=sha256)
    comparisons = []
    for row in selectors.alias_table():
        if row.alias == Alias.CHAMPION and row.version_id != version.pk and version.golden_metrics:
            # Like with like: the champion measured on this version's golden set when it was trained; else the
            # champion's own figures only if they come from the same golden set at the same size.
            champion = version.golden_metrics.get("champions", {}).get(row.version.sha256)
            same_set = champion is not None
            if (
                champion is None
                and row.version.golden_set == version.golden_set
                and (row.version.golden_metrics.get("n") == version.golden_metrics.get("n"))
            ):
                champion = row.version.golden_metrics
            comparisons.append(
                {
                    "cell": row.cell,
                    "champion": row.version,
                    "same_images": same_set,
                    "rows": golden.compare(version.golden_metrics, champion),
                }
            )
    return render(
        request,
        "modelops/version.html",
        {
            "version": version,
            "metrics": version.golden_metrics,
            "comparisons": comparisons,
            "shadow": selectors.shadow_summary(version),
            "deliveries": selectors.deliveries_of(version),
            "profiling_rows": [r for r in selectors.transition(version) if str(r["stage"]).startswith("device ")],
            "disagreements": selectors.disagreements(version),
            "assign_form": AssignForm(),
            "can_manage": request.user.has_perm(actions.MANAGE_MODELS),
            "signer_name": esign.printed_name(request.user),
        },
    )


@login_required
def transition(request: HttpRequest, sha256: str) -> HttpResponse:
    _require_view(request)
    version = get_object_or_404(ModelVersion, sha256=sha256)
    return render(request, "modelops/transition.html", {"version": version, "rows": selectors.transition(version)})


def _refused(request: HttpRequest, exc: Exception) -> None:
    messages.error(request, str(exc))


@login_required
@require_POST
def start_training(request: HttpRequest) -> HttpResponse:
    form = TrainForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Training not started: %(errors)s") % {"errors": form.errors.as_text()})
        return redirect("modelops-registry")
    try:
        run = actions.request_training(params=form.cleaned_data, actor=request.user)
    except DomainError as exc:
        raise PermissionDenied(str(exc)) from None
    messages.success(request, _("Training run %(run)s queued.") % {"run": run.pk})
    return redirect("modelops-registry")


def _signed_post(request: HttpRequest, form: SignedForm, call: Any, back: str, *args: Any) -> HttpResponse:
    if not form.is_valid():
        messages.error(request, _("Nothing changed: %(errors)s") % {"errors": form.errors.as_text()})
        return redirect(back, *args)
    try:
        change = call(form.cleaned_data)
    except ModelRefused as exc:
        _refused(request, exc)
        return redirect(back, *args)
    except DomainError as exc:
        _refused(request, exc)
        return redirect(back, *args)
    messages.success(
        request,
        _("%(kind)s: %(cell)s %(alias)s is now %(version)s.")
        % {
            "kind": change.get_kind_display(),
            "cell": change.cell.code,
            "alias": ALIAS_NAMES.get(change.alias, change.alias),
            "version": change.to_version.version if change.to_version else _("unset"),
        },
    )
    return redirect(back, *args)


@login_required
@require_POST
def assign(request: HttpRequest, sha256: str) -> HttpResponse:
    version = get_object_or_404(ModelVersion, sha256=sha256)
    return _signed_post(
        request,
        AssignForm(request.POST),
        lambda d: actions.assign_alias(
            version,
            cell=d["cell"],
            alias=d["alias"],
            actor=request.user,
            credential=d["credential"],
            reason=d["reason"],
            request=request,
        ),
        "modelops-version",
        sha256,
    )


@login_required
@require_POST
def promote(request: HttpRequest, cell_code: str) -> HttpResponse:
    cell = get_object_or_404(Cell, code=cell_code)
    return _signed_post(
        request,
        SignedForm(request.POST),
        lambda d: actions.promote(
            cell, actor=request.user, credential=d["credential"], reason=d["reason"], request=request
        ),
        "modelops-registry",
    )


@login_required
@require_POST
def rollback(request: HttpRequest, cell_code: str) -> HttpResponse:
    cell = get_object_or_404(Cell, code=cell_code)
    return _signed_post(
        request,
        SignedForm(request.POST),
        lambda d: actions.rollback(
            cell, actor=request.user, credential=d["credential"], reason=d["reason"], request=request
        ),
        "modelops-registry",
    )


@login_required
@require_POST
def send_to_review(request: HttpRequest, comparison_id: int) -> HttpResponse:
    comparison = get_object_or_404(ShadowComparison.objects.select_related("candidate"), pk=comparison_id)
    try:
        inspection = actions.send_disagreement_to_review(comparison, actor=request.user)
    except (ModelRefused, DomainError) as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            _("Capture %(result)s of part %(serial)s waits in Debug Mode.")
            % {"result": comparison.result_id, "serial": inspection.part.serial},
        )
    return redirect("modelops-version", comparison.candidate.sha256)
