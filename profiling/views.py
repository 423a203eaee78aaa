"""The /profiling/ pages: profiling runs as the deck's table, power and memory over time, comparison, CSV export.

Views only adapt: check access (profiling.selectors.can_view_profiling / can_run_profiling), call a
read from inspection.profiling_tables or the request action, render.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from edge_worker.contracts.profiling import ProfileConfig
from edge_worker.profiling.deck import DECK_ROWS, deck_check
from inspection.models import EdgeDevice
from twinweb.exports import csv_response
from profiling.actions import request_profiling_run
from profiling.choices import Phase, SeriesKind
from profiling.models import ProfilingRun
from profiling.selectors import (
    can_run_profiling,
    can_view_profiling,
    comparison,
    csv_rows,
    run_table,
    run_with_series,
    runs_queryset,
    series_csv_rows,
)

RUNS_ON_INDEX = 20
TABLES_ON_INDEX = 3


class StartRunForm(forms.Form):
    device = forms.ModelChoiceField(
        queryset=EdgeDevice.objects.order_by("device_id"), to_field_name="device_id", label=gettext_lazy("Device")
    )
    images = forms.IntegerField(min_value=1, max_value=2000, initial=56, label=gettext_lazy("Images"))
    warmup = forms.IntegerField(min_value=0, max_value=20, initial=1, label=gettext_lazy("Warm-up rounds"))
    rounds = forms.IntegerField(min_value=1, max_value=50, initial=3, label=gettext_lazy("Real rounds"))


def _require_view(request: HttpRequest) -> None:
    if not can_view_profiling(request.user):
        raise PermissionDenied(_("Your account has no role: ask an administrator for one to see edge profiling."))


def _filtered_runs(request: HttpRequest) -> Any:
    runs = runs_queryset()
    device = request.GET.get("device", "")
    if device:
        runs = runs.filter(device__device_id=device)
    return runs, device


def edge_runs(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    runs_qs, device = _filtered_runs(request)
    runs = list(runs_qs[:RUNS_ON_INDEX])
    tables = [(run, run_table(run)) for run in runs if run.status == "done"][:TABLES_ON_INDEX]
    return render(
        request,
        "profiling/runs.html",
        {
            "runs": runs,
            "tables": tables,
            "compare": comparison([r for r in runs if r.status == "done"]),
            "devices": EdgeDevice.objects.order_by("device_id"),
            "device": device,
            "can_run": can_run_profiling(request.user),
            "form": StartRunForm(),
            "deck": list(zip(DECK_ROWS, deck_check())),
        },
    )


def _chart_data(run: ProfilingRun) -> dict[str, Any]:
    variants = []
    for v in run.variants.all():
        if not v.available:
            continue
        series = {s.kind: s.points for s in v.series.all()}
        variants.append(
            {
                "key": v.key,
                "label": v.label or v.key,
                "phases": v.phases,
                "power": series.get(SeriesKind.POWER, []),
                "memory": series.get(SeriesKind.MEMORY, []),
            }
        )
    notes = sorted({v.power_note for v in run.variants.all() if v.available and v.power_note})
    return {"variants": variants, "powerMeasured": run.power_measured, "powerNote": "; ".join(notes)}


def edge_run(request: HttpRequest, run_id: Any) -> HttpResponse:
    _require_view(request)
    try:
        run = run_with_series(run_id)
    except ProfilingRun.DoesNotExist:
        run = get_object_or_404(ProfilingRun, run_id=run_id)  # 404 with the usual page
    skip = {"model", "threads", "load_average_start", "load_average_end"}
    versions = [f"{k} {v}" for k, v in (run.environment or {}).items() if k not in skip]
    table = run_table(run)
    phases = [p.get("name", "") for p in table.columns[0].phases] if table.columns else []
    phase_names = [Phase(p).label if p in Phase.values else p for p in phases]
    return render(
        request,
        "profiling/run.html",
        {"run": run, "table": table, "chart_data": _chart_data(run), "versions": versions, "phase_names": phase_names},
    )


def edge_runs_csv(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    runs, _device = _filtered_runs(request)
    run_id = request.GET.get("run", "")
    if run_id:
        try:
            runs = runs.filter(run_id=uuid.UUID(run_id))
        except ValueError:
            return HttpResponseBadRequest(
                _("run: not a run id: %(id)s") % {"id": repr(run_id[:40])}, content_type="text/plain"
            )
    return _csv_response(csv_rows(runs), "edge-profiling.csv")


def _csv_response(rows: Any, filename: str) -> HttpResponse:
    return csv_response(rows, filename)


def edge_run_series_csv(request: HttpRequest, run_id: Any) -> HttpResponse:
    _require_view(request)
    try:
        run = run_with_series(run_id)
    except ProfilingRun.DoesNotExist:
        run = get_object_or_404(ProfilingRun, run_id=run_id)
    return _csv_response(series_csv_rows(run), f"edge-profiling-{run.run_id}-series.csv")


@require_POST
def edge_run_start(request: HttpRequest) -> HttpResponse:
    if not can_run_profiling(request.user):
        raise PermissionDenied(_("Your role may not start edge profiling runs."))
    form = StartRunForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            _("Not started: %(errors)s")
            % {"errors": "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())},
        )
        return redirect("profiling-runs")
    data = form.cleaned_data
    config = ProfileConfig(images=data["images"], warmup=data["warmup"], rounds=data["rounds"])
    run = request_profiling_run(data["device"], config=config, actor=request.user)
    messages.success(
        request,
        _("Profiling run sent to %(queue)s; it appears here when the device reports.")
        % {"queue": data["device"].queue_name},
    )
    return redirect("profiling-run", run_id=run.run_id)
