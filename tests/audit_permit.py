"""The test suite's teardown permit for the append-only audit guard, installed in test databases only.

Between transactional tests pytest-django empties every table (DELETE on SQLite, TRUNCATE on PostgreSQL), which
the production guard refuses. In the test database alone the guard lets that through while a row exists in
`twinweb_audit_purge_permit`; the tests that check the guard remove the permit inside their own transaction, and
`test_audit_trail` checks that the migrations' own guard, without this permit, refuses deletion outright.
"""
from __future__ import annotations

from typing import Any

TABLE = "traceability_auditrecord"
PERMIT = "twinweb_audit_purge_permit"

_SQLITE = [
    f"CREATE TABLE IF NOT EXISTS {PERMIT} (id INTEGER PRIMARY KEY, granted_at TEXT NOT NULL, reason TEXT NOT NULL)",
    "DROP TRIGGER IF EXISTS audit_record_no_delete",
    f"""CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON {TABLE}
        WHEN NOT EXISTS (SELECT 1 FROM {PERMIT})
        BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE refused'); END""",
]
_POSTGRES = [
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


def install(cursor: Any, vendor: str) -> None:
    for sql in {"sqlite": _SQLITE, "postgresql": _POSTGRES}[vendor]:
        cursor.execute(sql)
    cursor.execute(f"INSERT INTO {PERMIT} (granted_at, reason) VALUES (CURRENT_TIMESTAMP, 'test suite teardown')")
