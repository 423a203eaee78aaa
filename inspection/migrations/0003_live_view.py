from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inspection", "0002_edge_worker")]
    operations: list = []
