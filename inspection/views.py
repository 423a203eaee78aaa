"""Pages of the inspection app: the images the edge devices captured, and the stations' camera calibrations."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inspection import selectors
from inspection.actions.calibration import calibrate_station
from inspection.models import ImageBlob
from traceability import roles
from traceability import selectors as trace_selectors
from traceability.errors import DomainError
from traceability.models import Station

CALIBRATE = "inspection.add_stationcalibration"


class CalibrationForm(forms.Form):
    station = forms.ModelChoiceField(
        label=_("Station"),
        queryset=Station.objects.filter(kind__in=selectors.INSPECTION_STATION_KINDS)
        .select_related("cell")
        .order_by("cell__code", "position"),
    )
    image = forms.FileField(
        label=_("Image"), help_text=_("The station camera's image of the dot-grid target (PNG or JPEG)")
    )
    pitch_mm = forms.FloatField(initial=10.0, min_value=0.5, max_value=100, label=_("Dot pitch (mm)"))


@login_required
def image(request: HttpRequest, sha256: str) -> FileResponse:
    """An inspection image: evidence, so only users who may see inspections get it."""
    if not request.user.has_perm("inspection.view_inspection"):
        raise PermissionDenied
    blob = get_object_or_404(ImageBlob, sha256=sha256)
    response = FileResponse(blob.file.open("rb"), content_type=blob.content_type)
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@login_required
def calibration(request: HttpRequest) -> HttpResponse:
    """Every inspection station's camera calibration, with a warning where it is missing or too old; quality
    engineers calibrate from an uploaded image of the target."""
    if roles.role_of(request.user) is None:  # every role reads it (operators see which scale they measure with)
        raise PermissionDenied
    can_calibrate = request.user.has_perm(CALIBRATE)
    form = CalibrationForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not can_calibrate:
            raise PermissionDenied
        if form.is_valid():
            station = form.cleaned_data["station"]
            try:
                done = calibrate_station(
                    station,
                    png=form.cleaned_data["image"].read(),
                    actor=request.user,
                    pitch_mm=form.cleaned_data["pitch_mm"],
                )
            except DomainError as refusal:
                messages.error(request, str(refusal))
            else:
                messages.success(
                    request,
                    gettext(
                        "%(station)s: %(scale)s px/mm (residual %(residual)s px): the next capture is measured with it."
                    )
                    % {
                        "station": station.code,
                        "scale": number_format(done.px_per_mm, 5),
                        "residual": number_format(done.residual_px, 3),
                    },
                )
                return redirect("calibration")
    cells = [(cell, selectors.calibration_overview(cell)) for cell in trace_selectors.cells_overview()]
    return render(
        request, "inspection/calibration.html", {"cells": cells, "form": form, "can_calibrate": can_calibrate}
    )
