"""Passwords cannot be guessed: the login page, the admin login and API authentication refuse a user, and an
address, after TWINWEB_LOGIN_MAX_FAILURES failures, and every failure and lockout is recorded."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.support.factories import PASSWORD

pytestmark = pytest.mark.django_db

LIMIT = 5


def client_from(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def log_in(client: Client, username: str, password: str, path: str = "/accounts/login/") -> int:
    return client.post(path, {"username": username, "password": password}).status_code


def test_it_locks_out_a_user_whose_password_is_being_guessed(operator: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    answers = [log_in(client_from(f"10.9.0.{n}"), "olivia", f"guess-{n}") for n in range(40)]
    assert answers[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form again, with its error
    assert set(answers[LIMIT:]) == {429}
    # Even the right password, from a new address, is refused until the cool-off ends.
    assert log_in(client_from("10.9.1.1"), "olivia", PASSWORD) == 429
    assert AccessFailureLog.objects.filter(username="olivia").count() >= LIMIT


def test_it_locks_out_an_address_that_tries_many_users(operator: Any, supervisor: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    attacker = client_from("10.9.2.2")
    for n in range(LIMIT):
        log_in(attacker, f"user-{n}", "guess")
    assert log_in(attacker, "sam", PASSWORD) == 429
    # Another address is not affected, and a good login there is a normal redirect to the app.
    assert log_in(client_from("10.9.2.3"), "sam", PASSWORD) == 302


def test_the_admin_login_counts_the_same_failures(admin_user: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    for n in range(LIMIT):
        log_in(client_from(f"10.9.3.{n}"), "alex", f"guess-{n}", path="/admin/login/")
    assert log_in(client_from("10.9.3.99"), "alex", PASSWORD, path="/admin/login/") == 429
    assert log_in(client_from("10.9.3.98"), "alex", PASSWORD) == 429


def test_a_good_login_before_the_limit_clears_the_count(operator: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    tablet = client_from("10.9.4.4")
    for _ in range(LIMIT - 1):
        log_in(tablet, "olivia", "typo")
    assert log_in(tablet, "olivia", PASSWORD) == 302
    for _ in range(LIMIT - 1):
        log_in(client_from("10.9.4.4"), "olivia", "typo")
    assert log_in(client_from("10.9.4.4"), "olivia", PASSWORD) == 302


def test_api_tokens_cannot_be_guessed_from_one_address(auditor: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    good = Token.objects.create(user=auditor).key
    prober = client_from("10.9.5.5")
    answers = [prober.get("/api/parts/", HTTP_AUTHORIZATION=f"Token {n:040x}").status_code for n in range(LIMIT)]
    assert answers[: LIMIT - 1] == [401] * (LIMIT - 1) and answers[-1] == 429  # the failure that reaches the limit
    locked = prober.get("/api/parts/", HTTP_AUTHORIZATION=f"Token {good}")
    assert locked.status_code == 429 and "Too many failed" in locked.json()["detail"]
    assert client_from("10.9.5.6").get("/api/parts/", HTTP_AUTHORIZATION=f"Token {good}").status_code == 200
    assert AccessAttempt.objects.filter(ip_address="10.9.5.5").exists()
