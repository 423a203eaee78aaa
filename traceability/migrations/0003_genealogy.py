"""Genealogy (issue 3): the material's GTIN for EPCIS lot classes (LGTIN).

The recursive trace queries walk LotLink (parent_id, child_id), LotConsumption (lot_id, part_id) / (part_id, lot_id)
and PartComponent (assembly_id, component_id) / the unique component_id, which 0001 already indexes both ways.
"""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("traceability", "0002_audit_append_only")]
    operations = [
        migrations.AddField(
            model_name="materialdefinition",
            name="gtin",
            field=models.CharField(
                blank=True,
                help_text="GTIN-14 of the material, used for its lots' EPCIS class identifiers (LGTIN).",
                max_length=14,
                validators=[django.core.validators.RegexValidator("^\\d{14}$", "A GTIN-14 has 14 digits.")],
            ),
        ),
    ]
