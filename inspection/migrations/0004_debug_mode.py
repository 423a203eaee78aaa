from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inspection", "0003_live_view")]
    operations: list = []
