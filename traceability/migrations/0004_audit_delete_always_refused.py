"""DELETE and TRUNCATE of audit records are refused unconditionally.

0002 let them through while a row existed in `twinweb_audit_purge_permit`, which the application's own database
user could insert: an attacker with the application's credentials could delete the newest records unseen. The
permit table is gone; the test suite installs its own teardown permit (tests/audit_permit.py) in its test
databases only.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TABLE = "traceability_auditrecord"
PERMIT = "twinweb_audit_purge_permit"

SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS audit_record_no_delete",
    f"""CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE refused'); END""",
    f"DROP TABLE IF EXISTS {PERMIT}",
]
SQLITE_BACKWARD = [
    f"CREATE TABLE IF NOT EXISTS {PERMIT} (id INTEGER PRIMARY KEY, granted_at TEXT NOT NULL, reason TEXT NOT NULL)",
    "DROP TRIGGER IF EXISTS audit_record_no_delete",
    f"""CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON {TABLE}
        WHEN NOT EXISTS (SELECT 1 FROM {PERMIT})
        BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE refused'); END""",
]

POSTGRES_GUARD = """CREATE OR REPLACE FUNCTION twinweb_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION USING MESSAGE = 'audit records are append-only: ' || TG_OP || ' refused';
        END $$"""
POSTGRES_FORWARD = [POSTGRES_GUARD, f"DROP TABLE IF EXISTS {PERMIT}"]
POSTGRES_BACKWARD = [
    f"CREATE TABLE IF NOT EXISTS {PERMIT} (id serial PRIMARY KEY, granted_at timestamptz NOT NULL, reason text NOT NULL)",
    f"""CREATE OR REPLACE FUNCTION twinweb_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE' THEN
            RAISE EXCEPTION 'audit records are append-only: UPDATE refused';
          END IF;
          IF NOT EXISTS (SELECT 1 FROM {PERMIT}) THEN
            RAISE EXCEPTION USING MESSAGE = 'audit records are append-only: ' || TG_OP || ' refused';
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NULL;
        END $$""",
]


def _run(schema_editor: BaseDatabaseSchemaEditor, statements: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise RuntimeError(f"no append-only guard for the {vendor} database: use SQLite or PostgreSQL")
    for sql in statements[vendor]:
        schema_editor.execute(sql)


def forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD})


def backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD})


class Migration(migrations.Migration):
    dependencies = [("traceability", "0003_genealogy")]
    operations = [migrations.RunPython(forward, backward, elidable=False)]
