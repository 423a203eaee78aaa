"""Enums of Debug Mode (the operator's review of the machine's verdicts), with the badge colour each shows."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReviewVerdict(models.TextChoices):
    CONFIRM_NOK = "confirm_nok", _("NOK confirmed")
    OVERRIDE_OK = "override_ok", _("Overridden to OK (false reject)")
    CONFIRM_OK = "confirm_ok", _("OK confirmed")


class ReviewDisposition(models.TextChoices):
    SCRAP = "scrap", _("Scrap")
    REWORK = "rework", _("Rework")
    RETURN_TO_LINE = "line", _("Back to the line")


class ReviewStatus(models.TextChoices):
    AWAITING_COUNTERSIGN = "awaiting_countersign", _("Awaiting countersignature")
    COMPLETE = "complete", _("Complete")


class OverrideReason(models.TextChoices):
    """Why the machine's reject was false. The order is the digit an operator presses (1 = first)."""

    GLARE = "glare", _("Glare or lighting on the part")
    DIRT = "dirt", _("Dirt, chip or oil on the part, no defect")
    POSITION = "position", _("Part badly positioned in the fixture")
    COSMETIC = "cosmetic", _("Mark within the cosmetic standard")
    MEASURE = "measure", _("Edge not found; re-measured by hand within tolerance")
    OTHER = "other", _("Other (note required)")


class SignatureMeaning(models.TextChoices):
    """What a signature means (21 CFR 11.50: printed name, date and time, and the meaning of the signature)."""

    AUTHOR = "author", _("Reviewed the evidence and decided this verdict")
    COUNTERSIGN = "countersign", _("Second person: approved this override")


class ClaimEnd(models.TextChoices):
    RELEASED = "released", _("Released")
    EXPIRED = "expired", _("Expired")
    SIGNED = "signed", _("Signed")


class CobotCommandKind(models.TextChoices):
    PRESENT_VIEW = "present_view", _("Present a view")
    MOVE_PART = "move_part", _("Move the part")


class CobotDestination(models.TextChoices):
    SCRAP = "scrap", _("Scrap bin")
    REWORK = "rework", _("Rework rack")
    LINE = "line", _("Back to the line")
    HOLD = "hold", _("Hold at the station")


BADGE_COLOURS: dict[type[models.TextChoices], dict[str, str]] = {
    ReviewVerdict: {"confirm_nok": "bad", "override_ok": "warn", "confirm_ok": "ok"},
    ReviewStatus: {"awaiting_countersign": "warn", "complete": "ok"},
    ReviewDisposition: {"scrap": "bad", "rework": "warn", "line": "ok"},
}
