"""Reads about edge devices (is a device online, stale or offline? Sparkplug's rule: values go STALE when the device
stops reporting, they are not frozen) and about the stations' camera calibrations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from inspection.choices import DeviceHealth
from inspection.models import EdgeDevice, StationCalibration
from traceability.choices import StationKind
from traceability.models import Cell, Station

INSPECTION_STATION_KINDS = (StationKind.VISUAL_INSPECTION, StationKind.DIMENSIONAL_INSPECTION)


def device_health(device: EdgeDevice, now: dt.datetime) -> DeviceHealth:
    """online while heartbeats are fresher than TWINWEB_HEARTBEAT_STALE_S, stale until
    TWINWEB_HEARTBEAT_OFFLINE_S, offline after; never_seen before the first heartbeat."""
    if device.last_heartbeat_at is None:
        return DeviceHealth.NEVER_SEEN
    age = (now - device.last_heartbeat_at).total_seconds()
    if age <= settings.TWINWEB_HEARTBEAT_STALE_S:
        return DeviceHealth.ONLINE
    if age <= settings.TWINWEB_HEARTBEAT_OFFLINE_S:
        return DeviceHealth.STALE
    return DeviceHealth.OFFLINE


# --- Station calibration -------------------------------------------------------------------------------------


def current_calibration(station: Station) -> StationCalibration | None:
    return StationCalibration.objects.filter(station=station).order_by("-calibrated_at", "-id").first()


def calibration_is_stale(calibration: StationCalibration | None, *, now: dt.datetime | None = None) -> bool:
    """A station with no calibration, or one older than TWINWEB_CALIBRATION_MAX_AGE_DAYS, warns."""
    if calibration is None:
        return True
    age = (now or timezone.now()) - calibration.calibrated_at
    return age > dt.timedelta(days=float(settings.TWINWEB_CALIBRATION_MAX_AGE_DAYS))


def calibration_overview(cell: Cell) -> list[dict[str, Any]]:
    """Each inspection station of the cell with its current calibration and whether it is stale."""
    rows = []
    for station in Station.objects.filter(cell=cell, kind__in=INSPECTION_STATION_KINDS).order_by("position"):
        calibration = current_calibration(station)
        rows.append({"station": station, "calibration": calibration, "stale": calibration_is_stale(calibration)})
    return rows
