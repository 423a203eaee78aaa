"""Reads of profiling runs and the deck's table (rows = metrics, columns = variants), shared by the /profiling/ page,
its CSV export and `manage.py profile_edge`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from profiling.choices import SeriesKind
from profiling.models import ProfilingRun, ProfilingSeries, ProfilingVariant
from traceability import roles

NOT_MEASURED = "not measured"  # a cell value the page shows translated (profiling/_table.html)


# --- Access --------------------------------------------------------------------------------------------


def can_view_profiling(user: Any) -> bool:
    """Any signed-in user with a role may read profiling results."""
    return bool(user and user.is_authenticated and roles.role_of(user) is not None)


def can_run_profiling(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(roles.PROFILE_EDGE))


def runs_queryset() -> QuerySet[ProfilingRun]:
    """Runs with their device and variants (no series: those are large and only the charts need them)."""
    return ProfilingRun.objects.select_related("device", "requested_by").prefetch_related(
        Prefetch("variants", queryset=ProfilingVariant.objects.order_by("position"))
    )


def run_with_series(run_id: Any) -> ProfilingRun:
    return (
        ProfilingRun.objects.select_related("device", "requested_by")
        .prefetch_related(
            Prefetch(
                "variants",
                queryset=ProfilingVariant.objects.order_by("position").prefetch_related(
                    Prefetch("series", queryset=ProfilingSeries.objects.order_by("kind"))
                ),
            )
        )
        .get(run_id=run_id)
    )


def _fmt(value: float | None, digits: int) -> str:
    """A figure as the page's language writes it (pt-BR: decimal comma)."""
    # Rounded first: number_format cuts a float's digits, it does not round them.
    return "" if value is None else number_format(round(value, digits), digits)


def _mib(value: int | float | None) -> str:
    return _fmt(None if value is None else value / 2**20, 1)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str | Promise  # translated where it is shown
    value: Callable[[ProfilingVariant], Any]  # raw value (CSV)
    text: Callable[[ProfilingVariant], str]  # shown in the table
    power: bool = False  # "not measured" when the run had no power source


def _power_text(getter: Callable[[ProfilingVariant], float | None], digits: int) -> Callable[[ProfilingVariant], str]:
    def text(v: ProfilingVariant) -> str:
        value = getter(v)
        return NOT_MEASURED if value is None else _fmt(value, digits)

    return text


METRICS: tuple[Metric, ...] = (
    Metric(
        "runtime",
        _("Runtime"),
        lambda v: f"{v.backend} {v.backend_version}".strip(),
        lambda v: f"{v.backend} {v.backend_version}".strip(),
    ),
    Metric("device", _("Runs on"), lambda v: v.device, lambda v: v.device),
    Metric(
        "accuracy_pct",
        # xgettext:no-python-format
        _("Accuracy (%)"),
        lambda v: None if v.accuracy is None else 100 * v.accuracy,
        lambda v: _fmt(None if v.accuracy is None else 100 * v.accuracy, 1),
    ),
    Metric("fps", "FPS", lambda v: v.fps, lambda v: _fmt(v.fps, 1)),
    Metric("latency_p50_ms", _("Latency p50 (ms)"), lambda v: v.latency_p50_ms, lambda v: _fmt(v.latency_p50_ms, 2)),
    Metric("latency_p99_ms", _("Latency p99 (ms)"), lambda v: v.latency_p99_ms, lambda v: _fmt(v.latency_p99_ms, 2)),
    Metric(
        "mem_rss_bytes_peak",
        _("Memory, process peak (MiB)"),
        lambda v: v.mem_rss_bytes_peak,
        lambda v: _mib(v.mem_rss_bytes_peak),
    ),
    Metric(
        "mem_process_pct",
        # xgettext:no-python-format
        _("Memory, process (% of RAM)"),
        lambda v: v.mem_process_percent_peak,
        lambda v: _fmt(v.mem_process_percent_peak, 1),
    ),
    Metric(
        "mem_system_pct",
        # xgettext:no-python-format
        _("Memory, device used (%)"),
        lambda v: v.mem_system_percent_peak,
        lambda v: _fmt(v.mem_system_percent_peak, 1),
    ),
    Metric(
        "gpu_mem_bytes",
        _("GPU memory (MiB)"),
        lambda v: v.gpu_mem_bytes,
        lambda v: (
            _mib(v.gpu_mem_bytes)
            if v.gpu_mem_bytes is not None
            else ("–" if v.gpu_mem_note.startswith("CPU") else NOT_MEASURED)
        ),
    ),
    Metric(
        "avg_power_total_mw",
        _("Avg power, total (mW)"),
        lambda v: v.avg_power_total_mw,
        _power_text(lambda v: v.avg_power_total_mw, 0),
        power=True,
    ),
    Metric(
        "avg_power_inference_mw",
        _("Avg power, inference (mW)"),
        lambda v: v.avg_power_inference_mw,
        _power_text(lambda v: v.avg_power_inference_mw, 0),
        power=True,
    ),
    Metric(
        "fps_per_w_total",
        _("FPS/W, total"),
        lambda v: v.fps_per_w_total,
        _power_text(lambda v: v.fps_per_w_total, 2),
        power=True,
    ),
    Metric(
        "fps_per_w_inference",
        _("FPS/W, inference"),
        lambda v: v.fps_per_w_inference,
        _power_text(lambda v: v.fps_per_w_inference, 2),
        power=True,
    ),
    Metric(
        "energy_per_image_mj",
        _("Energy per image (mJ)"),
        lambda v: v.energy_per_image_mj,
        _power_text(lambda v: v.energy_per_image_mj, 2),
        power=True,
    ),
)


@dataclass(frozen=True)
class RunTable:
    columns: list[ProfilingVariant]  # the variants that ran
    rows: list[tuple[str | Promise, list[str]]]  # (metric label, one cell per column)
    unavailable: list[ProfilingVariant]
    power_notes: list[str]  # distinct reasons power was not measured


def run_table(run: ProfilingRun) -> RunTable:
    variants = list(run.variants.all())
    ran = [v for v in variants if v.available]
    rows = [(m.label, [m.text(v) for v in ran]) for m in METRICS]
    notes = sorted({v.power_note for v in ran if v.power_note})
    return RunTable(ran, rows, [v for v in variants if not v.available], notes)


def markdown_table(run: ProfilingRun) -> str:
    table = run_table(run)
    if not table.columns:
        return "_no variant ran_" + (f": {run.error}" if run.error else "")
    head = "| Metric | " + " | ".join(v.label or v.key for v in table.columns) + " |"
    sep = "|---|" + "---:|" * len(table.columns)
    lines = [head, sep] + [
        f"| {label} | " + " | ".join(c.replace("|", "/") for c in cells) + " |" for label, cells in table.rows
    ]
    return "\n".join(lines)


CSV_HEADER = [
    "run_id",
    "device",
    "hardware",
    "requested_at",
    "status",
    "power_source",
    "model_version",
    "images_per_round",
    "warmup",
    "rounds",
    "variant",
    "backend",
    "precision",
    "available",
    "reason",
    *[m.key for m in METRICS if m.key not in ("runtime", "device")],
    "latency_mean_ms",
    "power_note",
    *[f"{p}_s" for p in ("load", "build", "warmup", "measure")],
]


def csv_rows(runs: Iterable[ProfilingRun]) -> Iterable[list[Any]]:
    """One row per variant of each run; raw numbers (no rounding), blanks where not measured."""
    yield CSV_HEADER
    for run in runs:
        cfg = run.config or {}
        for v in run.variants.all():
            phases = {p.get("name"): p.get("duration_s") for p in v.phases or []}
            values = [m.value(v) for m in METRICS if m.key not in ("runtime", "device")]
            yield [
                str(run.run_id),
                run.device.device_id,
                run.hardware,
                run.requested_at.isoformat(),
                run.status,
                run.power_source,
                run.model_version,
                cfg.get("images"),
                cfg.get("warmup"),
                cfg.get("rounds"),
                v.key,
                v.backend,
                v.precision,
                v.available,
                v.reason,
                *["" if x is None else x for x in values],
                "" if v.latency_mean_ms is None else v.latency_mean_ms,
                v.power_note,
                *["" if phases.get(p) is None else phases[p] for p in ("load", "build", "warmup", "measure")],
            ]


SERIES_CSV_HEADER = ["variant", "series", "t_s", "phase", "power_mw", "rss_bytes", "process_pct", "system_pct"]


def series_csv_rows(run: ProfilingRun) -> Iterable[list[Any]]:
    """Every power and memory sample of a run's variants (as the run page's charts), seconds from the run's start."""
    yield SERIES_CSV_HEADER
    for v in run.variants.all():
        series = {s.kind: s.points for s in v.series.all()}
        for t, mw, phase in series.get(SeriesKind.POWER, []):
            yield [v.key, "power", t, phase, mw, "", "", ""]
        for t, rss, process_pct, system_pct, phase in series.get(SeriesKind.MEMORY, []):
            yield [v.key, "memory", t, phase, "", rss, process_pct, system_pct]


def comparison(
    runs: Sequence[ProfilingRun],
    metric_keys: Sequence[str] = (
        "fps",
        "accuracy_pct",
        "latency_p99_ms",
        "fps_per_w_inference",
        "energy_per_image_mj",
    ),
) -> dict[str, Any]:
    """Across runs and devices: for each variant key, one row per run with the chosen metrics."""
    metrics = [m for m in METRICS if m.key in metric_keys]
    keys: list[str] = []
    for run in runs:
        for v in run.variants.all():
            if v.available and v.key not in keys:
                keys.append(v.key)
    rows = []
    for run in runs:
        by_key = {v.key: v for v in run.variants.all() if v.available}
        rows.append({"run": run, "cells": [[m.text(by_key[k]) if k in by_key else "" for m in metrics] for k in keys]})
    return {"metrics": metrics, "variant_keys": keys, "rows": rows}
