"""Write the images operators reviewed in Debug Mode, with their human labels, as a dataset folder in the format
of `edge_worker.vision.dataset.write_dataset` (what the training command's data pipeline reads):

    DIR/images/NNNNN_<part type>_<class>.png   the inspection image, byte for byte
    DIR/labels.json                            {"classes", "count", "items": [{"file", "part_type", "defect_class",
                                               "px_per_mm", "dimensions_mm", ...review fields}], ...}
    DIR/labels.csv                             file, part_type, seed, defect_class, px_per_mm, <feature>_mm ...

The label is the human's: "ok" for an override to OK (a false reject) or a confirmed pass, the defect class for a
confirmed NOK. Reviews whose NOK was dimensional only carry no surface class and are left out (counted).

    python manage.py export_reviewed_samples --out var/reviewed-samples
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from edge_worker.vision.dataset import write_labels
from edge_worker.vision.render import DEFAULT_PX_PER_MM, DEFECT_CLASSES
from review.choices import ReviewStatus
from review.models import Review


def px_per_mm(review: Review) -> float:
    """The image scale, from the measured circles (radius px vs diameter mm); the cell's default otherwise."""
    ratios = [
        2 * m.geometry["radius"] / m.value
        for m in review.inspection.measurements.all()
        if m.kind == "diameter" and m.value and (m.geometry or {}).get("type") == "circle"
    ]
    return round(statistics.median(ratios), 4) if ratios else DEFAULT_PX_PER_MM


class Command(BaseCommand):
    help = "Export reviewed inspection images with the human labels as a training dataset folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="Folder to write (created; existing labels are replaced).")
        parser.add_argument("--since", default="", help="Only reviews signed at or after this ISO date-time.")

    def handle(self, *args: Any, out: str, since: str, **options: Any) -> None:
        out_dir = Path(out)
        (out_dir / "images").mkdir(parents=True, exist_ok=True)
        reviews = (
            Review.objects.filter(status=ReviewStatus.COMPLETE, inspection__image__isnull=False)
            .select_related("inspection__image", "inspection__part__part_type", "reviewer")
            .prefetch_related("inspection__measurements")
            .order_by("completed_at", "id")
        )
        if since:
            moment = parse_datetime(since)
            if moment is None:
                raise CommandError(f"--since {since!r} is not an ISO date-time")
            reviews = reviews.filter(signed_at__gte=moment)
        rows: list[dict[str, Any]] = []
        skipped = 0
        for review in reviews:
            label = review.defect_label
            if label not in DEFECT_CLASSES:
                skipped += 1
                continue
            inspection = review.inspection
            image = inspection.image
            assert image is not None  # the query keeps only reviews whose inspection has an image
            part_type = inspection.part.part_type.code
            name = f"images/{len(rows):05d}_{part_type}_{label}.png"
            with image.file.open("rb") as fh:
                (out_dir / name).write_bytes(fh.read())
            rows.append(
                {
                    "file": name,
                    "part_type": part_type,
                    "seed": None,
                    "defect_class": label,
                    "px_per_mm": px_per_mm(review),
                    "dimensions_mm": {m.name: m.value for m in inspection.measurements.all()},
                    "source": "debug_mode_review",
                    "result_id": str(inspection.result_id),
                    "serial": inspection.part.serial,
                    "image_sha256": image.sha256,
                    "machine_verdict": inspection.verdict,
                    "machine_class": inspection.defect_class,
                    "machine_confidence": inspection.defect_confidence,
                    "model_version": inspection.model_version,
                    "review_verdict": review.verdict,
                    "reviewer": review.reviewer.get_username(),
                    "signed_at": review.signed_at.isoformat(),
                    "content_sha256": review.content_sha256,
                }
            )
        write_labels(out_dir, rows, seed=None, source="Debug Mode reviews (human labels)")
        self.stdout.write(
            f"Wrote {len(rows)} reviewed samples to {out_dir}"
            + (f"; left out {skipped} dimensional-only NOK reviews (no surface class to learn)." if skipped else ".")
        )
