from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inspection", "0004_debug_mode")]
    operations: list = []
