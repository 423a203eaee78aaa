"""The live view, Debug Mode and edge profiling have apps of their own (live, review, profiling): their models leave
the inspection app's state here and enter theirs in each app's 0001; no table is created, renamed or dropped."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inspection", "0006_review_per_part"),
    ]

    operations = [
        # The tables stay where they are (Meta.db_table): only Django's model state moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="cobotcommand",
                    name="cell",
                ),
                migrations.RemoveField(
                    model_name="cobotcommand",
                    name="inspection",
                ),
                migrations.RemoveField(
                    model_name="profilingrun",
                    name="device",
                ),
                migrations.RemoveField(
                    model_name="profilingrun",
                    name="requested_by",
                ),
                migrations.RemoveField(
                    model_name="profilingvariant",
                    name="run",
                ),
                migrations.RemoveField(
                    model_name="profilingseries",
                    name="variant",
                ),
                migrations.RemoveField(
                    model_name="review",
                    name="claim",
                ),
                migrations.RemoveField(
                    model_name="review",
                    name="decided_inspections",
                ),
                migrations.RemoveField(
                    model_name="review",
                    name="inspection",
                ),
                migrations.RemoveField(
                    model_name="review",
                    name="reviewer",
                ),
                migrations.RemoveField(
                    model_name="reviewedinspection",
                    name="review",
                ),
                migrations.RemoveField(
                    model_name="signature",
                    name="review",
                ),
                migrations.RemoveField(
                    model_name="reviewclaim",
                    name="holder",
                ),
                migrations.RemoveField(
                    model_name="reviewclaim",
                    name="inspection",
                ),
                migrations.RemoveField(
                    model_name="reviewclaim",
                    name="part",
                ),
                migrations.RemoveField(
                    model_name="reviewedinspection",
                    name="inspection",
                ),
                migrations.RemoveField(
                    model_name="reviewpin",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="signature",
                    name="signer",
                ),
                migrations.DeleteModel(
                    name="Alarm",
                ),
                migrations.DeleteModel(
                    name="CobotCommand",
                ),
                migrations.DeleteModel(
                    name="ProfilingRun",
                ),
                migrations.DeleteModel(
                    name="ProfilingSeries",
                ),
                migrations.DeleteModel(
                    name="ProfilingVariant",
                ),
                migrations.DeleteModel(
                    name="Review",
                ),
                migrations.DeleteModel(
                    name="ReviewClaim",
                ),
                migrations.DeleteModel(
                    name="ReviewedInspection",
                ),
                migrations.DeleteModel(
                    name="ReviewPin",
                ),
                migrations.DeleteModel(
                    name="Signature",
                ),
            ]
        ),
    ]
