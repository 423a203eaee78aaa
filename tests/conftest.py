"""Shared fixtures, in one place: the personas (as healthchecks' alice/bob/charlie), the database's audit permit,
the settings every test runs with, a channel layer of each test's own, and the edge model and power monitors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from edge_worker.power import PowerMonitor
from edge_worker.vision.backends import DEFAULT_MODEL_DIR, MODEL_JSON
from tests.support import audit_permit, factories
from tests.support.power import PhaseSampler
from traceability import roles
from twinweb import embedded_redis


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Tests of PostgreSQL's row locks have nothing to test on SQLite (one writer locks the whole database): that
    run leaves them out and says how many; the PostgreSQL run (`make test`'s second) runs them."""
    if django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    kept = [item for item in items if item.get_closest_marker("postgresql") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("postgresql")])
        items[:] = kept


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


@pytest.fixture(scope="session", autouse=True)
def embedded_redis_for_the_session() -> None:
    """With no REDIS_URL the suite holds the project's own redis-server for the whole run (the worker and server
    processes the tests start are given its URL, so they hold nothing themselves); it stops when pytest exits."""
    if django_settings.EMBEDDED_REDIS:
        embedded_redis.needed()


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


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # Signing re-checks passwords on every verdict; PBKDF2's deliberate slowness is not what the tests test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def check_live_events(settings: Any) -> None:
    """Every live event an action publishes in a test is checked against its schema (twinweb/events.py), whatever
    DEBUG says: a payload off its schema fails the test that sent it."""
    settings.TWINWEB_CHECK_LIVE_EVENTS = True


@pytest.fixture(autouse=True)
def own_channel_layer(settings: Any) -> str:
    """Other test runs may share the Redis server: give each test its own group and counter namespace."""
    prefix = f"twtest-{uuid.uuid4().hex[:10]}"
    layers = {**django_settings.CHANNEL_LAYERS}
    default = {**layers["default"], "CONFIG": {**layers["default"]["CONFIG"], "prefix": prefix}}
    settings.CHANNEL_LAYERS = {**layers, "default": default}
    return prefix


SHIPPED_MODEL = DEFAULT_MODEL_DIR / MODEL_JSON


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model when it is there; otherwise a tiny one trained here (one epoch, 14 images, ~8 s)."""
    if SHIPPED_MODEL.is_file():
        return DEFAULT_MODEL_DIR
    pytest.importorskip("torch", reason="no shipped model and torch (needed to train a tiny one) is not installed")
    from edge_worker.vision import train

    out = tmp_path_factory.mktemp("tiny-model")
    train.main(["--out", str(out), "--train-per-class", "1", "--test-per-class", "1", "--epochs", "1", "--batch", "7"])
    return out


@pytest.fixture
def phase_monitor() -> Any:
    def make(by_phase: dict[str, float], rate_hz: float = 50.0) -> PowerMonitor:
        sampler = PhaseSampler(by_phase)
        monitor = PowerMonitor(sampler, rate_hz=rate_hz)
        sampler.monitor = monitor
        return monitor

    return make
