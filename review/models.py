"""Debug Mode: operators claim a case, step through the machine's findings and sign a verdict.

A case is a part: every inspection of it that needs a human (the visual station's scratch and the dimensional
station's bore alike) is reviewed together, by one person at a time. A claim holds the part for one operator
until it is released, signed or lapses; the database allows at most one open claim per part. A Review is the
decision on the part; ReviewedInspection names each inspection it decided (each at most once). Each Signature
binds a person, a time and a meaning to the sha256 of the review's canonical content (hash version 2: the
signature's own hash covers the printed name, meaning and time as well; version 1 covered the content alone).
An override on a four-eyes part type waits for a countersignature before it takes effect. CobotCommand is the
log of what the cobot was told and whether it acknowledged.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from inspection.models import Inspection
from review.choices import (
    ClaimEnd,
    CobotCommandKind,
    ReviewDisposition,
    ReviewStatus,
    ReviewVerdict,
    SignatureMeaning,
)
from traceability.models import Cell, Part

__all__ = ["CobotCommand", "Review", "ReviewClaim", "ReviewedInspection", "Signature"]

# How a signature's content_sha256 is made: 1 = the review's content hash; 2 = the hash of that together with the
# signer, printed name, meaning and time (actions.review.signature_manifest).
SIGNATURE_HASH_VERSION = 2


class ReviewClaim(models.Model):
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="review_claims")
    inspection = models.ForeignKey(
        Inspection,
        on_delete=models.PROTECT,
        related_name="review_claims",
        help_text="The part's leading inspection when it was claimed (the case's address).",
    )
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_claims")
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=ClaimEnd.choices, blank=True)

    class Meta:
        db_table = "inspection_reviewclaim"
        ordering = ["-claimed_at"]
        constraints = [
            # Two operators can never review the same part: at most one open claim per part, whichever station's
            # inspection they opened it from and whatever the application does (a lapsed claim is ended before a
            # new one is inserted, in the same transaction).
            models.UniqueConstraint(
                fields=["part"], condition=Q(ended_at__isnull=True), name="review_claim_one_open_per_part"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("claimed_at")), name="review_claim_expires_after_claim"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True, end_reason="") | Q(ended_at__isnull=False) & ~Q(end_reason=""),
                name="review_claim_end_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["holder", "ended_at"])]

    def __str__(self) -> str:
        return f"claim {self.pk} on {self.inspection_id} by {self.holder_id}"


class Review(models.Model):
    inspection = models.OneToOneField(
        Inspection,
        on_delete=models.PROTECT,
        related_name="review",
        help_text="The case's leading inspection (its failure case, if any).",
    )
    decided_inspections: models.ManyToManyField[Inspection, ReviewedInspection] = models.ManyToManyField(
        Inspection, through="ReviewedInspection", related_name="+"
    )
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    claim = models.ForeignKey(ReviewClaim, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    verdict = models.CharField(max_length=20, choices=ReviewVerdict.choices)
    disposition = models.CharField(max_length=20, choices=ReviewDisposition.choices)
    reason_code = models.CharField(max_length=40, blank=True, help_text="Override reason, or the defect code found.")
    note = models.TextField(blank=True)
    defect_label = models.CharField(
        max_length=40, blank=True, help_text="The human label for training ('ok', 'scratch', ...)."
    )
    opened_at = models.DateTimeField(help_text="When the reviewer opened the case.")
    signed_at = models.DateTimeField()
    review_seconds = models.FloatField(help_text="Claimed to signed, within one live claim: the review time metric.")
    status = models.CharField(max_length=30, choices=ReviewStatus.choices)
    completed_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.UUIDField(unique=True, help_text="Chosen by the client: a resubmission is a no-op.")
    signed_content = models.JSONField(help_text="The canonical content every signature is bound to.")
    content_sha256 = models.CharField(max_length=64)

    class Meta:
        db_table = "inspection_review"
        ordering = ["-signed_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(verdict=ReviewVerdict.OVERRIDE_OK) | ~Q(reason_code=""), name="review_override_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(verdict=ReviewVerdict.CONFIRM_NOK)
                | Q(disposition__in=[ReviewDisposition.SCRAP, ReviewDisposition.REWORK]),
                name="review_nok_is_scrap_or_rework",
            ),
            models.CheckConstraint(
                condition=Q(verdict=ReviewVerdict.CONFIRM_NOK) | Q(disposition=ReviewDisposition.RETURN_TO_LINE),
                name="review_ok_goes_back_to_line",
            ),
            models.CheckConstraint(
                condition=~Q(status=ReviewStatus.COMPLETE) | Q(completed_at__isnull=False),
                name="review_complete_has_time",
            ),
            models.CheckConstraint(condition=Q(review_seconds__gte=0), name="review_seconds_not_negative"),
        ]
        indexes = [models.Index(fields=["status", "signed_at"]), models.Index(fields=["signed_at"])]

    def __str__(self) -> str:
        return f"review of {self.inspection_id}: {self.verdict}"


class ReviewedInspection(models.Model):
    """An inspection a review decided. One review decides every inspection of the part that needed a human."""

    review = models.ForeignKey(Review, on_delete=models.PROTECT, related_name="decided")
    inspection = models.OneToOneField(Inspection, on_delete=models.PROTECT, related_name="decided_by")

    class Meta:
        db_table = "inspection_reviewedinspection"
        ordering = ["review_id", "id"]

    def __str__(self) -> str:
        return f"{self.inspection_id} decided by review {self.review_id}"


class Signature(models.Model):
    """An electronic signature: who (printed name), when, what it means, and the hash of what was signed."""

    review = models.ForeignKey(Review, on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_signatures")
    printed_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    meaning = models.CharField(max_length=20, choices=SignatureMeaning.choices)
    content_sha256 = models.CharField(max_length=64, help_text="What this signature binds (see hash_version).")
    hash_version = models.PositiveSmallIntegerField(
        help_text="1: the review's content hash; 2: that hash with the signer, printed name, meaning and time."
    )
    method = models.CharField(max_length=20, help_text="How the signer re-authenticated: password or pin.")
    idempotency_key = models.UUIDField(unique=True)

    class Meta:
        db_table = "inspection_signature"
        ordering = ["signed_at", "id"]
        constraints = [models.UniqueConstraint(fields=["review", "meaning"], name="signature_one_per_meaning")]

    def __str__(self) -> str:
        return f"{self.printed_name}: {self.meaning} @ {self.signed_at:%Y-%m-%d %H:%M:%S}"


class CobotCommand(models.Model):
    """What the cell's cobot was told (queue `cobot.<cell code>`) and its acknowledgement."""

    command_id = models.UUIDField(unique=True)
    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="cobot_commands")
    inspection = models.ForeignKey(
        Inspection, on_delete=models.PROTECT, null=True, blank=True, related_name="cobot_commands"
    )
    kind = models.CharField(max_length=20, choices=CobotCommandKind.choices)
    payload = models.JSONField(default=dict)
    sent_at = models.DateTimeField()
    acked_at = models.DateTimeField(null=True, blank=True)
    ack = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "inspection_cobotcommand"
        ordering = ["-sent_at"]
        indexes = [models.Index(fields=["inspection", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.command_id}"
