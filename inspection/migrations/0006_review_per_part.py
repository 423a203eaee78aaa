"""Debug Mode reviews a part, not one station's inspection: a claim holds the part (at most one open claim per
part), a review names every inspection it decided, and a signature's hash is versioned (2 also binds the printed
name, meaning and time; the signatures already made keep version 1 and verify as before)."""

import django.db.models.deletion
from django.db import migrations, models


def claims_hold_their_part(apps, schema_editor):
    ReviewClaim = apps.get_model("inspection", "ReviewClaim")
    for claim in ReviewClaim.objects.select_related("inspection").only("id", "inspection__part_id").iterator():
        ReviewClaim.objects.filter(pk=claim.pk).update(part_id=claim.inspection.part_id)


def reviews_decided_their_inspection(apps, schema_editor):
    Review = apps.get_model("inspection", "Review")
    ReviewedInspection = apps.get_model("inspection", "ReviewedInspection")
    ReviewedInspection.objects.bulk_create(
        [
            ReviewedInspection(review_id=pk, inspection_id=inspection_id)
            for pk, inspection_id in Review.objects.values_list("pk", "inspection_id")
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("inspection", "0005_edge_profiling"),
        ("traceability", "0005_containment"),
    ]

    operations = [
        # Claims: per part.
        migrations.AddField(
            model_name="reviewclaim",
            name="part",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="review_claims",
                to="traceability.part",
            ),
        ),
        migrations.RunPython(claims_hold_their_part, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="reviewclaim",
            name="part",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="review_claims", to="traceability.part"
            ),
        ),
        migrations.RemoveConstraint(model_name="reviewclaim", name="review_claim_one_open_per_inspection"),
        migrations.AddConstraint(
            model_name="reviewclaim",
            constraint=models.UniqueConstraint(
                condition=models.Q(("ended_at__isnull", True)), fields=("part",), name="review_claim_one_open_per_part"
            ),
        ),
        migrations.AlterField(
            model_name="reviewclaim",
            name="inspection",
            field=models.ForeignKey(
                help_text="The part's leading inspection when it was claimed (the case's address).",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="review_claims",
                to="inspection.inspection",
            ),
        ),
        # Reviews: every inspection they decided.
        migrations.CreateModel(
            name="ReviewedInspection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
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
                        on_delete=django.db.models.deletion.PROTECT, related_name="decided", to="inspection.review"
                    ),
                ),
            ],
            options={"ordering": ["review_id", "id"]},
        ),
        migrations.AddField(
            model_name="review",
            name="decided_inspections",
            field=models.ManyToManyField(
                related_name="+", through="inspection.ReviewedInspection", to="inspection.inspection"
            ),
        ),
        migrations.RunPython(reviews_decided_their_inspection, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="review",
            name="inspection",
            field=models.OneToOneField(
                help_text="The case's leading inspection (its failure case, if any).",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="review",
                to="inspection.inspection",
            ),
        ),
        migrations.AlterField(
            model_name="review",
            name="review_seconds",
            field=models.FloatField(help_text="Claimed to signed, within one live claim: the review time metric."),
        ),
        # Signatures: a versioned hash; those already made are version 1.
        migrations.AddField(
            model_name="signature",
            name="hash_version",
            field=models.PositiveSmallIntegerField(
                default=1,
                help_text="1: the review's content hash; 2: that hash with the signer, printed name, meaning and time.",
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="signature",
            name="content_sha256",
            field=models.CharField(help_text="What this signature binds (see hash_version).", max_length=64),
        ),
    ]
