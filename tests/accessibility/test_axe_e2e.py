"""Accessibility of the main pages: axe-core (served from static/vendor, no CDN) run in headless Chromium against a
real Daphne process, in English and in Brazilian Portuguese. No serious or critical violation is allowed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts.models import UserPreference
from tests.support import browser as chromium
from tests.support import factories, processes
from traceability import roles

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    chromium.requires_chromium,
]

AXE = Path(settings.BASE_DIR) / "static" / "vendor" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def describe(found: list[dict[str, Any]]) -> str:
    return json.dumps(
        [
            {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:5]]}
            for v in found
        ],
        indent=1,
    )


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_the_main_pages_have_no_serious_or_critical_axe_violation(
    language: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    cell = factories.make_cell(code=f"axe-{language}")
    engineer = factories.make_user("quinn", roles.QUALITY_ENGINEER)
    UserPreference.objects.create(user=engineer, language=language)
    env = processes.child_env()
    with processes.daphne(env, tmp_path / "daphne.log") as server, sync_playwright() as pw:
        browser = chromium.launch(pw)
        anonymous = browser.new_context(locale=language).new_page()
        anonymous.goto(f"{server.url}/accounts/login/")
        found = {"/accounts/login/": violations(anonymous)}
        context = browser.new_context()
        context.add_cookies([chromium.session_cookie_for(engineer, server.url)])
        page = context.new_page()
        for path in (
            "/",
            f"/cells/{cell.pk}/",
            "/review/",
            "/trace/",
            "/drawings/",
            "/calibration/",
            "/profiling/",
            "/spc/",
            "/accounts/profile/",
        ):
            page.goto(f"{server.url}{path}")
            if path.startswith("/cells/"):
                expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
                # Each chart is a figure described in words (its summary), not a picture alone.
                for chart in ("cycle", "pareto", "power", "energy"):
                    figure = page.locator(f"figure[aria-describedby='chart-{chart}-summary']")
                    expect(figure).to_have_count(1)
                    expect(page.locator(f"#chart-{chart}-summary")).not_to_have_text(
                        re.compile("Loading|Carregando|^$"), timeout=5_000
                    )
            found[path] = violations(page)
        bad = {path: describe(v) for path, v in found.items() if v}
        assert not bad, "\n".join(f"{path}: {text}" for path, text in bad.items())
        assert len(found) == 10
