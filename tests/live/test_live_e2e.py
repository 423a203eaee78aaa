"""End to end: headless Chromium on the twin page served by a real Daphne process; results go through a real
Celery ingest worker (the edge worker's message, the ingest task, commit, publish); the server is restarted
and the page recovers, including what happened while it was down."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from inspection.tasks import ingest_result, ingest_telemetry
from tests.support import browser as chromium
from tests.support import factories, processes
from tests.support import ingest_builders as edge
from tests.support import live_builders as builders
from traceability import actions, roles
from traceability.models import Station
from twinweb.live import next_sequence

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    chromium.requires_chromium,
]
ARTIFACTS = processes.ROOT / "test-artifacts"


def send_result(queue: str, **kwargs: Any) -> str:
    """What the edge worker does: put an InspectionResult on the ingest queue."""
    payload = edge.payload(**kwargs)
    ingest_result.apply_async(args=[payload], queue=queue)
    return str(payload["result_id"])


def test_it_shows_a_published_result_live_and_recovers_after_a_server_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API keeps an event loop in this thread; Django's ORM calls here are still sequential
    # (the documented setting for Playwright tests).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    cell = factories.make_cell(code="ac-cell-e2e")
    supervisor = factories.make_user("sam", roles.SUPERVISOR)
    edge.make_device(cell)
    batch = factories.make_batch(cell=cell)
    start = timezone.now() - dt.timedelta(minutes=4)
    for i in range(8):  # some history, so KPIs and charts have something to show
        builders.run_part(
            cell,
            batch,
            start=start + dt.timedelta(seconds=20 * i),
            dwell_s=[4, 12, 14 + i % 4, 9, 4],
            verdicts={"visual": "fail" if i == 5 else "pass", "dimensional": "pass"},
        )
    part = factories.make_part(batch, serial="CF-80-E2E-0001")
    visual = Station.objects.get(cell=cell, code="visual")
    actions.record_station_entry(part, station=visual, actor=None)

    queue = f"ingest-e2e-{uuid.uuid4().hex[:8]}"
    env = processes.child_env()
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        processes.daphne(env, tmp_path / "daphne.log") as server,
        processes.celery_worker(env, queue, tmp_path / "worker.log"),
        sync_playwright() as pw,
    ):
        browser = chromium.launch(pw)
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        context.add_cookies([chromium.session_cookie_for(supervisor, server.url)])
        page = context.new_page()
        script_errors: list[str] = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        # Every snapshot re-fetch, with why the page made it (its X-Twin-Resync header).
        state_url = f"{server.url}/api/cells/{cell.pk}/state/"
        fetches: list[str] = []
        page.on("request", lambda r: fetches.append(r.headers.get("x-twin-resync", "")) if r.url == state_url else None)
        # Plants are often offline: every asset, script, chart library and image comes from the app itself.
        elsewhere: list[str] = []
        page.on(
            "request", lambda r: None if r.url.startswith((server.url, "data:", "blob:")) else elsewhere.append(r.url)
        )

        def refetch(why: str) -> Any:
            return page.expect_request(
                lambda r: r.url == state_url and why in r.headers.get("x-twin-resync", ""), timeout=15_000
            )

        page.goto(f"{server.url}/cells/{cell.pk}/")
        expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
        expect(page.locator('.station[data-code="visual"] .st-serial')).to_have_text("CF-80-E2E-0001")

        # 1. Telemetry and a result through the real worker appear on the page.
        ingest_telemetry.apply_async(args=[edge.telemetry(at=timezone.now())], queue=queue)
        expect(page.locator('[data-device-id="jetson-test-01"]')).to_have_attribute(
            "data-health", "online", timeout=20_000
        )
        expect(page.locator('[data-device-id="jetson-test-01"] .reading').first).to_have_text("0.2")
        first = send_result(
            queue,
            serial=part.serial,
            station="visual",
            verdict="fail",
            defect_class="scratch",
            defect_confidence=0.97,
            captured_at=timezone.now(),
        )
        expect(page.locator(f'#recent [data-result-id="{first}"]')).to_be_visible(timeout=20_000)
        expect(page.locator('.station[data-code="visual"] .st-verdict text')).to_have_text("NOK")
        expect(page.locator('.station[data-code="visual"] .st-defect')).to_have_text("scratch")
        latencies = page.evaluate("window.__twin.latencies")
        assert any(row["result_id"] == first and row["committed_at"] for row in latencies)
        # A notification lost on the way: a result is stored and its notification (its seq number) never arrives.
        # The page sees the gap at the next event, re-fetches the snapshot, and shows the result only the snapshot
        # carries.
        before = page.evaluate(
            "({gaps: window.__twin.gaps, resyncs: window.__twin.resyncs, seq: window.__twin.lastSeq()})"
        )
        dimensional = Station.objects.get(cell=cell, code="dimensional")
        unseen = builders.inspect(part, dimensional, at=timezone.now(), verdict="fail", defect_class="dent")
        lost = chromium.in_plain_thread(next_sequence, cell.pk)
        unload = Station.objects.get(cell=cell, code="unload")
        other = factories.make_part(batch, serial="CF-80-E2E-0002")
        with refetch(f"gap before seq {lost + 1}"):
            chromium.in_plain_thread(actions.record_station_entry, other, station=unload, actor=None)
        expect(page.locator('.station[data-code="unload"] .st-serial')).to_have_text("CF-80-E2E-0002")
        expect(page.locator(f'#recent [data-result-id="{unseen.result_id}"]')).to_be_visible(timeout=10_000)
        expect(page.locator('.station[data-code="dimensional"] .st-defect')).to_have_text("dent")
        after = page.evaluate(
            "({gaps: window.__twin.gaps, resyncs: window.__twin.resyncs, seq: window.__twin.lastSeq()})"
        )
        assert after["gaps"] > before["gaps"] and after["resyncs"] > before["resyncs"]
        assert after["seq"] == lost + 1 > before["seq"]
        page.wait_for_timeout(1200)  # let the 1 Hz chart refresh draw
        page.screenshot(path=str(ARTIFACTS / "live-view.png"), full_page=True)

        # 2. The server goes away: the page says so.
        server.stop()
        expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting", timeout=10_000)
        expect(page.locator("#banner")).to_contain_text("reconnecting")

        # 3. While it is down, the worker stores another result (its notification reaches nobody).
        second = send_result(
            queue,
            serial=part.serial,
            station="visual",
            verdict="pass",
            defect_class="ok",
            captured_at=timezone.now() + dt.timedelta(seconds=1),
        )
        deadline = timezone.now() + dt.timedelta(seconds=20)
        from inspection.models import Inspection

        while not Inspection.objects.filter(result_id=second).exists():
            assert timezone.now() < deadline, "the worker did not store the result"
            page.wait_for_timeout(200)

        # 4. The server comes back on the same port: the page reconnects, re-fetches the snapshot over HTTP,
        #    shows the result made during the outage, and the banner goes.
        fetched_before = len(fetches)
        with refetch("reconnect"):
            server.start()
            expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=20_000)
        assert len(fetches) > fetched_before
        expect(page.locator(f'#recent [data-result-id="{second}"]')).to_be_visible(timeout=5_000)
        expect(page.locator('.station[data-code="visual"] .st-verdict text')).to_have_text("PASS")
        expect(page.locator("#banner")).to_be_hidden()
        assert page.evaluate("window.__twin.snapshots") >= 2
        assert script_errors == []
        assert elsewhere == []
        browser.close()
        connections.close_all()  # connections opened while Playwright's loop ran are their own


def test_it_raises_and_acknowledges_an_andon_alarm_and_replays_a_part_journey(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from live.actions import evaluate_cell_alarms
    from traceability.models import AuditRecord

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    cell = factories.make_cell(code="ac-cell-andon")
    operator = factories.make_user("olivia", roles.OPERATOR)
    batch = factories.make_batch(cell=cell)
    start = timezone.now() - dt.timedelta(minutes=3)
    for i in range(3):  # three NOK in a row at the visual station
        last = builders.run_part(
            cell,
            batch,
            start=start + dt.timedelta(seconds=20 * i),
            dwell_s=[3, 8, 9, 6, 3],
            verdicts={"visual": "fail"},
            serial=f"CF-80-ANDON-{i}",
            with_images=True,
        )
    # Results from an edge device, but no station event for the part (no PLC feed).
    unvisited = factories.make_part(batch, serial="CF-80-NO-VISIT")
    visual = Station.objects.get(cell=cell, code="visual")
    builders.inspect(
        unvisited,
        visual,
        at=timezone.now() - dt.timedelta(seconds=30),
        verdict="fail",
        defect_class="dent",
        image=builders.make_image(7),
    )

    env = processes.child_env()
    ARTIFACTS.mkdir(exist_ok=True)
    with processes.daphne(env, tmp_path / "daphne.log") as server, sync_playwright() as pw:
        browser = chromium.launch(pw)
        context = browser.new_context(viewport={"width": 1280, "height": 800})  # a tablet in landscape
        context.add_cookies([chromium.session_cookie_for(operator, server.url)])
        page = context.new_page()
        page.goto(f"{server.url}/cells/{cell.pk}/")
        expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)

        # The rule fires (as watch_andon does); the alarm arrives live and the station shows a fault.
        [alarm] = chromium.in_plain_thread(evaluate_cell_alarms, cell)
        item = page.locator(f'#alarms [data-alarm-id="{alarm.pk}"]')
        expect(item).to_contain_text("3 NOK in a row", timeout=10_000)
        expect(page.locator('.station[data-code="visual"]')).to_have_class(re.compile(r"\bst-fault\b"))
        item.locator('input[name="reason"]').fill("Lens cleaned; watching the next parts")
        item.locator('button[type="submit"]').click()
        expect(item.locator(".badge")).to_have_text("ACK", timeout=10_000)
        expect(item).to_contain_text("Lens cleaned")
        assert AuditRecord.objects.filter(action="alarm.acknowledge", actor=operator).count() == 1

        # Replay: the part's journey with its real timestamps, verdicts and image.
        page.goto(f"{server.url}/cells/{cell.pk}/replay/?serial={last.serial}")
        expect(page.locator("#steps li")).to_have_count(5, timeout=10_000)
        page.locator("#timeline").fill("1000")
        expect(page.locator('.station[data-code="visual"] .st-verdict text')).to_have_text("NOK")
        expect(page.locator("#evidence img")).to_be_visible()
        page.locator("#timeline").fill("300")
        expect(page.locator(".st-part:visible")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "live-replay.png"), full_page=True)

        # A part with inspections but no station visit: its inspections are shown, and the page says what is missing.
        page.goto(f"{server.url}/cells/{cell.pk}/replay/?serial={unvisited.serial}")
        expect(page.locator("#replay-message")).to_contain_text("no station visit recorded", timeout=10_000)
        expect(page.locator("#steps li")).to_have_count(1)
        expect(page.locator("#steps li")).to_contain_text("NOK dent")
        page.locator("#timeline").fill("1000")
        expect(page.locator('.station[data-code="visual"] .st-verdict text')).to_have_text("NOK")
        expect(page.locator("#evidence img")).to_be_visible()
        browser.close()
        connections.close_all()  # connections opened while Playwright's loop ran are their own


def test_it_says_degraded_while_redis_is_down_and_recovers_when_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A Redis of this test's own (the shared one must not be stopped): the page keeps its socket, says
    "degraded" within one heartbeat, shows what the database holds meanwhile, and goes live again."""
    from playwright.sync_api import expect, sync_playwright

    from twinweb import embedded_redis, live

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    redis_dir = tmp_path / "redis"
    socket_path = embedded_redis.ensure_running(redis_dir)
    redis_url = embedded_redis.socket_url(socket_path)
    layer = settings.CHANNEL_LAYERS["default"]
    settings.REDIS_URL = redis_url
    settings.CHANNEL_LAYERS = {
        "default": {
            **layer,
            "CONFIG": {
                **layer["CONFIG"],
                "hosts": [{"address": redis_url, "socket_timeout": 30, "socket_connect_timeout": 5}],
            },
        }
    }
    monkeypatch.setattr(live, "_redis_client", None)

    cell = factories.make_cell(code="ac-cell-redis")
    supervisor = factories.make_user("sam", roles.SUPERVISOR)
    batch = factories.make_batch(cell=cell)
    first, second = factories.make_part(batch, serial="CF-80-R-1"), factories.make_part(batch, serial="CF-80-R-2")
    load = Station.objects.get(cell=cell, code="load")
    env = processes.child_env(TWINWEB_LIVE_HEARTBEAT_S="1")
    try:
        with processes.daphne(env, tmp_path / "daphne.log") as server, sync_playwright() as pw:
            browser = chromium.launch(pw)
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            context.add_cookies([chromium.session_cookie_for(supervisor, server.url)])
            page = context.new_page()
            page.goto(f"{server.url}/cells/{cell.pk}/")
            expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
            chromium.in_plain_thread(actions.record_station_entry, first, station=load, actor=None)
            expect(page.locator('.station[data-code="load"] .st-serial')).to_have_text("CF-80-R-1")

            embedded_redis.stop(redis_dir)
            expect(page.locator("#conn")).to_have_attribute("data-state", "degraded", timeout=5_000)
            expect(page.locator("#banner")).to_contain_text("degraded")
            # The database still takes writes; the page shows them by polling the snapshot.
            chromium.in_plain_thread(actions.record_station_exit, first.station_events.get(), outcome="ok", actor=None)
            chromium.in_plain_thread(actions.record_station_entry, second, station=load, actor=None)
            expect(page.locator('.station[data-code="load"] .st-serial')).to_have_text("CF-80-R-2", timeout=12_000)

            embedded_redis.ensure_running(redis_dir)
            expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=10_000)
            expect(page.locator("#banner")).to_be_hidden()
            visual = Station.objects.get(cell=cell, code="visual")
            chromium.in_plain_thread(actions.record_station_entry, first, station=visual, actor=None)
            expect(page.locator('.station[data-code="visual"] .st-serial')).to_have_text("CF-80-R-1", timeout=10_000)
            browser.close()
            connections.close_all()
    finally:
        embedded_redis.stop(redis_dir)
