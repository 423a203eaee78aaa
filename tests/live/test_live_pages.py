"""The twin page, the snapshot endpoint and part-journey replay, through HTTP as a browser uses them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inspection.models import EdgeDevice
from tests.support import live_builders as builders
from traceability.choices import StationOutcome

pytestmark = pytest.mark.django_db


def test_it_links_the_home_page_to_the_live_view(login: Any, supervisor: Any, cell: Any) -> None:
    response = login(supervisor).get("/")
    assert f'href="/cells/{cell.pk}/"' in response.content.decode()


def test_it_serves_the_twin_page_with_local_assets_only(login: Any, operator: Any, cell: Any) -> None:
    response = login(operator).get(reverse("cell-live", args=[cell.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/plotly.min.js" in html
    assert "/static/live/live.js" in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "no CDN or remote asset"
    assert "OEE = " in html and "Availability (A)" in html, "the KPI definitions are on the page"
    assert "First-pass yield" in html and "even while still awaiting review" in html
    assert f"/ws/cells/{cell.pk}/" in html


def test_it_refuses_the_page_to_users_without_the_live_permission(login: Any, outsider: Any, cell: Any) -> None:
    assert login(outsider).get(reverse("cell-live", args=[cell.pk])).status_code == 403


def test_it_refuses_the_snapshot_to_anonymous_and_unauthorised_users(
    client: Any, login: Any, outsider: Any, cell: Any
) -> None:
    url = reverse("cell-state", args=[cell.pk])
    assert client.get(url, HTTP_ACCEPT="application/json").status_code in (401, 403)
    assert login(outsider).get(url, HTTP_ACCEPT="application/json").status_code == 403


def test_it_serves_the_snapshot_in_a_bounded_number_of_queries(login: Any, auditor: Any, cell: Any) -> None:
    batch = builders.batch_for(cell)
    start = timezone.now() - dt.timedelta(minutes=10)
    for i in range(6):
        builders.run_part(
            cell,
            batch,
            start=start + dt.timedelta(seconds=70 * i),
            dwell_s=[5, 12, 14, 9, 5],
            verdicts={"visual": "fail" if i % 3 == 0 else "pass", "dimensional": "pass"},
        )
    EdgeDevice.objects.create(
        device_id="jetson-t1",
        name="Jetson",
        cell=cell,
        backend="onnxruntime",
        last_heartbeat_at=timezone.now(),
        last_telemetry={"fps": 11.5, "power_mw": 5200},
    )
    client = login(auditor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("cell-state", args=[cell.pk]), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert len(queries) <= 14, [q["sql"][:80] for q in queries]
    state = response.json()
    assert state["kpis"]["completed"] == 6
    assert state["charts"]["pareto"] == [{"defect_class": "scratch", "count": 2}]
    assert len(state["charts"]["energy"]) == 6 and state["charts"]["energy"][0]["energy_mj"] == 300.0
    assert state["devices"][0]["health"] == "online" and state["devices"][0]["fps"] == 11.5
    assert len(state["recent"]) == 12
    assert response["Cache-Control"] == "no-store"


def test_it_shows_a_stale_device_as_stale_not_with_its_last_values(login: Any, supervisor: Any, cell: Any) -> None:
    EdgeDevice.objects.create(
        device_id="jetson-old",
        name="Jetson",
        cell=cell,
        last_heartbeat_at=timezone.now() - dt.timedelta(seconds=40),
        last_telemetry={"fps": 12.0, "power_mw": 5100, "memory": {"used_mb": 900}, "temperature": {"gpu": 51}},
    )
    state = login(supervisor).get(reverse("cell-state", args=[cell.pk])).json()
    [device] = state["devices"]
    assert device["health"] == "stale"
    assert device["fps"] is None and device["power_mw"] is None and device["memory"] is None
    assert device["last_heartbeat_at"]
    inspection_states = {s["code"]: s["state"] for s in state["stations"] if s["inspection"]}
    assert inspection_states == {"visual": "stale", "dimensional": "stale"}


def test_it_marks_a_part_dwelling_too_long_as_blocked(login: Any, supervisor: Any, cell: Any) -> None:
    batch = builders.batch_for(cell)
    part = builders.factories.make_part(batch)
    cobot = builders.stations(cell)[3]
    builders.visit(part, cobot, entered=timezone.now() - dt.timedelta(seconds=40), dwell_s=None)
    state = login(supervisor).get(reverse("cell-state", args=[cell.pk])).json()
    assert state["stations"][3]["state"] == "blocked"  # 40 s > 2 x 15 s


def test_it_replays_a_part_journey_with_timestamps_verdicts_and_images(login: Any, operator: Any, cell: Any) -> None:
    batch = builders.batch_for(cell)
    start = timezone.now() - dt.timedelta(minutes=2)
    part = builders.run_part(
        cell,
        batch,
        start=start,
        dwell_s=[4, 11, 13, 7, 3],
        outcomes=[StationOutcome.OK, StationOutcome.NOK, StationOutcome.OK, StationOutcome.OK, StationOutcome.OK],
        verdicts={"visual": "fail"},
        serial="SN-REPLAY-1",
        with_images=True,
    )
    client = login(operator)
    page = client.get(reverse("cell-replay", args=[cell.pk]) + "?serial=SN-REPLAY-1")
    assert page.status_code == 200 and "/static/live/replay.js" in page.content.decode()
    journey = client.get(reverse("cell-journey", args=[cell.pk, part.serial])).json()
    assert [s["station"] for s in journey["steps"]] == ["load", "visual", "dimensional", "cobot", "unload"]
    assert [s["duration_s"] for s in journey["steps"]] == [4, 11, 13, 7, 3]
    assert journey["steps"][1]["outcome"] == "nok"
    [finding] = journey["steps"][1]["inspections"]
    assert finding["verdict"] == "fail" and finding["defect_class"] == "scratch"
    image = client.get(finding["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert dt.datetime.fromisoformat(journey["steps"][0]["entered_at"]) == start
    assert client.get(reverse("cell-journey", args=[cell.pk, "nope"])).status_code == 404


def test_it_replays_the_inspections_of_a_part_with_no_station_visit_recorded(
    login: Any, operator: Any, cell: Any
) -> None:
    """Results from an edge device with no station events (no PLC feed): the journey keeps them, not 'nothing'."""
    batch = builders.batch_for(cell)
    part = builders.factories.make_part(batch, serial="SN-NO-VISITS")
    _, visual, dimensional, _, _ = builders.stations(cell)
    at = timezone.now() - dt.timedelta(minutes=1)
    builders.inspect(part, visual, at=at, verdict="fail", defect_class="dent", image=builders.make_image(3))
    builders.inspect(part, dimensional, at=at + dt.timedelta(seconds=15), verdict="pass")
    client = login(operator)
    journey = client.get(reverse("cell-journey", args=[cell.pk, part.serial])).json()
    assert journey["steps"] == []
    assert [(i["station"], i["station_name"], i["verdict"]) for i in journey["inspections_without_visit"]] == [
        ("visual", visual.name, "fail"),
        ("dimensional", dimensional.name, "pass"),
    ]
    assert journey["inspections_without_visit"][0]["image_url"]
    page = client.get(reverse("cell-replay", args=[cell.pk]))
    assert 'value="SN-NO-VISITS"' in page.content.decode(), "offered in the serial list"


def test_it_puts_each_inspection_under_the_visit_it_was_made_in(login: Any, operator: Any, cell: Any) -> None:
    batch = builders.batch_for(cell)
    part = builders.factories.make_part(batch, serial="SN-TWICE")
    _, visual, _, _, _ = builders.stations(cell)
    start = timezone.now() - dt.timedelta(minutes=5)
    for n in range(2):  # through the visual station twice (re-inspection after rework)
        entered = start + dt.timedelta(minutes=2 * n)
        builders.visit(part, visual, entered=entered, dwell_s=10)
        builders.inspect(part, visual, at=entered + dt.timedelta(seconds=2), verdict="fail" if n == 0 else "pass")
    journey = login(operator).get(reverse("cell-journey", args=[cell.pk, part.serial])).json()
    assert [[i["verdict"] for i in s["inspections"]] for s in journey["steps"]] == [["fail"], ["pass"]]
    assert journey["inspections_without_visit"] == []
