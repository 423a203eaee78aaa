"""Calibrating a station's camera: px per mm from an image of the dot-grid target (edge_worker.vision.calibrate),
stored per station with its residual, who and when. A target that is not found, or a fit whose residual is over
TWINWEB_CALIBRATION_MAX_RESIDUAL_PX, is refused with the reason and nothing is stored."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext

from edge_worker.vision.calibrate import TARGET_PITCH_MM, calibrate_from_dot_grid
from edge_worker.vision.errors import ImageError, MeasurementError
from edge_worker.vision.inspect import decode_image
from inspection.actions.ingest import png_size, write_image_file
from inspection.models import ImageBlob, StationCalibration
from traceability import audit
from traceability.actions import signed_in_user
from traceability.errors import RefusedByRule
from traceability.models import Station


def calibrate_station(
    station: Station, *, png: bytes, actor: Any, pitch_mm: float = TARGET_PITCH_MM
) -> StationCalibration:
    """Measure the station camera's scale from an image of the calibration target and make it current."""
    try:
        image = decode_image(png, expected_size=None)
        fit = calibrate_from_dot_grid(image, pitch_mm=pitch_mm)
    except (ImageError, MeasurementError) as exc:
        raise RefusedByRule(
            gettext("Calibration of %(station)s refused: %(problem)s.") % {"station": station.code, "problem": exc}
        ) from None
    limit = float(settings.TWINWEB_CALIBRATION_MAX_RESIDUAL_PX)
    if fit.residual_px > limit:
        raise RefusedByRule(
            gettext(
                "Calibration of %(station)s refused: the dots sit %(residual)s px (RMS) off a regular grid, over the "
                "limit of %(limit)s px (a bent target, a tilted camera or a blurred image). Nothing was stored."
            )
            % {
                "station": station.code,
                "residual": number_format(fit.residual_px, 3),
                "limit": number_format(limit),
            }
        )
    sha = hashlib.sha256(png).hexdigest()
    name = write_image_file(sha, png)  # before the transaction: file I/O stays outside it
    width, height = png_size(png) or (image.shape[1], image.shape[0])
    return _store(
        station, fit=fit, pitch_mm=pitch_mm, sha=sha, name=name, size=(width, height), length=len(png), actor=actor
    )


@transaction.atomic
def _store(
    station: Station, *, fit: Any, pitch_mm: float, sha: str, name: str, size: tuple[int, int], length: int, actor: Any
) -> StationCalibration:
    now = timezone.now()
    blob, _ = ImageBlob.objects.get_or_create(
        sha256=sha, defaults={"file": name, "size_bytes": length, "width": size[0], "height": size[1], "stored_at": now}
    )
    calibration = StationCalibration(
        station=station,
        px_per_mm=fit.px_per_mm,
        residual_px=fit.residual_px,
        dots=fit.dots,
        pitch_mm=pitch_mm,
        lens_k1=fit.k1,
        distortion_px=fit.distortion_px,
        image=blob,
        calibrated_at=now,
        calibrated_by=signed_in_user(actor),
    )
    calibration.full_clean()
    calibration.save()
    audit.append(
        actor=actor,
        action="station.calibrate",
        subject=station,
        after={
            "px_per_mm": round(fit.px_per_mm, 6),
            "residual_px": round(fit.residual_px, 4),
            "lens_k1": round(fit.k1, 6),
            "distortion_px": round(fit.distortion_px, 3),
            "dots": fit.dots,
            "pitch_mm": pitch_mm,
            "image_sha256": sha,
        },
    )
    return calibration
