"""Every inspection names the drawing revision it was measured against (empty for those made before)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inspection", "0007_move_to_apps"),
        ("traceability", "0007_drawings_as_data"),
    ]

    operations = [
        migrations.AddField(
            model_name="inspection",
            name="drawing",
            field=models.ForeignKey(
                blank=True,
                help_text="The drawing revision the part was measured against (empty before drawings were records).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="inspections",
                to="traceability.drawingrevision",
            ),
        ),
    ]
