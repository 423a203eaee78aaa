"""The live view's andon alarms move from the inspection app to their own app, rows and table untouched."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

APP_LABEL = "live"
MOVED_MODELS = ("alarm",)


def content_types_follow_the_models(apps, schema_editor):
    """Existing rows of django_content_type (and with them the permissions granted to roles and users) move to
    the new app label, so no grant is lost; on a new database there is nothing to move."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED_MODELS:
        old = ContentType.objects.filter(app_label="inspection", model=model)
        if old.exists() and not ContentType.objects.filter(app_label=APP_LABEL, model=model).exists():
            old.update(app_label=APP_LABEL)


def content_types_go_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=APP_LABEL, model__in=MOVED_MODELS).update(app_label="inspection")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("inspection", "0007_move_to_apps"),
        ("traceability", "0005_containment"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables stay where they are (Meta.db_table): only Django's model state moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Alarm",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
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
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="alarms",
                                to="traceability.cell",
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
                        "db_table": "inspection_alarm",
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
        ),
        migrations.RunPython(content_types_follow_the_models, content_types_go_back),
    ]
