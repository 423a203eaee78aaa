"""Trace API: GET /api/parts/<serial>/trace/ and /epcis/, GET /api/lots/<lot key>/trace/ and /epcis/, and
POST /api/lots/<lot key>/contain/, as a client uses them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from epcis_event_hash_generator import hash_generator, json_to_py

from tests.support import factories
from tests.support import known_genealogy as known
from traceability import epcis
from traceability.models import Part, RecordSignature

JSON = "application/json"  # the API speaks JSON

pytestmark = pytest.mark.django_db


@pytest.fixture
def g(db: Any) -> known.KnownGenealogy:
    g = known.build()
    known.add_station_history(g, "S01")
    known.add_inspection(g, "S01", verdict="fail")
    return g


def trace_paths(g: known.KnownGenealogy) -> list[str]:
    return [
        f"/api/parts/{g.key('T1')}/trace/",
        f"/api/parts/{g.key('T1')}/epcis/",
        f"/api/lots/{g.key('A0')}/trace/",
        f"/api/lots/{g.key('A0')}/epcis/",
    ]


def test_it_answers_the_backward_trace_of_a_serial(g: known.KnownGenealogy, auditor: Any, login: Any) -> None:
    body = login(auditor).get(f"/api/parts/{g.key('T1')}/trace/").json()

    assert body["serial"] == g.key("T1") and body["url"].endswith(f"/api/parts/{g.key('T1')}/trace/")
    assert g.names(lot["lot_key"] for lot in body["lots"]) == known.EXPECTED_BACKWARD["T1"][1]
    [m1] = body["tree"]["components"]
    assert g.name(m1["serial"]) == "M1"
    assert g.names(c["serial"] for c in m1["components"]) == {"S01", "S02"}
    s01 = next(c for c in m1["components"] if c["serial"] == g.key("S01"))
    assert {g.name(lot["lot_key"]): lot["consumed_quantity"] for lot in s01["lots"]} == {"A1": 0.42, "RM": 1.0}
    rm = next(lot for lot in body["lots"] if lot["lot_key"] == g.key("RM"))
    assert sorted((g.name(p["lot_key"]), p["kind"]) for p in rm["parents"]) == [("R1", "merge"), ("R2", "merge")]
    assert [e["station"] for e in body["station_events"]] == ["load", "visual", "unload"]
    [inspection] = body["inspections"]
    assert inspection["verdict"] == "fail" and inspection["model_version"] == "flange-cls-1.2.0"
    assert inspection["reviewer"] is None  # kept in the answer until someone reviews it
    assert [m["upper_limit"] for m in inspection["measurements"]] == [30.05, 80.05]
    assert {"part.register", "part.status"} <= {a["action"] for a in body["audit_records"]}
    assert body["elapsed_ms"] >= 0


def test_every_lot_and_part_in_an_answer_links_to_its_own_trace(
    g: known.KnownGenealogy, auditor: Any, login: Any
) -> None:
    client = login(auditor)
    body = client.get(f"/api/parts/{g.key('T1')}/trace/").json()

    def nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [node, *node["lots"], *(n for child in node["components"] for n in nodes(child))]

    urls = {n["url"] for n in nodes(body["tree"])} | {lot["url"] for lot in body["lots"]}
    urls |= {p["url"] for lot in body["lots"] for p in lot["parents"]}
    assert len(urls) == 4 + 6
    for url in sorted(urls):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.json()["url"] == url


def test_it_answers_the_forward_trace_of_a_lot(g: known.KnownGenealogy, auditor: Any, login: Any) -> None:
    Part.objects.filter(serial=g.key("S20")).update(status="failed")
    body = login(auditor).get(f"/api/lots/{g.key('A0')}/trace/").json()

    assert g.names(p["serial"] for p in body["parts"]) == known.EXPECTED_FORWARD["A0"]
    assert body["part_count"] == len(known.EXPECTED_FORWARD["A0"])
    assert body["counts_by_status"]["passed"] == len(known.EXPECTED_FORWARD["A0"]) - 1
    assert body["counts_by_status"]["failed"] == 1
    assert g.names(lot["lot_key"] for lot in body["lots"]) == {"A0", "A1", "A2", "A1a"}
    a0 = next(lot for lot in body["lots"] if lot["lot_key"] == g.key("A0"))
    assert sorted(g.name(c["lot_key"]) for c in a0["children"]) == ["A1", "A2"]
    assert all(p["url"].endswith(f"/api/parts/{p['serial']}/trace/") for p in body["parts"])
    t1 = next(p for p in body["parts"] if p["serial"] == g.key("T1"))
    assert t1["via_components"] == [g.key("M1")]


def test_a_lot_answer_names_where_the_lot_came_from(g: known.KnownGenealogy, auditor: Any, login: Any) -> None:
    body = login(auditor).get(f"/api/lots/{g.key('RM')}/trace/").json()

    assert sorted((g.name(p["lot_key"]), p["kind"]) for p in body["parents"]) == [("R1", "merge"), ("R2", "merge")]
    assert g.names(s["lot_key"] for s in body["sources"]) == {"R1", "R2"}


def test_trace_answers_take_a_fixed_number_of_queries(
    g: known.KnownGenealogy, auditor: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    known.add_inspection(g, "U1")  # both traces then fetch inspections and their measurements
    client = login(auditor)
    client.get(f"/api/parts/{g.key('U1')}/trace/")  # session and permission caches warm up

    with django_assert_max_num_queries(20) as small:
        client.get(f"/api/parts/{g.key('U1')}/trace/")
    with django_assert_max_num_queries(20) as large:
        client.get(f"/api/parts/{g.key('T1')}/trace/")
    assert len(small.captured_queries) == len(large.captured_queries)
    with django_assert_max_num_queries(20) as small:
        client.get(f"/api/lots/{g.key('A1a')}/trace/")
    with django_assert_max_num_queries(20) as large:
        client.get(f"/api/lots/{g.key('A1')}/trace/")
    assert len(small.captured_queries) == len(large.captured_queries)


def test_it_exports_epcis_json_ld_that_validates(g: known.KnownGenealogy, auditor: Any, login: Any) -> None:
    client = login(auditor)
    for path in (f"/api/parts/{g.key('T1')}/epcis/", f"/api/lots/{g.key('A0')}/epcis/"):
        response = client.get(path)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/ld+json"
        assert response.streaming  # the document is written as it goes
        body = b"".join(response.streaming_content).decode()
        document = json.loads(body)
        assert epcis.validation_errors(document) == [], path
        assert document["epcisBody"]["eventList"]
        received = json_to_py.event_list_from_epcis_document_str(body)
        assert [e["eventID"] for e in document["epcisBody"]["eventList"]] == hash_generator.epcis_hashes_from_events(
            received
        ), path


def test_unknown_serials_and_lots_are_404(auditor: Any, login: Any) -> None:
    client = login(auditor)
    assert client.get("/api/parts/no-such-serial/trace/").status_code == 404
    assert client.get("/api/lots/no-such-lot/epcis/").status_code == 404


def test_roles_with_the_trace_permission_may_trace(g: known.KnownGenealogy, request: Any, login: Any) -> None:
    for persona in ("auditor", "supervisor", "quality_engineer"):
        client = login(request.getfixturevalue(persona))
        assert [client.get(path).status_code for path in trace_paths(g)] == [200, 200, 200, 200], persona


def test_operators_and_outsiders_may_not_trace(g: known.KnownGenealogy, request: Any, login: Any) -> None:
    for persona in ("operator", "outsider"):
        client = login(request.getfixturevalue(persona))
        assert [client.get(path).status_code for path in trace_paths(g)] == [403, 403, 403, 403], persona


def test_anonymous_callers_get_401(g: known.KnownGenealogy) -> None:
    for path in trace_paths(g):
        response = Client().get(path)
        assert response.status_code == 401, path
        assert response["WWW-Authenticate"] == "Token"


def test_quality_engineers_contain_a_lot_over_the_api(
    g: known.KnownGenealogy, quality_engineer: Any, auditor: Any, login: Any
) -> None:
    path = f"/api/lots/{g.key('A1')}/contain/"
    assert login(auditor).post(path, {"reason": "porosity"}, content_type=JSON).status_code == 403
    assert login(quality_engineer).post(path, {}, content_type=JSON).status_code == 400

    response = login(quality_engineer).post(path, {"reason": "porosity"}, content_type=JSON)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "suspect" and response.json()["shipped"] == []
    assert Part.objects.get(serial=g.key("T1")).status == "on_hold"
    again = login(quality_engineer).post(path, {"reason": "porosity"}, content_type=JSON)
    assert again.status_code == 409 and "already contained" in again.json()["detail"]


def test_quality_engineers_release_a_containment_over_the_api(
    g: known.KnownGenealogy, quality_engineer: Any, auditor: Any, login: Any
) -> None:
    login(quality_engineer).post(f"/api/lots/{g.key('A1')}/contain/", {"reason": "porosity"}, content_type=JSON)
    path = f"/api/lots/{g.key('A1')}/release/"
    signed = {"reason": "cleared", "credential": factories.PASSWORD}
    assert login(auditor).post(path, signed, content_type=JSON).status_code == 403
    assert login(quality_engineer).post(path, {"reason": "cleared"}, content_type=JSON).status_code == 400  # unsigned
    wrong = login(quality_engineer).post(path, {**signed, "credential": "guess"}, content_type=JSON)
    assert wrong.status_code == 403 and wrong.json()["code"] == "signature_refused"

    response = login(quality_engineer).post(path, signed, content_type=JSON)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "released" and body["parts_still_held"] == []
    assert g.key("T1") in body["parts_released"] and sorted(body["lots_released"]) == [g.key("A1"), g.key("A1a")]
    assert Part.objects.get(serial=g.key("T1")).status == "passed"
    assert login(quality_engineer).post(path, signed, content_type=JSON).status_code == 409
    [signature] = RecordSignature.objects.filter(meaning="release")
    assert (signature.printed_name, signature.signed_content["release_reason"]) == ("Quinn Tester", "cleared")


def test_the_backward_trace_carries_the_audit_records_of_the_parts_inspections(
    g: known.KnownGenealogy, auditor: Any, login: Any
) -> None:
    """Records filed under an inspection (its storing, Debug Mode claims and refused signatures) are about the part."""
    from django.db import transaction

    from traceability import audit

    inspection = known.add_inspection(g, "S02", verdict="fail")
    other = known.add_inspection(g, "S03", verdict="fail")
    with transaction.atomic():
        audit.append(
            actor=None, action="inspection.record", subject=("inspection.inspection", str(inspection.result_id))
        )
        audit.append(actor=None, action="review.claim", subject=("inspection.inspection", str(inspection.result_id)))
        audit.append(actor=None, action="review.claim", subject=("inspection.inspection", str(other.result_id)))

    body = login(auditor).get(f"/api/parts/{g.key('S02')}/trace/").json()

    about_inspections = [a for a in body["audit_records"] if a["subject_type"] == "inspection.inspection"]
    assert [(a["action"], a["subject_key"]) for a in about_inspections] == [
        ("inspection.record", str(inspection.result_id)),
        ("review.claim", str(inspection.result_id)),
    ]


def test_it_names_the_reviewer_once_an_inspection_is_reviewed(
    g: known.KnownGenealogy, auditor: Any, operator: Any, login: Any
) -> None:
    inspection = known.add_inspection(g, "S02", verdict="fail")
    known.add_review(inspection, operator)

    body = login(auditor).get(f"/api/parts/{g.key('S02')}/trace/").json()

    [step] = body["inspections"]
    assert step["reviewer"] == "Olivia Tester"
