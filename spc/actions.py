"""Every write of SPC: characteristics found in the measurements, their configuration, frozen limits, rule
violations (with their andon alarm) and the reaction to them, and gauge studies. One transaction each, the audit
record inside it, live events after commit.

Rule evaluation is a periodic, idempotent pass (`evaluate_characteristic`, run by `manage.py watch_spc` like
`watch_andon`), not a hook in ingest: ingest stays as it is (no SPC work or coupling on its hot path), a pass that
is missed or fails is simply made up by the next (each characteristic keeps a high-water mark of the newest point
it evaluated), and a redelivered or repeated pass raises nothing twice (one open violation per characteristic and
rule, enforced by the database). The cost is latency: at most one interval (5 s in the demo, a third of a cycle).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from inspection.models import Measurement
from live.actions import AlarmText, nested  # the words of an alarm, for each reader's language
from live.choices import AlarmRule
from live.models import Alarm
from live.selectors import alarm_record
from spc import selectors, stats
from spc.choices import ChartKind, RunRule
from spc.models import (
    AssignableCause,
    Characteristic,
    ControlLimits,
    CorrectiveAction,
    GaugeStudy,
    RuleViolation,
)
from traceability import audit
from traceability.actions import Actor, signed_in_user, snapshot
from traceability.errors import RefusedByRule
from traceability.models import DimensionalFeature, PartType
from twinweb.events import AlarmCleared, AlarmRaised
from twinweb.live import publish_on_commit

CONFIGURABLE = ("chart_kind", "subgroup_size", "rules", "sides", "capability_method", "study_size")
# A change of these makes frozen limits meaningless (other statistic, other subgroups): they are withdrawn.
LIMIT_SHAPING = ("chart_kind", "subgroup_size")
MIN_BASELINE_SUBGROUPS = 20  # ISO 7870-2 and Montgomery: 20-25 subgroups before limits are trusted
MIN_BASELINE_INDIVIDUALS = 25


@transaction.atomic(durable=True)
def sync_characteristics(*, part_type: PartType | None = None, actor: Actor = None) -> list[Characteristic]:
    """A characteristic for each (drawing revision, feature, station) that has measurements and none yet."""
    measured = Measurement.objects.filter(inspection__drawing__isnull=False)
    if part_type is not None:
        measured = measured.filter(inspection__drawing__part_type=part_type)
    triples = set(measured.values_list("inspection__drawing_id", "inspection__station_id", "name").distinct())
    existing = set(Characteristic.objects.values_list("drawing_id", "station_id", "feature__name"))
    missing = triples - existing
    if not missing:
        return []
    features = {
        (f.drawing_id, f.name): f
        for f in DimensionalFeature.objects.select_related("drawing").filter(drawing_id__in={d for d, _, _ in missing})
    }
    created = []
    now = timezone.now()
    for drawing_id, station_id, name in sorted(missing):
        feature = features.get((drawing_id, name))
        if feature is None:
            continue  # measured but not on the drawing: nothing to hold it against
        ch = Characteristic(
            part_type_id=feature.drawing.part_type_id,
            drawing_id=drawing_id,
            feature=feature,
            station_id=station_id,
            created_at=now,
        )
        ch.full_clean()
        ch.save()
        audit.append(actor=actor, action="spc.characteristic.create", subject=ch, after=snapshot(ch))
        created.append(ch)
    return created


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


@transaction.atomic(durable=True)
def configure_characteristic(
    characteristic: Characteristic, *, actor: Actor, reason: str = "", **changes: Any
) -> Characteristic:
    """Change chart kind, subgroup size, rules, sides, capability method or study size. Changing the chart kind or
    subgroup size withdraws frozen limits (they were computed for another statistic): that needs a reason, and the
    characteristic is back in Phase I until a quality engineer freezes new ones."""
    _require(selectors.can_configure(actor), gettext("Your role may not configure SPC characteristics."))
    unknown = set(changes) - set(CONFIGURABLE)
    if unknown:
        raise ValidationError({k: gettext("Not configurable.") for k in unknown})
    ch = Characteristic.objects.select_for_update().get(pk=characteristic.pk)
    before = snapshot(ch, CONFIGURABLE)
    for key, value in changes.items():
        setattr(ch, key, value)
    after = snapshot(ch, CONFIGURABLE)
    if before == after:
        return ch
    ch.full_clean()
    reason = (reason or "").strip()
    active = ControlLimits.objects.select_for_update().filter(characteristic=ch, superseded_at__isnull=True).first()
    withdraw = (
        active is not None
        and any(before[k] != after[k] for k in LIMIT_SHAPING)
        and not (ch.chart_kind == ChartKind.IMR and before["chart_kind"] == ChartKind.IMR)
    )
    if withdraw:
        assert active is not None
        if not reason:
            raise ValidationError({"reason": gettext("Changing the chart withdraws the frozen limits: say why.")})
        active.superseded_at = timezone.now()
        active.save(update_fields=["superseded_at"])
        _close_open_violations(ch, reason="limits withdrawn")
    ch.save()
    audit.append(
        actor=actor,
        action="spc.characteristic.configure",
        subject=ch,
        before=before,
        after=after,
        reason=reason or ("limits withdrawn" if withdraw else ""),
    )
    if withdraw and active is not None:
        audit.append(
            actor=actor,
            action="spc.limits.withdraw",
            subject=active,
            reason=reason,
            before={"superseded_at": None},
            after={"superseded_at": active.superseded_at},
        )
    return ch


def _close_open_violations(ch: Characteristic, *, reason: str) -> None:
    """Open violations of limits that no longer apply: the alarm is cleared (the violation stays, unacknowledged)."""
    now = timezone.now()
    for v in RuleViolation.objects.select_related("alarm").filter(characteristic=ch, acknowledged_at__isnull=True):
        if v.alarm is not None and v.alarm.cleared_at is None:
            v.alarm.cleared_at = now
            v.alarm.save(update_fields=["cleared_at"])
            audit.append(actor=None, action="alarm.clear", subject=v.alarm, after={"rule": v.alarm.rule, "why": reason})
            publish_on_commit(v.alarm.cell_id, AlarmCleared(alarm=alarm_record(v.alarm)))


@transaction.atomic(durable=True)
def freeze_limits(
    characteristic: Characteristic,
    *,
    actor: Actor,
    baseline_size: int,
    reason: str = "",
    baseline_start: int | None = None,
) -> ControlLimits:
    """Freeze control limits from `baseline_size` consecutive values (Phase I): the latest ones, or those from the
    `baseline_start`-th value on (0: the oldest); Phase II is everything after them. Freezing again (recomputing) needs
    a reason; the earlier limits stay on record, superseded. Both are audited with the limits before and after."""
    _require(selectors.can_freeze_limits(actor), gettext("Only a quality engineer may freeze control limits."))
    ch = Characteristic.objects.select_for_update().select_related("feature", "station").get(pk=characteristic.pk)
    previous = ControlLimits.objects.select_for_update().filter(characteristic=ch, superseded_at__isnull=True).first()
    reason = (reason or "").strip()
    if previous is not None and not reason:
        raise ValidationError({"reason": gettext("Limits are frozen already: recomputing them needs a reason.")})
    n = ch.effective_subgroup_size
    minimum = MIN_BASELINE_INDIVIDUALS if ch.chart_kind == ChartKind.IMR else MIN_BASELINE_SUBGROUPS * n
    if baseline_size < minimum:
        raise ValidationError(
            {
                "baseline_size": (
                    gettext("A baseline needs at least %(minimum)s values.") % {"minimum": minimum}
                    if n == 1
                    else gettext("A baseline needs at least %(minimum)s values (%(subgroups)s subgroups of %(n)s).")
                    % {"minimum": minimum, "subgroups": MIN_BASELINE_SUBGROUPS, "n": n}
                )
            }
        )
    series = selectors.values(ch)
    if len(series) < baseline_size:
        raise RefusedByRule(
            gettext("Only %(measured)s values are measured; the baseline asks for %(size)s.")
            % {"measured": len(series), "size": baseline_size}
        )
    take = baseline_size - baseline_size % n  # whole subgroups
    start = len(series) - take if baseline_start is None else baseline_start
    if start < 0 or start + take > len(series):
        raise RefusedByRule(
            gettext("The baseline (%(take)s values from value %(start)s) runs past the %(measured)s measured.")
            % {"take": take, "start": start, "measured": len(series)}
        )
    ids, vals = series.ids[start : start + take], series.values[start : start + take]
    limits = stats.compute_limits(vals, ch.chart_kind, n)
    details = selectors.point_details([int(ids[0]), int(ids[-1])])
    now = timezone.now()
    user = signed_in_user(actor)
    assert user is not None  # can_freeze_limits admits only signed-in users
    if previous is not None:
        previous.superseded_at = now
        previous.save(update_fields=["superseded_at"])
        _close_open_violations(ch, reason="limits recomputed")
    frozen = ControlLimits(
        characteristic=ch,
        chart_kind=limits.chart_kind,
        subgroup_size=limits.subgroup_size,
        center=limits.center,
        ucl=limits.ucl,
        lcl=limits.lcl,
        dispersion_center=limits.dispersion_center,
        dispersion_ucl=limits.dispersion_ucl,
        dispersion_lcl=limits.dispersion_lcl,
        sigma_within=limits.sigma_within,
        sigma_method=limits.sigma_method,
        baseline_values=limits.values,
        baseline_subgroups=limits.subgroups,
        baseline_first_at=details[int(ids[0])][0],
        baseline_last_at=details[int(ids[-1])][0],
        baseline_last_id=int(ids[-1]),
        frozen_at=now,
        frozen_by=user,
        reason=reason,
    )
    frozen.full_clean()
    frozen.save()
    # Phase II starts after the baseline: rules are evaluated from there.
    ch.evaluated_through_at, ch.evaluated_through_id = frozen.baseline_last_at, frozen.baseline_last_id
    ch.save(update_fields=["evaluated_through_at", "evaluated_through_id"])
    limit_fields = (
        "chart_kind",
        "subgroup_size",
        "center",
        "ucl",
        "lcl",
        "dispersion_center",
        "dispersion_ucl",
        "dispersion_lcl",
        "sigma_within",
        "sigma_method",
        "baseline_values",
        "baseline_first_at",
        "baseline_last_at",
        "baseline_last_id",
    )
    audit.append(
        actor=actor,
        action="spc.limits.recompute" if previous else "spc.limits.freeze",
        subject=frozen,
        before=snapshot(previous, limit_fields) if previous else None,
        after={"characteristic": ch.pk, **snapshot(frozen, limit_fields)},
        reason=reason,
    )
    return frozen


def _alarm_text(ch: Characteristic, rule: str) -> AlarmText:
    with translation.override("en"):  # the rule's msgid: its English name (the catalog has no English entries)
        rule_msgid = str(RunRule(rule).label)
    return AlarmText(
        gettext_noop("SPC %(part_type)s %(feature)s @ %(station)s: %(rule)s"),
        {
            "part_type": ch.part_type.code,
            "feature": ch.feature.name,
            "station": ch.station.code,
            "rule": nested(rule_msgid),
        },
    )


@transaction.atomic(durable=True)
def evaluate_characteristic(characteristic: Characteristic, *, now: dt.datetime | None = None) -> list[RuleViolation]:
    """Run the selected rules on the Phase II points that arrived since the last pass; raise a violation (and its
    andon alarm) for each rule that fires on a new point and has no open violation. Idempotent."""
    now = now or timezone.now()
    ch = (
        Characteristic.objects.select_for_update(of=("self",))
        .select_related("part_type", "feature", "station", "drawing")
        .get(pk=characteristic.pk)
    )
    frozen = ControlLimits.objects.filter(characteristic=ch, superseded_at__isnull=True).first()
    if frozen is None:
        return []  # Phase I: nothing to hold points against
    mark = (ch.evaluated_through_at or frozen.baseline_last_at, ch.evaluated_through_id or frozen.baseline_last_id)
    if (
        not selectors._measurements(ch)
        .filter(Q(inspection__captured_at__gt=mark[0]) | Q(inspection__captured_at=mark[0], id__gt=mark[1]))
        .exists()
    ):
        return []
    analysis = selectors.analyse(ch)
    if analysis.limits is None:
        return []
    phase2_points = np.nonzero(analysis.phase == 2)[0]
    if not len(phase2_points):
        return []
    point_ids = analysis.ids[analysis.last_index]
    details = selectors.point_details([int(point_ids[i]) for i in phase2_points])

    def is_new(i: int) -> bool:
        at, _ = details[int(point_ids[i])]
        return (at, int(point_ids[i])) > mark

    open_rules = set(
        RuleViolation.objects.filter(characteristic=ch, acknowledged_at__isnull=True).values_list("rule", flat=True)
    )
    raised: list[RuleViolation] = []
    for rule, hits in analysis.hits.items():
        if rule in open_rules:
            continue
        new_hits = [int(i) for i in phase2_points if hits[i] and is_new(int(i))]
        if not new_hits:
            continue
        i = new_hits[0]
        mid = int(point_ids[i])
        at, serial = details[mid]
        value = analysis.dispersion[i] if rule == RunRule.DISPERSION_1 else analysis.location[i]
        alarm = Alarm(
            cell_id=ch.station.cell_id,
            rule=AlarmRule.SPC,
            station=ch.station,
            evidence={
                "characteristic": ch.pk,
                "rule": rule,
                "serial": serial,
                "value": float(value),
                "url": ch.get_absolute_url(),
            },
            raised_at=now,
        )
        alarm.set_text(_alarm_text(ch, rule))
        alarm.full_clean()
        alarm.save()
        violation = RuleViolation(
            characteristic=ch,
            limits=frozen,
            rule=rule,
            measurement_id=mid,
            point_at=at,
            serial=serial,
            value=float(value),
            detected_at=now,
            alarm=alarm,
        )
        violation.full_clean()
        violation.save()
        audit.append(
            actor=None,
            action="spc.violation.raise",
            subject=violation,
            after={
                "characteristic": ch.pk,
                "name": ch.feature.name,
                "station": ch.station.code,
                "rule": rule,
                "serial": serial,
                "value": float(value),
                "alarm": alarm.pk,
            },
        )
        publish_on_commit(ch.station.cell_id, AlarmRaised(alarm=alarm_record(alarm)))
        raised.append(violation)
    last = int(phase2_points[-1])
    ch.evaluated_through_at, ch.evaluated_through_id = details[int(point_ids[last])][0], int(point_ids[last])
    ch.save(update_fields=["evaluated_through_at", "evaluated_through_id"])
    return raised


@transaction.atomic(durable=True)
def acknowledge_violation(
    violation: RuleViolation, *, actor: Actor, cause: AssignableCause, action: CorrectiveAction, note: str = ""
) -> RuleViolation:
    """Record the reaction to a violation: its assignable cause and the corrective action taken, both from the
    reaction plan's lists. Clears its andon alarm. Audited."""
    _require(selectors.can_acknowledge_violation(actor), gettext("Your role may not acknowledge SPC violations."))
    v = (
        RuleViolation.objects.select_for_update(of=("self",))
        .select_related("alarm", "characteristic__feature", "characteristic__station")
        .get(pk=violation.pk)
    )
    if v.acknowledged_at is not None:
        raise RefusedByRule(gettext("This violation was already acknowledged by %(who)s.") % {"who": v.acknowledged_by})
    if cause is None or not cause.active:
        raise ValidationError({"cause": gettext("Choose an assignable cause from the reaction plan.")})
    if action is None or not action.active:
        raise ValidationError({"action": gettext("Choose a corrective action from the reaction plan.")})
    now = timezone.now()
    v.acknowledged_at, v.acknowledged_by = now, signed_in_user(actor)
    v.assignable_cause, v.corrective_action, v.note = cause, action, (note or "").strip()
    v.full_clean()
    v.save(update_fields=["acknowledged_at", "acknowledged_by", "assignable_cause", "corrective_action", "note"])
    reason = f"Cause: {cause.name}. Action: {action.name}." + (f" {v.note}" if v.note else "")
    audit.append(
        actor=actor,
        action="spc.violation.acknowledge",
        subject=v,
        before={"acknowledged_at": None},
        after={
            "rule": v.rule,
            "characteristic": v.characteristic_id,
            "cause": cause.code,
            "corrective_action": action.code,
            "acknowledged_at": now,
            "alarm": v.alarm_id,
        },
        reason=reason,
    )
    alarm = v.alarm
    if alarm is not None and alarm.acknowledged_at is None:
        alarm.acknowledged_at, alarm.acknowledged_by, alarm.ack_reason = now, signed_in_user(actor), reason[:2000]
        alarm.cleared_at = alarm.cleared_at or now
        alarm.save(update_fields=["acknowledged_at", "acknowledged_by", "ack_reason", "cleared_at"])
        audit.append(
            actor=actor,
            action="alarm.acknowledge",
            subject=alarm,
            before={"acknowledged_at": None},
            after={
                "rule": alarm.rule,
                "message": alarm.message,
                "acknowledged_at": now,
                "cleared_at": alarm.cleared_at,
            },
            reason=reason,
        )
        publish_on_commit(alarm.cell_id, AlarmCleared(alarm=alarm_record(alarm)))
    return v


@transaction.atomic(durable=True)
def record_gauge_study(
    characteristic: Characteristic, *, actor: Actor, values: list[float], reference_value: float, note: str = ""
) -> GaugeStudy:
    """A type-1 gauge study of the characteristic's station: one reference part measured repeatedly."""
    _require(selectors.can_record_gauge_study(actor), gettext("Your role may not record gauge studies."))
    ch = Characteristic.objects.select_related("feature").get(pk=characteristic.pk)
    if len(values) < 10:
        raise ValidationError(
            {"values": gettext("A type-1 study needs at least 10 repeated measurements (25-50 usual).")}
        )
    tolerance = ch.feature.upper_tol - ch.feature.lower_tol
    result = stats.type1_gauge(np.asarray(values, dtype=float), reference=reference_value, tolerance=tolerance)
    study = GaugeStudy(
        characteristic=ch,
        reference_value=reference_value,
        tolerance=tolerance,
        values=[float(v) for v in values],
        n=result.n,
        mean=result.mean,
        sd=result.sd,
        bias=result.bias,
        cg=result.cg,
        cgk=result.cgk,
        capable=result.capable,
        note=note,
        recorded_at=timezone.now(),
        recorded_by=signed_in_user(actor),
    )
    study.full_clean()
    study.save()
    audit.append(
        actor=actor,
        action="spc.gauge_study.record",
        subject=study,
        after={"characteristic": ch.pk, **result.as_dict(), "reference_value": reference_value},
    )
    return study
