"""Debug Mode's claims, reviews, signatures, PINs and cobot commands move from the inspection app to the review app,
rows and tables untouched."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

APP_LABEL = "review"
MOVED_MODELS = ("reviewclaim", "review", "reviewedinspection", "signature", "reviewpin", "cobotcommand")


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
                    name="ReviewClaim",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("claimed_at", models.DateTimeField()),
                        ("expires_at", models.DateTimeField()),
                        ("ended_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "end_reason",
                            models.CharField(
                                blank=True,
                                choices=[("released", "Released"), ("expired", "Expired"), ("signed", "Signed")],
                                max_length=20,
                            ),
                        ),
                        (
                            "holder",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="review_claims",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "inspection",
                            models.ForeignKey(
                                help_text="The part's leading inspection when it was claimed (the case's address).",
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="review_claims",
                                to="inspection.inspection",
                            ),
                        ),
                        (
                            "part",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="review_claims",
                                to="traceability.part",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inspection_reviewclaim",
                        "ordering": ["-claimed_at"],
                    },
                ),
                migrations.CreateModel(
                    name="Review",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "verdict",
                            models.CharField(
                                choices=[
                                    ("confirm_nok", "NOK confirmed"),
                                    ("override_ok", "Overridden to OK (false reject)"),
                                    ("confirm_ok", "OK confirmed"),
                                ],
                                max_length=20,
                            ),
                        ),
                        (
                            "disposition",
                            models.CharField(
                                choices=[("scrap", "Scrap"), ("rework", "Rework"), ("line", "Back to the line")],
                                max_length=20,
                            ),
                        ),
                        (
                            "reason_code",
                            models.CharField(
                                blank=True, help_text="Override reason, or the defect code found.", max_length=40
                            ),
                        ),
                        ("note", models.TextField(blank=True)),
                        (
                            "defect_label",
                            models.CharField(
                                blank=True,
                                help_text="The human label for training ('ok', 'scratch', ...).",
                                max_length=40,
                            ),
                        ),
                        ("opened_at", models.DateTimeField(help_text="When the reviewer opened the case.")),
                        ("signed_at", models.DateTimeField()),
                        (
                            "review_seconds",
                            models.FloatField(
                                help_text="Claimed to signed, within one live claim: the review time metric."
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("awaiting_countersign", "Awaiting countersignature"),
                                    ("complete", "Complete"),
                                ],
                                max_length=30,
                            ),
                        ),
                        ("completed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "idempotency_key",
                            models.UUIDField(help_text="Chosen by the client: a resubmission is a no-op.", unique=True),
                        ),
                        (
                            "signed_content",
                            models.JSONField(help_text="The canonical content every signature is bound to."),
                        ),
                        ("content_sha256", models.CharField(max_length=64)),
                        (
                            "inspection",
                            models.OneToOneField(
                                help_text="The case's leading inspection (its failure case, if any).",
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="review",
                                to="inspection.inspection",
                            ),
                        ),
                        (
                            "reviewer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="reviews",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "claim",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="review.reviewclaim",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inspection_review",
                        "ordering": ["-signed_at"],
                    },
                ),
                migrations.CreateModel(
                    name="ReviewedInspection",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "inspection",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="decided_by",
                                to="inspection.inspection",
                            ),
                        ),
                        (
                            "review",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT, related_name="decided", to="review.review"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inspection_reviewedinspection",
                        "ordering": ["review_id", "id"],
                    },
                ),
                migrations.AddField(
                    model_name="review",
                    name="decided_inspections",
                    field=models.ManyToManyField(
                        related_name="+", through="review.ReviewedInspection", to="inspection.inspection"
                    ),
                ),
                migrations.CreateModel(
                    name="ReviewPin",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("pin_hash", models.CharField(max_length=200)),
                        ("set_at", models.DateTimeField()),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="review_pin",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inspection_reviewpin",
                    },
                ),
                migrations.CreateModel(
                    name="Signature",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("printed_name", models.CharField(max_length=200)),
                        ("signed_at", models.DateTimeField()),
                        (
                            "meaning",
                            models.CharField(
                                choices=[
                                    ("author", "Reviewed the evidence and decided this verdict"),
                                    ("countersign", "Second person: approved this override"),
                                ],
                                max_length=20,
                            ),
                        ),
                        (
                            "content_sha256",
                            models.CharField(help_text="What this signature binds (see hash_version).", max_length=64),
                        ),
                        (
                            "hash_version",
                            models.PositiveSmallIntegerField(
                                help_text="1: the review's content hash; 2: that hash with the signer, printed name, meaning and time."
                            ),
                        ),
                        (
                            "method",
                            models.CharField(
                                help_text="How the signer re-authenticated: password or pin.", max_length=20
                            ),
                        ),
                        ("idempotency_key", models.UUIDField(unique=True)),
                        (
                            "review",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="signatures",
                                to="review.review",
                            ),
                        ),
                        (
                            "signer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="review_signatures",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inspection_signature",
                        "ordering": ["signed_at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="CobotCommand",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("command_id", models.UUIDField(unique=True)),
                        (
                            "kind",
                            models.CharField(
                                choices=[("present_view", "Present a view"), ("move_part", "Move the part")],
                                max_length=20,
                            ),
                        ),
                        ("payload", models.JSONField(default=dict)),
                        ("sent_at", models.DateTimeField()),
                        ("acked_at", models.DateTimeField(blank=True, null=True)),
                        ("ack", models.JSONField(blank=True, default=dict)),
                        (
                            "cell",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="cobot_commands",
                                to="traceability.cell",
                            ),
                        ),
                        (
                            "inspection",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="cobot_commands",
                                to="inspection.inspection",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inspection_cobotcommand",
                        "ordering": ["-sent_at"],
                        "indexes": [
                            models.Index(fields=["inspection", "sent_at"], name="inspection__inspect_91d855_idx")
                        ],
                    },
                ),
                migrations.AddIndex(
                    model_name="reviewclaim",
                    index=models.Index(fields=["holder", "ended_at"], name="inspection__holder__2e54e7_idx"),
                ),
                migrations.AddConstraint(
                    model_name="reviewclaim",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("ended_at__isnull", True)),
                        fields=("part",),
                        name="review_claim_one_open_per_part",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="reviewclaim",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("expires_at__gt", models.F("claimed_at"))),
                        name="review_claim_expires_after_claim",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="reviewclaim",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("end_reason", ""), ("ended_at__isnull", True)),
                            models.Q(("ended_at__isnull", False), models.Q(("end_reason", ""), _negated=True)),
                            _connector="OR",
                        ),
                        name="review_claim_end_has_reason",
                    ),
                ),
                migrations.AddIndex(
                    model_name="review",
                    index=models.Index(fields=["status", "signed_at"], name="inspection__status_9fdeed_idx"),
                ),
                migrations.AddIndex(
                    model_name="review",
                    index=models.Index(fields=["signed_at"], name="inspection__signed__d60a46_idx"),
                ),
                migrations.AddConstraint(
                    model_name="review",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("verdict", "override_ok"), _negated=True),
                            models.Q(("reason_code", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="review_override_has_reason",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="review",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("verdict", "confirm_nok"), _negated=True),
                            ("disposition__in", ["scrap", "rework"]),
                            _connector="OR",
                        ),
                        name="review_nok_is_scrap_or_rework",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="review",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("verdict", "confirm_nok"), ("disposition", "line"), _connector="OR"),
                        name="review_ok_goes_back_to_line",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="review",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status", "complete"), _negated=True),
                            ("completed_at__isnull", False),
                            _connector="OR",
                        ),
                        name="review_complete_has_time",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="review",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("review_seconds__gte", 0)), name="review_seconds_not_negative"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="signature",
                    constraint=models.UniqueConstraint(fields=("review", "meaning"), name="signature_one_per_meaning"),
                ),
            ]
        ),
        migrations.RunPython(content_types_follow_the_models, content_types_go_back),
    ]
