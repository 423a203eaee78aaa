"""Each station camera keeps its calibrations (px per mm, residual, who and when); inspections name the one they
used."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inspection", "0008_inspection_names_its_drawing"),
        ("traceability", "0007_drawings_as_data"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="StationCalibration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("px_per_mm", models.FloatField()),
                ("residual_px", models.FloatField(help_text="RMS of the target's dot centres about the fitted grid.")),
                ("dots", models.PositiveIntegerField()),
                ("pitch_mm", models.FloatField(help_text="The target's dot pitch.")),
                ("method", models.CharField(default="dot_grid", max_length=40)),
                ("calibrated_at", models.DateTimeField()),
                (
                    "calibrated_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "image",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="inspection.imageblob",
                    ),
                ),
                (
                    "station",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="calibrations",
                        to="traceability.station",
                    ),
                ),
            ],
            options={
                "ordering": ["station_id", "-calibrated_at", "-id"],
            },
        ),
        migrations.AddField(
            model_name="inspection",
            name="calibration",
            field=models.ForeignKey(
                blank=True,
                help_text="The station calibration (px per mm) the measurement used (empty: the renderer's default).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="inspections",
                to="inspection.stationcalibration",
            ),
        ),
        migrations.AddIndex(
            model_name="stationcalibration",
            index=models.Index(fields=["station", "calibrated_at"], name="inspection__station_9a867a_idx"),
        ),
    ]
