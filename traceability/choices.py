"""Status enums of the traceability domain, and the badge colour each status shows."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StationKind(models.TextChoices):
    LOADING = "loading", _("Loading")
    VISUAL_INSPECTION = "visual_inspection", _("Visual inspection")
    DIMENSIONAL_INSPECTION = "dimensional_inspection", _("Dimensional inspection")
    FAILURE_ANALYSIS = "failure_analysis", _("Failure analysis (cobot)")
    UNLOADING = "unloading", _("Unloading")


class LotStatus(models.TextChoices):
    RELEASED = "released", _("Released")
    ON_HOLD = "on_hold", _("On hold")
    SUSPECT = "suspect", _("Suspect")
    CONSUMED = "consumed", _("Consumed")


class LotLinkKind(models.TextChoices):
    SPLIT = "split", _("Split")
    MERGE = "merge", _("Merge")


class BatchStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")


class PartStatus(models.TextChoices):
    IN_PROCESS = "in_process", _("In process")
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")
    REWORKED = "reworked", _("Reworked")
    SCRAPPED = "scrapped", _("Scrapped")
    ON_HOLD = "on_hold", _("On hold")
    SHIPPED = "shipped", _("Shipped")


class StationOutcome(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    OK = "ok", _("OK")
    NOK = "nok", _("NOK")
    SKIPPED = "skipped", _("Skipped")


class PalletStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
    SHIPPED = "shipped", _("Shipped")


class FoundBy(models.TextChoices):
    MACHINE = "machine", _("Machine")
    PERSON = "person", _("Person")


class Disposition(models.TextChoices):
    PENDING = "", _("Pending")
    SCRAP = "scrap", _("Scrap")
    REWORK = "rework", _("Rework")
    USE_AS_IS = "use_as_is", _("Use as is")


class FailureCaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    UNDER_REVIEW = "under_review", _("Under review")
    AWAITING_COUNTERSIGN = "awaiting_countersign", _("Disposition awaits a countersignature")
    CLOSED = "closed", _("Closed")


class DefectSeverity(models.TextChoices):
    MINOR = "minor", _("Minor")
    MAJOR = "major", _("Major")
    CRITICAL = "critical", _("Critical")


# The badge colour each status shows: a CSS class suffix (badge-ok, badge-bad, ...) in static/twinweb.css.
BADGE_COLOURS: dict[type[models.TextChoices], dict[str, str]] = {
    LotStatus: {"released": "ok", "on_hold": "warn", "suspect": "bad", "consumed": "neutral"},
    BatchStatus: {"planned": "neutral", "in_progress": "info", "completed": "ok"},
    PartStatus: {
        "in_process": "info",
        "passed": "ok",
        "failed": "bad",
        "reworked": "warn",
        "scrapped": "bad",
        "on_hold": "warn",
        "shipped": "neutral",
    },
    StationOutcome: {"in_progress": "info", "ok": "ok", "nok": "bad", "skipped": "neutral"},
    PalletStatus: {"open": "info", "closed": "neutral", "shipped": "ok"},
    Disposition: {"": "warn", "scrap": "bad", "rework": "warn", "use_as_is": "ok"},
    FailureCaseStatus: {"open": "bad", "under_review": "warn", "awaiting_countersign": "warn", "closed": "ok"},
    DefectSeverity: {"minor": "warn", "major": "bad", "critical": "bad"},
}


def badge_colour(choices: type[models.TextChoices], value: str) -> str:
    return BADGE_COLOURS.get(choices, {}).get(value, "neutral")


class RecordSignatureMeaning(models.TextChoices):
    """What an electronic signature on a quality record means (21 CFR 11.50: the printed name, the date and time,
    and the meaning of the signature are part of it)."""

    DISPOSITION = "disposition", _("Decided the disposition of a failed part")
    COUNTERSIGN = "countersign", _("Second person: approved this disposition")
    RELEASE = "release", _("Released the containment of a lot")
    MODEL_ALIAS = "model_alias", _("Approved moving a defect model alias (deploy, promote, roll back)")


class PartFamily(models.TextChoices):
    """The measurement programme a part type's drawing is measured with on the edge device (a new part type of an
    existing family needs no code; a family without a programme is refused)."""

    FLANGE = "flange", _("Flange: outer diameter, bore, bolt holes on a circle")
    TUBE_FITTING = "tube_fitting", _("Tube fitting block: length, width, bore, two mount holes")


class InspectionJob(models.TextChoices):
    """What an inspection station runs on its own image."""

    NONE = "", _("No inspection")
    DEFECT_MODEL = "defect_model", _("Surface defect model (front-lit image)")
    MEASUREMENT = "measurement", _("Measurement programme of the drawing (backlit silhouette)")
    FULL = "full", _("Both, on one image")


class CameraView(models.TextChoices):
    FRONT = "front", _("Front-lit")
    BACKLIT = "backlit", _("Backlit (silhouette)")
