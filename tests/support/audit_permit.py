"""The test suite's teardown permit for the append-only audit guard, installed in test databases only.

Between transactional tests pytest-django empties every table (DELETE on SQLite, TRUNCATE on PostgreSQL), which
the production guard refuses. In the test database alone the guard is put back as it was before migration 0004
(its backward SQL): DELETE and TRUNCATE pass while a row exists in `twinweb_audit_purge_permit`. The tests that
check the guard remove the permit inside their own transaction, and `test_audit_trail` checks that the migrations'
own guard, without this permit, refuses deletion outright.
"""

from __future__ import annotations

import importlib
from typing import Any

_guard = importlib.import_module("traceability.migrations.0004_audit_delete_always_refused")


def install(cursor: Any, vendor: str) -> None:
    for sql in {"sqlite": _guard.SQLITE_BACKWARD, "postgresql": _guard.POSTGRES_BACKWARD}[vendor]:
        cursor.execute(sql)
    cursor.execute(
        f"INSERT INTO {_guard.PERMIT} (granted_at, reason) VALUES (CURRENT_TIMESTAMP, 'test suite teardown')"
    )
