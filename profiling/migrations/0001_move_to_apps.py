"""Edge profiling runs move from the inspection app to the profiling app, rows and tables untouched."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

APP_LABEL = "profiling"
MOVED_MODELS = ("profilingrun", "profilingvariant", "profilingseries")


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
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables stay where they are (Meta.db_table): only Django's model state moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ProfilingRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("run_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[("queued", "Queued"), ("done", "Done"), ("failed", "Failed")],
                                default="queued",
                                max_length=10,
                            ),
                        ),
                        ("requested_at", models.DateTimeField()),
                        (
                            "config",
                            models.JSONField(
                                blank=True, default=dict, help_text="images, warmup, rounds, batch size, seed, sampler."
                            ),
                        ),
                        ("started_at", models.DateTimeField(blank=True, help_text="Device clock.", null=True)),
                        ("finished_at", models.DateTimeField(blank=True, help_text="Device clock.", null=True)),
                        ("received_at", models.DateTimeField(blank=True, null=True)),
                        ("hardware", models.CharField(blank=True, max_length=200)),
                        (
                            "power_source",
                            models.TextField(
                                blank=True, help_text="The power sampler and why, as the device reported it."
                            ),
                        ),
                        ("power_measured", models.BooleanField(default=False)),
                        ("model_version", models.CharField(blank=True, max_length=80)),
                        ("model_sha256", models.CharField(blank=True, max_length=64)),
                        (
                            "environment",
                            models.JSONField(blank=True, default=dict, help_text="Runtime versions on the device."),
                        ),
                        ("error", models.TextField(blank=True)),
                        (
                            "device",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="profiling_runs",
                                to="inspection.edgedevice",
                            ),
                        ),
                        (
                            "requested_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inspection_profilingrun",
                        "ordering": ["-requested_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="ProfilingVariant",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("position", models.PositiveSmallIntegerField(default=0)),
                        ("key", models.CharField(max_length=40)),
                        ("label", models.CharField(blank=True, max_length=80)),
                        ("backend", models.CharField(max_length=40)),
                        ("precision", models.CharField(max_length=10)),
                        ("available", models.BooleanField(default=False)),
                        (
                            "reason",
                            models.TextField(
                                blank=True, help_text="Runtime and version, or why the variant could not run."
                            ),
                        ),
                        ("device", models.CharField(blank=True, max_length=200)),
                        ("backend_version", models.CharField(blank=True, max_length=40)),
                        (
                            "phases",
                            models.JSONField(
                                blank=True, default=list, help_text="[{name, start_s, end_s, duration_s}] in order."
                            ),
                        ),
                        (
                            "images",
                            models.PositiveIntegerField(
                                blank=True, help_text="Images inferred in the real rounds.", null=True
                            ),
                        ),
                        ("correct", models.PositiveIntegerField(blank=True, null=True)),
                        ("accuracy", models.FloatField(blank=True, null=True)),
                        ("fps", models.FloatField(blank=True, null=True)),
                        ("latency_p50_ms", models.FloatField(blank=True, null=True)),
                        ("latency_p99_ms", models.FloatField(blank=True, null=True)),
                        ("latency_mean_ms", models.FloatField(blank=True, null=True)),
                        ("mem_rss_bytes_peak", models.BigIntegerField(blank=True, null=True)),
                        ("mem_process_percent_peak", models.FloatField(blank=True, null=True)),
                        ("mem_system_percent_peak", models.FloatField(blank=True, null=True)),
                        ("gpu_mem_bytes", models.BigIntegerField(blank=True, null=True)),
                        ("gpu_mem_note", models.CharField(blank=True, max_length=200)),
                        (
                            "avg_power_total_mw",
                            models.FloatField(
                                blank=True, help_text="Whole variant run: load to last round.", null=True
                            ),
                        ),
                        (
                            "avg_power_inference_mw",
                            models.FloatField(blank=True, help_text="Real rounds only.", null=True),
                        ),
                        ("fps_per_w_total", models.FloatField(blank=True, null=True)),
                        ("fps_per_w_inference", models.FloatField(blank=True, null=True)),
                        ("energy_per_image_mj", models.FloatField(blank=True, null=True)),
                        (
                            "power_note",
                            models.TextField(
                                blank=True, help_text='"not measured: <why>" when power could not be measured.'
                            ),
                        ),
                        (
                            "metrics",
                            models.JSONField(blank=True, default=dict, help_text="Everything the device reported."),
                        ),
                        (
                            "run",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="variants",
                                to="profiling.profilingrun",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inspection_profilingvariant",
                        "ordering": ["run", "position"],
                    },
                ),
                migrations.CreateModel(
                    name="ProfilingSeries",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(choices=[("power", "Power (mW)"), ("memory", "Memory")], max_length=10),
                        ),
                        ("points", models.JSONField(blank=True, default=list)),
                        (
                            "variant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="series",
                                to="profiling.profilingvariant",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "profiling series",
                        "db_table": "inspection_profilingseries",
                        "ordering": ["variant", "kind"],
                    },
                ),
                migrations.AddIndex(
                    model_name="profilingrun",
                    index=models.Index(fields=["device", "requested_at"], name="inspection__device__54df41_idx"),
                ),
                migrations.AddConstraint(
                    model_name="profilingvariant",
                    constraint=models.UniqueConstraint(fields=("run", "key"), name="profiling_variant_unique_key"),
                ),
                migrations.AddConstraint(
                    model_name="profilingseries",
                    constraint=models.UniqueConstraint(fields=("variant", "kind"), name="profiling_series_unique_kind"),
                ),
            ]
        ),
        migrations.RunPython(content_types_follow_the_models, content_types_go_back),
    ]
