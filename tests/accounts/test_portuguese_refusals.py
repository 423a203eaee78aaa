"""Refusals speak the user's language: Debug Mode's claims, a lot's containment and its signed release, and the
andon's acknowledgement, as a Portuguese user meets them through the pages and the API (an English user keeps the
English words)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import UserPreference
from live import actions as alarms
from tests.live.test_andon_alarms import inspect_in_a_row
from tests.support import factories
from tests.support import known_genealogy as known
from tests.support.review_cases import make_review_case
from traceability import roles

pytestmark = pytest.mark.django_db


def signed_in(username: str, role: str, language: str | None) -> Client:
    user = factories.make_user(username, role)
    if language:
        UserPreference.objects.create(user=user, language=language)
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    client.force_login(user)
    return client


def test_it_refuses_a_claimed_case_in_portuguese(cell: Any) -> None:
    case = make_review_case(cell)
    assert signed_in("olivia", roles.OPERATOR, None).post(reverse("review-claim", args=[case.result_id])).status_code
    refused = signed_in("joao", roles.OPERATOR, "pt-br").post(
        reverse("review-claim", args=[case.result_id]), follow=True
    )
    html = refused.content.decode()
    assert f"está analisando {case.part.serial} (posse válida até" in html and "is reviewing" not in html


def test_it_refuses_a_second_containment_and_a_wrong_signature_in_portuguese() -> None:
    g = known.build()
    lot = g.key("A1")
    joao = signed_in("joao", roles.QUALITY_ENGINEER, "pt-br")
    joao.post(f"/trace/lots/{lot}/contain/", {"reason": "porosidade"})
    again = joao.post(f"/trace/lots/{lot}/contain/", {"reason": "de novo"}, follow=True).content.decode()
    assert f"O lote {lot} já está contido: libere essa contenção primeiro." in again
    wrong = joao.post(
        f"/trace/lots/{lot}/release/", {"reason": "fornecedor liberou", "credential": "0000"}, follow=True
    )
    assert "Senha ou PIN não aceito: nada foi assinado." in wrong.content.decode()
    sam = signed_in("sam", roles.QUALITY_ENGINEER, None)
    wrong = sam.post(
        f"/trace/lots/{lot}/release/", {"reason": "supplier cleared it", "credential": "0000"}, follow=True
    )
    assert "Password or PIN not accepted: nothing was signed." in wrong.content.decode()


def test_it_asks_for_the_acknowledgement_reason_in_portuguese(cell: Any) -> None:
    inspect_in_a_row(cell, ["fail", "fail", "fail"])
    [alarm] = alarms.evaluate_cell_alarms(cell)
    url = reverse("alarm-acknowledge", args=[cell.pk, alarm.pk])
    body = json.dumps({"reason": " "})
    portuguese = signed_in("joao", roles.OPERATOR, "pt-br").post(url, body, content_type="application/json")
    english = signed_in("olivia", roles.OPERATOR, None).post(url, body, content_type="application/json")
    assert portuguese.status_code == english.status_code == 400
    assert "Diga por que você reconhece este alarme." in portuguese.content.decode()
    assert "Say why you acknowledge this alarm." in english.content.decode()
