"""The reaction plan's starting lists (edited later in the admin)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

CAUSES = [
    ("tool-wear", "Tool wear"),
    ("tool-change", "Tool change or breakage"),
    ("setup", "Set-up or offset error"),
    ("material-lot", "Material lot / raw material"),
    ("fixture", "Fixture or clamping"),
    ("gauge", "Measurement system (gauge, camera, calibration)"),
    ("temperature", "Temperature / environment"),
    ("maintenance", "After maintenance"),
    ("none-found", "No assignable cause found"),
]
ACTIONS = [
    ("adjust-offset", "Tool offset adjusted"),
    ("change-tool", "Tool changed"),
    ("re-setup", "Machine set up again"),
    ("contain", "Parts since last good point contained and 100 % inspected"),
    ("recalibrate", "Gauge or camera recalibrated"),
    ("quarantine-lot", "Material lot quarantined"),
    ("monitor", "No adjustment: monitor (false alarm suspected)"),
]


def forwards(apps: Any, schema_editor: Any) -> None:
    AssignableCause = apps.get_model("spc", "AssignableCause")
    CorrectiveAction = apps.get_model("spc", "CorrectiveAction")
    for code, name in CAUSES:
        AssignableCause.objects.get_or_create(code=code, defaults={"name": name})
    for code, name in ACTIONS:
        CorrectiveAction.objects.get_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("spc", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
