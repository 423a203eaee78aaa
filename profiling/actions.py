"""Edge profiling writes: request a run (queue the job on the device) and store the report the device sends.

`store_profiling_run` authenticates the device's report first (inspection.actions.edge_auth) and is idempotent on
the run id: a redelivered report stores nothing a second time. A report whose run id the server never issued (a
run started on the device itself) is stored as a new run of that device.
The report is validated before anything is written; nothing slow happens inside the transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from edge_worker.contracts.queues import INGEST_QUEUE, edge_queue
from edge_worker.contracts.profiling import ProfileConfig, ProfilingReport, VariantResult
from edge_worker.contracts.queues import PROFILE_EDGE_TASK, STORE_PROFILING_RUN_TASK
from edge_worker.contracts.fields import MessageError
from inspection.actions.edge_auth import authenticate
from inspection.models import EdgeDevice
from profiling.choices import ProfilingRunStatus, SeriesKind
from profiling.models import ProfilingRun, ProfilingSeries, ProfilingVariant
from profiling.selectors import can_run_profiling
from traceability import audit
from traceability.errors import DomainError

log = logging.getLogger(__name__)


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

    app.send_task(
        PROFILE_EDGE_TASK,
        kwargs={
            "run_id": str(run.run_id),
            "device_id": run.device.device_id,
            "config": run.config,
            "reply_queue": reply_queue,
        },
        queue=edge_queue(run.device.device_id),
    )


@transaction.atomic(durable=True)
def request_profiling_run(
    device: EdgeDevice, *, config: ProfileConfig, actor: Any, send: bool = True, reply_queue: str = INGEST_QUEUE
) -> ProfilingRun:
    """Record a queued run and, after commit, send the job to `edge.<device_id>` (`send=False`: the caller runs
    the protocol itself, e.g. `manage.py profile_edge --inline`)."""
    if actor is not None and not can_run_profiling(actor):
        raise ProfilingNotAllowed(gettext("Your role may not start edge profiling runs."))
    run = ProfilingRun(
        device=device,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        requested_at=timezone.now(),
        config=config.to_dict(),
    )
    run.full_clean()
    run.save()
    audit.append(
        actor=actor,
        action="profiling.requested",
        subject=_subject(run),
        after={
            "device": device.device_id,
            "config": run.config,
            "sent_to": edge_queue(device.device_id) if send else "inline",
        },
    )
    if send:
        transaction.on_commit(lambda: send_profiling_job(run, reply_queue))
    return run


# --- Validation ------------------------------------------------------------------------------------------


@dataclass
class _ParsedVariant:
    row: ProfilingVariant
    power: list[Any]
    memory: list[Any]


def _metric_number(metrics: dict[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _metric_int(metrics: dict[str, Any], name: str) -> int | None:
    value = _metric_number(metrics, name)
    return None if value is None else int(value)


def _variant_row(variant: VariantResult, position: int) -> _ParsedVariant:
    m = variant.metrics
    row = ProfilingVariant(
        position=position,
        key=variant.key,
        label=variant.label,
        backend=variant.backend,
        precision=variant.precision,
        available=variant.available,
        reason=variant.reason,
        device=variant.device,
        backend_version=variant.backend_version,
        phases=[p.to_dict() for p in variant.phases],
        images=_metric_int(m, "images"),
        correct=_metric_int(m, "correct"),
        accuracy=_metric_number(m, "accuracy"),
        fps=_metric_number(m, "fps"),
        latency_p50_ms=_metric_number(m, "latency_p50_ms"),
        latency_p99_ms=_metric_number(m, "latency_p99_ms"),
        latency_mean_ms=_metric_number(m, "latency_mean_ms"),
        mem_rss_bytes_peak=_metric_int(m, "mem_rss_bytes_peak"),
        mem_process_percent_peak=_metric_number(m, "mem_process_percent_peak"),
        mem_system_percent_peak=_metric_number(m, "mem_system_percent_peak"),
        gpu_mem_bytes=_metric_int(m, "gpu_mem_bytes"),
        gpu_mem_note=str(m.get("gpu_mem_note") or "")[:200],
        avg_power_total_mw=_metric_number(m, "avg_power_total_mw"),
        avg_power_inference_mw=_metric_number(m, "avg_power_inference_mw"),
        fps_per_w_total=_metric_number(m, "fps_per_w_total"),
        fps_per_w_inference=_metric_number(m, "fps_per_w_inference"),
        energy_per_image_mj=_metric_number(m, "energy_per_image_mj"),
        power_note=str(m.get("power_note") or ""),
        metrics=m,
    )
    return _ParsedVariant(row, variant.power_series, variant.memory_series)


def _when(value: str) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def parse_report(payload: Any) -> tuple[dict[str, Any], list[_ParsedVariant]]:
    """The report, validated by its contract (edge_worker.contracts.profiling.ProfilingReport), as the run's
    fields and its variants' rows."""
    try:
        report = ProfilingReport.from_dict(payload)
    except MessageError as exc:
        raise ProfilingReportError(str(exc)) from None
    model = report.model
    head = {
        "run_id": uuid.UUID(report.run_id),
        "device_id": report.device_id,
        "hardware": report.hardware,
        "started_at": _when(report.started_at),
        "finished_at": _when(report.finished_at),
        "config": report.config,
        "power_source": report.power_source,
        "power_measured": report.power_measured,
        "model_version": str(model.get("version", ""))[:80],
        "model_sha256": str(model.get("sha256", ""))[:64],
        "environment": {**report.environment, "model": model},
        "error": report.error,
    }
    return head, [_variant_row(v, i) for i, v in enumerate(report.variants)]


# --- Storing ---------------------------------------------------------------------------------------------


def store_profiling_run(payload: Any, *, actor: Any = None) -> tuple[ProfilingRun, bool]:
    """Store the profiling report a device sent (signed by it, as every edge message): (run, created). Raises
    PayloadRefused when it is not authentic (kept as an unauthenticated dead letter, nothing else written), and
    ProfilingReportError (nothing written) when the report is malformed or names an unknown device."""
    body = authenticate(payload, task=STORE_PROFILING_RUN_TASK, source=STORE_PROFILING_RUN_TASK).body
    return _store_report(body, actor=actor)


def store_local_profiling_run(report: dict[str, Any], *, actor: Any = None) -> tuple[ProfilingRun, bool]:
    """Store a report this server process measured itself (`manage.py profile_edge --inline`): it never travelled
    as a message, so there is nothing to authenticate."""
    return _store_report(report, actor=actor)


@transaction.atomic(durable=True)
def _store_report(payload: Any, *, actor: Any) -> tuple[ProfilingRun, bool]:
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
    for name in (
        "started_at",
        "finished_at",
        "hardware",
        "power_source",
        "power_measured",
        "model_version",
        "model_sha256",
        "environment",
        "error",
    ):
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
        actor=actor,
        action="profiling.stored",
        subject=_subject(run),
        before=before,
        after={
            "status": run.status,
            "device": device.device_id,
            "power_measured": run.power_measured,
            "error": run.error[:300],
            "variants": {
                p.row.key: (
                    {"fps": p.row.fps, "accuracy": p.row.accuracy, "fps_per_w_total": p.row.fps_per_w_total}
                    if p.row.available
                    else "unavailable"
                )
                for p in variants
            },
        },
    )
    return run, True
