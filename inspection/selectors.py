"""Reads about edge devices: is a device online, stale or offline? (Sparkplug's rule: values go STALE when the
device stops reporting, they are not frozen.)"""
from __future__ import annotations

import datetime as dt

from django.conf import settings

from inspection.choices import DeviceHealth
from inspection.models import EdgeDevice


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
