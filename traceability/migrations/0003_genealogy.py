from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("traceability", "0002_audit_append_only")]
    operations: list = []
