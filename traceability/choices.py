"""Status enums of the traceability domain, and the badge colour each status shows."""
from __future__ import annotations

from django.db import models


class StationKind(models.TextChoices):
    LOADING = "loading", "Loading"
    VISUAL_INSPECTION = "visual_inspection", "Visual inspection"
    DIMENSIONAL_INSPECTION = "dimensional_inspection", "Dimensional inspection"
    FAILURE_ANALYSIS = "failure_analysis", "Failure analysis (cobot)"
    UNLOADING = "unloading", "Unloading"


class LotStatus(models.TextChoices):
    RELEASED = "released", "Released"
    ON_HOLD = "on_hold", "On hold"
    SUSPECT = "suspect", "Suspect"
    CONSUMED = "consumed", "Consumed"


class LotLinkKind(models.TextChoices):
    SPLIT = "split", "Split"
    MERGE = "merge", "Merge"


class BatchStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class PartStatus(models.TextChoices):
    IN_PROCESS = "in_process", "In process"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    REWORKED = "reworked", "Reworked"
    SCRAPPED = "scrapped", "Scrapped"
    ON_HOLD = "on_hold", "On hold"
    SHIPPED = "shipped", "Shipped"


class StationOutcome(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    OK = "ok", "OK"
    NOK = "nok", "NOK"
    SKIPPED = "skipped", "Skipped"


class PalletStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    SHIPPED = "shipped", "Shipped"


class FoundBy(models.TextChoices):
    MACHINE = "machine", "Machine"
    PERSON = "person", "Person"


class Disposition(models.TextChoices):
    PENDING = "", "Pending"
    SCRAP = "scrap", "Scrap"
    REWORK = "rework", "Rework"
    USE_AS_IS = "use_as_is", "Use as is"


class FailureCaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    UNDER_REVIEW = "under_review", "Under review"
    AWAITING_COUNTERSIGN = "awaiting_countersign", "Disposition awaits a countersignature"
    CLOSED = "closed", "Closed"


class DefectSeverity(models.TextChoices):
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


# The badge colour each status shows: a CSS class suffix (badge-ok, badge-bad, ...) in static/twinweb.css.
BADGE_COLOURS: dict[type[models.TextChoices], dict[str, str]] = {
    LotStatus: {"released": "ok", "on_hold": "warn", "suspect": "bad", "consumed": "neutral"},
    BatchStatus: {"planned": "neutral", "in_progress": "info", "completed": "ok"},
    PartStatus: {
        "in_process": "info", "passed": "ok", "failed": "bad", "reworked": "warn",
        "scrapped": "bad", "on_hold": "warn", "shipped": "neutral",
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

    DISPOSITION = "disposition", "Decided the disposition of a failed part"
    COUNTERSIGN = "countersign", "Second person: approved this disposition"
    RELEASE = "release", "Released the containment of a lot"
    MODEL_ALIAS = "model_alias", "Approved moving a defect model alias (deploy, promote, roll back)"


class PartFamily(models.TextChoices):
    """The measurement programme a part type's drawing is measured with on the edge device (a new part type of an
    existing family needs no code; a family without a programme is refused)."""

    FLANGE = "flange", "Flange: outer diameter, bore, bolt holes on a circle"
    TUBE_FITTING = "tube_fitting", "Tube fitting block: length, width, bore, two mount holes"


class InspectionJob(models.TextChoices):
    """What an inspection station runs on its own image."""

    NONE = "", "No inspection"
    DEFECT_MODEL = "defect_model", "Surface defect model (front-lit image)"
    MEASUREMENT = "measurement", "Measurement programme of the drawing (backlit silhouette)"
    FULL = "full", "Both, on one image"


class CameraView(models.TextChoices):
    FRONT = "front", "Front-lit"
    BACKLIT = "backlit", "Backlit (silhouette)"
