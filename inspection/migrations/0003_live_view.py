# Live view (issue 6): andon alarms.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inspection", "0002_edge_worker"),
        ("traceability", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Alarm",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "rule",
                    models.CharField(
                        choices=[
                            ("nok_streak", "Three NOK in a row at a station"),
                            ("slow_cycle", "Cycle time over target by 20% for ten parts"),
                            ("stale_device", "Edge device stale"),
                        ],
                        max_length=20,
                    ),
                ),
                ("message", models.CharField(max_length=300)),
                ("evidence", models.JSONField(blank=True, default=dict)),
                ("raised_at", models.DateTimeField()),
                ("cleared_at", models.DateTimeField(blank=True, null=True)),
                ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                ("ack_reason", models.TextField(blank=True)),
                (
                    "acknowledged_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "cell",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="alarms", to="traceability.cell"
                    ),
                ),
                (
                    "device",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="alarms",
                        to="inspection.edgedevice",
                    ),
                ),
                (
                    "station",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="alarms",
                        to="traceability.station",
                    ),
                ),
            ],
            options={
                "ordering": ["-raised_at", "-id"],
                "indexes": [
                    models.Index(fields=["cell", "cleared_at"], name="inspection__cell_id_290573_idx"),
                    models.Index(fields=["cell", "raised_at"], name="inspection__cell_id_be4fa0_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("cleared_at__isnull", True), ("device__isnull", True)),
                        fields=("cell", "rule", "station"),
                        name="alarm_one_active_per_station_rule",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("cleared_at__isnull", True), ("device__isnull", False)),
                        fields=("cell", "rule", "device"),
                        name="alarm_one_active_per_device_rule",
                    ),
                ],
            },
        ),
    ]
