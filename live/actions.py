"""Andon alarms: rules evaluated on the cell's recent history, raised and cleared idempotently, acknowledged by
people with a reason. Every change is audited inside its transaction and announced after commit.

Rules (per station unless noted):
- nok_streak: the last three results at a station are NOK (failed/errored inspections at inspection stations,
  NOK station outcomes elsewhere); cleared by the next OK result.
- slow_cycle: the last ten parts at a line station each dwelt over 1.2 x the cell's target cycle time; cleared
  when the latest part is back within it. The failure-analysis station is off the takt (a human review) and exempt.
- stale_device (per edge device of the cell): no heartbeat for TWINWEB_HEARTBEAT_STALE_S; cleared by the next
  heartbeat.

`evaluate_cell_alarms` is called by `python manage.py watch_andon` (a loop, one per deployment) and may be
called after any ingest; calling it twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from inspection.choices import DeviceHealth, Verdict
from inspection.models import EdgeDevice, Inspection
from inspection.selectors import device_health
from live.alarm_texts import AlarmText as AlarmText  # other apps word their alarms with these (the public face of live)
from live.alarm_texts import nested as nested
from live.choices import EVENT_RULES, AlarmRule
from live.models import Alarm
from live.selectors import OFF_TAKT_KINDS, alarm_record, can_acknowledge_alarm
from traceability import audit
from traceability.actions import Actor, signed_in_user
from traceability.choices import StationOutcome
from traceability.errors import RefusedByRule
from traceability.models import Cell, Station, StationEvent
from twinweb.events import AlarmAcknowledged, AlarmCleared, AlarmRaised
from twinweb.live import publish_on_commit

NOK_STREAK = 3
SLOW_CYCLE_PARTS = 10
SLOW_CYCLE_FACTOR = 1.2
STALE_TEXT = gettext_noop("Edge device %(device)s is stale: no heartbeat")
STALE_DEVICE_TEXTS = {DeviceHealth.OFFLINE: gettext_noop("Edge device %(device)s is offline: no heartbeat")}


@dataclass(frozen=True)
class RuleFinding:
    rule: AlarmRule
    station: Station | None
    device: EdgeDevice | None
    holds: bool
    text: AlarmText
    evidence: dict[str, Any]


def _nok_findings(cell: Cell, stations: list[Station]) -> list[RuleFinding]:
    findings = []
    for station in stations:
        verdicts = list(
            Inspection.objects.filter(station=station)
            .order_by("-captured_at", "-id")
            .values_list("verdict", "part__serial")[:NOK_STREAK]
        )
        if verdicts:
            results = [(v != Verdict.PASS, serial) for v, serial in verdicts]
        else:
            outcomes = list(
                StationEvent.objects.filter(station=station, left_at__isnull=False)
                .exclude(outcome=StationOutcome.SKIPPED)
                .order_by("-left_at", "-id")
                .values_list("outcome", "part__serial")[:NOK_STREAK]
            )
            results = [(o == StationOutcome.NOK, serial) for o, serial in outcomes]
        holds = len(results) == NOK_STREAK and all(nok for nok, _ in results)
        findings.append(
            RuleFinding(
                rule=AlarmRule.NOK_STREAK,
                station=station,
                device=None,
                holds=holds,
                text=AlarmText(
                    gettext_noop("%(station)s: %(count)s NOK in a row"), {"station": station.name, "count": NOK_STREAK}
                ),
                evidence={"serials": [serial for _, serial in reversed(results)]},
            )
        )
    return findings


def _slow_cycle_findings(cell: Cell, stations: list[Station]) -> list[RuleFinding]:
    limit_s = SLOW_CYCLE_FACTOR * float(cell.target_cycle_time_s)
    findings = []
    for station in stations:
        if station.kind in OFF_TAKT_KINDS:
            continue
        events = cast(
            "list[tuple[dt.datetime, dt.datetime, str]]",
            list(  # left_at__isnull=False: never None
                StationEvent.objects.filter(station=station, left_at__isnull=False)
                .order_by("-left_at", "-id")
                .values_list("entered_at", "left_at", "part__serial")[:SLOW_CYCLE_PARTS]
            ),
        )
        durations = [(left - entered).total_seconds() for entered, left, _ in events]
        holds = len(durations) == SLOW_CYCLE_PARTS and all(d > limit_s for d in durations)
        findings.append(
            RuleFinding(
                rule=AlarmRule.SLOW_CYCLE,
                station=station,
                device=None,
                holds=holds,
                text=AlarmText(
                    gettext_noop("%(station)s: cycle time over %(limit_s)s s for %(parts)s parts"),
                    {"station": station.name, "limit_s": limit_s, "parts": SLOW_CYCLE_PARTS},
                ),
                evidence={"limit_s": limit_s, "durations_s": [round(d, 2) for d in reversed(durations)]},
            )
        )
    return findings


def _stale_device_findings(cell: Cell, now: dt.datetime) -> list[RuleFinding]:
    findings = []
    for device in EdgeDevice.objects.filter(cell=cell):
        health = device_health(device, now)
        findings.append(
            RuleFinding(
                rule=AlarmRule.STALE_DEVICE,
                station=None,
                device=device,
                holds=health in (DeviceHealth.STALE, DeviceHealth.OFFLINE),
                text=AlarmText(STALE_DEVICE_TEXTS.get(health, STALE_TEXT), {"device": device.device_id}),
                evidence={
                    "last_heartbeat_at": device.last_heartbeat_at.isoformat() if device.last_heartbeat_at else None
                },
            )
        )
    return findings


@transaction.atomic(durable=True)
def evaluate_cell_alarms(cell: Cell, *, now: dt.datetime | None = None) -> list[Alarm]:
    """Raise alarms whose rule now holds and clear those whose rule no longer does. Returns the changed alarms."""
    now = now or timezone.now()
    stations = list(Station.objects.filter(cell=cell).order_by("position"))
    findings = [
        *_nok_findings(cell, stations),
        *_slow_cycle_findings(cell, stations),
        *_stale_device_findings(cell, now),
    ]
    active = {
        (a.rule, a.station_id, a.device_id): a
        for a in Alarm.objects.select_for_update(of=("self",))
        .filter(cell=cell, cleared_at__isnull=True)
        .select_related("station", "device", "acknowledged_by")
    }
    changed: list[Alarm] = []
    for finding in findings:
        key = (
            finding.rule.value,
            finding.station.pk if finding.station else None,
            finding.device.pk if finding.device else None,
        )
        alarm = active.get(key)
        if finding.holds and alarm is None:
            alarm = Alarm(
                cell=cell,
                rule=finding.rule,
                station=finding.station,
                device=finding.device,
                evidence=finding.evidence,
                raised_at=now,
            )
            alarm.set_text(finding.text)
            changed.append(_raise(alarm))
        elif not finding.holds and alarm is not None:
            alarm.cleared_at = now
            alarm.save(update_fields=["cleared_at"])
            audit.append(actor=None, action="alarm.clear", subject=alarm, after={"rule": alarm.rule, "cleared_at": now})
            publish_on_commit(cell.pk, AlarmCleared(alarm=alarm_record(alarm)))
            changed.append(alarm)
    return changed


@transaction.atomic
def raise_event_alarm(
    cell: Cell, *, rule: AlarmRule, station: Station | None, text: AlarmText, evidence: dict[str, Any]
) -> Alarm:
    """An alarm for something that happened (PLC events lost on the cell link): raised once while active, with each
    further occurrence added to its evidence; it clears when a person acknowledges it."""
    alarm = (
        Alarm.objects.select_for_update(of=("self",))
        .filter(cell=cell, rule=rule, station=station, device__isnull=True, cleared_at__isnull=True)
        .first()
    )
    if alarm is not None:
        occurrences = [*alarm.evidence.get("occurrences", []), evidence][-50:]
        alarm.evidence = {**alarm.evidence, "occurrences": occurrences}
        alarm.set_text(text)
        alarm.save(update_fields=["evidence", "message", "message_code", "message_params"])
        audit.append(actor=None, action="alarm.repeat", subject=alarm, after={"rule": rule, "evidence": evidence})
        return alarm
    alarm = Alarm(
        cell=cell,
        rule=rule,
        station=station,
        evidence={"occurrences": [evidence]},
        raised_at=timezone.now(),
    )
    alarm.set_text(text)
    return _raise(alarm)


def _raise(alarm: Alarm) -> Alarm:
    """Store a new alarm, audit it and announce it after commit (inside the caller's transaction)."""
    alarm.full_clean()
    alarm.save()
    audit.append(
        actor=None,
        action="alarm.raise",
        subject=alarm,
        after={"rule": alarm.rule, "message": alarm.message, "evidence": alarm.evidence},
    )
    publish_on_commit(alarm.cell_id, AlarmRaised(alarm=alarm_record(alarm)))
    return alarm


@transaction.atomic(durable=True)
def acknowledge_alarm(alarm: Alarm, *, actor: Actor, reason: str) -> Alarm:
    """A person takes note of an alarm and says why/what they do about it. The rule still decides clearing."""
    if not can_acknowledge_alarm(actor, alarm.cell):
        raise PermissionDenied(gettext("Your role may not acknowledge alarms."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": gettext("Say why you acknowledge this alarm.")})
    alarm = Alarm.objects.select_for_update(of=("self",)).select_related("station", "device").get(pk=alarm.pk)
    if alarm.rule == AlarmRule.SPC:
        raise RefusedByRule(
            gettext(
                "An SPC alarm is acknowledged on its characteristic's SPC page, with an assignable cause and a "
                "corrective action."
            )
        )
    if alarm.acknowledged_at is not None:
        raise RefusedByRule(
            gettext("Alarm %(alarm)s was already acknowledged by %(who)s.")
            % {"alarm": alarm.pk, "who": alarm.acknowledged_by}
        )
    alarm.acknowledged_by = signed_in_user(actor)  # the actor: can_acknowledge_alarm admits only a signed-in user
    alarm.acknowledged_at = timezone.now()
    alarm.ack_reason = reason
    if alarm.rule in EVENT_RULES:  # nothing re-evaluates an event: seen and answered is done
        alarm.cleared_at = alarm.acknowledged_at
    alarm.full_clean()
    alarm.save(update_fields=["acknowledged_by", "acknowledged_at", "ack_reason", "cleared_at"])
    audit.append(
        actor=actor,
        action="alarm.acknowledge",
        subject=alarm,
        before={"acknowledged_at": None},
        after={"rule": alarm.rule, "message": alarm.message, "acknowledged_at": alarm.acknowledged_at},
        reason=reason,
    )
    publish_on_commit(alarm.cell_id, AlarmAcknowledged(alarm=alarm_record(alarm)))
    if alarm.cleared_at is not None:
        publish_on_commit(alarm.cell_id, AlarmCleared(alarm=alarm_record(alarm)))
    return alarm
