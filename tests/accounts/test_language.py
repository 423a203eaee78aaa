"""Each user's language: their profile setting wins, else the browser's Accept-Language, else English. Dates and
numbers follow it."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import UserPreference
from tests.support import factories
from traceability import roles
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_it_speaks_english_by_default_and_follows_the_browser_otherwise() -> None:
    anonymous = Client()
    assert "Sign in" in anonymous.get("/accounts/login/").content.decode()
    page = anonymous.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9,en;q=0.5")
    assert page["Content-Language"] == "pt-br"
    assert '<html lang="pt-br">' in page.content.decode()
    assert "Entrar" in page.content.decode() and "Sign in" not in page.content.decode()


def test_it_uses_the_users_own_language_over_the_browsers() -> None:
    operator = factories.make_user("joao", roles.OPERATOR)
    UserPreference.objects.create(user=operator, language="pt-br")
    page = signed_in(operator).get("/review/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Modo Debug: casos esperando por você" in text
    assert "Sair" in text and "Sign out" not in text


def test_it_changes_the_language_on_the_profile_page_and_audits_it() -> None:
    supervisor = factories.make_user("sam", roles.SUPERVISOR)
    client = signed_in(supervisor)
    assert "Sign out" in client.get("/").content.decode()
    response = client.post("/accounts/profile/", {"language": "pt-br"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert UserPreference.objects.get(user=supervisor).language == "pt-br"
    assert AuditRecord.objects.filter(action="accounts.language").count() == 1
    after = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Células de produção" in after and "Seu idioma foi salvo." in after
    # Back to "as my browser asks": the browser's English again.
    client.post("/accounts/profile/", {"language": ""})
    assert "Production cells" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_it_refuses_a_language_the_product_does_not_speak() -> None:
    user = factories.make_user("otto", roles.OPERATOR)
    response = signed_in(user).post("/accounts/profile/", {"language": "fr"})
    assert response.status_code == 200
    assert not UserPreference.objects.filter(user=user).exists()


def test_it_writes_numbers_and_dates_the_portuguese_way() -> None:
    operator = factories.make_user("maria", roles.OPERATOR)
    UserPreference.objects.create(user=operator, language="pt-br")
    cell = factories.make_cell(code="pt-cell")
    text = signed_in(operator).get(f"/cells/{cell.pk}/").content.decode()
    target = f"{cell.target_cycle_time_s:.1f}".replace(".", ",")
    assert f"ciclo meta {target} s" in text


def test_it_says_debug_modes_messages_in_the_users_language() -> None:
    operator = factories.make_user("bia", roles.OPERATOR)
    UserPreference.objects.create(user=operator, language="pt-br")
    client = signed_in(operator)
    page = client.post("/review/claim-next/", follow=True).content.decode()
    assert "Nenhum caso esperando por você." in page


def test_it_ends_a_requests_language_with_the_request() -> None:
    from django.utils import translation

    Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="pt-BR")
    # Code that runs next in this thread (an action's refusal, a command) speaks the default again.
    assert translation.get_language() == "en"
