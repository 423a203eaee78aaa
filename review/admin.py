"""Admin of the Debug Mode's reviews: read-only records (they are written by the product, never by hand)."""

from __future__ import annotations

from django.contrib import admin

from review.models import (
    CobotCommand,
    Review,
    ReviewClaim,
    ReviewedInspection,
    Signature,
)
from traceability.admin import ReadOnlyAdmin, ReadOnlyInline


class ReviewedInspectionInline(ReadOnlyInline):
    model = ReviewedInspection
    fields = ("inspection",)
    readonly_fields = fields


class SignatureInline(ReadOnlyInline):
    model = Signature
    fields = ("printed_name", "signed_at", "meaning", "method", "content_sha256", "hash_version")
    readonly_fields = fields


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = [
        "inspection",
        "reviewer",
        "verdict",
        "disposition",
        "reason_code",
        "status",
        "review_seconds",
        "signed_at",
    ]
    list_filter = ["verdict", "disposition", "status"]
    search_fields = ["inspection__part__serial", "inspection__result_id", "reviewer__username"]
    list_select_related = ["inspection__part", "reviewer"]
    inlines = [ReviewedInspectionInline, SignatureInline]


@admin.register(ReviewClaim)
class ReviewClaimAdmin(ReadOnlyAdmin):
    list_display = ["part", "inspection", "holder", "claimed_at", "expires_at", "ended_at", "end_reason"]
    list_filter = ["end_reason"]
    list_select_related = ["part", "inspection__part", "holder"]


@admin.register(ReviewedInspection)
class ReviewedInspectionAdmin(ReadOnlyAdmin):
    list_display = ["review", "inspection"]
    list_select_related = ["review", "inspection"]
    search_fields = ["inspection__result_id", "inspection__part__serial"]


@admin.register(CobotCommand)
class CobotCommandAdmin(ReadOnlyAdmin):
    list_display = ["command_id", "cell", "kind", "sent_at", "acked_at"]
    list_filter = ["kind", "cell"]
    search_fields = ["command_id", "inspection__part__serial"]
    list_select_related = ["cell"]


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ["review", "printed_name", "meaning", "method", "signed_at", "content_sha256"]
    list_filter = ["meaning", "method"]
    search_fields = ["printed_name", "review__inspection__part__serial"]
