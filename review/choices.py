"""Enums of Debug Mode (the operator's review of the machine's verdicts), with the badge colour each shows."""
from __future__ import annotations

from django.db import models


class ReviewVerdict(models.TextChoices):
    CONFIRM_NOK = "confirm_nok", "NOK confirmed"
    OVERRIDE_OK = "override_ok", "Overridden to OK (false reject)"
    CONFIRM_OK = "confirm_ok", "OK confirmed"


class ReviewDisposition(models.TextChoices):
    SCRAP = "scrap", "Scrap"
    REWORK = "rework", "Rework"
    RETURN_TO_LINE = "line", "Back to the line"


class ReviewStatus(models.TextChoices):
    AWAITING_COUNTERSIGN = "awaiting_countersign", "Awaiting countersignature"
    COMPLETE = "complete", "Complete"


class OverrideReason(models.TextChoices):
    """Why the machine's reject was false. The order is the digit an operator presses (1 = first)."""

    GLARE = "glare", "Glare or lighting on the part"
    DIRT = "dirt", "Dirt, chip or oil on the part, no defect"
    POSITION = "position", "Part badly positioned in the fixture"
    COSMETIC = "cosmetic", "Mark within the cosmetic standard"
    MEASURE = "measure", "Edge not found; re-measured by hand within tolerance"
    OTHER = "other", "Other (note required)"


class SignatureMeaning(models.TextChoices):
    """What a signature means (21 CFR 11.50: printed name, date and time, and the meaning of the signature)."""

    AUTHOR = "author", "Reviewed the evidence and decided this verdict"
    COUNTERSIGN = "countersign", "Second person: approved this override"


class ClaimEnd(models.TextChoices):
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"
    SIGNED = "signed", "Signed"


class CobotCommandKind(models.TextChoices):
    PRESENT_VIEW = "present_view", "Present a view"
    MOVE_PART = "move_part", "Move the part"


class CobotDestination(models.TextChoices):
    SCRAP = "scrap", "Scrap bin"
    REWORK = "rework", "Rework rack"
    LINE = "line", "Back to the line"
    HOLD = "hold", "Hold at the station"


BADGE_COLOURS: dict[type[models.TextChoices], dict[str, str]] = {
    ReviewVerdict: {"confirm_nok": "bad", "override_ok": "warn", "confirm_ok": "ok"},
    ReviewStatus: {"awaiting_countersign": "warn", "complete": "ok"},
    ReviewDisposition: {"scrap": "bad", "rework": "warn", "line": "ok"},
}
