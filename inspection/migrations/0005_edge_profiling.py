"""Edge profiling (issue 8): runs, their variants, and each variant's power and memory series."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inspection", "0004_debug_mode"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        migrations.CreateModel(
            name="ProfilingRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
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
                    models.TextField(blank=True, help_text="The power sampler and why, as the device reported it."),
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
                "ordering": ["-requested_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ProfilingVariant",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveSmallIntegerField(default=0)),
                ("key", models.CharField(max_length=40)),
                ("label", models.CharField(blank=True, max_length=80)),
                ("backend", models.CharField(max_length=40)),
                ("precision", models.CharField(max_length=10)),
                ("available", models.BooleanField(default=False)),
                (
                    "reason",
                    models.TextField(blank=True, help_text="Runtime and version, or why the variant could not run."),
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
                    models.PositiveIntegerField(blank=True, help_text="Images inferred in the real rounds.", null=True),
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
                    models.FloatField(blank=True, help_text="Whole variant run: load to last round.", null=True),
                ),
                ("avg_power_inference_mw", models.FloatField(blank=True, help_text="Real rounds only.", null=True)),
                ("fps_per_w_total", models.FloatField(blank=True, null=True)),
                ("fps_per_w_inference", models.FloatField(blank=True, null=True)),
                ("energy_per_image_mj", models.FloatField(blank=True, null=True)),
                (
                    "power_note",
                    models.TextField(blank=True, help_text='"not measured: <why>" when power could not be measured.'),
                ),
                ("metrics", models.JSONField(blank=True, default=dict, help_text="Everything the device reported.")),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="variants",
                        to="inspection.profilingrun",
                    ),
                ),
            ],
            options={
                "ordering": ["run", "position"],
            },
        ),
        migrations.CreateModel(
            name="ProfilingSeries",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("power", "Power (mW)"), ("memory", "Memory")], max_length=10)),
                ("points", models.JSONField(blank=True, default=list)),
                (
                    "variant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="series",
                        to="inspection.profilingvariant",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "profiling series",
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
