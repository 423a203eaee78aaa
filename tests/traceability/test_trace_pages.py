"""Auditor pages: the search box, a part's genealogy page, a lot's recall page with its CSV and containment, and
who may open them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.support import factories
from tests.support import known_genealogy as known
from traceability import actions, gs1
from traceability.choices import FoundBy, PartStatus
from traceability.models import MaterialLot, Part

pytestmark = pytest.mark.django_db


@pytest.fixture
def g(db: Any) -> known.KnownGenealogy:
    g = known.build()
    known.add_station_history(g, "S01")
    known.add_inspection(g, "S01", verdict="fail")
    return g


def page(client: Client, path: str, **params: str) -> str:
    response = client.get(path, params)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def test_the_search_box_goes_straight_to_a_serial_or_a_lot(g: known.KnownGenealogy, auditor: Any, login: Any) -> None:
    client = login(auditor)

    assert client.get("/trace/", {"q": g.key("T1")})["Location"] == f"/trace/parts/{g.key('T1')}/"
    assert client.get("/trace/", {"q": g.key("RM")})["Location"] == f"/trace/lots/{g.key('RM')}/"


def test_the_search_box_lists_the_parts_of_a_batch_or_a_pallet(
    g: known.KnownGenealogy, auditor: Any, login: Any
) -> None:
    pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 77), actor=None)
    actions.pack_parts([g.parts["S16"], g.parts["S17"]], pallet=pallet, actor=None)
    client = login(auditor)

    batch_page = page(client, "/trace/", q=g.key("B-ASM"))
    assert "3 matching parts" in batch_page
    assert all(g.key(n) in batch_page for n in ("M1", "M2", "M3")) and g.key("T1") not in batch_page
    pallet_page = page(client, "/trace/", q=pallet.sscc)
    assert "2 matching parts" in pallet_page and g.key("S18") not in pallet_page


def test_the_search_box_matches_parts_of_keys(g: known.KnownGenealogy, auditor: Any, login: Any) -> None:
    html = page(login(auditor), "/trace/", q="K-S0")

    assert "9 matching parts" in html  # K-S01 … K-S09
    assert "K-S10" not in html


def test_filters_narrow_the_parts(g: known.KnownGenealogy, auditor: Any, login: Any) -> None:
    actions.open_failure_case(
        g.parts["S02"], defect_code=factories.make_defect_code("burr"), found_by=FoundBy.MACHINE, actor=None
    )
    client = login(auditor)
    at = timezone.localtime(g.parts["S01"].created_at)  # the form's fields are in the plant's time (TIME_ZONE)

    by_verdict = page(client, "/trace/", verdict="fail")
    assert "1 matching part" in by_verdict and g.key("S01") in by_verdict
    by_defect = page(client, "/trace/", defect_code="burr")
    assert "1 matching part" in by_defect and g.key("S02") in by_defect
    window = {
        "station": "visual",
        "window_start": (at - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "window_end": (at + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    }
    by_station = page(client, "/trace/", **window)
    assert "1 matching part" in by_station and g.key("S01") in by_station
    too_early = {**window, "window_end": (at - dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")}
    assert "No part matches" in page(client, "/trace/", **too_early)
    today = at.date().isoformat()
    assert f"{len(g.parts)} matching parts" in page(client, "/trace/", created_from=today, created_to=today)
    assert "1 matching part" in page(client, "/trace/", q=g.key("B-TOP"), created_from=today)


def test_the_part_page_shows_the_tree_the_timeline_and_the_time_taken(
    g: known.KnownGenealogy, auditor: Any, login: Any
) -> None:
    html = page(login(auditor), f"/trace/parts/{g.key('T1')}/")

    for name in ("M1", "S01", "S02", "X", "A1", "A0", "RM", "R1", "R2"):
        assert f">{g.key(name)}</a>" in html, name
    assert g.key("S16") not in html and f">{g.key('A2')}<" not in html
    assert "Trace computed in" in html and " ms</strong>" in html
    assert "Station <strong>visual</strong>" in html
    assert "flange-cls-1.2.0" in html and "out of tolerance" in html
    assert "part.register" in html


def test_the_lot_page_counts_parts_by_status_and_downloads_them_as_csv(
    g: known.KnownGenealogy, auditor: Any, login: Any
) -> None:
    Part.objects.filter(serial=g.key("S20")).update(status=PartStatus.FAILED)
    client = login(auditor)

    html = page(client, f"/trace/lots/{g.key('A0')}/")
    assert "Recall computed in" in html
    assert '<div class="value">34</div><div class="label">parts reached' in html
    assert '<div class="value">33</div><div class="label"><span class="badge badge-ok">Passed' in html
    assert '<div class="value">1</div><div class="label"><span class="badge badge-bad">Failed' in html
    assert "Contain lot" not in html  # auditors do not contain
    response = client.get(f"/trace/lots/{g.key('A0')}/recall.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert g.names(r["serial"] for r in rows) == known.EXPECTED_FORWARD["A0"]
    assert next(r for r in rows if r["serial"] == g.key("T1"))["via_components"] == g.key("M1")


def test_quality_engineers_contain_a_lot_from_its_page(
    g: known.KnownGenealogy, quality_engineer: Any, login: Any
) -> None:
    pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 5), actor=None)
    actions.pack_parts([g.parts["S03"]], pallet=pallet, actor=None)
    actions.close_pallet(pallet, actor=None)
    actions.ship_pallet(pallet, actor=None)
    client = login(quality_engineer)
    assert "Contain lot" in page(client, f"/trace/lots/{g.key('A1')}/")

    response = client.post(f"/trace/lots/{g.key('A1')}/contain/", {"reason": "porosity"}, follow=True)

    html = response.content.decode()
    assert "17 parts it reached are on hold" in html
    assert f"1 parts had already shipped and need a customer recall: {g.key('S03')}" in html
    assert MaterialLot.objects.get(lot_key=g.key("A1")).status == "suspect"


def test_quality_engineers_release_a_containment_from_its_page(
    g: known.KnownGenealogy, quality_engineer: Any, login: Any
) -> None:
    client = login(quality_engineer)
    client.post(f"/trace/lots/{g.key('A1')}/contain/", {"reason": "porosity"})
    html = page(client, f"/trace/lots/{g.key('A1')}/")
    assert "Contained since" in html and "Reason: porosity" in html and "Contain lot" not in html

    response = client.post(
        f"/trace/lots/{g.key('A1')}/release/",
        {"reason": "supplier cleared it", "credential": factories.PASSWORD},
        follow=True,
    )

    html = response.content.decode()
    assert f"Containment of lot {g.key('A1')} released: 18 parts back to their status" in html
    assert MaterialLot.objects.get(lot_key=g.key("A1")).status == "released"
    again = client.post(f"/trace/lots/{g.key('A1')}/contain/", {"reason": "porosity"}, follow=True)
    assert "is suspect" in again.content.decode()  # a released lot can be contained again


def test_a_second_containment_of_a_contained_lot_is_refused_with_a_message(
    g: known.KnownGenealogy, quality_engineer: Any, login: Any
) -> None:
    client = login(quality_engineer)
    client.post(f"/trace/lots/{g.key('A1')}/contain/", {"reason": "porosity"})
    response = client.post(f"/trace/lots/{g.key('A1')}/contain/", {"reason": "again"}, follow=True)
    assert response.status_code == 200 and "already contained" in response.content.decode()


def test_containment_without_a_reason_changes_nothing(
    g: known.KnownGenealogy, quality_engineer: Any, login: Any
) -> None:
    response = login(quality_engineer).post(f"/trace/lots/{g.key('A1')}/contain/", {"reason": ""}, follow=True)

    assert "Containment needs a reason" in response.content.decode()
    assert MaterialLot.objects.get(lot_key=g.key("A1")).status == "released"


def test_auditors_and_supervisors_may_not_contain(g: known.KnownGenealogy, request: Any, login: Any) -> None:
    for persona in ("auditor", "supervisor"):
        client = login(request.getfixturevalue(persona))
        assert (
            client.post(
                f"/trace/lots/{g.key('A1')}/contain/", {"reason": "x", "credential": factories.PASSWORD}
            ).status_code
            == 403
        ), persona
        assert (
            client.post(
                f"/trace/lots/{g.key('A1')}/release/", {"reason": "x", "credential": factories.PASSWORD}
            ).status_code
            == 403
        ), persona
    assert MaterialLot.objects.get(lot_key=g.key("A1")).status == "released"


def pages_of(g: known.KnownGenealogy) -> list[str]:
    return [
        "/trace/",
        f"/trace/parts/{g.key('T1')}/",
        f"/trace/lots/{g.key('A0')}/",
        f"/trace/lots/{g.key('A0')}/recall.csv",
    ]


def test_operators_and_outsiders_may_not_open_trace_pages(g: known.KnownGenealogy, request: Any, login: Any) -> None:
    for persona in ("operator", "outsider"):
        client = login(request.getfixturevalue(persona))
        assert [client.get(path).status_code for path in pages_of(g)] == [403, 403, 403, 403], persona


def test_anonymous_visitors_are_sent_to_the_login_page(g: known.KnownGenealogy) -> None:
    for path in pages_of(g):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path


def test_trace_pages_take_a_fixed_number_of_queries(
    g: known.KnownGenealogy, auditor: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    known.add_inspection(g, "U1")
    client = login(auditor)
    page(client, f"/trace/parts/{g.key('U1')}/")
    with django_assert_max_num_queries(25) as small:
        page(client, f"/trace/parts/{g.key('U1')}/")
    with django_assert_max_num_queries(25) as large:
        page(client, f"/trace/parts/{g.key('T1')}/")
    assert len(small.captured_queries) == len(large.captured_queries)
    with django_assert_max_num_queries(25) as small:
        page(client, f"/trace/lots/{g.key('A1a')}/")
    with django_assert_max_num_queries(25) as large:
        page(client, f"/trace/lots/{g.key('A1')}/")
    assert len(small.captured_queries) == len(large.captured_queries)
