"""In a real browser: the run page draws power against samples per variant and memory over time with the local
Plotly, and says why power is missing when it is."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from inspection.actions.edge import register_edge_device
from tests.support import browser as chromium
from tests.support import factories, processes
from tests.support.profiling_reports import profiling_report, store_sent, variant_report
from traceability import roles

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    chromium.requires_chromium,
]


def test_it_draws_power_and_memory_per_variant(tmp_path: Path, monkeypatch: Any) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    device, _ = register_edge_device(f"chart-{uuid.uuid4().hex[:6]}", cell=factories.make_cell(), actor=None)
    measured, _ = store_sent(
        profiling_report(
            device.device_id,
            [variant_report("torch-fp32", 41.0, 3386.0, 6125.0), variant_report("tensorrt-fp32", 82.0, 3185.0, 5711.0)],
        )
    )
    unmeasured, _ = store_sent(
        profiling_report(
            device.device_id,
            [variant_report("opencv-fp32", 400.0, None, None)],
            power_measured=False,
            power_source="none: no sampler",
        )
    )
    operator = factories.make_user("olivia", roles.OPERATOR)
    errors: list[str] = []
    with processes.daphne(processes.child_env(), tmp_path / "daphne.log") as server, sync_playwright() as pw:
        browser = chromium.launch(pw)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_cookies([chromium.session_cookie_for(operator, server.url)])  # type: ignore[list-item]
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.url}/profiling/runs/{measured.run_id}/")
        expect(page.locator("#power-chart .scatterlayer .trace")).to_have_count(2)
        expect(page.locator("#memory-chart .scatterlayer .trace")).to_have_count(2)
        expect(page.locator("#power-chart .legendtext")).to_have_text(["torch-fp32", "tensorrt-fp32"])
        page.screenshot(path=str(tmp_path / "edge-run.png"), full_page=True)
        page.goto(f"{server.url}/profiling/runs/{unmeasured.run_id}/")
        expect(page.locator("#power-missing")).to_contain_text("not measured: no sampler (test)")
        expect(page.locator("#power-chart")).to_be_hidden()
        expect(page.locator("#memory-chart .scatterlayer .trace")).to_have_count(1)
        browser.close()
    assert errors == []
