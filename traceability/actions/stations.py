"""Station events: a part enters a station and leaves it with an outcome."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from traceability import audit
from traceability.actions.common import Actor
from traceability.choices import StationOutcome
from traceability.errors import RefusedByRule
from traceability.models import Part, Station, StationEvent
from twinweb.events import StationEntered, StationLeft
from twinweb.live import publish_on_commit


@transaction.atomic
def record_station_entry(
    part: Part,
    *,
    station: Station,
    actor: Actor,
    at: dt.datetime | None = None,
    parameters: dict[str, Any] | None = None,
) -> StationEvent:
    event = StationEvent(part=part, station=station, entered_at=at or timezone.now(), parameters=parameters or {})
    event.full_clean()
    event.save()
    audit.append(
        actor=actor, action="station.enter", subject=part, after={"station": station.code, "at": event.entered_at}
    )
    publish_on_commit(
        station.cell_id,
        StationEntered(
            station=station.code,
            serial=part.serial,
            at=event.entered_at.isoformat(),
        ),
    )
    return event


@transaction.atomic
def record_station_exit(
    event: StationEvent,
    *,
    outcome: StationOutcome,
    actor: Actor,
    at: dt.datetime | None = None,
    parameters: dict[str, Any] | None = None,
) -> StationEvent:
    if event.left_at is not None:
        raise RefusedByRule(f"Part {event.part_id} already left station {event.station_id}.")
    event.left_at = at or timezone.now()
    event.outcome = outcome
    if parameters:
        event.parameters = {**event.parameters, **parameters}
    event.full_clean()
    event.save(update_fields=["left_at", "outcome", "parameters"])
    audit.append(
        actor=actor,
        action="station.leave",
        subject=event.part,
        after={"station": event.station.code, "at": event.left_at, "outcome": outcome, "parameters": parameters or {}},
    )
    publish_on_commit(
        event.station.cell_id,
        StationLeft(
            station=event.station.code,
            serial=event.part.serial,
            outcome=outcome,
            at=event.left_at.isoformat(),
            duration_s=event.duration_s,
        ),
    )
    return event
