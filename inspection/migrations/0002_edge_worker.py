from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inspection", "0001_initial")]
    operations: list = []
