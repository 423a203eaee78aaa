"""Registering edge devices (the ingest refuses results from devices it does not know)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from inspection.models import EdgeDevice
from traceability import actions as trace_actions
from traceability.models import Cell


@transaction.atomic
def register_edge_device(
    device_id: str, *, cell: Cell, actor: Any, name: str = "", hardware: str = ""
) -> tuple[EdgeDevice, bool]:
    """The device with this id, registered for `cell` if it was not yet (audited). Returns (device, created)."""
    existing = EdgeDevice.objects.filter(device_id=device_id).first()
    if existing is not None:
        return existing, False
    device = EdgeDevice(device_id=device_id, name=name or f"Edge device {device_id}", cell=cell, hardware=hardware)
    trace_actions.save_record(device, actor=actor, reason="edge device registered")
    return device, True
