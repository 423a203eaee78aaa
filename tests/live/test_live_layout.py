"""The twin page's layout on a desktop (1440x900), a small laptop (1024x768) and a tablet in portrait (768x1024),
in headless Chromium against a real Daphne: nothing cut off or drawn over, text readable on the tablet, and the
figures coloured by what they show. Screenshots are saved in test-artifacts/."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from inspection.models import EdgeDevice, TelemetrySample
from tests.support import browser as chromium
from tests.support import factories, processes
from tests.support import live_builders as builders
from traceability import roles

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    chromium.requires_chromium,
]
ARTIFACTS = processes.ROOT / "test-artifacts"
VIEWPORTS = [(1440, 900), (1024, 768), (768, 1024)]
DEFECTS = ["dent", "dent", "scratch", "missing_hole", "oversized_hole", "crack", "burr", "out of tolerance"]
MIN_TEXT_PX = 12.0  # the smallest text the twin may draw, in CSS pixels

# Boxes of what the page draws, in page pixels (getBoundingClientRect).
GEOMETRY = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return { x: r.left, y: r.top, r: r.right, b: r.bottom, text: el.textContent }; };
  const all = (sel) => [...document.querySelectorAll(sel)].filter((el) => el.getClientRects().length).map(box);
  const one = (sel) => { const el = document.querySelector(sel); return el && el.getClientRects().length ? box(el) : null; };
  const twinText = [...document.querySelectorAll("#twin text")].filter((el) => el.getClientRects().length && el.textContent)
    .map((el) => ({ ...box(el), cls: el.getAttribute("class") || "", px: parseFloat(getComputedStyle(el).fontSize) * el.getScreenCTM().a }));
  const stations = [...document.querySelectorAll("#twin .station")].map((g) => ({ code: g.dataset.code, box: box(g.querySelector(".st-box")),
    texts: [...g.querySelectorAll("text:not(.st-serial):not(.st-bottleneck)")].filter((el) => el.getClientRects().length && el.textContent).map(box) }));
  return {
    pareto: { svg: one("#chart-pareto .main-svg"), labels: all("#chart-pareto .ytick text") },
    energy: { notes: all("#chart-energy .annotation-text"), yticks: all("#chart-energy .ytick text") },
    power: { y2ticks: all("#chart-power .y2tick text"), y2title: one("#chart-power .y2title"), svg: one("#chart-power .main-svg"),
             notes: all("#chart-power .annotation-text"), legend: all("#chart-power .legendtext") },
    twinText, stations,
    p95: { text: document.getElementById("kpi-cycle-p95").textContent, over: document.getElementById("kpi-cycle-p95").classList.contains("over-target") },
  };
}"""


def overlaps(a: dict[str, float], b: dict[str, float], slack: float = 1.0) -> bool:
    """Whether two boxes share more than `slack` pixels each way (text boxes include the line's leading)."""
    return (min(a["r"], b["r"]) - max(a["x"], b["x"]) > slack) and (min(a["b"], b["b"]) - max(a["y"], b["y"]) > slack)


def inside(a: dict[str, float], b: dict[str, float], slack: float = 0.5) -> bool:
    return (
        a["x"] >= b["x"] - slack and a["r"] <= b["r"] + slack and a["y"] >= b["y"] - slack and a["b"] <= b["b"] + slack
    )


def make_shift(cell: Any) -> None:
    """Twenty parts at the target pace (two a hair over it, so p95 is 15.04 s), eight failed inspections in
    seven defect classes, a device that reports FPS but no power, and no energy measured."""
    device = EdgeDevice.objects.create(
        device_id="jetson-layout",
        name="Jetson",
        cell=cell,
        backend="onnxruntime",
        precision="fp32",
        last_heartbeat_at=timezone.now(),
        last_telemetry={"fps": 0.43, "memory": {"used_mb": 2100, "total_mb": 24105}},
    )
    batch = factories.make_batch(cell=cell)
    _, visual, dimensional, _, _ = builders.stations(cell)
    start = timezone.now() - dt.timedelta(minutes=12)
    for i in range(20):
        part = builders.run_part(
            cell,
            batch,
            start=start + dt.timedelta(seconds=30 * i),
            dwell_s=[4, 12, 15.04 if i in (7, 13) else 14.9, 9, 4],
            serial=f"CF-80-SIM261203111223-{i:04d}",
        )
        at = start + dt.timedelta(seconds=30 * i + 5)
        failed = i < len(DEFECTS)
        builders.inspect(
            part,
            visual,
            at=at,
            verdict="fail" if failed else "pass",
            defect_class=DEFECTS[i] if failed and DEFECTS[i] != "out of tolerance" else "",
            device=device,
        )
        builders.inspect(part, dimensional, at=at + dt.timedelta(seconds=12), verdict="pass", device=device)
    for n in range(40):
        TelemetrySample.objects.create(
            device=device,
            at=start + dt.timedelta(seconds=18 * n),
            received_at=timezone.now(),
            fps=(0.108, 0.215, 0.431)[n % 3],
            power_mw=None,
        )
    # Parts at the stations now, with serials as long as the demo's.
    for n, station in enumerate(builders.stations(cell)):
        if station.code != "cobot":
            builders.visit(
                factories.make_part(batch, serial=f"CF-80-SIM261203111223-{100 + n:04d}"),
                station,
                entered=timezone.now() - dt.timedelta(seconds=3),
                dwell_s=None,
            )


def test_it_lays_out_the_twin_page_on_a_desktop_a_laptop_and_a_tablet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    cell = factories.make_cell(code="ac-cell-layout")
    supervisor = factories.make_user("sam", roles.SUPERVISOR)
    make_shift(cell)
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with processes.daphne(processes.child_env(), tmp_path / "daphne.log") as server, sync_playwright() as pw:
        browser = chromium.launch(pw)
        for width, height in VIEWPORTS:
            where = f"{width}x{height}"
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_cookies([chromium.session_cookie_for(supervisor, server.url)])
            page = context.new_page()
            page.goto(f"{server.url}/cells/{cell.pk}/")
            expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
            expect(page.locator("#chart-pareto .ytick text")).to_have_count(7)
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"live-view-{where}.png"), full_page=True)
            g = page.evaluate(GEOMETRY)

            labels = g["pareto"]["labels"]
            if {t["text"].strip() for t in labels} != {
                "dent",
                "scratch",
                "missing hole",
                "oversized hole",
                "crack",
                "burr",
                "out of tolerance",
            }:
                problems.append(f"{where}: Pareto labels {[t['text'] for t in labels]}")
            problems += [
                f"{where}: Pareto label {t['text']!r} cut off" for t in labels if not inside(t, g["pareto"]["svg"])
            ]
            problems += [
                f"{where}: Pareto labels {a['text']!r} and {b['text']!r} overlap"
                for i, a in enumerate(labels)
                for b in labels[i + 1 :]
                if overlaps(a, b)
            ]
            problems += [
                f"{where}: energy note over y tick {t['text']!r}"
                for n in g["energy"]["notes"]
                for t in g["energy"]["yticks"]
                if overlaps(n, t)
            ]
            if not g["energy"]["notes"]:
                problems.append(f"{where}: energy chart does not say it is not measured")
            title = g["power"]["y2title"]
            problems += [
                f"{where}: FPS tick {t['text']!r} over the FPS axis title"
                for t in g["power"]["y2ticks"]
                if title and overlaps(t, title)
            ]
            problems += [
                f"{where}: power chart text {t['text']!r} cut off"
                for t in g["power"]["y2ticks"] + g["power"]["notes"] + ([title] if title else [])
                if not inside(t, g["power"]["svg"])
            ]
            problems += [
                f"{where}: twin text {t['text']!r} ({t['cls']}) drawn at {t['px']:.1f} px"
                for t in g["twinText"]
                if t["px"] < MIN_TEXT_PX - 0.05
            ]
            for s in g["stations"]:
                problems += [
                    f"{where}: {s['code']} text {t['text']!r} outside its box"
                    for t in s["texts"]
                    if not inside(t, s["box"], 1)
                ]
                problems += [
                    f"{where}: {s['code']} texts {a['text']!r} and {b['text']!r} overlap"
                    for i, a in enumerate(s["texts"])
                    for b in s["texts"][i + 1 :]
                    if overlaps(a, b)
                ]
            serials = [t for t in g["twinText"] if "st-serial" in t["cls"]]
            problems += [
                f"{where}: serials {a['text']!r} and {b['text']!r} overlap"
                for i, a in enumerate(serials)
                for b in serials[i + 1 :]
                if overlaps(a, b)
            ]
            if len(serials) != 4:
                problems.append(f"{where}: {len(serials)} serials drawn, 4 parts in the cell")
            # p95 is 15.04 s against a 15.0 s target: shown as "15.0 s", so not coloured as over the target.
            if g["p95"]["text"] != "15.0 s" or g["p95"]["over"]:
                problems.append(f"{where}: p95 tile {g['p95']}")
            context.close()
        browser.close()
    connections.close_all()
    assert problems == [], "\n".join(problems)
