"""Drawings are records: each part type's drawing revision in use becomes a DrawingRevision with its features, and
the part type names its measurement family (taken from the code's prefix, as the edge did: TF tube fitting, else
flange). Later tolerance changes release new revisions; inspections name the revision they were measured against."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def drawings_from_part_types(apps, schema_editor):
    PartType = apps.get_model("traceability", "PartType")
    DrawingRevision = apps.get_model("traceability", "DrawingRevision")
    DimensionalFeature = apps.get_model("traceability", "DimensionalFeature")
    now = django.utils.timezone.now()
    for part_type in PartType.objects.all():
        part_type.family = "tube_fitting" if part_type.code.upper().startswith("TF") else "flange"
        part_type.save(update_fields=["family"])
        drawing = DrawingRevision.objects.create(
            part_type=part_type,
            drawing_number=part_type.drawing_number,
            revision=part_type.revision,
            released_at=now,
            reason="the revision in use when drawings became records",
        )
        DimensionalFeature.objects.filter(part_type=part_type).update(drawing=drawing)


class Migration(migrations.Migration):
    dependencies = [
        ("traceability", "0006_electronic_signatures"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DrawingRevision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("drawing_number", models.CharField(max_length=60)),
                ("revision", models.CharField(max_length=10)),
                ("released_at", models.DateTimeField()),
                ("reason", models.TextField(blank=True)),
            ],
            options={
                "ordering": ["part_type_id", "released_at", "id"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="dimensionalfeature",
            name="feature_name_unique_per_part_type",
        ),
        migrations.AddField(
            model_name="parttype",
            name="family",
            field=models.CharField(
                choices=[
                    ("flange", "Flange: outer diameter, bore, bolt holes on a circle"),
                    ("tube_fitting", "Tube fitting block: length, width, bore, two mount holes"),
                ],
                default="flange",
                help_text="The measurement programme the edge device measures it with.",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="parttype",
            name="drawing_number",
            field=models.CharField(help_text="Of the current drawing revision.", max_length=60),
        ),
        migrations.AlterField(
            model_name="parttype",
            name="revision",
            field=models.CharField(help_text="The current drawing revision (see its drawings).", max_length=10),
        ),
        migrations.AddField(
            model_name="drawingrevision",
            name="part_type",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="drawings", to="traceability.parttype"
            ),
        ),
        migrations.AddField(
            model_name="drawingrevision",
            name="released_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="dimensionalfeature",
            name="drawing",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="features",
                to="traceability.drawingrevision",
            ),
        ),
        migrations.RunPython(drawings_from_part_types, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="dimensionalfeature",
            name="drawing",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="features", to="traceability.drawingrevision"
            ),
        ),
        migrations.AddConstraint(
            model_name="dimensionalfeature",
            constraint=models.UniqueConstraint(fields=("drawing", "name"), name="feature_name_unique_per_drawing"),
        ),
        migrations.AddConstraint(
            model_name="drawingrevision",
            constraint=models.UniqueConstraint(fields=("part_type", "revision"), name="drawing_revision_unique"),
        ),
    ]
