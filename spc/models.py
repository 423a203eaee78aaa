"""Statistical process control: one characteristic per (part type, drawing revision, feature, station), its frozen
control limits, the rule violations raised against them with the reaction they got, the reaction plan's lists, and
type-1 gauge studies.

Limits are never recomputed silently: a ControlLimits row is written only by `spc.actions.freeze_limits` (audited,
with who and why) and is never changed afterwards except to mark it superseded by the next freeze.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext

from live.models import Alarm
from spc import stats
from spc.choices import CapabilityMethod, ChartKind, RunRule, SELECTABLE_RULES, Sides
from traceability.models import DimensionalFeature, DrawingRevision, PartType, Station


def default_rules() -> list[str]:
    return list(stats.DEFAULT_RULES)


class Characteristic(models.Model):
    """A feature of one drawing revision as measured at one station: the unit of SPC."""

    part_type = models.ForeignKey(PartType, on_delete=models.PROTECT, related_name="spc_characteristics")
    drawing = models.ForeignKey(DrawingRevision, on_delete=models.PROTECT, related_name="spc_characteristics")
    feature = models.ForeignKey(DimensionalFeature, on_delete=models.PROTECT, related_name="spc_characteristics")
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="spc_characteristics")
    chart_kind = models.CharField(max_length=10, choices=ChartKind.choices, default=ChartKind.XBAR_R)
    subgroup_size = models.PositiveSmallIntegerField(
        default=5, help_text="Consecutive parts per rational subgroup (2..25; X̄ charts only)."
    )
    rules = models.JSONField(default=default_rules, help_text="Run rules evaluated on the location chart.")
    sides = models.CharField(max_length=12, choices=Sides.choices, default=Sides.TWO_SIDED)
    capability_method = models.CharField(
        max_length=12, choices=CapabilityMethod.choices, default=CapabilityMethod.NORMAL
    )
    study_size = models.PositiveIntegerField(
        default=500,
        help_text="The capability study and the in-control state use the latest this many values "
        "(0: every value since the limits were frozen).",
    )
    # The rule watcher's high-water mark: the newest point (by capture time, then id) already evaluated.
    evaluated_through_at = models.DateTimeField(null=True, blank=True)
    evaluated_through_id = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["part_type_id", "drawing_id", "feature_id", "station_id"]
        constraints = [
            models.UniqueConstraint(fields=["feature", "station"], name="spc_characteristic_unique"),
            models.CheckConstraint(
                condition=models.Q(subgroup_size__gte=2, subgroup_size__lte=25), name="spc_subgroup_size_in_tables"
            ),
        ]
        permissions = [
            ("freeze_limits", "Can freeze and recompute SPC control limits"),
            ("acknowledge_violation", "Can acknowledge SPC rule violations with cause and corrective action"),
        ]

    def __str__(self) -> str:
        return f"{self.feature.name} @ {self.station.code} ({self.drawing})"

    def get_absolute_url(self) -> str:
        return reverse("spc-characteristic", args=[self.pk])

    @property
    def name(self) -> str:
        return self.feature.name

    @property
    def lsl(self) -> float | None:
        return None if self.sides == Sides.UPPER_ONLY else self.feature.nominal + self.feature.lower_tol

    @property
    def usl(self) -> float | None:
        return None if self.sides == Sides.LOWER_ONLY else self.feature.nominal + self.feature.upper_tol

    @property
    def effective_subgroup_size(self) -> int:
        return 1 if self.chart_kind == ChartKind.IMR else self.subgroup_size

    def clean(self) -> None:
        if self.feature_id and self.drawing_id and self.feature.drawing_id != self.drawing_id:
            raise ValidationError({"feature": gettext("The feature belongs to another drawing revision.")})
        if self.drawing_id and self.part_type_id and self.drawing.part_type_id != self.part_type_id:
            raise ValidationError({"drawing": gettext("The drawing belongs to another part type.")})
        allowed = {r.value for r in SELECTABLE_RULES}
        if not isinstance(self.rules, list) or not all(isinstance(r, str) and r in allowed for r in self.rules):
            raise ValidationError({"rules": gettext("Choose among %(rules)s.") % {"rules": ", ".join(sorted(allowed))}})
        if not self.rules:
            raise ValidationError({"rules": gettext("Choose at least one rule (rule 1 at the least).")})


class ControlLimits(models.Model):
    """Limits frozen from a Phase I baseline. The active row has `superseded_at` empty."""

    characteristic = models.ForeignKey(Characteristic, on_delete=models.PROTECT, related_name="limits")
    chart_kind = models.CharField(max_length=10, choices=ChartKind.choices)
    subgroup_size = models.PositiveSmallIntegerField()
    center = models.FloatField()
    ucl = models.FloatField()
    lcl = models.FloatField()
    dispersion_center = models.FloatField()
    dispersion_ucl = models.FloatField()
    dispersion_lcl = models.FloatField()
    sigma_within = models.FloatField()
    sigma_method = models.CharField(max_length=40)
    baseline_values = models.PositiveIntegerField()
    baseline_subgroups = models.PositiveIntegerField()
    baseline_first_at = models.DateTimeField()
    baseline_last_at = models.DateTimeField()
    baseline_last_id = models.BigIntegerField(help_text="The baseline's last measurement (Phase II starts after it).")
    frozen_at = models.DateTimeField()
    frozen_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["characteristic_id", "-frozen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["characteristic"], condition=models.Q(superseded_at__isnull=True), name="spc_one_active_limits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.characteristic_id}: {self.lcl:.4f} … {self.ucl:.4f} (frozen {self.frozen_at:%Y-%m-%d})"

    def as_stats(self) -> stats.Limits:
        return stats.Limits(
            self.chart_kind,
            self.subgroup_size,
            self.center,
            self.ucl,
            self.lcl,
            self.dispersion_center,
            self.dispersion_ucl,
            self.dispersion_lcl,
            self.sigma_within,
            self.sigma_method,
            self.baseline_values,
            self.baseline_subgroups,
        )


class ReactionEntry(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True, help_text="Offered when a violation is acknowledged.")

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AssignableCause(ReactionEntry):
    """The reaction plan's list of assignable causes (edited in the admin)."""


class CorrectiveAction(ReactionEntry):
    """The reaction plan's list of corrective actions (edited in the admin)."""


class RuleViolation(models.Model):
    """A run rule fired on a characteristic against its frozen limits. It raises an andon alarm; acknowledging it
    needs an assignable cause and a corrective action, and clears the alarm. While one is open for a rule, further
    points breaking the same rule are marked on the chart but raise nothing new."""

    characteristic = models.ForeignKey(Characteristic, on_delete=models.PROTECT, related_name="violations")
    limits = models.ForeignKey(ControlLimits, on_delete=models.PROTECT, related_name="violations")
    rule = models.CharField(max_length=20, choices=RunRule.choices)
    measurement_id = models.BigIntegerField(help_text="The last measurement of the point that completed the pattern.")
    point_at = models.DateTimeField(help_text="When the part behind that point was captured.")
    serial = models.CharField(max_length=60)
    value = models.FloatField(help_text="The plotted value (individual, subgroup mean or dispersion).")
    detected_at = models.DateTimeField()
    alarm = models.OneToOneField(Alarm, on_delete=models.PROTECT, null=True, blank=True, related_name="spc_violation")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assignable_cause = models.ForeignKey(
        AssignableCause, on_delete=models.PROTECT, null=True, blank=True, related_name="violations"
    )
    corrective_action = models.ForeignKey(
        CorrectiveAction, on_delete=models.PROTECT, null=True, blank=True, related_name="violations"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["characteristic", "rule"],
                condition=models.Q(acknowledged_at__isnull=True),
                name="spc_one_open_violation_per_rule",
            ),
        ]
        indexes = [models.Index(fields=["characteristic", "detected_at"])]

    def __str__(self) -> str:
        return f"{self.characteristic_id} {self.rule} @ {self.point_at:%Y-%m-%d %H:%M:%S}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


class GaugeStudy(models.Model):
    """A type-1 gauge study: one reference part measured repeatedly at the station (Cg, Cgk)."""

    characteristic = models.ForeignKey(Characteristic, on_delete=models.PROTECT, related_name="gauge_studies")
    reference_value = models.FloatField()
    tolerance = models.FloatField()
    values = models.JSONField()
    n = models.PositiveIntegerField()
    mean = models.FloatField()
    sd = models.FloatField()
    bias = models.FloatField()
    cg = models.FloatField(null=True, blank=True)
    cgk = models.FloatField(null=True, blank=True)
    capable = models.BooleanField()
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["characteristic_id", "-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"gauge study {self.characteristic_id}: Cg {self.cg} Cgk {self.cgk}"
