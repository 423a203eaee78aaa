"""The main pages in Portuguese, as a Brazilian operator sees them: headless Chromium (its browser asking for
English) against a real Daphne process, signed in as a user whose profile says pt-BR. The visible text is checked
against words that only an untranslated English page would show, and numbers are written with a decimal comma."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import UserPreference
from tests.support import browser as chromium
from tests.support import factories, processes
from tests.support.review_cases import make_review_case
from traceability import roles

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    chromium.requires_chromium,
]

# Words of the interface that a Portuguese page would never show (station, part and user names are data, so
# words that the test data uses, such as "Loading" or "inspection", are not on the list; nor are words that are
# Portuguese too: "no" is "in the", as in "no canto").
ENGLISH_ONLY = {
    "the",
    "and",
    "of",
    "your",
    "you",
    "yet",
    "not",
    "No",
    "Sign",
    "Save",
    "Claim",
    "waiting",
    "connecting",
    "reconnecting",
    "results",
    "devices",
    "alarm",
    "Throughput",
    "yield",
    "good",
    "Completed",
    "never",
    "ago",
    "target",
    "parts",
    "part",
    "Skip",
    "content",
    "Profile",
    "Language",
    "Review",
    "Order",
    "first",
    "Nothing",
    "Back",
    "Next",
    "Mean",
    "Energy",
    "power",
    "Defect",
    "Latest",
    "How",
    "figures",
    "defined",
    "Production",
    "cells",
    "Open",
    "live",
    "view",
    "Cell",
    "Edge",
    "Drawings",
    "Trace",
    "cases",
    "case",
    "for",
    "Search",
    "Filters",
    "Serial",
    "Batch",
    "Made",
    "until",
    "verdict",
    "Camera",
    "calibrated",
    "Revisions",
    "types",
    "Journey",
    "Play",
    "Speed",
    "Load",
    "station",
    "visits",
    "recorded",
    "Statistical",
    "process",
    "PASS",
    "IDLE",
    "RUNNING",
    "Username",
    "Password",
    "Quality",
    "control",
}


def english_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z]+", text) if w in ENGLISH_ONLY}


def test_it_shows_the_main_pages_in_portuguese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    cell = factories.make_cell(code="pt-e2e")
    joao = factories.make_user("joao", roles.QUALITY_ENGINEER)  # reaches trace, calibration and drawings too
    UserPreference.objects.create(user=joao, language="pt-br")
    case = make_review_case(cell)
    env = processes.child_env()
    with processes.daphne(env, tmp_path / "daphne.log") as server, sync_playwright() as pw:
        browser = chromium.launch(pw)
        # The sign-in page: the browser's own language decides.
        anonymous = browser.new_context(locale="pt-BR").new_page()
        anonymous.goto(f"{server.url}/accounts/login/")
        login_text = anonymous.inner_text("body")
        assert "Entrar" in login_text and not english_words(login_text), english_words(login_text)

        # Signed in: João's profile beats the browser's English.
        context = browser.new_context(locale="en-US")
        context.add_cookies([chromium.session_cookie_for(joao, server.url)])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        seen: dict[str, str] = {}

        def visit(path: str, ready: Any = None) -> str:
            page.goto(f"{server.url}{path}")
            if ready:
                ready()
            text = page.inner_text("body")
            seen[path] = text
            assert page.locator("html").get_attribute("lang") == "pt-br"
            assert not english_words(text), f"{path}: English left {sorted(english_words(text))} in {text}"
            return text

        home = visit("/")
        assert "Células de produção" in home and "Abrir visão ao vivo" in home
        live = visit(
            f"/cells/{cell.pk}/",
            lambda: expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000),
        )
        assert "ao vivo" in live and "Nenhum alarme ativo." in live
        assert re.search(r"ciclo meta \d+,\d s", live), "the decimal comma"
        assert "OCIOSA" in live  # the station state, translated by the script catalog
        queue = visit("/review/")
        assert "Modo Debug: casos esperando por você" in queue and "reprovada" in queue
        # The tablet's case page: its steps are written by review.js, through the script catalog.
        page.locator(f'tr[data-result-id="{case.result_id}"] button', has_text="Assumir").click()
        expect(page.locator("#dm-step")).to_contain_text("Achado 1 de 1", timeout=10_000)
        expect(page.locator("#dm-next")).to_contain_text("Avançar")
        expect(page.locator(".dm-hint")).to_contain_text("Enter avança")
        trace = visit("/trace/")
        assert "Rastreabilidade" in trace and "Buscar" in trace
        calibration = visit("/calibration/")
        assert "Calibração de câmera" in calibration
        drawings = visit("/drawings/")
        assert "Tipos de peça e desenhos" in drawings
        spc = visit("/spc/")
        assert "Controle estatístico de processo" in spc
        replay = visit(
            reverse("cell-replay", args=[cell.pk]) + f"?serial={case.part.serial}",
            lambda: expect(page.locator("#replay-message")).to_contain_text("inspeç", timeout=10_000),
        )
        assert "Percurso" in replay and "Reproduzir" in replay
        profile = visit("/accounts/profile/")
        assert "Idioma" in profile
        assert not errors
