"""Accessibility of every kind of page, on the demo's own data (seed_demo: a cell with history, drawings, SPC charts,
Debug Mode cases, the model registry): axe-core in headless Chromium against a real Daphne process, in English and
in Brazilian Portuguese, each page as the role that uses it. No serious or critical violation is allowed.
tests/accessibility/test_axe_e2e.py covers the section front pages (and the live page's chart summaries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from accounts.models import UserPreference
from inspection.models import EdgeDevice, Inspection
from modelops.models import ModelAlias
from profiling.models import ProfilingRun
from spc.models import Characteristic
from tests.accessibility.test_axe_e2e import describe, violations
from tests.support import browser as chromium
from tests.support import processes
from traceability.models import Cell, MaterialLot, Part, PartType

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    chromium.requires_chromium,
]


def pages_by_role() -> dict[str, list[str]]:
    cell = Cell.objects.get(code="ac-cell-1")
    champion = ModelAlias.objects.select_related("version").get(cell=cell, alias="champion").version
    part_type = PartType.objects.order_by("code").first()
    assert part_type is not None
    characteristic = Characteristic.objects.order_by("pk").first()
    assert characteristic is not None
    part = Part.objects.filter(inspections__isnull=False).order_by("pk").first()
    assert part is not None
    lot = MaterialLot.objects.filter(consumptions__isnull=False).order_by("pk").first()
    assert lot is not None
    case = Inspection.objects.filter(needs_review=True).order_by("pk").first()
    assert case is not None
    device, _ = EdgeDevice.objects.get_or_create(device_id="jetson-demo-01", defaults={"cell": cell})
    run = ProfilingRun.objects.create(device=device, requested_at=timezone.now())
    return {
        "quinn": [
            "/modelops/",
            f"/modelops/v/{champion.sha256}/",
            f"/modelops/v/{champion.sha256}/transition",
            f"/spc/part-types/{part_type.code}/",
            f"/spc/characteristics/{characteristic.pk}/",
            f"/drawings/{part_type.code}/",
            "/drawings/new/",
            f"/profiling/runs/{run.run_id}/",
        ],
        "ada": [f"/trace/parts/{part.serial}/", f"/trace/lots/{lot.lot_key}/"],
        "sam": [f"/cells/{cell.pk}/replay/"],
        "olivia": [f"/review/cases/{case.result_id}/"],
    }


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_every_kind_of_page_has_no_serious_or_critical_axe_violation(
    language: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    call_command("seed_demo", parts=60)
    pages = pages_by_role()
    users = {u.username: u for u in get_user_model().objects.filter(username__in=pages)}
    for user in users.values():
        UserPreference.objects.update_or_create(user=user, defaults={"language": language})
    found: dict[str, Any] = {}
    with processes.daphne(processes.child_env(), tmp_path / "daphne.log") as server, sync_playwright() as pw:
        browser = chromium.launch(pw)
        for username, paths in pages.items():
            context = browser.new_context()
            context.add_cookies([chromium.session_cookie_for(users[username], server.url)])
            page = context.new_page()
            for path in paths:
                response = page.goto(f"{server.url}{path}")
                assert response is not None and response.status == 200, (path, response and response.status)
                found[path] = violations(page)
            context.close()
    bad = {path: describe(v) for path, v in found.items() if v}
    assert not bad, "\n".join(f"{path}: {text}" for path, text in bad.items())
    assert len(found) == 12
