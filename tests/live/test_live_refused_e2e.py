"""A live page the server no longer serves says so: signed out (the socket closes with 4401) or refused (the
handshake is refused, HTTP 403, which the browser only sees as 1006). It shows the state, a sign-in link, and
stops reconnecting. Headless Chromium against a real Daphne process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session

from tests.support import browser as chromium
from tests.support import factories, processes
from traceability import roles

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    chromium.requires_chromium,
]


def open_live_page(pw: Any, server: Any, user: Any, cell: Any) -> tuple[Any, list[str]]:
    from playwright.sync_api import expect

    browser = chromium.launch(pw)
    context = browser.new_context()
    context.add_cookies([chromium.session_cookie_for(user, server.url)])
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{server.url}/cells/{cell.pk}/")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
    return page, sockets


def test_it_says_signed_out_offers_sign_in_and_stops_reconnecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    cell = factories.make_cell(code="refused-1")
    operator = factories.make_user("olga", roles.OPERATOR)
    env = processes.child_env(TWINWEB_LIVE_HEARTBEAT_S="1")
    with processes.daphne(env, tmp_path / "daphne.log") as server, sync_playwright() as pw:
        page, sockets = open_live_page(pw, server, operator, cell)
        Session.objects.all().delete()  # signed out elsewhere (or the session expired)
        conn = page.locator("#conn")
        expect(conn).to_have_attribute("data-state", "refused", timeout=15_000)
        expect(conn).to_have_attribute("data-reason", "signed-out")
        expect(conn).to_have_text("signed out")
        expect(page.locator("#banner")).to_contain_text("You are signed out")
        link = page.locator("#banner a#sign-in")
        expect(link).to_be_visible()
        assert link.get_attribute("href") == f"/accounts/login/?next=%2Fcells%2F{cell.pk}%2F"
        opened = len(sockets)
        page.wait_for_timeout(4000)  # reconnecting would have tried at least twice by now
        assert len(sockets) == opened
        expect(conn).to_have_attribute("data-state", "refused")
        link.click()
        expect(page).to_have_url(f"{server.url}/accounts/login/?next=%2Fcells%2F{cell.pk}%2F")


def test_it_says_refused_when_the_handshake_is_refused_and_stops_reconnecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    cell = factories.make_cell(code="refused-2")
    operator = factories.make_user("otto", roles.OPERATOR)
    env = processes.child_env()
    with processes.daphne(env, tmp_path / "daphne.log") as server, sync_playwright() as pw:
        page, sockets = open_live_page(pw, server, operator, cell)
        operator.groups.clear()  # the role is withdrawn while the page is open
        server.stop()  # the socket drops; the page reconnects, and the server refuses the handshake
        expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting", timeout=10_000)
        server.start()
        conn = page.locator("#conn")
        expect(conn).to_have_attribute("data-state", "refused", timeout=20_000)
        expect(conn).to_have_attribute("data-reason", "refused")
        expect(page.locator("#banner")).to_contain_text("refused")
        expect(page.locator("#banner a#sign-in")).to_be_visible()
        opened = len(sockets)
        page.wait_for_timeout(4000)
        assert len(sockets) == opened
