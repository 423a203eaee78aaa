import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inspection", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="TelemetrySample",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(help_text="When the device took the reading (device clock).")),
                ("received_at", models.DateTimeField()),
                (
                    "fps",
                    models.FloatField(
                        blank=True, help_text="Inspections per second over the last interval.", null=True
                    ),
                ),
                (
                    "power_mw",
                    models.FloatField(blank=True, help_text="Null when the device cannot measure power.", null=True),
                ),
                ("gpu_load", models.FloatField(blank=True, help_text="Percent; null where unavailable.", null=True)),
                ("memory", models.JSONField(blank=True, default=dict)),
                ("temperature", models.JSONField(blank=True, default=dict)),
                ("backend", models.CharField(blank=True, max_length=40)),
                ("precision", models.CharField(blank=True, max_length=10)),
                ("model_version", models.CharField(blank=True, max_length=80)),
                (
                    "device",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="telemetry",
                        to="inspection.edgedevice",
                    ),
                ),
            ],
            options={
                "ordering": ["device_id", "-at"],
                "indexes": [models.Index(fields=["device", "at"], name="inspection__device__96d3e3_idx")],
            },
        ),
    ]
