"""End to end, keyboard only, at tablet size: an operator signs in, claims the oldest case, steps through its
findings with Enter, picks "NOK: scrap" with a digit and signs with the password, while the connection drops at
the moment of signing; then, in portrait, opens the next case and cancels it with Esc. A real Daphne serves the
pages; a real Celery worker plays the cobot and records its acknowledgements; headless Chromium is the tablet.

Also at both tablet sizes: a queue of about ten parts fits the screen (no sideways scrolling, every Claim button
on screen, the signed-in person shown), and the step-through renews its claim only while the operator works."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from review.actions import claims as claim_actions
from review.choices import ClaimEnd, ReviewStatus
from review.models import CobotCommand, Review, ReviewClaim
from tests.support import broker, factories, processes
from tests.support import browser as chromium
from tests.support import ingest_builders as builders
from tests.support.review_cases import cell_device, make_review_case, make_two_station_part
from traceability import roles
from traceability.choices import Disposition, PartStatus
from traceability.models import AuditRecord

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    chromium.requires_chromium,
]
ARTIFACTS = processes.ROOT / "test-artifacts"
TABLET_SIZES: tuple[Any, ...] = ({"width": 1024, "height": 768}, {"width": 768, "height": 1024})


@pytest.fixture
def fast_password_hashing() -> None:
    """The server process checks the password with the real hashers, so the user's hash must be a real one."""


def small_touch_targets(page: Any) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('main button, main a, main input, main textarea, main summary')]
        .filter(e => e.offsetParent !== null && e.type !== 'hidden')
        .map(e => [e, e.getBoundingClientRect()])
        .filter(([e, r]) => r.height < 47.5 || r.width < 47.5)
        .map(([e, r]) => `${e.tagName} ${e.id || e.textContent.trim().slice(0, 20)} ${r.width}x${r.height}`)""")


def low_contrast_text(page: Any, selector: str, minimum: float = 4.5) -> list[str]:
    """Text under `selector` whose contrast with its background (WCAG 2 ratio) is below `minimum`."""
    return page.evaluate(
        """([selector, minimum]) => {
        const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
        const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
            .reduce((acc, v, i) => acc + v * [0.2126, 0.7152, 0.0722][i], 0);
        const background = (e) => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
            if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
        return [...document.querySelectorAll(selector + ' *')]
            .filter((e) => e.offsetParent !== null && [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()))
            .map((e) => { const a = lum(rgb(getComputedStyle(e).color)), b = lum(background(e));
                return [e, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; })
            .filter(([e, ratio]) => ratio < minimum)
            .map(([e, ratio]) => `${e.tagName} "${e.textContent.trim().slice(0, 20)}" ${ratio.toFixed(2)}`);
    }""",
        [selector, minimum],
    )


@contextlib.contextmanager
def tablet_server(tmp_path: Path) -> Iterator[str]:
    """Daphne serving the pages (with a private Redis for its channel layer and the cobot queue): the base URL."""
    redis_server = broker.RedisServer().start()
    server = processes.Daphne(
        processes.free_port(), processes.worker_env(redis_server, Path(settings.MEDIA_ROOT)), tmp_path / "daphne.log"
    )
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        redis_server.stop()


def test_it_fits_a_queue_of_ten_parts_on_a_tablet_in_both_orientations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    cell = factories.make_cell()
    olivia = factories.make_user("olivia", roles.OPERATOR)
    oscar = factories.make_user("oscar", roles.OPERATOR)
    now = timezone.now()
    # Ten parts with serials as long as the line prints them: failed ones, unsure passes, and parts both
    # inspection stations flagged (two findings lists in one entry).
    for i in range(6):
        make_review_case(
            cell,
            defect=("scratch", "dent", "burr")[i % 3],
            seed=i + 1,
            serial=f"CF-80-2024-W37-L1-{i:06d}",
            captured_at=now - dt.timedelta(minutes=30 - i),
        )
    for i in range(2):
        make_review_case(
            cell,
            defect="ok",
            confidence=0.55 + i / 10,
            seed=i + 7,
            serial=f"CF-80-2024-W37-L1-{i + 6:06d}",
            captured_at=now - dt.timedelta(minutes=20 - i),
        )
    held, _ = make_two_station_part(cell, captured_at=now - dt.timedelta(minutes=15))
    make_two_station_part(cell, captured_at=now - dt.timedelta(minutes=14))
    claim_actions.claim_case(held, actor=oscar)  # one of them is being reviewed by someone else

    with tablet_server(tmp_path) as url, sync_playwright() as pw:
        browser = chromium.launch(pw)
        context = browser.new_context(viewport=TABLET_SIZES[0])
        context.add_cookies([chromium.session_cookie_for(olivia, url)])
        page = context.new_page()
        ARTIFACTS.mkdir(exist_ok=True)
        for size in TABLET_SIZES:
            page.set_viewport_size(size)
            page.goto(url + "/review/")
            expect(page.locator("[data-count=total]")).to_have_text("10")
            expect(page.locator("tr[data-serial]")).to_have_count(10)
            page.screenshot(path=str(ARTIFACTS / f"debug-queue-{size['width']}x{size['height']}.png"), full_page=True)
            widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], (size, widths)
            claims = page.evaluate("""() => [...document.querySelectorAll('.dm-queue button, .dm-queue a.button')]
                .map((b) => [b.textContent.trim(), b.getBoundingClientRect().left, b.getBoundingClientRect().right])""")
            assert [c[0] for c in claims].count("Claim") == 9
            assert all(0 <= left and right <= size["width"] for _text, left, right in claims), claims
            assert small_touch_targets(page) == []
            assert low_contrast_text(page, ".dm-queue") == []
            # A signing screen: who is signed in stays on it, whatever the width.
            expect(page.locator(".topbar .who span").first).to_be_visible()
            expect(page.locator(".topbar .who span").first).to_contain_text("Olivia Tester")
        browser.close()


def test_it_renews_the_claim_only_while_the_operator_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    cell = factories.make_cell()
    olivia = factories.make_user("olivia", roles.OPERATOR)
    case = make_review_case(cell)
    claim_actions.claim_case(case, actor=olivia)  # TWINWEB_REVIEW_CLAIM_TTL_S: 300 s
    minute = 60_000

    with tablet_server(tmp_path) as url, sync_playwright() as pw:
        browser = chromium.launch(pw)
        context = browser.new_context(viewport=TABLET_SIZES[1])
        context.add_cookies([chromium.session_cookie_for(olivia, url)])
        page = context.new_page()
        page.clock.install()  # the page's timers and Date run on a clock the test moves
        renewals: list[str] = []
        page.on("request", lambda r: renewals.append(r.url) if r.url.endswith("/renew/") else None)
        page.goto(url + f"/review/cases/{case.result_id}/")
        expect(page.locator("#dm-step")).to_contain_text("Finding 1 of 1")
        expect(page.locator(".topbar .who span").first).to_be_visible()  # on the signing screen, in portrait
        expect(page.locator(".topbar .who span").first).to_contain_text("Olivia Tester")

        page.clock.run_for(3 * minute)  # the tablet lies untouched
        assert renewals == []
        page.keyboard.press("]")  # the operator works (brightness)
        with page.expect_request("**/renew/"):
            page.clock.run_for(minute + 1000)
        page.clock.run_for(3 * minute)  # untouched again: no renewal
        assert len(renewals) == 1
        page.clock.run_for(3 * minute)  # past the claim's end: the page says so and offers to claim again
        expect(page.locator("#dm-reclaim-button")).to_be_visible()
        expect(page.locator("#dm-status")).to_contain_text("lapsed")
        page.keyboard.press("Enter")  # on to the verdict: the notice stays
        expect(page.locator("#dm-step")).to_contain_text("Your verdict")
        expect(page.locator("#dm-reclaim-button")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "review-mode-claim-lapsed.png"))
        assert len(renewals) == 1
        page.locator("#dm-reclaim-button").click()  # (the server's clock had not run out: her own claim, renewed)
        expect(page.locator("#dm-step")).to_contain_text("Finding 1 of 1")
        expect(page.locator("#dm-reclaim-button")).to_have_count(0)
        browser.close()


def test_it_reviews_a_case_with_the_keyboard_alone_on_a_tablet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps a loop in this thread
    cell = factories.make_cell()
    factories.make_user("olivia", roles.OPERATOR)
    now = timezone.now()
    # The oldest: a bore out of tolerance and a scratch, two findings. Then a pass the model was unsure about.
    case = make_review_case(
        cell, defect="scratch", seed=1, dimensions_mm={"bore_diameter": 29.9}, captured_at=now - dt.timedelta(minutes=3)
    )
    unsure = make_review_case(cell, defect="ok", seed=2, confidence=0.61, captured_at=now - dt.timedelta(minutes=1))
    assert [f["kind"] for f in case.findings] == ["dimension", "defect"]

    redis_server = broker.RedisServer().start()
    env = processes.worker_env(redis_server, Path(settings.MEDIA_ROOT))
    # The cell's simulated cobot (as on the device) and the server's ingest worker, which records its acks.
    device = cell_device(cell)  # the cell's edge device drives the cobot, with its secret
    cobot = processes.Worker(
        "cobot",
        [sys.executable, "-m", "edge_worker.simulated_cobot", "--cell", cell.code, "--device", device],
        {**env, "TWINWEB_EDGE_SECRET": builders.credentials(device).secret.text()},
        tmp_path,
    ).start()
    ingest = processes.ingest_worker(env, tmp_path).start()
    server = processes.Daphne(processes.free_port(), env, tmp_path / "daphne.log")
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        server.start()
        with sync_playwright() as pw:
            browser = chromium.launch(pw)
            context = browser.new_context(viewport={"width": 1024, "height": 768})
            page = context.new_page()
            page.goto(server.url + "/accounts/login/?next=/review/")
            expect(page.locator("#id_username")).to_be_focused()
            page.keyboard.type("olivia")
            page.keyboard.press("Tab")
            expect(page.locator("#id_password")).to_be_focused()
            page.keyboard.type(factories.PASSWORD)
            page.keyboard.press("Enter")
            expect(page.locator("#review-next")).to_be_focused()
            expect(page.locator("[data-count=total]")).to_have_text("2")
            page.keyboard.press("Enter")  # claim the oldest case

            expect(page.locator("#dm-step")).to_contain_text("bore diameter")
            expect(page.locator("#dm-step")).to_contain_text("Finding 1 of 2")
            page.wait_for_load_state("load")
            page.screenshot(path=str(ARTIFACTS / "review-mode-dimension.png"))
            page.keyboard.press("+")  # zoom in, brighter: the canvas redraws (no assertion on pixels)
            page.keyboard.press("]")
            page.keyboard.press("Enter")
            expect(page.locator("#dm-step")).to_contain_text("Defect: scratch")
            page.wait_for_timeout(300)  # the image has loaded and drawn
            page.screenshot(path=str(ARTIFACTS / "review-mode.png"))
            assert small_touch_targets(page) == []
            page.keyboard.press("Backspace")  # back to the first finding, and forward again
            expect(page.locator("#dm-step")).to_contain_text("Finding 1 of 2")
            page.keyboard.press("Enter")
            page.keyboard.press("Enter")
            expect(page.locator("#dm-step")).to_contain_text("Your verdict")
            page.keyboard.press("Enter")  # no choice yet: refused, says which keys
            expect(page.locator("#dm-status")).to_contain_text("press 1 to 3")
            page.keyboard.press("1")  # NOK: scrap
            expect(page.locator(".dm-option.selected")).to_contain_text("NOK: scrap")
            page.keyboard.press("Enter")
            expect(page.locator("#dm-credential")).to_be_focused()
            page.keyboard.type(factories.PASSWORD)

            context.set_offline(True)  # the Wi-Fi drops just as the operator signs
            page.keyboard.press("Enter")
            expect(page.locator("#dm-status")).to_contain_text("kept on this tablet", timeout=10_000)
            pending = page.evaluate(
                "() => Object.keys(localStorage).filter(k => k.startsWith('twinweb.debug.pending.'))"
            )
            assert pending == [f"twinweb.debug.pending.{case.result_id}"]
            assert factories.PASSWORD not in page.evaluate("() => JSON.stringify(localStorage)")
            context.set_offline(False)
            expect(page.locator("#dm-step")).to_contain_text("Signed and applied", timeout=20_000)
            assert page.evaluate("() => Object.keys(localStorage).length") == 0

            page.set_viewport_size({"width": 768, "height": 1024})  # the tablet turned to portrait
            page.keyboard.press("Enter")  # next case: the unsure pass
            expect(page.locator("#dm-step")).to_contain_text("Whole part: model says ok")
            expect(page.locator("#dm-step")).to_contain_text("61 %")
            page.wait_for_load_state("load")
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "review-mode-portrait.png"))
            assert small_touch_targets(page) == []
            assert page.evaluate("() => document.getElementById('dm-next').getBoundingClientRect().bottom") <= 1024
            page.keyboard.press("Escape")
            expect(page.locator("#dm-status")).to_contain_text("Press Esc again")
            page.keyboard.press("Escape")  # cancel: the case goes back to the queue
            expect(page.locator("[data-count=total]")).to_have_text("1")
            expect(page.locator("[data-count=claimed]")).to_have_text("0")
            page.wait_for_load_state("load")
            page.screenshot(path=str(ARTIFACTS / "review-mode-queue-portrait.png"), full_page=True)
            assert small_touch_targets(page) == []
            browser.close()

        review = Review.objects.get(inspection=case)
        case.part.refresh_from_db()
        case.failure_case.refresh_from_db()
        assert (review.verdict, review.disposition, review.status) == ("confirm_nok", "scrap", ReviewStatus.COMPLETE)
        assert review.signatures.get().printed_name == "Olivia Tester (olivia)"
        assert case.part.status == PartStatus.SCRAPPED and case.failure_case.disposition == Disposition.SCRAP
        assert AuditRecord.objects.filter(action="review.sign", subject_key=case.part.serial).count() == 1
        # The cobot presented both findings and carried the part to scrap, and said so.
        processes.wait_for(
            lambda: CobotCommand.objects.filter(inspection=case, acked_at__isnull=False, kind="move_part").exists(),
            30,
            "the cobot's acknowledgement of the move",
            on_fail=cobot.log,
        )
        move = CobotCommand.objects.get(inspection=case, kind="move_part")
        assert move.payload["destination"] == "scrap" and move.ack["status"] == "done"
        views = CobotCommand.objects.filter(inspection=case, kind="present_view")
        assert {c.payload["finding_index"] for c in views} == {0, 1}
        assert views.filter(acked_at__isnull=False).count() >= 1
        assert ReviewClaim.objects.get(inspection=unsure).end_reason == ClaimEnd.RELEASED
        assert not Review.objects.filter(inspection=unsure).exists()
    finally:
        server.stop()
        cobot.kill()
        ingest.kill()
        redis_server.stop()
