"""Reads of SPC: a characteristic's values as numpy arrays (straight from the database, no ORM objects), its
charts, rule hits, in-control state and capability, the part type summary, and the access checks.

Scale: a characteristic's values are read as two columns (measurement id, value) in capture order and everything
after that is vectorised (spc.stats); only the points the chart shows are looked up for their serial and time.

Segments: once limits are frozen, the chart shows the baseline they came from and then Phase II (everything after
the baseline's last value), each in subgroups aligned from its own first value. Before that, every value is one
Phase I segment with trial limits computed from it (shown as such, never stored). The capability study and the
in-control state use the latest `study_size` values since the baseline began (0: all of them); the process is in
control when no selected rule (nor rule 1 on the dispersion chart) fires on a point of the study.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Count, Q, QuerySet

from inspection.models import Measurement
from spc import stats
from spc.choices import (
    CAPABLE_CPK,
    MARGINAL_CPK,
    CapabilityVerdict,
    ChartKind,
    ControlState,
    RunRule,
)
from spc.models import AssignableCause, Characteristic, ControlLimits, CorrectiveAction, GaugeStudy, RuleViolation
from traceability.models import PartType

DEFAULT_WINDOW = 250  # points the chart shows unless asked for more
HISTOGRAM_MAX_BINS = 60

# --- Access ---------------------------------------------------------------------------------------------------


def can_view_spc(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("spc.view_characteristic"))


def can_freeze_limits(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("spc.freeze_limits"))


def can_configure(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("spc.change_characteristic"))


def can_acknowledge_violation(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("spc.acknowledge_violation"))


def can_record_gauge_study(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("spc.add_gaugestudy"))


# --- Values ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    ids: np.ndarray  # measurement ids, int64, in capture order
    values: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.ids)


def _measurements(characteristic: Characteristic) -> QuerySet[Measurement]:
    return Measurement.objects.filter(
        inspection__station_id=characteristic.station_id,
        inspection__drawing_id=characteristic.drawing_id,
        name=characteristic.feature.name,
        value__isnull=False,
    )


def values(characteristic: Characteristic, *, after: tuple[dt.datetime, int] | None = None) -> Series:
    """Every measured value of the characteristic in capture order (then measurement id), as arrays: one query,
    fetched as plain tuples."""
    qs = _measurements(characteristic)
    if after is not None:
        at, mid = after
        qs = qs.filter(Q(inspection__captured_at__gt=at) | Q(inspection__captured_at=at, id__gt=mid))
    sql, params = qs.order_by("inspection__captured_at", "id").values_list("id", "value").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return Series(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
    array = np.array(rows, dtype=np.float64)
    return Series(array[:, 0].astype(np.int64), array[:, 1])


def point_details(ids: list[int]) -> dict[int, tuple[dt.datetime, str]]:
    """Capture time and serial behind measurement ids (for the points on screen, the CSV and violations)."""
    out: dict[int, tuple[dt.datetime, str]] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for mid, at, serial in Measurement.objects.filter(id__in=chunk).values_list(
            "id", "inspection__captured_at", "inspection__part__serial"
        ):
            out[mid] = (at, serial)
    return out


def active_limits(characteristic: Characteristic) -> ControlLimits | None:
    return (
        ControlLimits.objects.filter(characteristic=characteristic, superseded_at__isnull=True)
        .select_related("frozen_by")
        .first()
    )


# --- Analysis -------------------------------------------------------------------------------------------------


@dataclass
class Analysis:
    """Everything the pages, the API and the CSV show of one characteristic, computed once."""

    characteristic: Characteristic
    limits: stats.Limits | None
    frozen: ControlLimits | None
    ids: np.ndarray  # raw values since the baseline began (all values before a freeze)
    values: np.ndarray
    phase2_start: int  # index into ids/values where Phase II begins (len(values) before a freeze)
    location: np.ndarray  # plotted points, baseline then Phase II
    dispersion: np.ndarray
    last_index: np.ndarray  # raw index of each point's last value
    phase: np.ndarray  # 1 = baseline / Phase I, 2 = Phase II
    hits: dict[str, np.ndarray]  # rule -> bool per point (incl. "dispersion_1")
    study_from_point: int
    study_values: np.ndarray
    state: ControlState
    capability: stats.Capability | None
    verdict: CapabilityVerdict
    total_values: int

    @property
    def n(self) -> int:
        return self.characteristic.effective_subgroup_size

    def violations_in_study(self) -> dict[str, int]:
        return {
            rule: int(h[self.study_from_point :].sum())
            for rule, h in self.hits.items()
            if h[self.study_from_point :].any()
        }


def _segment_points(values_: np.ndarray, chart_kind: str, n: int, offset: int) -> stats.Points:
    p = stats.points(values_, chart_kind, n)
    return stats.Points(p.location, p.dispersion, p.last_index + offset)


def analyse(characteristic: Characteristic, *, series: Series | None = None) -> Analysis:
    ch = characteristic
    n = ch.effective_subgroup_size
    frozen = active_limits(ch)
    series = series if series is not None else values(ch)
    total = len(series)
    limits: stats.Limits | None = None
    if frozen is not None:
        where = np.nonzero(series.ids == frozen.baseline_last_id)[0]
        end = int(where[0]) + 1 if len(where) else total
        start = max(0, end - frozen.baseline_values)
        ids, vals = series.ids[start:], series.values[start:]
        phase2_start = end - start
        limits = frozen.as_stats()
        if limits.chart_kind != ch.chart_kind or (ch.chart_kind != ChartKind.IMR and limits.subgroup_size != n):
            limits = None  # frozen for another chart: configure_characteristic supersedes these; never reached
    else:
        ids, vals, phase2_start = series.ids, series.values, total
        try:
            limits = stats.compute_limits(vals, ch.chart_kind, n)  # trial limits: shown, never stored
        except stats.NotEnoughData:
            limits = None
    base = _segment_points(vals[:phase2_start], ch.chart_kind, n, 0)
    phase2 = _segment_points(vals[phase2_start:], ch.chart_kind, n, phase2_start)
    location = np.concatenate([base.location, phase2.location])
    dispersion = np.concatenate([base.dispersion, phase2.dispersion])
    last_index = np.concatenate([base.last_index, phase2.last_index])
    phase = np.concatenate([np.ones(len(base.location), dtype=np.int8), np.full(len(phase2.location), 2, np.int8)])
    hits: dict[str, np.ndarray] = {}
    if limits is not None and len(location):
        hits = stats.rule_hits(location, limits.center, limits.sigma_plotted, tuple(ch.rules))
        hits[RunRule.DISPERSION_1.value] = stats.dispersion_hits(
            dispersion, limits.dispersion_ucl, limits.dispersion_lcl
        )
    # The study: the latest study_size values, whole points only.
    study_values = vals if not ch.study_size else vals[-ch.study_size :]
    first_raw = len(vals) - len(study_values)
    study_from_point = int(np.searchsorted(last_index, first_raw)) if len(last_index) else 0
    capability: stats.Capability | None = None
    if limits is None or len(study_values) < max(2 * n, 8):
        state = ControlState.NO_DATA
    else:
        state = (
            ControlState.OUT_OF_CONTROL
            if any(h[study_from_point:].any() for h in hits.values())
            else ControlState.IN_CONTROL
        )
        try:
            capability = stats.capability(
                study_values, lsl=ch.lsl, usl=ch.usl, chart_kind=ch.chart_kind, n=n, method=ch.capability_method
            )
        except stats.NotEnoughData:
            capability = None
    return Analysis(
        ch,
        limits,
        frozen,
        ids,
        vals,
        phase2_start,
        location,
        dispersion,
        last_index,
        phase,
        hits,
        study_from_point,
        study_values,
        state,
        capability,
        verdict(state, capability),
        total,
    )


def headline_index(capability: stats.Capability) -> stats.Index:
    """The index the traffic light reads: Cpk (σ within), or Ppk with the percentile method."""
    return capability.ppk if capability.method == stats.PERCENTILE else capability.cpk


def verdict(state: ControlState, capability: stats.Capability | None) -> CapabilityVerdict:
    if state == ControlState.NO_DATA or capability is None:
        return CapabilityVerdict.NO_DATA
    if state == ControlState.OUT_OF_CONTROL:
        return CapabilityVerdict.NOT_MEANINGFUL
    value = headline_index(capability).value
    if value is None:
        return CapabilityVerdict.NO_DATA
    if value >= CAPABLE_CPK:
        return CapabilityVerdict.CAPABLE
    return CapabilityVerdict.MARGINAL if value >= MARGINAL_CPK else CapabilityVerdict.NOT_CAPABLE


def _f(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def chart_payload(analysis: Analysis, *, window: int = DEFAULT_WINDOW) -> dict[str, Any]:
    """The JSON the characteristic page draws (and GET /api/spc/characteristics/<id>/ returns)."""
    a, ch = analysis, analysis.characteristic
    count = len(a.location)
    first = max(0, count - window) if window else 0
    shown = slice(first, count)
    last_ids = [int(a.ids[i]) for i in a.last_index[shown]]
    details = point_details(last_ids)
    limits = a.limits
    sigma = limits.sigma_plotted if limits else None
    cap = a.capability
    hist: dict[str, Any] = {}
    if len(a.study_values):
        bins = min(HISTOGRAM_MAX_BINS, max(5, int(np.sqrt(len(a.study_values)))))
        edges_lo = min(a.study_values.min(), *(v for v in (ch.lsl, ch.usl) if v is not None))
        edges_hi = max(a.study_values.max(), *(v for v in (ch.lsl, ch.usl) if v is not None))
        counts, edges = np.histogram(a.study_values, bins=bins, range=(edges_lo, edges_hi))
        width = float(edges[1] - edges[0])
        xs = np.linspace(edges_lo, edges_hi, 200)
        fit_y = cap.fit.pdf(xs) * len(a.study_values) * width if cap is not None else np.zeros(0)
        hist = {
            "edges": edges.tolist(),
            "counts": counts.tolist(),
            "fit_x": xs.tolist(),
            "fit_y": fit_y.tolist(),
            "fit_name": cap.fit.name if cap else None,
        }
    violations_marked = {
        rule: [int(i) - first for i in np.nonzero(h[shown])[0]] for rule, h in a.hits.items() if h[shown].any()
    }
    return {
        "characteristic": characteristic_row(ch),
        "limits": None
        if limits is None
        else {
            **limits.as_dict(),
            "sigma_plotted": sigma,
            "frozen": a.frozen is not None,
            "frozen_at": a.frozen.frozen_at.isoformat() if a.frozen else None,
            "frozen_by": a.frozen.frozen_by.get_username() if a.frozen else None,
            "reason": a.frozen.reason if a.frozen else "",
        },
        "spec": {"lsl": ch.lsl, "usl": ch.usl, "nominal": ch.feature.nominal, "unit": ch.feature.unit},
        "points": {
            "first_point": first,
            "count_total": count,
            "index": list(range(first, count)),
            "location": [_f(v) for v in a.location[shown]],
            "dispersion": [_f(v) for v in a.dispersion[shown]],
            "phase": a.phase[shown].tolist(),
            "serial": [details.get(i, (None, ""))[1] for i in last_ids],
            "at": [details[i][0].isoformat() if i in details else None for i in last_ids],
            "violations": violations_marked,
            "study_from_point": a.study_from_point,
        },
        "values": {"total": a.total_values, "analysed": len(a.values), "study": len(a.study_values)},
        "state": {"value": a.state.value, "label": a.state.label, "violations_in_study": a.violations_in_study()},
        "verdict": {"value": a.verdict.value, "label": a.verdict.label, "badge": a.verdict.badge},
        "capability": cap.as_dict() if cap is not None else None,
        "histogram": hist,
        "rules": {r.value: r.label for r in RunRule},
    }


def characteristic_row(ch: Characteristic) -> dict[str, Any]:
    return {
        "id": ch.pk,
        "name": ch.feature.name,
        "part_type": ch.part_type.code,
        "drawing": str(ch.drawing),
        "revision": ch.drawing.revision,
        "station": ch.station.code,
        "cell_id": ch.station.cell_id,
        "chart_kind": ch.chart_kind,
        "chart_label": ch.get_chart_kind_display(),
        "subgroup_size": ch.subgroup_size,
        "rules": list(ch.rules),
        "sides": ch.sides,
        "capability_method": ch.capability_method,
        "study_size": ch.study_size,
        "url": ch.get_absolute_url(),
    }


def characteristics(part_type: PartType | None = None) -> QuerySet[Characteristic]:
    qs = Characteristic.objects.select_related("part_type", "drawing", "feature", "station")
    if part_type is not None:
        qs = qs.filter(part_type=part_type)
    return qs.order_by("drawing__released_at", "feature__name", "station__position")


def summary(part_type: PartType) -> list[dict[str, Any]]:
    """Every characteristic of a part type with its state and capability verdict (the SPC page of the type)."""
    rows = []
    open_counts = dict(
        RuleViolation.objects.filter(characteristic__part_type=part_type, acknowledged_at__isnull=True)
        .values_list("characteristic_id")
        .annotate(c=Count("id"))
        .values_list("characteristic_id", "c")
    )
    for ch in characteristics(part_type):
        a = analyse(ch)
        index = headline_index(a.capability) if a.capability else None
        rows.append(
            {
                "characteristic": ch,
                "analysis": a,
                "headline": index,
                "headline_name": ("Ppk" if a.capability and a.capability.method == stats.PERCENTILE else "Cpk"),
                "ppk": a.capability.ppk if a.capability else None,
                "open_violations": open_counts.get(ch.pk, 0),
                "gauge": GaugeStudy.objects.filter(characteristic=ch).first(),
            }
        )
    return rows


def part_types_with_characteristics() -> QuerySet[PartType]:
    return PartType.objects.annotate(characteristic_count=Count("spc_characteristics")).order_by("code")


def violations(characteristic: Characteristic, *, limit: int = 50) -> list[RuleViolation]:
    return list(
        RuleViolation.objects.filter(characteristic=characteristic).select_related(
            "acknowledged_by", "assignable_cause", "corrective_action", "alarm"
        )[:limit]
    )


def reaction_lists() -> tuple[QuerySet[AssignableCause], QuerySet[CorrectiveAction]]:
    return AssignableCause.objects.filter(active=True), CorrectiveAction.objects.filter(active=True)


def gauge_studies(characteristic: Characteristic) -> list[GaugeStudy]:
    return list(GaugeStudy.objects.filter(characteristic=characteristic).select_related("recorded_by")[:10])


def csv_points(analysis: Analysis) -> list[list[Any]]:
    """Every point behind the control chart (not just those on screen), with its limits and the rules it broke."""
    a = analysis
    last_ids = [int(a.ids[i]) for i in a.last_index]
    details = point_details(last_ids)
    lim = a.limits
    header = [
        "point",
        "phase",
        "serial",
        "captured_at",
        "measurement_id",
        "location",
        "dispersion",
        "center",
        "lcl",
        "ucl",
        "dispersion_center",
        "dispersion_lcl",
        "dispersion_ucl",
        "rules_broken",
    ]
    rows: list[list[Any]] = [header]
    for i, mid in enumerate(last_ids):
        at, serial = details.get(mid, (None, ""))
        broken = ";".join(rule for rule, h in a.hits.items() if h[i])
        rows.append(
            [
                i,
                "baseline" if a.phase[i] == 1 else "phase2",
                serial,
                at.isoformat() if at else "",
                mid,
                _f(a.location[i]),
                _f(a.dispersion[i]),
                *(
                    (lim.center, lim.lcl, lim.ucl, lim.dispersion_center, lim.dispersion_lcl, lim.dispersion_ucl)
                    if lim
                    else ("",) * 6
                ),
                broken,
            ]
        )
    return rows


def csv_histogram(analysis: Analysis) -> list[list[Any]]:
    payload = chart_payload(analysis, window=1)
    hist = payload["histogram"]
    rows: list[list[Any]] = [["bin_low", "bin_high", "count", "fitted_count_at_centre", "fit"]]
    if not hist:
        return rows
    cap = analysis.capability
    edges = hist["edges"]
    for low, high, count in zip(edges[:-1], edges[1:], hist["counts"]):
        centre = (low + high) / 2
        fitted = (
            float(cap.fit.pdf(np.array([centre]))[0]) * len(analysis.study_values) * (high - low)
            if cap is not None
            else ""
        )
        rows.append([low, high, count, fitted, hist["fit_name"] or ""])
    return rows
