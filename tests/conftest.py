"""Shared fixtures: the personas (as healthchecks' alice/bob/charlie) and the database's audit permit."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests import audit_permit, factories
from traceability import roles


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    # Test teardown empties tables (flush/TRUNCATE), which the append-only guard refuses: the test databases
    # alone get a teardown permit (tests/audit_permit.py).
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        audit_permit.install(cursor, connection.vendor)
    yield
    if connection.vendor == "postgresql":
        # Connections opened by other threads (Channels' sync_to_async pool) would keep PostgreSQL from
        # dropping the test database.
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def operator(db: Any) -> Any:
    return factories.make_user("olivia", roles.OPERATOR)


@pytest.fixture
def supervisor(db: Any) -> Any:
    return factories.make_user("sam", roles.SUPERVISOR)


@pytest.fixture
def auditor(db: Any) -> Any:
    return factories.make_user("ada", roles.AUDITOR)


@pytest.fixture
def quality_engineer(db: Any) -> Any:
    return factories.make_user("quinn", roles.QUALITY_ENGINEER)


@pytest.fixture
def admin_user(db: Any) -> Any:
    return factories.make_user("alex", roles.ADMIN)


@pytest.fixture
def outsider(db: Any) -> Any:
    """Signed in, but in no role."""
    return factories.make_user("charlie", None)


@pytest.fixture
def login() -> Any:
    def _login(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def cell(db: Any) -> Any:
    return factories.make_cell()
