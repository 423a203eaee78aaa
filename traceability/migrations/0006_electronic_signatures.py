"""Electronic signatures: one signing path for every record (signing PINs, an atomic lockout, signatures on
failure-case dispositions and containment releases), and a failure case that waits for a countersignature."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("traceability", "0005_containment"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="failurecase",
            name="pending_disposition",
            field=models.CharField(
                blank=True,
                choices=[("", "Pending"), ("scrap", "Scrap"), ("rework", "Rework"), ("use_as_is", "Use as is")],
                default="",
                help_text="A signed disposition that awaits a second person's countersignature (four-eyes part types); while it waits, no other decision on the part is accepted.",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="failurecase",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "Open"),
                    ("under_review", "Under review"),
                    ("awaiting_countersign", "Disposition awaits a countersignature"),
                    ("closed", "Closed"),
                ],
                default="open",
                max_length=20,
            ),
        ),
        migrations.CreateModel(
            name="SigningGuard",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "attempts",
                    models.PositiveIntegerField(default=0, help_text="Attempts refused (or in flight) in the window."),
                ),
                ("window_started_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="signing_guard",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SigningPin",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("pin_hash", models.CharField(max_length=200)),
                ("set_at", models.DateTimeField()),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="signing_pin",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="RecordSignature",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("subject_type", models.CharField(max_length=60)),
                ("subject_key", models.CharField(max_length=120)),
                (
                    "meaning",
                    models.CharField(
                        choices=[
                            ("disposition", "Decided the disposition of a failed part"),
                            ("countersign", "Second person: approved this disposition"),
                            ("release", "Released the containment of a lot"),
                        ],
                        max_length=20,
                    ),
                ),
                ("printed_name", models.CharField(max_length=200)),
                ("signed_at", models.DateTimeField()),
                (
                    "method",
                    models.CharField(help_text="How the signer re-authenticated: password or pin.", max_length=20),
                ),
                ("signed_content", models.JSONField(help_text="The record's content as signed.")),
                (
                    "content_sha256",
                    models.CharField(help_text="sha256 of the canonical signed content.", max_length=64),
                ),
                (
                    "manifest_sha256",
                    models.CharField(
                        help_text="sha256 of the content hash with the signer, printed name, meaning and time.",
                        max_length=64,
                    ),
                ),
                (
                    "signer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="record_signatures",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["signed_at", "id"],
                "indexes": [
                    models.Index(fields=["subject_type", "subject_key"], name="traceabilit_subject_4dc0a6_idx")
                ],
            },
        ),
    ]
