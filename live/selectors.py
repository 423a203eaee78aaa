"""Reads for the live cell view: the snapshot a client (re)starts from, KPIs, chart data and a part's journey.

The database is the truth: a client that connects, reconnects or sees a gap in the event sequence fetches this
snapshot (`GET /api/cells/<id>/state/`) and then applies only events with a higher sequence number.

KPI definitions (also shown on the page):
- window: the last 8 hours, starting no earlier than the first part that entered the cell in them;
- planned production time = the window; run time = time in which at least one station held a part;
- a part is *completed* when it leaves the cell: out of the last station, or out of a station with a final
  status (rejects leave through the cobot failure-analysis station); its cycle time is its longest station
  dwell (stations work in parallel, so the slowest one paces the cell);
- availability = run time / planned time; performance = target cycle time x completed parts / run time;
  quality = good parts / completed parts (good: no NOK, or reworked to good); OEE = A x P x Q;
- first-pass yield = parts right first time / parts whose first pass is decided. Decided: completed, or failed
  already (a NOK station outcome or an inspection that did not pass), even while still awaiting review at the
  failure-analysis station: the Pareto counts those NOKs at once, so the yield must too. Right first time:
  completed with no NOK outcome, no inspection that did not pass, and not failed, scrapped, reworked or on hold.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

import redis
from django.apps import apps
from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from inspection.choices import DeviceHealth, Verdict
from inspection.models import EdgeDevice, Inspection
from inspection.selectors import device_health
from live.models import Alarm
from traceability import roles
from traceability.choices import PartStatus, StationKind, StationOutcome
from traceability.models import Cell, Part, Station, StationEvent
from twinweb.events import AlarmRow
from twinweb.live import current_sequence

WINDOW = dt.timedelta(hours=8)
BLOCKED_FACTOR = 2.0  # a part that dwells over 2x the target cycle time at a station is waiting: blocked
BOTTLENECK_SAMPLES = 20
RECENT_RESULTS = 12
CHART_POINTS = 200
INSPECTION_KINDS = (StationKind.VISUAL_INSPECTION, StationKind.DIMENSIONAL_INSPECTION)
# Only rejects visit the failure-analysis station and they dwell there for a human review: that time is not part
# of the line's takt, so it counts neither in cycle time nor for the bottleneck (nor for the slow-cycle andon).
OFF_TAKT_KINDS = (StationKind.FAILURE_ANALYSIS,)


class StationState:
    RUNNING = "running"
    IDLE = "idle"
    BLOCKED = "blocked"
    FAULT = "fault"
    STALE = "stale"


# --- Pure KPI arithmetic (known-answer tested) ----------------------------------------------------------


@dataclass(frozen=True)
class Oee:
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def oee(*, planned_s: float, run_s: float, ideal_cycle_s: float, total_count: int, good_count: int) -> Oee:
    """OEE = availability x performance x quality, each None when its denominator is zero."""
    availability = _ratio(run_s, planned_s)
    performance = _ratio(ideal_cycle_s * total_count, run_s)
    quality = _ratio(good_count, total_count)
    if availability is None or performance is None or quality is None:
        return Oee(availability, performance, quality, None)
    return Oee(availability, performance, quality, availability * performance * quality)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (the value at rank ceil(pct/100 x n)); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def union_length_s(intervals: Iterable[tuple[dt.datetime, dt.datetime]]) -> float:
    """Total length of the union of [start, end] intervals, in seconds."""
    total = 0.0
    current_start: dt.datetime | None = None
    current_end: dt.datetime | None = None
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if current_end is None or start > current_end:
            if current_start is not None and current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_start is not None and current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


# --- Devices ----------------------------------------------------------------------------------------------


def _device_row(device: EdgeDevice, now: dt.datetime) -> dict[str, Any]:
    health = device_health(device, now)
    telemetry = device.last_telemetry or {}
    fresh = health == DeviceHealth.ONLINE
    return {
        "device_id": device.device_id,
        "name": device.name,
        "hardware": device.hardware,
        "health": health.value,
        "backend": telemetry.get("backend") or device.backend,
        "precision": telemetry.get("precision") or device.precision,
        "model_version": telemetry.get("model_version") or device.model_version,
        "power_source": device.power_source,
        "last_heartbeat_at": _iso(device.last_heartbeat_at),
        # Readings only while fresh: a stale device shows "stale", never its last (frozen) values.
        "fps": telemetry.get("fps") if fresh else None,
        "power_mw": telemetry.get("power_mw") if fresh else None,
        "memory": telemetry.get("memory") if fresh else None,
        "temperature": telemetry.get("temperature") if fresh else None,
        "gpu_load": telemetry.get("gpu_load") if fresh else None,
    }


def _telemetry_history(devices: Sequence[EdgeDevice], since: dt.datetime) -> list[dict[str, Any]]:
    """Power and FPS over time from TelemetrySample (edge worker) when installed, else from inspections."""
    try:
        sample_model = apps.get_model("inspection", "TelemetrySample")
    except LookupError:
        sample_model = None
    if sample_model is not None and devices:
        field_names = {f.name for f in sample_model._meta.get_fields()}
        if {"device", "at"} <= field_names:
            rows = list(
                sample_model.objects.filter(device__in=devices, at__gte=since)
                .select_related("device")
                .order_by("-at")[:CHART_POINTS]
            )
            return [
                {
                    "at": _iso(row.at),
                    "device_id": row.device.device_id,
                    "power_mw": getattr(row, "power_mw", None),
                    "fps": getattr(row, "fps", None),
                }
                for row in reversed(rows)
            ]
    return []


# --- Snapshot ---------------------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def image_url(sha256: str | None) -> str | None:
    return reverse("image", args=[sha256]) if sha256 else None


def inspection_row(inspection: Inspection) -> dict[str, Any]:
    return {
        "result_id": str(inspection.result_id),
        "serial": inspection.part.serial,
        "station": inspection.station.code,
        "verdict": inspection.verdict,
        "defect_class": inspection.defect_class,
        "defect_confidence": inspection.defect_confidence,
        "latency_ms": inspection.latency_ms,
        "avg_power_mw": inspection.avg_power_mw,
        "energy_mj": inspection.energy_mj,
        "model_version": inspection.model_version,
        "backend": inspection.backend,
        "precision": inspection.precision,
        "captured_at": _iso(inspection.captured_at),
        "image_url": image_url(inspection.image.sha256 if inspection.image is not None else None),
    }


def alarm_record(alarm: Alarm) -> AlarmRow:
    """An alarm as the live page lists it: in the snapshot, the alarm API and the alarm events alike."""
    return AlarmRow(
        id=alarm.pk,
        rule=alarm.rule,
        rule_label=alarm.get_rule_display(),
        station=alarm.station.code if alarm.station is not None else None,
        device_id=alarm.device.device_id if alarm.device is not None else None,
        message=alarm.message,
        message_code=alarm.message_code,
        message_params=alarm.message_params,
        text=alarm.text(),
        raised_at=_iso(alarm.raised_at),
        cleared_at=_iso(alarm.cleared_at),
        acknowledged_at=_iso(alarm.acknowledged_at),
        acknowledged_by=alarm.acknowledged_by.get_username() if alarm.acknowledged_by is not None else None,
        ack_reason=alarm.ack_reason,
    )


def alarm_row(alarm: Alarm) -> dict[str, Any]:
    return alarm_record(alarm).to_payload()


def active_alarms(cell: Cell) -> list[Alarm]:
    return list(
        Alarm.objects.filter(cell=cell, cleared_at__isnull=True)
        .select_related("station", "device", "acknowledged_by")
        .order_by("-raised_at", "-id")
    )


class _EventRow(TypedDict):
    """A station event as `cell_snapshot` reads it (`StationEvent.objects.values(...)`)."""

    id: int
    part_id: int
    part__serial: str
    part__status: str
    station_id: int
    entered_at: dt.datetime
    left_at: dt.datetime | None
    outcome: str


def _station_state(*, has_part: bool, dwell_s: float | None, fault: bool, inputs_stale: bool, target_s: float) -> str:
    if fault:
        return StationState.FAULT
    if inputs_stale:
        return StationState.STALE
    if not has_part:
        return StationState.IDLE
    if dwell_s is not None and dwell_s > BLOCKED_FACTOR * target_s:
        return StationState.BLOCKED
    return StationState.RUNNING


@dataclass
class _CellWindow:
    """The rows a snapshot is computed from: the cell's last WINDOW of station events and inspections, its
    devices, active alarms and most recent results."""

    now: dt.datetime
    since: dt.datetime
    target_s: float
    stations: list[Station]
    off_takt_ids: set[int]
    events: list[_EventRow]
    inspections: list[Any]  # rows of .values(): part_id, station_id, verdict, defect_class, energy, capture time
    devices: list[EdgeDevice]
    alarms: list[Alarm]
    recent: list[Inspection]


def _read_window(cell: Cell, now: dt.datetime) -> _CellWindow:
    since = now - WINDOW
    stations = list(Station.objects.filter(cell=cell).order_by("position"))
    events: list[_EventRow] = list(
        StationEvent.objects.filter(station__cell=cell)
        .filter(_in_window(since))
        .values("id", "part_id", "part__serial", "part__status", "station_id", "entered_at", "left_at", "outcome")
        .order_by("entered_at", "id")
    )
    inspections = list(
        Inspection.objects.filter(station__cell=cell, captured_at__gte=since)
        .values(
            "part_id",
            "station_id",
            "verdict",
            "defect_class",
            "energy_mj",
            "avg_power_mw",
            "captured_at",
            "part__serial",
            "device__device_id",
        )
        .order_by("captured_at", "id")
    )
    recent = list(
        Inspection.objects.filter(station__cell=cell)
        .select_related("part", "station", "image")
        .order_by("-captured_at", "-id")[:RECENT_RESULTS]
    )
    return _CellWindow(
        now=now,
        since=since,
        target_s=float(cell.target_cycle_time_s),
        stations=stations,
        off_takt_ids={s.pk for s in stations if s.kind in OFF_TAKT_KINDS},
        events=events,
        inspections=inspections,
        devices=list(EdgeDevice.objects.filter(cell=cell).order_by("device_id")),
        alarms=active_alarms(cell),
        recent=recent,
    )


def _kpis(w: _CellWindow) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """OEE, first-pass yield, throughput and cycle times over the window, and the cycle chart's points."""
    now, since, events = w.now, w.since, w.events
    last_station = w.stations[-1] if w.stations else None
    window_events = [e for e in events if e["entered_at"] >= since or (e["left_at"] or now) >= since]
    # A part has left the cell when its latest station visit is over and that was the last station, or it was
    # taken out with a final status (rejects leave through the cobot failure-analysis station).
    latest_visit: dict[int, _EventRow] = {}
    for e in events:
        latest_visit[e["part_id"]] = e  # events are ordered by entry time
    completed_parts = {
        pid: e
        for pid, e in latest_visit.items()
        if e["left_at"] is not None
        and e["left_at"] >= since
        and last_station is not None
        and (e["station_id"] == last_station.pk or e["part__status"] != PartStatus.IN_PROCESS)
    }
    dwell_by_part: dict[int, list[float]] = defaultdict(list)
    nok_parts: set[int] = set()
    for e in events:
        if e["left_at"] is not None and e["station_id"] not in w.off_takt_ids:
            dwell_by_part[e["part_id"]].append((e["left_at"] - e["entered_at"]).total_seconds())
        if e["outcome"] == StationOutcome.NOK:
            nok_parts.add(e["part_id"])
    failed_inspection_parts = {i["part_id"] for i in w.inspections if i["verdict"] != Verdict.PASS}
    first_pass_decided = set(completed_parts) | nok_parts | failed_inspection_parts
    first_pass_ok = {
        pid
        for pid, e in completed_parts.items()
        if pid not in nok_parts
        and pid not in failed_inspection_parts
        and e["part__status"] not in (PartStatus.FAILED, PartStatus.SCRAPPED, PartStatus.REWORKED, PartStatus.ON_HOLD)
    }
    good = first_pass_ok | {pid for pid, e in completed_parts.items() if e["part__status"] == PartStatus.REWORKED}
    cycle_points: list[dict[str, Any]] = sorted(
        (
            {
                "serial": e["part__serial"],
                "cycle_s": round(max(dwell_by_part[pid]), 3),
                "completed_at": _iso(e["left_at"]),
            }
            for pid, e in completed_parts.items()
            if dwell_by_part.get(pid)
        ),
        key=lambda p: p["completed_at"] or "",
    )
    cycle_values = [p["cycle_s"] for p in cycle_points]
    first_entry = min((e["entered_at"] for e in window_events), default=None)
    planned_start = max(since, first_entry) if first_entry else now
    planned_s = max(0.0, (now - planned_start).total_seconds())
    run_s = union_length_s((max(e["entered_at"], planned_start), min(e["left_at"] or now, now)) for e in window_events)
    total = len(completed_parts)
    kpi = oee(planned_s=planned_s, run_s=run_s, ideal_cycle_s=w.target_s, total_count=total, good_count=len(good))
    kpis = {
        "window_start": _iso(planned_start),
        "planned_s": round(planned_s, 1),
        "run_s": round(run_s, 1),
        "completed": total,
        "good": len(good),
        "first_pass_ok": len(first_pass_ok),
        "first_pass_decided": len(first_pass_decided),
        "throughput_per_h": round(total / (planned_s / 3600.0), 1) if planned_s >= 60 else None,
        "first_pass_yield": _ratio(len(first_pass_ok), len(first_pass_decided)),
        **asdict(kpi),
        "cycle_mean_s": round(sum(cycle_values) / len(cycle_values), 2) if cycle_values else None,
        "cycle_p95_s": percentile(cycle_values, 95),
        "target_cycle_time_s": w.target_s,
    }
    return kpis, cycle_points


def _last_verdicts(w: _CellWindow) -> dict[int, dict[str, Any]]:
    """Each station's latest verdict: from the recent results, else from the window's inspections."""
    last_verdict: dict[int, dict[str, Any]] = {}
    for row in w.recent[::-1]:
        last_verdict[row.station_id] = {
            "verdict": row.verdict,
            "defect_class": row.defect_class,
            "serial": row.part.serial,
            "result_id": str(row.result_id),
            "at": _iso(row.captured_at),
        }
    for i in w.inspections:
        last_verdict.setdefault(
            i["station_id"],
            {
                "verdict": i["verdict"],
                "defect_class": i["defect_class"],
                "serial": i["part__serial"],
                "result_id": None,
                "at": _iso(i["captured_at"]),
            },
        )
    return last_verdict


def _station_rows(w: _CellWindow, device_rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dt.datetime | None]:
    """Each station's current part, state, latest verdict and mean cycle, the bottleneck marked; and when the
    cell last reported a station event."""
    now = w.now
    open_event: dict[int, _EventRow] = {}
    dwell_samples: dict[int, list[float]] = defaultdict(list)
    last_outcome: dict[int, str] = {}
    cell_last_event_at: dt.datetime | None = None
    for e in w.events:
        if e["left_at"] is None:
            open_event[e["station_id"]] = e  # the latest open event at a station holds its current part
        else:
            dwell_samples[e["station_id"]].append((e["left_at"] - e["entered_at"]).total_seconds())
            last_outcome[e["station_id"]] = e["outcome"]
        latest = e["left_at"] or e["entered_at"]
        cell_last_event_at = latest if cell_last_event_at is None else max(cell_last_event_at, latest)
    mean_dwell = {
        sid: sum(v[-BOTTLENECK_SAMPLES:]) / len(v[-BOTTLENECK_SAMPLES:])
        for sid, v in dwell_samples.items()
        if len(v) >= 3
    }
    takt_dwell = {sid: mean for sid, mean in mean_dwell.items() if sid not in w.off_takt_ids}
    bottleneck_id = max(takt_dwell, key=lambda sid: takt_dwell[sid]) if takt_dwell else None
    last_verdict = _last_verdicts(w)
    devices_stale = bool(device_rows) and any(d["health"] != DeviceHealth.ONLINE for d in device_rows)
    feed_silent = cell_last_event_at is not None and (
        (now - cell_last_event_at).total_seconds() > settings.TWINWEB_HEARTBEAT_OFFLINE_S
    )
    fault_stations = {a.station_id for a in w.alarms if a.station_id and a.rule != "stale_device"}
    station_rows = []
    for station in w.stations:
        current = open_event.get(station.pk)
        dwell = (now - current["entered_at"]).total_seconds() if current else None
        inspection_station = station.kind in INSPECTION_KINDS
        inputs_stale = (inspection_station and devices_stale) or (current is not None and feed_silent)
        station_rows.append(
            {
                "code": station.code,
                "name": station.name,
                "kind": station.kind,
                "position": station.position,
                "inspection": inspection_station,
                "part": {
                    "serial": current["part__serial"],
                    "status": current["part__status"],
                    "entered_at": _iso(current["entered_at"]),
                }
                if current
                else None,
                "dwell_s": round(dwell, 1) if dwell is not None else None,
                "state": _station_state(
                    has_part=current is not None,
                    dwell_s=dwell,
                    fault=station.pk in fault_stations,
                    inputs_stale=inputs_stale,
                    target_s=w.target_s,
                ),
                "fault": station.pk in fault_stations,
                "last_outcome": last_outcome.get(station.pk),
                "last_verdict": last_verdict.get(station.pk),
                "mean_cycle_s": round(mean_dwell[station.pk], 2) if station.pk in mean_dwell else None,
                "bottleneck": station.pk == bottleneck_id,
            }
        )
    return station_rows, cell_last_event_at


def _charts(w: _CellWindow, cycle_points: list[dict[str, Any]]) -> dict[str, Any]:
    """The cycle-time, defect Pareto, power and energy-per-part charts' data."""
    pareto = Counter(pareto_class(i["defect_class"]) for i in w.inspections if i["verdict"] == Verdict.FAIL)
    energy: dict[str, dict[str, Any]] = {}
    for i in w.inspections:
        if i["energy_mj"] is None:
            continue
        part_energy = energy.setdefault(
            i["part__serial"], {"serial": i["part__serial"], "energy_mj": 0.0, "inspections": 0}
        )
        part_energy["energy_mj"] = round(part_energy["energy_mj"] + i["energy_mj"], 3)
        part_energy["inspections"] += 1
    power = _telemetry_history(w.devices, w.since)
    if not power:
        power = [
            {
                "at": _iso(i["captured_at"]),
                "device_id": i["device__device_id"],
                "power_mw": i["avg_power_mw"],
                "fps": None,
            }
            for i in w.inspections[-CHART_POINTS:]
            if i["avg_power_mw"] is not None
        ]
    return {
        "cycle": cycle_points[-CHART_POINTS:],
        "pareto": [{"defect_class": k, "count": v} for k, v in pareto.most_common()],
        "power": power,
        "energy": list(energy.values())[-CHART_POINTS:],
    }


def cell_snapshot(cell: Cell, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything the live page draws, as of now, with the sequence number it is current to."""
    # Read the sequence first: every event up to it was published after its commit, so the rows read below
    # include it; later events carry higher numbers and the client applies them on top.
    degraded: str | None = None
    try:
        seq: int | None = current_sequence(cell.pk)
    except redis.RedisError as exc:  # the database still answers: serve its truth, say the stream is down
        seq, degraded = None, f"event bus unreachable: {type(exc).__name__}"
    w = _read_window(cell, now or timezone.now())
    kpis, cycle_points = _kpis(w)
    device_rows = [_device_row(d, w.now) for d in w.devices]
    station_rows, cell_last_event_at = _station_rows(w, device_rows)
    return {
        "seq": seq,
        "degraded": degraded,
        "server_time": _iso(w.now),
        "cell": {"id": cell.pk, "code": cell.code, "name": cell.name, "target_cycle_time_s": w.target_s},
        "thresholds": {
            "device_stale_s": settings.TWINWEB_HEARTBEAT_STALE_S,
            "device_offline_s": settings.TWINWEB_HEARTBEAT_OFFLINE_S,
            "blocked_factor": BLOCKED_FACTOR,
        },
        "cell_last_event_at": _iso(cell_last_event_at),
        "stations": station_rows,
        "bottleneck": next((s["code"] for s in station_rows if s["bottleneck"]), None),
        "kpis": kpis,
        "charts": _charts(w, cycle_points),
        "devices": device_rows,
        "alarms": [alarm_row(a) for a in w.alarms],
        "recent": [inspection_row(i) for i in w.recent],
    }


def pareto_class(defect_class: str | None) -> str:
    """The Pareto bar of a failed inspection: its defect class, or "out of tolerance" when the classifier saw
    no surface defect (the part failed on its measurements)."""
    return defect_class if defect_class and defect_class != "ok" else "out of tolerance"


def _in_window(since: dt.datetime) -> Q:
    """Station events in the window, plus parts still sitting at a station whatever their age."""
    return Q(entered_at__gte=since) | Q(left_at__gte=since) | Q(left_at__isnull=True)


# --- Part journey (replay) ------------------------------------------------------------------------------


def part_journey(cell: Cell, serial: str) -> dict[str, Any] | None:
    """A part's path through the cell's stations with real timestamps, verdicts and images; None if unknown.

    Each inspection belongs to the visit of its station that was under way when it was captured (the latest one
    entered before it, else the first). Inspections at a station the part has no recorded visit of (station
    events missing, e.g. results from an edge device with no PLC feed) are kept in `inspections_without_visit`
    rather than dropped."""
    part = Part.objects.select_related("part_type", "batch").filter(serial=serial).first()
    if part is None:
        return None
    events = list(
        StationEvent.objects.filter(part=part, station__cell=cell)
        .select_related("station")
        .order_by("entered_at", "id")
    )
    inspections = list(
        Inspection.objects.filter(part=part, station__cell=cell)
        .select_related("station", "image", "part")
        .order_by("captured_at", "id")
    )
    visits: dict[int, list[int]] = defaultdict(list)  # station id -> indexes into events, in entry order
    for index, e in enumerate(events):
        visits[e.station_id].append(index)
    by_visit: dict[int, list[dict[str, Any]]] = defaultdict(list)
    without_visit: list[dict[str, Any]] = []
    for inspection in inspections:
        row = {**inspection_row(inspection), "station_name": inspection.station.name}
        candidates = visits.get(inspection.station_id)
        if not candidates:
            without_visit.append(row)
            continue
        entered_before = [i for i in candidates if events[i].entered_at <= inspection.captured_at]
        by_visit[entered_before[-1] if entered_before else candidates[0]].append(row)
    steps = [
        {
            "station": e.station.code,
            "station_name": e.station.name,
            "position": e.station.position,
            "entered_at": _iso(e.entered_at),
            "left_at": _iso(e.left_at),
            "outcome": e.outcome,
            "duration_s": e.duration_s,
            "inspections": by_visit.get(index, []),
        }
        for index, e in enumerate(events)
    ]
    return {
        "serial": part.serial,
        "part_type": part.part_type.code,
        "batch": part.batch.batch_number,
        "status": part.status,
        "steps": steps,
        "inspections_without_visit": without_visit,
        "stations": [
            {"code": s.code, "name": s.name, "kind": s.kind, "position": s.position}
            for s in Station.objects.filter(cell=cell).order_by("position")
        ],
    }


def recent_serials(cell: Cell, limit: int = 30) -> list[str]:
    """Serials last seen in the cell: with a station visit or an inspection there."""
    return list(
        Part.objects.filter(Q(station_events__station__cell=cell) | Q(inspections__station__cell=cell))
        .order_by("-created_at")
        .values_list("serial", flat=True)
        .distinct()[:limit]
    )


def can_acknowledge_alarm(user: Any, cell: Cell) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(roles.ACK_ALARM))
