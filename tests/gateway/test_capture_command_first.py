"""The capture command of an inspection station's cycle start leaves before the station's live event: both are sent
after the event's commit, and the camera (on the path of every inspection) must not wait for a page notification."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gateway.actions import record_cycle_event
from gateway.address_space import CycleEvent, EventKind
from gateway.models import CycleRecord
from inspection.models import EdgeDevice
from tests.support import factories
from traceability.models import Station
from twinweb import live
from twinweb.celery import app


def start_event(station: str, sequence: int, serial: str) -> CycleEvent:
    return CycleEvent(
        station=station,
        boot_id="boot-capture-first",
        sequence=sequence,
        kind=EventKind.CYCLE_START,
        serial=serial,
        part_type="CF-80",
        start_time=dt.datetime.now(dt.UTC),
        end_time=None,
        outcome=None,
        fault_code=0,
        lots=(),
    )


@pytest.mark.django_db(transaction=True)
def test_it_sends_the_capture_command_before_the_stations_live_event(monkeypatch: Any) -> None:
    cell = factories.make_cell(code="capture-first")
    factories.make_part_type(code="CF-80")
    EdgeDevice.objects.create(device_id="jetson-capture-first", cell=cell, name="Capture-first device")
    sent: list[str] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, queue: sent.append(f"capture to {queue}"))
    monkeypatch.setattr(live, "publish", lambda cell_id, event: sent.append(event.type))
    stations = {s.code: s for s in Station.objects.select_related("cell").filter(cell=cell)}
    record_cycle_event(stations["load"], start_event("load", 1, "CF-80-PFIRST-00001"), source="test")
    sent.clear()

    record = record_cycle_event(stations["visual"], start_event("visual", 1, "CF-80-PFIRST-00001"), source="test")

    assert record is not None and record.capture_id is not None
    assert sent[0] == "capture to edge.jetson-capture-first"
    assert "station.entered" in sent[1:]
    assert CycleRecord.objects.get(pk=record.pk).station_event is not None


@pytest.mark.django_db(transaction=True)
def test_it_records_the_station_entry_of_a_cell_with_no_edge_device(monkeypatch: Any) -> None:
    cell = factories.make_cell(code="capture-none")
    factories.make_part_type(code="CF-80")
    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: pytest.fail("no device: no capture command"))
    stations = {s.code: s for s in Station.objects.select_related("cell").filter(cell=cell)}
    record_cycle_event(stations["load"], start_event("load", 1, "CF-80-PNONE-00001"), source="test")

    record = record_cycle_event(stations["visual"], start_event("visual", 1, "CF-80-PNONE-00001"), source="test")

    assert record is not None and record.capture_id is None and record.station_event is not None
