"""Each inspection station says what it runs on its own image: the visual station the defect model (front-lit),
the dimensional station the measurement programme (backlit)."""

from django.db import migrations, models


def jobs_from_kinds(apps, schema_editor):
    Station = apps.get_model("traceability", "Station")
    Station.objects.filter(kind="visual_inspection").update(inspection_job="defect_model", camera_view="front")
    Station.objects.filter(kind="dimensional_inspection").update(inspection_job="measurement", camera_view="backlit")


class Migration(migrations.Migration):
    dependencies = [
        ("traceability", "0007_drawings_as_data"),
    ]

    operations = [
        migrations.AddField(
            model_name="station",
            name="camera_view",
            field=models.CharField(
                choices=[("front", "Front-lit"), ("backlit", "Backlit (silhouette)")],
                default="front",
                help_text="The station camera's lighting.",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="station",
            name="inspection_job",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "No inspection"),
                    ("defect_model", "Surface defect model (front-lit image)"),
                    ("measurement", "Measurement programme of the drawing (backlit silhouette)"),
                    ("full", "Both, on one image"),
                ],
                default="",
                help_text="What the station's edge device runs on the station's own image.",
                max_length=20,
            ),
        ),
        migrations.RunPython(jobs_from_kinds, migrations.RunPython.noop),
    ]
