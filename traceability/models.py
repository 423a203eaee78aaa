"""Traceability domain: the plant hierarchy (ISA-95), materials, batches, serialised parts and their genealogy,
station events, pallets, non-conformances, and the hash-chained audit trail.

Genealogy is kept per serial: a Part consumes MaterialLots (LotConsumption) and other Parts (PartComponent);
lots descend from lots through splits and merges (LotLink). Every write goes through `traceability.actions`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext

from traceability.choices import (
    CameraView,
    InspectionJob,
    BatchStatus,
    DefectSeverity,
    Disposition,
    FailureCaseStatus,
    FoundBy,
    LotLinkKind,
    LotStatus,
    PalletStatus,
    PartFamily,
    PartStatus,
    RecordSignatureMeaning,
    StationKind,
    StationOutcome,
)

# --- Plant hierarchy (ISA-95 equipment model) -----------------------------------------------------------


# What each kind of inspection station runs by default: the visual station the defect model on a front-lit image,
# the dimensional station the drawing's measurement programme on a backlit silhouette.
STATION_JOB_BY_KIND = {
    "visual_inspection": ("defect_model", "front"),
    "dimensional_inspection": ("measurement", "backlit"),
}


class Site(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Area(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="areas")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["site__code", "code"]
        constraints = [models.UniqueConstraint(fields=["site", "code"], name="area_code_unique_per_site")]

    def __str__(self) -> str:
        return f"{self.site} › {self.name}"


class Line(models.Model):
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="lines")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["area__code", "code"]
        constraints = [models.UniqueConstraint(fields=["area", "code"], name="line_code_unique_per_area")]

    def __str__(self) -> str:
        return f"{self.area} › {self.name}"


class Cell(models.Model):
    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="cells")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    target_cycle_time_s = models.FloatField(default=15.0, validators=[MinValueValidator(0.1)])

    class Meta:
        ordering = ["line__code", "code"]
        permissions = [
            ("view_live_cell", "Can watch the live cell view"),
            ("acknowledge_alarm", "Can acknowledge andon alarms"),
        ]
        constraints = [models.UniqueConstraint(fields=["line", "code"], name="cell_code_unique_per_line")]

    def __str__(self) -> str:
        return self.name


class Station(models.Model):
    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="stations")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=40, choices=StationKind.choices)
    position = models.PositiveSmallIntegerField(help_text="Order of the station along the cell's flow.")
    inspection_job = models.CharField(
        max_length=20,
        choices=InspectionJob.choices,
        blank=True,
        default=InspectionJob.NONE,
        help_text="What the station's edge device runs on the station's own image.",
    )
    camera_view = models.CharField(
        max_length=10, choices=CameraView.choices, default=CameraView.FRONT, help_text="The station camera's lighting."
    )

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.inspection_job:  # an inspection station runs what its kind says, unless configured otherwise
            self.inspection_job, self.camera_view = STATION_JOB_BY_KIND.get(
                self.kind, (InspectionJob.NONE, self.camera_view)
            )
        super().save(*args, **kwargs)

    class Meta:
        ordering = ["cell_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["cell", "code"], name="station_code_unique_per_cell"),
            models.UniqueConstraint(fields=["cell", "position"], name="station_position_unique_per_cell"),
        ]

    def __str__(self) -> str:
        return f"{self.cell.code}/{self.code}"


# --- Products and materials -----------------------------------------------------------------------------


class PartType(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    family = models.CharField(
        max_length=20,
        choices=PartFamily.choices,
        default=PartFamily.FLANGE,
        help_text="The measurement programme the edge device measures it with.",
    )
    drawing_number = models.CharField(max_length=60, help_text="Of the current drawing revision.")
    revision = models.CharField(max_length=10, help_text="The current drawing revision (see its drawings).")
    gtin = models.CharField(
        max_length=14,
        blank=True,
        validators=[RegexValidator(r"^\d{14}$", "A GTIN-14 has 14 digits.")],
        help_text="GTIN-14 used for EPCIS identifiers (SGTIN).",
    )
    four_eyes_override = models.BooleanField(
        default=False, help_text="An override to OK in Debug Mode needs a second person's countersignature."
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["drawing_number", "revision"], name="part_type_drawing_revision_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.drawing_number} rev {self.revision})"


class DrawingRevision(models.Model):
    """One revision of a part type's drawing: its toleranced features, as released. A change to a tolerance
    releases a new revision (audited); earlier revisions stay readable, and every inspection names the revision it
    was measured against."""

    part_type = models.ForeignKey(PartType, on_delete=models.PROTECT, related_name="drawings")
    drawing_number = models.CharField(max_length=60)
    revision = models.CharField(max_length=10)
    released_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["part_type_id", "released_at", "id"]
        constraints = [models.UniqueConstraint(fields=["part_type", "revision"], name="drawing_revision_unique")]

    def __str__(self) -> str:
        return f"{self.drawing_number} rev {self.revision}"


class DimensionalFeature(models.Model):
    """A toleranced feature of a drawing revision: it passes when nominal + lower_tol <= value <= nominal +
    upper_tol."""

    part_type = models.ForeignKey(PartType, on_delete=models.CASCADE, related_name="features")
    drawing = models.ForeignKey(DrawingRevision, on_delete=models.PROTECT, related_name="features")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=40, help_text="diameter, distance, outer_size, ...")
    nominal = models.FloatField()
    lower_tol = models.FloatField(help_text="Lower deviation, zero or negative (e.g. -0.05).")
    upper_tol = models.FloatField(help_text="Upper deviation, zero or positive (e.g. +0.05).")
    unit = models.CharField(max_length=10, default="mm")

    class Meta:
        ordering = ["part_type_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["drawing", "name"], name="feature_name_unique_per_drawing"),
            models.CheckConstraint(
                condition=models.Q(lower_tol__lte=0) & models.Q(upper_tol__gte=0), name="feature_tolerance_band"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.nominal} {self.lower_tol:+}/{self.upper_tol:+} {self.unit}"


class MaterialDefinition(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=10, default="kg")
    gtin = models.CharField(
        max_length=14,
        blank=True,
        validators=[RegexValidator(r"^\d{14}$", "A GTIN-14 has 14 digits.")],
        help_text="GTIN-14 of the material, used for its lots' EPCIS class identifiers (LGTIN).",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class MaterialLot(models.Model):
    lot_key = models.SlugField(max_length=60, unique=True, help_text="Plant-wide lot identifier.")
    material = models.ForeignKey(MaterialDefinition, on_delete=models.PROTECT, related_name="lots")
    supplier = models.CharField(max_length=200, blank=True)
    supplier_lot_number = models.CharField(max_length=80, blank=True)
    received_at = models.DateTimeField()
    quantity = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(0)])
    status = models.CharField(max_length=20, choices=LotStatus.choices, default=LotStatus.RELEASED)
    status_before_containment = models.CharField(
        max_length=20,
        choices=LotStatus.choices,
        blank=True,
        help_text="The status a suspect lot returns to when its last containment is released.",
    )

    class Meta:
        ordering = ["-received_at", "lot_key"]
        permissions = [("contain_lot", "Can mark lots suspect and contain their parts")]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["supplier", "supplier_lot_number"])]

    def __str__(self) -> str:
        return self.lot_key

    def get_absolute_url(self) -> str:
        return reverse("trace-lot", args=[self.lot_key])


class LotLink(models.Model):
    """Material moving from one lot into another: one parent and several children is a split, several
    parents into one child is a merge. Forward trace follows parent → child."""

    parent = models.ForeignKey(MaterialLot, on_delete=models.PROTECT, related_name="child_links")
    child = models.ForeignKey(MaterialLot, on_delete=models.PROTECT, related_name="parent_links")
    kind = models.CharField(max_length=10, choices=LotLinkKind.choices)
    quantity = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(0)])
    linked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="lot_link_unique"),
            models.CheckConstraint(condition=~models.Q(parent=models.F("child")), name="lot_link_not_self"),
        ]
        indexes = [models.Index(fields=["child", "parent"])]

    def __str__(self) -> str:
        return f"{self.parent_id} → {self.child_id} ({self.kind})"


class Batch(models.Model):
    """A production batch: one order of many serials of one part type."""

    batch_number = models.SlugField(max_length=60, unique=True)
    part_type = models.ForeignKey(PartType, on_delete=models.PROTECT, related_name="batches")
    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="batches", null=True, blank=True)
    planned_quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=BatchStatus.choices, default=BatchStatus.PLANNED)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.batch_number


class Pallet(models.Model):
    sscc = models.CharField(
        max_length=18, unique=True, validators=[RegexValidator(r"^\d{18}$", "An SSCC has 18 digits.")]
    )
    status = models.CharField(max_length=20, choices=PalletStatus.choices, default=PalletStatus.OPEN)
    created_at = models.DateTimeField()
    shipped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.sscc


class Part(models.Model):
    serial = models.SlugField(max_length=60, unique=True)
    part_type = models.ForeignKey(PartType, on_delete=models.PROTECT, related_name="parts")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="parts")
    status = models.CharField(max_length=20, choices=PartStatus.choices, default=PartStatus.IN_PROCESS)
    created_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()
    pallet = models.ForeignKey(Pallet, on_delete=models.PROTECT, related_name="parts", null=True, blank=True)
    packed_at = models.DateTimeField(null=True, blank=True)
    status_on_release = models.CharField(
        max_length=20,
        choices=PartStatus.choices,
        blank=True,
        help_text="While containment holds the part: the status it takes when the last hold is released "
        "(its status before the hold, updated by what production decided meanwhile).",
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("view_trace", "Can search genealogy and recall"),
            ("pack_parts", "Can pack parts on pallets and ship them"),
        ]
        indexes = [
            models.Index(fields=["batch", "serial"]),
            models.Index(fields=["status"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return self.serial

    def get_absolute_url(self) -> str:
        return reverse("trace-part", args=[self.serial])

    def clean(self) -> None:
        if self.batch_id and self.part_type_id and self.batch.part_type_id != self.part_type_id:
            raise ValidationError({"batch": gettext("The batch makes another part type.")})


class LotConsumption(models.Model):
    """A part consumed material from a lot."""

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="lot_consumptions")
    lot = models.ForeignKey(MaterialLot, on_delete=models.PROTECT, related_name="consumptions")
    quantity = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(0)])
    consumed_at = models.DateTimeField()

    class Meta:
        ordering = ["consumed_at"]
        indexes = [models.Index(fields=["lot", "part"]), models.Index(fields=["part", "lot"])]

    def __str__(self) -> str:
        return f"{self.part_id} ← {self.lot_id} ({self.quantity})"


class PartComponent(models.Model):
    """A part (a sub-assembly) built into another part. A component goes into at most one assembly."""

    assembly = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="components")
    component = models.OneToOneField(Part, on_delete=models.PROTECT, related_name="used_in")
    assembled_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(assembly=models.F("component")), name="component_not_self")
        ]
        indexes = [models.Index(fields=["assembly", "component"])]

    def __str__(self) -> str:
        return f"{self.assembly_id} ⊃ {self.component_id}"


class StationEvent(models.Model):
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="station_events")
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="events")
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=StationOutcome.choices, default=StationOutcome.IN_PROGRESS)
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["entered_at", "id"]
        indexes = [
            models.Index(fields=["part", "entered_at"]),
            models.Index(fields=["station", "entered_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.part_id}@{self.station_id} {self.entered_at:%Y-%m-%d %H:%M:%S}"

    def clean(self) -> None:
        if self.left_at and self.entered_at and self.left_at < self.entered_at:
            raise ValidationError({"left_at": gettext("A part cannot leave a station before it entered it.")})

    @property
    def duration_s(self) -> float | None:
        if self.left_at is None:
            return None
        return (self.left_at - self.entered_at).total_seconds()


class DefectCode(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=20, choices=DefectSeverity.choices, default=DefectSeverity.MAJOR)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class FailureCase(models.Model):
    """A non-conformance raised on a part."""

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="failure_cases")
    defect_code = models.ForeignKey(DefectCode, on_delete=models.PROTECT, related_name="failure_cases")
    found_by = models.CharField(max_length=20, choices=FoundBy.choices)
    found_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    station = models.ForeignKey(Station, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    description = models.TextField(blank=True)
    disposition = models.CharField(max_length=20, choices=Disposition.choices, default=Disposition.PENDING, blank=True)
    status = models.CharField(max_length=20, choices=FailureCaseStatus.choices, default=FailureCaseStatus.OPEN)
    pending_disposition = models.CharField(
        max_length=20,
        choices=Disposition.choices,
        default=Disposition.PENDING,
        blank=True,
        help_text="A signed disposition that awaits a second person's countersignature (four-eyes part types); "
        "while it waits, no other decision on the part is accepted.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="owned_failure_cases"
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["part", "opened_at"]), models.Index(fields=["status", "opened_at"])]

    def __str__(self) -> str:
        return f"FC-{self.pk} {self.part_id} {self.defect_code_id}"

    def clean(self) -> None:
        if self.status == FailureCaseStatus.CLOSED and not self.disposition:
            raise ValidationError({"disposition": gettext("A case is closed with a disposition.")})


# --- Audit trail ----------------------------------------------------------------------------------------


class Containment(models.Model):
    """A lot declared suspect, and the parts it held, until a quality engineer releases it."""

    lot = models.ForeignKey(MaterialLot, on_delete=models.PROTECT, related_name="containments")
    reason = models.TextField()
    contained_at = models.DateTimeField()
    contained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-contained_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lot"], condition=models.Q(released_at__isnull=True), name="containment_one_active_per_lot"
            ),
        ]

    def __str__(self) -> str:
        return f"containment of {self.lot_id} ({'released' if self.released_at else 'active'})"

    @property
    def active(self) -> bool:
        return self.released_at is None


class ContainmentHold(models.Model):
    """One part held by one containment. A part stays on hold while any of its containments is active."""

    containment = models.ForeignKey(Containment, on_delete=models.PROTECT, related_name="holds")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="containment_holds")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["containment", "part"], name="containment_hold_unique")]
        indexes = [models.Index(fields=["part", "containment"])]

    def __str__(self) -> str:
        return f"{self.part_id} held by containment {self.containment_id}"


class AuditRecord(models.Model):
    """One entry of the append-only, hash-chained audit trail.

    `payload` is the canonical JSON of everything recorded; `record_hash` = sha256(previous hash + payload).
    The columns beside it (action, subject, actor, time) repeat payload fields so they can be queried;
    `verify_audit` checks both. The database refuses UPDATE and DELETE (see migration 0002).
    """

    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    actor_name = models.CharField(max_length=200)
    action = models.CharField(max_length=80, db_index=True)
    subject_type = models.CharField(max_length=80)
    subject_key = models.CharField(max_length=120)
    corrects = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections")
    payload = models.TextField()
    previous_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["subject_type", "subject_key", "id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.subject_type}:{self.subject_key}"


# --- Electronic signatures ------------------------------------------------------------------------------


class SigningPin(models.Model):
    """A short PIN a person may sign with instead of their password (stored hashed, like a password). Setting or
    changing it needs the current password."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signing_pin")
    pin_hash = models.CharField(max_length=200)
    set_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"signing PIN of {self.user_id}"


class SigningGuard(models.Model):
    """A person's refused signing attempts in the current window. Each attempt reserves a slot here before the
    credential is checked, in one UPDATE, so a burst of parallel attempts gets no more guesses than the limit."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signing_guard")
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts refused (or in flight) in the window.")
    window_started_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"signing guard of {self.user_id}: {self.attempts}"


class RecordSignature(models.Model):
    """An electronic signature on a quality record (a failure case's disposition and its countersignature, a
    containment's release): who, under which printed name, when, with which meaning, bound to the sha256 of what
    was signed. Debug Mode's reviews keep their own signature rows (review.Signature), made by the same path."""

    subject_type = models.CharField(max_length=60)
    subject_key = models.CharField(max_length=120)
    meaning = models.CharField(max_length=20, choices=RecordSignatureMeaning.choices)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="record_signatures")
    printed_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    method = models.CharField(max_length=20, help_text="How the signer re-authenticated: password or pin.")
    signed_content = models.JSONField(help_text="The record's content as signed.")
    content_sha256 = models.CharField(max_length=64, help_text="sha256 of the canonical signed content.")
    manifest_sha256 = models.CharField(
        max_length=64, help_text="sha256 of the content hash with the signer, printed name, meaning and time."
    )

    class Meta:
        ordering = ["signed_at", "id"]
        indexes = [models.Index(fields=["subject_type", "subject_key"])]

    def __str__(self) -> str:
        return f"{self.printed_name}: {self.meaning} of {self.subject_type} {self.subject_key}"
