"""Edge profiling writes: request a run (queue the job on the device) and store the report the device sends.

`store_profiling_run` is idempotent on the run id: a redelivered report stores nothing a second time. A report
whose run id the server never issued (a run started on the device itself) is stored as a new run of that device.
The report is validated before anything is written; nothing slow happens inside the transaction.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from edge_worker.messages import INGEST_QUEUE, edge_queue
from edge_worker.profiling import (
    PHASES,
    PROFILE_TASK,
    SCHEMA_VERSION,
    VARIANT_KEYS,
    ProfileConfig,
)
from inspection.models import EdgeDevice
from profiling.choices import ProfilingRunStatus, SeriesKind
from profiling.models import ProfilingRun, ProfilingSeries, ProfilingVariant
from profiling.selectors import can_run_profiling
from traceability import audit
from traceability.errors import DomainError

log = logging.getLogger(__name__)

MAX_SERIES_POINTS = 20_000


class ProfilingReportError(ValueError):
    """The report does not follow the schema; the message names the field."""


class ProfilingNotAllowed(DomainError):
    code = "forbidden"
    http_status = 403


def _subject(run: ProfilingRun) -> tuple[str, str]:
    return ("inspection.profilingrun", str(run.run_id))


def send_profiling_job(run: ProfilingRun, reply_queue: str = INGEST_QUEUE) -> None:
    """Queue the protocol on the device's queue (called after commit). The device answers on `reply_queue`."""
    from twinweb.celery import app

    app.send_task(PROFILE_TASK, kwargs={"run_id": str(run.run_id), "device_id": run.device.device_id,
                                        "config": run.config, "reply_queue": reply_queue},
                  queue=edge_queue(run.device.device_id))


@transaction.atomic(durable=True)
def request_profiling_run(device: EdgeDevice, *, config: ProfileConfig, actor: Any, send: bool = True,
                          reply_queue: str = INGEST_QUEUE) -> ProfilingRun:
    """Record a queued run and, after commit, send the job to `edge.<device_id>` (`send=False`: the caller runs
    the protocol itself, e.g. `manage.py profile_edge --inline`)."""
    if actor is not None and not can_run_profiling(actor):
        raise ProfilingNotAllowed("Your role may not start edge profiling runs.")
    run = ProfilingRun(device=device, requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                       requested_at=timezone.now(), config=config.to_dict())
    run.full_clean()
    run.save()
    audit.append(actor=actor, action="profiling.requested", subject=_subject(run),
                 after={"device": device.device_id, "config": run.config, "sent_to": edge_queue(device.device_id) if send else "inline"})
    if send:
        transaction.on_commit(lambda: send_profiling_job(run, reply_queue))
    return run


# --- Validation ------------------------------------------------------------------------------------------


def _num(data: dict[str, Any], name: str, where: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProfilingReportError(f"{where}.{name}: expected a finite number or null, got {value!r}"[:300])
    return float(value)


def _int(data: dict[str, Any], name: str, where: str) -> int | None:
    value = _num(data, name, where)
    return None if value is None else int(value)


def _text(data: dict[str, Any], name: str, where: str, max_len: int | None = None) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProfilingReportError(f"{where}.{name}: expected a string, got {type(value).__name__}")
    return value[:max_len] if max_len else value


def _when(data: dict[str, Any], name: str) -> dt.datetime | None:
    value = data.get(name)
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ProfilingReportError(f"{name}: not an ISO 8601 timestamp: {str(value)[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


@dataclass
class _ParsedVariant:
    row: ProfilingVariant
    power: list[Any]
    memory: list[Any]


def _series(data: dict[str, Any], name: str, where: str, width: int) -> list[Any]:
    points = data.get(name) or []
    if not isinstance(points, list):
        raise ProfilingReportError(f"{where}.{name}: expected a list")
    if len(points) > MAX_SERIES_POINTS:
        raise ProfilingReportError(f"{where}.{name}: {len(points)} points, more than {MAX_SERIES_POINTS}")
    for i, p in enumerate(points):
        if not isinstance(p, list) or len(p) != width or not isinstance(p[-1], str) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in p[:-1]
        ):
            raise ProfilingReportError(f"{where}.{name}[{i}]: expected [{width - 1} numbers..., phase]")
    return points


def _parse_variant(data: Any, position: int) -> _ParsedVariant:
    where = f"variants[{position}]"
    if not isinstance(data, dict):
        raise ProfilingReportError(f"{where}: expected an object")
    key = _text(data, "key", where, 40)
    if key not in VARIANT_KEYS:
        raise ProfilingReportError(f"{where}.key: unknown variant {key!r}")
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ProfilingReportError(f"{where}.metrics: expected an object")
    phases = data.get("phases") or []
    if not isinstance(phases, list) or any(not isinstance(p, dict) for p in phases):
        raise ProfilingReportError(f"{where}.phases: expected a list of objects")
    available = bool(data.get("available"))
    if available and [p.get("name") for p in phases] != list(PHASES):
        raise ProfilingReportError(f"{where}.phases: expected {list(PHASES)} in order, got {[p.get('name') for p in phases]}")
    m = f"{where}.metrics"
    row = ProfilingVariant(
        position=position, key=key, label=_text(data, "label", where, 80), backend=_text(data, "backend", where, 40),
        precision=_text(data, "precision", where, 10), available=available, reason=_text(data, "reason", where, 2000),
        device=_text(data, "device", where, 200), backend_version=_text(data, "backend_version", where, 40),
        phases=phases, images=_int(metrics, "images", m), correct=_int(metrics, "correct", m),
        accuracy=_num(metrics, "accuracy", m), fps=_num(metrics, "fps", m),
        latency_p50_ms=_num(metrics, "latency_p50_ms", m), latency_p99_ms=_num(metrics, "latency_p99_ms", m),
        latency_mean_ms=_num(metrics, "latency_mean_ms", m), mem_rss_bytes_peak=_int(metrics, "mem_rss_bytes_peak", m),
        mem_process_percent_peak=_num(metrics, "mem_process_percent_peak", m),
        mem_system_percent_peak=_num(metrics, "mem_system_percent_peak", m),
        gpu_mem_bytes=_int(metrics, "gpu_mem_bytes", m), gpu_mem_note=_text(metrics, "gpu_mem_note", m, 200),
        avg_power_total_mw=_num(metrics, "avg_power_total_mw", m),
        avg_power_inference_mw=_num(metrics, "avg_power_inference_mw", m),
        fps_per_w_total=_num(metrics, "fps_per_w_total", m), fps_per_w_inference=_num(metrics, "fps_per_w_inference", m),
        energy_per_image_mj=_num(metrics, "energy_per_image_mj", m), power_note=_text(metrics, "power_note", m, 2000),
        metrics=metrics,
    )
    if available and row.avg_power_inference_mw is None and not row.power_note:
        raise ProfilingReportError(f"{m}.power_note: power not measured but no reason given")
    return _ParsedVariant(row, _series(data, "power_series", where, 3), _series(data, "memory_series", where, 5))


def parse_report(payload: Any) -> tuple[dict[str, Any], list[_ParsedVariant]]:
    if not isinstance(payload, dict):
        raise ProfilingReportError("a profiling report must be a JSON object")
    if payload.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise ProfilingReportError(f"schema: unsupported version {payload.get('schema')!r}")
    try:
        run_id = uuid.UUID(str(payload.get("run_id")))
    except ValueError:
        raise ProfilingReportError(f"run_id: not a UUID: {str(payload.get('run_id'))[:40]!r}") from None
    device_id = _text(payload, "device_id", "report", 60)
    if not device_id:
        raise ProfilingReportError("device_id: missing")
    variants = payload.get("variants") or []
    if not isinstance(variants, list):
        raise ProfilingReportError("variants: expected a list")
    parsed = [_parse_variant(v, i) for i, v in enumerate(variants)]
    if len({p.row.key for p in parsed}) != len(parsed):
        raise ProfilingReportError("variants: a variant key appears twice")
    model = payload.get("model") or {}
    head = {
        "run_id": run_id, "device_id": device_id, "hardware": _text(payload, "hardware", "report", 200),
        "started_at": _when(payload, "started_at"), "finished_at": _when(payload, "finished_at"),
        "config": payload.get("config") if isinstance(payload.get("config"), dict) else {},
        "power_source": _text(payload, "power_source", "report", 4000), "power_measured": bool(payload.get("power_measured")),
        "model_version": str(model.get("version", ""))[:80] if isinstance(model, dict) else "",
        "model_sha256": str(model.get("sha256", ""))[:64] if isinstance(model, dict) else "",
        "environment": {**(payload.get("environment") or {}), "model": model} if isinstance(model, dict) else {},
        "error": _text(payload, "error", "report", 4000),
    }
    return head, parsed


# --- Storing ---------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def store_profiling_run(payload: Any, *, actor: Any = None) -> tuple[ProfilingRun, bool]:
    """Store a device's profiling report: (run, created). Raises ProfilingReportError (nothing written) when the
    report is malformed or names an unknown device."""
    head, variants = parse_report(payload)
    device = EdgeDevice.objects.filter(device_id=head["device_id"]).first()
    if device is None:
        raise ProfilingReportError(f"device_id: no edge device {head['device_id']!r}")
    run = ProfilingRun.objects.select_for_update().filter(run_id=head["run_id"]).first()
    if run is not None and run.status != ProfilingRunStatus.QUEUED:
        return run, False  # a redelivered report
    if run is not None and run.device_id != device.pk:
        raise ProfilingReportError(f"run {head['run_id']} was sent to {run.device.device_id}, not {device.device_id}")
    before = {"status": run.status} if run is not None else None
    now = timezone.now()
    if run is None:
        run = ProfilingRun(run_id=head["run_id"], device=device, requested_at=head["started_at"] or now)
    failed = bool(head["error"]) and not variants
    for name in ("started_at", "finished_at", "hardware", "power_source", "power_measured", "model_version",
                 "model_sha256", "environment", "error"):
        setattr(run, name, head[name])
    if head["config"]:
        run.config = head["config"]
    run.received_at = now
    run.status = ProfilingRunStatus.FAILED if failed else ProfilingRunStatus.DONE
    run.full_clean()
    run.save()
    rows = []
    for parsed in variants:
        parsed.row.run = run
        rows.append(parsed.row)
    ProfilingVariant.objects.bulk_create(rows)
    series = []
    for parsed, row in zip(variants, ProfilingVariant.objects.filter(run=run).order_by("position")):
        if parsed.power:
            series.append(ProfilingSeries(variant=row, kind=SeriesKind.POWER, points=parsed.power))
        if parsed.memory:
            series.append(ProfilingSeries(variant=row, kind=SeriesKind.MEMORY, points=parsed.memory))
    ProfilingSeries.objects.bulk_create(series)
    audit.append(
        actor=actor, action="profiling.stored", subject=_subject(run), before=before,
        after={
            "status": run.status, "device": device.device_id, "power_measured": run.power_measured,
            "error": run.error[:300],
            "variants": {p.row.key: ({"fps": p.row.fps, "accuracy": p.row.accuracy,
                                      "fps_per_w_total": p.row.fps_per_w_total} if p.row.available else "unavailable")
                         for p in variants},
        },
    )
    return run, True
