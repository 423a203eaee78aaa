"""The database itself refuses UPDATE and DELETE of audit records.

UPDATE is always refused. DELETE (and TRUNCATE on PostgreSQL) is refused unless a row exists in
`twinweb_audit_purge_permit`, a table outside Django's models (so `flush` never empties it): the test suite
grants one to tear its databases down; production keeps it empty.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TABLE = "traceability_auditrecord"
PERMIT = "twinweb_audit_purge_permit"

SQLITE_FORWARD = [
    f"CREATE TABLE IF NOT EXISTS {PERMIT} (id INTEGER PRIMARY KEY, granted_at TEXT NOT NULL, reason TEXT NOT NULL)",
    f"""CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'audit records are append-only: UPDATE refused'); END""",
    f"""CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON {TABLE}
        WHEN NOT EXISTS (SELECT 1 FROM {PERMIT})
        BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE refused'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_record_no_update",
    "DROP TRIGGER IF EXISTS audit_record_no_delete",
    f"DROP TABLE IF EXISTS {PERMIT}",
]

POSTGRES_FORWARD = [
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
    f"""CREATE TRIGGER audit_record_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION twinweb_audit_guard()""",
    f"""CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION twinweb_audit_guard()""",
]
POSTGRES_BACKWARD = [
    f"DROP TRIGGER IF EXISTS audit_record_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_record_no_update_delete ON {TABLE}",
    "DROP FUNCTION IF EXISTS twinweb_audit_guard()",
    f"DROP TABLE IF EXISTS {PERMIT}",
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
    dependencies = [("traceability", "0001_initial")]
    operations = [migrations.RunPython(forward, backward, elidable=False)]
