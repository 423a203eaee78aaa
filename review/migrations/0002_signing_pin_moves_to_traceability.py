"""Signing PINs serve every electronic signature of the product now, not Debug Mode's alone: each PIN moves to
traceability.SigningPin (hash and time unchanged) before Debug Mode's table goes."""

from django.db import migrations


def pins_move(apps, schema_editor):
    ReviewPin = apps.get_model("review", "ReviewPin")
    SigningPin = apps.get_model("traceability", "SigningPin")
    SigningPin.objects.bulk_create(
        [SigningPin(user_id=pin.user_id, pin_hash=pin.pin_hash, set_at=pin.set_at) for pin in ReviewPin.objects.all()],
        ignore_conflicts=True,
    )


def pins_move_back(apps, schema_editor):
    ReviewPin = apps.get_model("review", "ReviewPin")
    SigningPin = apps.get_model("traceability", "SigningPin")
    ReviewPin.objects.bulk_create(
        [ReviewPin(user_id=pin.user_id, pin_hash=pin.pin_hash, set_at=pin.set_at) for pin in SigningPin.objects.all()],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0001_move_to_apps"),
        ("traceability", "0006_electronic_signatures"),
    ]

    operations = [
        migrations.RunPython(pins_move, pins_move_back),
        migrations.DeleteModel(
            name="ReviewPin",
        ),
    ]
