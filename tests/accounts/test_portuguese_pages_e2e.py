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
from gateway.actions import record_gap
from gateway.address_space import GapCause
from modelops import actions as modelops_actions
from tests.modelops.support import device_of, shipped_version
from tests.spc.conftest import add_values, characteristic, measured  # noqa: F401 (fixtures of the SPC page)
from tests.support import browser as chromium
from tests.support import factories, processes
from tests.support.profiling_reports import profiling_report, store_sent, variant_report
from tests.support.review_cases import make_review_case
from traceability import roles
from traceability.models import DrawingRevision, Station

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
    "Limits",
    "limits",
    "Frozen",
    "frozen",
    "Histogram",
    "Capability",
    "violations",
    "Gauge",
    "values",
    "Configure",
    "Specification",
    "rules",
    "within",
    "overall",
    "Runs",
    "run",
    "Metric",
    "Accuracy",
    "Latency",
    "Memory",
    "Phases",
    "Comparison",
    "deck",
    "derived",
    "measured",
    "Feature",
    "Tolerance",
    "Released",
    "Release",
    "revision",
    "Remove",
    "Unit",
    "registry",
    "Aliases",
    "Versions",
    "Training",
    "Deployments",
    "champion",
    "candidate",
    "Champion",
    "Stage",
    "golden",
    "Shadow",
    "Deploy",
    "agreement",
    "with",
}


def english_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z]+", text) if w in ENGLISH_ONLY}


def visit_in_portuguese(page: Any, url: str, ready: Any = None) -> str:
    """Open `url`, wait for the page's own script if it writes text (`ready`), and return its visible text after
    checking it has no English-only word."""
    page.goto(url)
    if ready:
        ready()
    text: str = page.inner_text("body")
    assert page.locator("html").get_attribute("lang") == "pt-br"
    assert not english_words(text), f"{url}: English left {sorted(english_words(text))} in {text}"
    return text


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

        # After the snapshot: the cell link raises an alarm outside any request (so in English); the page names its
        # rule from the script catalog, and the socket words the alarm in João's language.
        def raise_gap_alarm() -> None:
            station = Station.objects.get(cell=cell, code="load")
            record_gap(
                station, boot_id="b1", first=2, last=4, cause=GapCause.NOT_IN_BUFFER, cause_params={"buffer_size": 8}
            )

        snapshots = page.evaluate("window.__twin.snapshots")
        chromium.in_plain_thread(raise_gap_alarm)
        alarm = page.locator("#alarms li.alarm")
        expect(alarm).to_contain_text("Eventos do CLP perdidos no link da célula", timeout=10_000)
        expect(alarm).to_contain_text("3 evento(s) do CLP perdido(s) em load (fora do buffer do CLP de 8 eventos)")
        expect(alarm).to_contain_text("disparado às")
        expect(alarm).to_contain_text("ALARME")
        assert not english_words(alarm.inner_text()), alarm.inner_text()
        assert page.evaluate("window.__twin.snapshots") == snapshots, "applied as an event, not a re-fetched snapshot"
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


def test_it_shows_the_quality_engineers_pages_in_portuguese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """SPC's characteristic page, edge profiling, drawings and the model registry, as João (quality engineer, the
    role that sees their forms too) reads them in pt-BR, with the charts their scripts draw."""
    from playwright.sync_api import expect, sync_playwright

    import numpy as np

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ch = request.getfixturevalue("characteristic")
    request.getfixturevalue("add_values")(list(np.random.default_rng(4).normal(30.042, 0.007, 124)))
    cell = ch.station.cell
    # Test data in the plant's language: the factory's first revision says "new part type" (a recorded reason).
    DrawingRevision.objects.filter(part_type=ch.part_type).update(reason="tipo de peça novo")
    joao = factories.make_user("joao", roles.QUALITY_ENGINEER)
    UserPreference.objects.create(user=joao, language="pt-br")
    device, _credentials = device_of(cell, joao)
    run, _ = store_sent(
        profiling_report(
            device.device_id,
            [variant_report("torch-fp32", 41.0, 3386.0, 6125.0), variant_report("tensorrt-fp32", 82.0, 3185.0, 5711.0)],
        )
    )
    version = shipped_version(joao)
    modelops_actions.assign_alias(
        version, cell=cell, alias="champion", actor=joao, credential=factories.PASSWORD, reason="primeira versão"
    )
    env = processes.child_env()
    with processes.daphne(env, tmp_path / "daphne.log") as server, sync_playwright() as pw:
        browser = chromium.launch(pw)
        context = browser.new_context(locale="en-US")
        context.add_cookies([chromium.session_cookie_for(joao, server.url)])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        spc = visit_in_portuguese(
            page,
            f"{server.url}{ch.get_absolute_url()}",
            lambda: expect(page.locator("#spc-live")).to_contain_text("acompanhando", timeout=15_000),
        )
        assert "Carta de controle" in spc and "Capabilidade" in spc and "Violações de regra" in spc
        assert "Fase I: limites não congelados." in spc
        expect(page.locator("#spc-location svg").first).to_be_attached(timeout=15_000)  # Plotly drew the chart

        runs = visit_in_portuguese(page, f"{server.url}/profiling/")
        assert "Perfilamento na borda" in runs and "Acurácia (%)" in runs and "Os números da apresentação" in runs
        profiled = visit_in_portuguese(
            page,
            f"{server.url}/profiling/runs/{run.run_id}/",
            lambda: expect(page.locator("#power-chart .main-svg").first).to_be_visible(timeout=15_000),
        )
        assert "Potência ao longo do tempo" in profiled and "aquecimento" in profiled
        assert re.search(r"\b12,11\b", profiled), "the decimal comma in the deck's table"

        drawing = visit_in_portuguese(page, f"{server.url}/drawings/{ch.part_type.code}/")
        assert "Liberar revisão" in drawing and "Cota" in drawing and "vigente" in drawing
        new_part_type = visit_in_portuguese(page, f"{server.url}/drawings/new/")
        assert "Criar o tipo de peça e sua primeira revisão" in new_part_type and "Número do desenho" in new_part_type

        registry = visit_in_portuguese(page, f"{server.url}/modelops/")
        assert (
            "Registro de modelos" in registry
            and "campeão" in registry
            and "nenhuma versão anterior para voltar" in registry
        )  # a first champion
        detail = visit_in_portuguese(page, f"{server.url}/modelops/v/{version.sha256}/")
        assert "Modo sombra" in detail and "Implantar" in detail
        transition = visit_in_portuguese(page, f"{server.url}/modelops/v/{version.sha256}/transition")
        assert "Do treinamento à linha" in transition and "não medido" in transition
        assert not errors
