"""The REST API: filters, pagination, links between parts and lots, the OpenAPI schema, and query counts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def genealogy(quality_engineer: Any) -> dict[str, Any]:
    lot = factories.make_lot(actor=quality_engineer, lot_key="LOT-API-1")
    other = factories.make_lot(actor=quality_engineer, lot_key="LOT-API-2")
    batch = factories.make_batch(actor=quality_engineer)
    parts = [factories.make_part(batch, actor=quality_engineer, lots=[(lot, "0.4")]) for _ in range(12)]
    parts.append(factories.make_part(batch, actor=quality_engineer, lots=[(other, "0.4")]))
    return {"lot": lot, "batch": batch, "parts": parts}


def test_parts_link_to_their_lots_and_lots_link_back(genealogy: dict[str, Any], auditor: Any, login: Any) -> None:
    client = login(auditor)
    serial = genealogy["parts"][0].serial
    part = client.get(f"/api/parts/{serial}/").json()
    assert part["url"].endswith(f"/api/parts/{serial}/")
    assert part["lots"][0]["lot"]["lot_key"] == "LOT-API-1"
    lot_url = part["lots"][0]["lot"]["url"]
    lot = client.get(lot_url).json()
    assert lot["lot_key"] == "LOT-API-1"
    parts_of_lot = client.get(lot["parts_url"]).json()
    assert parts_of_lot["count"] == 12
    assert {p["serial"] for p in parts_of_lot["results"]} == {p.serial for p in genealogy["parts"][:12]}


def test_part_list_filters_by_batch_and_status(genealogy: dict[str, Any], auditor: Any, login: Any) -> None:
    client = login(auditor)
    batch = genealogy["batch"].batch_number
    assert client.get(f"/api/parts/?batch={batch}").json()["count"] == 13
    assert client.get(f"/api/parts/?batch={batch}&status=passed").json()["count"] == 0
    assert client.get(f"/api/parts/?batch={batch}&status=in_process").json()["count"] == 13


def test_part_list_is_paginated_with_a_constant_number_of_queries(
    genealogy: dict[str, Any], auditor: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    client = login(auditor)
    client.get("/api/parts/")  # warm the session and permission caches
    with django_assert_max_num_queries(8):
        body = client.get("/api/parts/?page_size=50").json()
    assert body["count"] == 13
    more = [factories.make_part(genealogy["batch"], actor=None, lots=[(genealogy["lot"], "1")]) for _ in range(20)]
    assert more
    with django_assert_max_num_queries(8):
        assert client.get("/api/parts/").json()["count"] == 33


def test_page_size_is_the_callers_choice_up_to_500(genealogy: dict[str, Any], auditor: Any, login: Any) -> None:
    client = login(auditor)
    body = client.get("/api/parts/?page_size=5").json()
    assert len(body["results"]) == 5 and body["count"] == 13 and "page_size=5" in body["next"]
    assert len(client.get("/api/parts/?page_size=100000").json()["results"]) == 13  # capped at 500, not refused


def _grow(kind: str, n: int) -> None:
    """n more records behind one API list."""
    from traceability import actions, gs1
    from traceability.choices import FoundBy

    for _ in range(n):
        if kind == "parts":
            factories.make_part()
        elif kind == "lots":
            factories.make_lot()
        elif kind == "batches":
            factories.make_batch()
        elif kind == "stations":
            factories.make_cell()
        elif kind == "station-events":
            part = factories.make_part()
            station = factories.make_cell().stations.first()
            actions.record_station_entry(part, station=station, actor=None)
        elif kind == "pallets":
            actions.create_pallet(sscc=gs1.sscc("7891234", int(factories.unique("")[-5:])), actor=None)
        elif kind == "failure-cases":
            actions.open_failure_case(
                factories.make_part(), defect_code=factories.make_defect_code(), found_by=FoundBy.MACHINE, actor=None
            )


@pytest.mark.parametrize("kind", ["parts", "lots", "batches", "stations", "station-events", "pallets", "failure-cases"])
def test_every_list_costs_the_same_number_of_queries_whatever_its_length(
    kind: str, auditor: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    client = login(auditor)
    _grow(kind, 2)
    client.get(f"/api/{kind}/")  # warm the session and permission caches
    with django_assert_max_num_queries(12) as short:
        assert client.get(f"/api/{kind}/").status_code == 200
    _grow(kind, 10)
    with django_assert_max_num_queries(12) as long:
        body = client.get(f"/api/{kind}/").json()
    assert body["count"] >= 12
    assert len(long.captured_queries) == len(short.captured_queries)


def test_batches_count_their_serials(genealogy: dict[str, Any], auditor: Any, login: Any) -> None:
    batch = login(auditor).get(f"/api/batches/{genealogy['batch'].batch_number}/").json()
    assert batch["part_count"] == 13


def test_station_events_filter_by_serial_and_station(auditor: Any, quality_engineer: Any, login: Any) -> None:
    from traceability import actions
    from traceability.choices import StationOutcome

    cell = factories.make_cell(quality_engineer)
    part = factories.make_part(factories.make_batch(cell=cell, actor=quality_engineer), actor=quality_engineer)
    for station in cell.stations.order_by("position")[:3]:
        event = actions.record_station_entry(part, station=station, actor=quality_engineer)
        actions.record_station_exit(event, outcome=StationOutcome.OK, actor=quality_engineer)
    client = login(auditor)
    assert client.get(f"/api/station-events/?serial={part.serial}").json()["count"] == 3
    body = client.get(f"/api/station-events/?serial={part.serial}&station=visual").json()
    assert body["count"] == 1
    assert body["results"][0]["outcome"] == "ok"


def test_the_openapi_schema_and_its_docs_page_are_served_locally(auditor: Any, login: Any) -> None:
    client = login(auditor)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/parts/{serial}/" in schema["paths"]
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn" not in docs.lower()


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("created_after=2026-01-01T00:00:00%2B22:44", 200),  # ISO allows it; PostgreSQL's offsets stop at ±15:59
        ("created_before=0371-04-04T06:20:36-19:58", 200),
        ("created_after=0001-01-01T00:00:00%2B01:00", 400),  # before year 1 once in UTC
    ],
)
def test_time_filters_compare_any_iso_instant_in_utc(
    genealogy: dict[str, Any], auditor: Any, login: Any, query: str, status: int
) -> None:
    client = login(auditor)
    assert client.get(f"/api/parts/?{query}").status_code == status
