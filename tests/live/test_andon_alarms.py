"""Andon alarms: raised by rules, cleared by rules, acknowledged by people with a reason (audited)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from inspection.models import EdgeDevice
from live import actions as alarms
from live.choices import AlarmRule
from live.models import Alarm
from tests.support import factories
from tests.support import live_builders as builders
from traceability.choices import StationKind
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db


def inspect_in_a_row(cell: Any, verdicts: list[str], *, station_code: str = "visual") -> None:
    batch = builders.batch_for(cell)
    station = next(s for s in builders.stations(cell) if s.code == station_code)
    start = timezone.now() - dt.timedelta(minutes=5)
    for i, verdict in enumerate(verdicts):
        part = factories.make_part(batch)
        builders.inspect(
            part,
            station,
            at=start + dt.timedelta(seconds=15 * i),
            verdict=verdict,
            defect_class="dent" if verdict == "fail" else "",
        )


def test_it_raises_an_alarm_for_three_nok_in_a_row_at_a_station_once(cell: Any) -> None:
    inspect_in_a_row(cell, ["pass", "fail", "fail"])
    assert alarms.evaluate_cell_alarms(cell) == []
    inspect_in_a_row(cell, ["fail"])
    [alarm] = alarms.evaluate_cell_alarms(cell)
    assert alarm.rule == AlarmRule.NOK_STREAK and alarm.station.code == "visual" and alarm.is_active
    assert len(alarm.evidence["serials"]) == 3
    assert alarms.evaluate_cell_alarms(cell) == [], "re-evaluating raises no duplicate"
    assert AuditRecord.objects.filter(action="alarm.raise").count() == 1


def test_it_clears_the_nok_alarm_at_the_next_good_result(cell: Any) -> None:
    inspect_in_a_row(cell, ["fail", "fail", "fail"])
    [alarm] = alarms.evaluate_cell_alarms(cell)
    inspect_in_a_row(cell, ["pass"])
    [cleared] = alarms.evaluate_cell_alarms(cell)
    assert cleared.pk == alarm.pk and cleared.cleared_at is not None
    assert not Alarm.objects.filter(cell=cell, cleared_at__isnull=True).exists()


def test_it_raises_an_alarm_when_ten_parts_run_over_target_by_twenty_percent(cell: Any) -> None:
    batch = builders.batch_for(cell)
    dimensional = builders.stations(cell)[2]
    start = timezone.now() - dt.timedelta(minutes=20)
    for i in range(9):
        builders.visit(
            factories.make_part(batch), dimensional, entered=start + dt.timedelta(seconds=30 * i), dwell_s=18.5
        )
    assert alarms.evaluate_cell_alarms(cell) == [], "nine slow parts are not ten"
    builders.visit(factories.make_part(batch), dimensional, entered=start + dt.timedelta(seconds=300), dwell_s=18.1)
    [alarm] = alarms.evaluate_cell_alarms(cell)
    assert alarm.rule == AlarmRule.SLOW_CYCLE and alarm.station == dimensional
    assert alarm.evidence["limit_s"] == 18.0


def test_it_raises_no_slow_cycle_alarm_for_human_reviews_at_the_failure_analysis_station(cell: Any) -> None:
    batch = builders.batch_for(cell)
    cobot = builders.stations(cell)[3]
    assert cobot.kind == StationKind.FAILURE_ANALYSIS
    start = timezone.now() - dt.timedelta(minutes=20)
    for i in range(12):
        builders.visit(factories.make_part(batch), cobot, entered=start + dt.timedelta(seconds=60 * i), dwell_s=45)
    assert alarms.evaluate_cell_alarms(cell) == []


def test_it_raises_an_alarm_for_a_stale_edge_device_and_clears_it_on_the_next_heartbeat(cell: Any) -> None:
    device = EdgeDevice.objects.create(
        device_id="jetson-a", name="Jetson", cell=cell, last_heartbeat_at=timezone.now() - dt.timedelta(seconds=30)
    )
    [alarm] = alarms.evaluate_cell_alarms(cell)
    assert alarm.rule == AlarmRule.STALE_DEVICE and alarm.device == device
    device.last_heartbeat_at = timezone.now()
    device.save()
    [cleared] = alarms.evaluate_cell_alarms(cell)
    assert cleared.cleared_at is not None


def test_it_shows_a_station_with_an_active_alarm_as_fault(login: Any, supervisor: Any, cell: Any) -> None:
    inspect_in_a_row(cell, ["fail", "fail", "fail"])
    alarms.evaluate_cell_alarms(cell)
    state = login(supervisor).get(reverse("cell-state", args=[cell.pk])).json()
    assert {s["code"]: s["state"] for s in state["stations"]}["visual"] == "fault"
    [row] = state["alarms"]
    assert row["rule"] == "nok_streak" and row["acknowledged_at"] is None


def ack(client: Any, cell: Any, alarm: Alarm, reason: str) -> Any:
    return client.post(
        reverse("alarm-acknowledge", args=[cell.pk, alarm.pk]),
        data=json.dumps({"reason": reason}),
        content_type="application/json",
    )


def test_it_acknowledges_an_alarm_with_a_reason_in_the_audit_trail(login: Any, operator: Any, cell: Any) -> None:
    inspect_in_a_row(cell, ["fail", "fail", "fail"])
    [alarm] = alarms.evaluate_cell_alarms(cell)
    response = ack(login(operator), cell, alarm, "Camera lens cleaned, watching next parts")
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "olivia"
    alarm.refresh_from_db()
    assert alarm.acknowledged_by == operator and alarm.ack_reason.startswith("Camera lens")
    assert alarm.is_active, "acknowledging does not clear: the rule does"
    record = AuditRecord.objects.get(action="alarm.acknowledge")
    assert record.actor == operator and json.loads(record.payload)["reason"].startswith("Camera lens")


def test_it_refuses_an_acknowledgement_without_a_reason_or_twice(login: Any, operator: Any, cell: Any) -> None:
    inspect_in_a_row(cell, ["fail", "fail", "fail"])
    [alarm] = alarms.evaluate_cell_alarms(cell)
    client = login(operator)
    assert ack(client, cell, alarm, "   ").status_code == 400
    assert ack(client, cell, alarm, "seen").status_code == 200
    assert ack(client, cell, alarm, "seen again").status_code == 409
    assert AuditRecord.objects.filter(action="alarm.acknowledge").count() == 1


def test_it_answers_a_body_that_is_not_an_object_with_400(login: Any, operator: Any, cell: Any) -> None:
    inspect_in_a_row(cell, ["fail", "fail", "fail"])
    [alarm] = alarms.evaluate_cell_alarms(cell)
    for body in ("[1, 2]", '"seen"', "42"):
        response = login(operator).post(
            reverse("alarm-acknowledge", args=[cell.pk, alarm.pk]), data=body, content_type="application/json"
        )
        assert response.status_code == 400, body
    assert not AuditRecord.objects.filter(action="alarm.acknowledge").exists()


def test_it_refuses_acknowledgement_to_roles_that_only_watch(login: Any, auditor: Any, cell: Any) -> None:
    inspect_in_a_row(cell, ["fail", "fail", "fail"])
    [alarm] = alarms.evaluate_cell_alarms(cell)
    assert ack(login(auditor), cell, alarm, "I am only auditing").status_code == 403
    alarm.refresh_from_db()
    assert alarm.acknowledged_at is None
