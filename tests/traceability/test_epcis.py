"""EPCIS 2.0 export: documents validate against GS1's JSON schema (kept in the repo, resolved offline), and
every eventID is the CBV 2.0 Event Hash ID that GS1's epcis-event-hash-generator computes for the event."""

from __future__ import annotations

import json
from typing import Any

import pytest
from epcis_event_hash_generator import hash_generator, json_to_py

from tests.support import known_genealogy as known
from traceability import actions, epcis, genealogy, gs1

pytestmark = pytest.mark.django_db


@pytest.fixture
def g(db: Any) -> known.KnownGenealogy:
    g = known.build()
    known.add_station_history(g, "T1")
    known.add_inspection(g, "T1", verdict="pass")
    known.add_inspection(g, "S01", verdict="fail")
    pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 42), actor=None)
    actions.pack_part(g.parts["T1"], pallet=pallet, actor=None)
    actions.close_pallet(pallet, actor=None)
    actions.ship_pallet(pallet, actor=None)
    for part in g.parts.values():
        part.refresh_from_db()
    return g


def hashes_by_the_package(document: dict[str, Any]) -> list[str]:
    """What a receiver does: parse the serialised document and hash each event with GS1's reference code."""
    events = json_to_py.event_list_from_epcis_document_str(json.dumps(document))
    return hash_generator.epcis_hashes_from_events(events)


def exported(document: dict[str, Any]) -> dict[str, Any]:
    """Every export these tests look at is first checked as a receiver would: the GS1 schema, and event ids
    equal to the reference package's hashes."""
    assert epcis.validation_errors(document) == []
    assert [e["eventID"] for e in document["epcisBody"]["eventList"]] == hashes_by_the_package(document)
    return document


def events_of(document: dict[str, Any], event_type: str) -> list[dict[str, Any]]:
    return [e for e in document["epcisBody"]["eventList"] if e["type"] == event_type]


def test_it_exports_a_part_trace_that_validates_against_the_gs1_schema(g: known.KnownGenealogy) -> None:
    document = exported(epcis.part_document(genealogy.backward_trace(g.parts["T1"])))

    assert epcis.validation_errors(document) == []
    assert document["type"] == "EPCISDocument" and document["schemaVersion"] == "2.0"
    assert document["@context"][0] == "https://gs1.github.io/EPCIS/epcis-context.jsonld"


def test_its_event_ids_are_the_packages_event_hashes(g: known.KnownGenealogy) -> None:
    document = exported(epcis.part_document(genealogy.backward_trace(g.parts["T1"])))
    ids = [e["eventID"] for e in document["epcisBody"]["eventList"]]

    assert ids == hashes_by_the_package(document)
    assert all(i.startswith("ni:///sha-256;") and i.endswith("?ver=CBV2.0") for i in ids)
    assert len(set(ids)) == len(ids)


def test_an_event_hash_changes_when_the_event_changes(g: known.KnownGenealogy) -> None:
    document = exported(epcis.part_document(genealogy.backward_trace(g.parts["T1"])))
    [packing] = events_of(document, "AggregationEvent")
    before = packing["eventID"]
    packing["parentID"] = epcis.sscc(gs1.sscc("7891234", 43))

    index = document["epcisBody"]["eventList"].index(packing)
    assert hashes_by_the_package(document)[index] != before


def test_it_turns_lots_consumed_into_a_serial_into_transformation_events(g: known.KnownGenealogy) -> None:
    document = exported(epcis.part_document(genealogy.backward_trace(g.parts["T1"])))
    by_output = {e["outputEPCList"][0]: e for e in events_of(document, "TransformationEvent")}

    s01 = by_output["urn:epc:id:sgtin:7891234.000001.K-S01"]
    assert {q["epcClass"]: (q["quantity"], q["uom"]) for q in s01["inputQuantityList"]} == {
        "urn:epc:class:lgtin:7891234.000901.K-A1": (0.42, "KGM"),
        "urn:epc:class:lgtin:7891234.000902.K-RM": (1.0, "H87"),
    }
    m1 = by_output["urn:epc:id:sgtin:7891234.000002.K-M1"]
    assert m1["inputEPCList"] == ["urn:epc:id:sgtin:7891234.000001.K-S01", "urn:epc:id:sgtin:7891234.000001.K-S02"]
    assert m1["bizStep"] == "assembling"
    t1 = by_output["urn:epc:id:sgtin:7891234.000002.K-T1"]
    assert t1["inputEPCList"] == ["urn:epc:id:sgtin:7891234.000002.K-M1"]
    assert t1["bizTransactionList"] == [{"type": "prodorder", "bizTransaction": "urn:twinweb:batch:K-B-TOP"}]
    assert len(by_output) == 4  # T1, M1, S01, S02: nothing else


def test_it_reports_station_steps_and_inspections_as_object_events(g: known.KnownGenealogy) -> None:
    document = exported(epcis.part_document(genealogy.backward_trace(g.parts["T1"])))
    observed = [e for e in events_of(document, "ObjectEvent") if e["action"] == "OBSERVE"]

    stations = [e for e in observed if "twinweb:outcome" in e]
    assert [e["bizStep"] for e in stations] == ["arriving", "inspecting", "departing"]
    assert {e["disposition"] for e in stations} == {"conformant"}
    assert stations[0]["twinweb:parameters"] == {"twinweb:cycle_time_s": 12.5}
    assert stations[0]["readPoint"]["id"] == f"urn:twinweb:station:{g.cell.code}.load"

    inspections = [e for e in observed if "twinweb:verdict" in e]
    assert sorted((e["epcList"][0], e["twinweb:verdict"], e["disposition"]) for e in inspections) == [
        ("urn:epc:id:sgtin:7891234.000001.K-S01", "fail", "non_conformant"),
        ("urn:epc:id:sgtin:7891234.000002.K-T1", "pass", "conformant"),
    ]
    failed = next(e for e in inspections if e["twinweb:verdict"] == "fail")
    [element] = failed["sensorElementList"]
    assert element["sensorMetadata"]["deviceID"] == "urn:twinweb:device:jetson-kn"
    assert [
        (r["type"], r["value"], r["minValue"], r["maxValue"], r["uom"], r["twinweb:passed"])
        for r in element["sensorReport"]
    ] == [
        ("Length", 30.02, 30.0, 30.05, "MMT", True),
        ("Length", 80.07, 79.95, 80.05, "MMT", False),
    ]
    assert failed["twinweb:modelVersion"] == "flange-cls-1.2.0"


def test_it_reports_packing_on_a_pallet_as_an_aggregation_event(g: known.KnownGenealogy) -> None:
    document = exported(epcis.part_document(genealogy.backward_trace(g.parts["T1"])))

    [packing] = events_of(document, "AggregationEvent")
    assert packing["parentID"] == "urn:epc:id:sscc:7891234.0000000042"
    assert packing["childEPCs"] == ["urn:epc:id:sgtin:7891234.000002.K-T1"]
    assert (packing["action"], packing["bizStep"]) == ("ADD", "packing")
    shipping = [e for e in events_of(document, "ObjectEvent") if e.get("bizStep") == "shipping"]
    assert [e["epcList"] for e in shipping] == [["urn:epc:id:sscc:7891234.0000000042"]]


def test_it_exports_a_lot_trace_with_its_splits_and_the_parts_it_reached(g: known.KnownGenealogy) -> None:
    document = exported(epcis.lot_document(genealogy.forward_trace(g.lots["A1"])))

    assert epcis.validation_errors(document) == []
    assert [e["eventID"] for e in document["epcisBody"]["eventList"]] == hashes_by_the_package(document)
    transformations = events_of(document, "TransformationEvent")
    splits = [e for e in transformations if e.get("twinweb:lotOperation") == "split"]
    assert [
        ([q["epcClass"] for q in e["inputQuantityList"]], [q["epcClass"] for q in e["outputQuantityList"]])
        for e in splits
    ] == [
        (["urn:epc:class:lgtin:7891234.000901.K-A0"], ["urn:epc:class:lgtin:7891234.000901.K-A1"]),  # not A2
        (["urn:epc:class:lgtin:7891234.000901.K-A1"], ["urn:epc:class:lgtin:7891234.000901.K-A1a"]),
    ]
    outputs = {e["outputEPCList"][0].rsplit(".", 1)[1] for e in transformations if "outputEPCList" in e}
    assert g.names(outputs) == known.EXPECTED_FORWARD["A1"]
    [packing] = events_of(document, "AggregationEvent")
    assert packing["childEPCs"] == ["urn:epc:id:sgtin:7891234.000002.K-T1"]


def test_the_schema_check_can_fail_and_needs_no_network(g: known.KnownGenealogy) -> None:
    document = epcis.part_document(genealogy.backward_trace(g.parts["U1"]))
    del document["epcisBody"]["eventList"][0]["eventTimeZoneOffset"]
    document["epcisBody"]["eventList"][-1]["eventTime"] = "yesterday"

    errors = epcis.validation_errors(document)

    assert any("eventTimeZoneOffset" in e for e in errors)
    assert any("yesterday" in e for e in errors)
    assert epcis.validator().schema["$id"] == "https://gs1.github.io/EPCIS/EPCIS-JSON-Schema.json"


def test_it_writes_epc_uris_as_the_gs1_tag_data_standard_says() -> None:
    assert epcis.sgtin("07891234000014", "SN-1") == "urn:epc:id:sgtin:7891234.000001.SN-1"
    assert epcis.lgtin("07891234009017", "LOT/7") == "urn:epc:class:lgtin:7891234.000901.LOT%2F7"
    assert epcis.sscc(gs1.sscc("7891234", 42)) == "urn:epc:id:sscc:7891234.0000000042"
    assert epcis.sgtin("", "SN-1") == "urn:twinweb:part:SN-1"  # a part type without a GTIN


def test_a_lot_too_large_for_a_web_request_is_sent_to_the_command(
    g: known.KnownGenealogy, auditor: Any, login: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    from django.core.management import call_command

    monkeypatch.setattr(epcis, "WEB_EXPORT_MAX_PARTS", 10)
    response = login(auditor).get(f"/api/lots/{g.key('A0')}/epcis/")
    assert response.status_code == 409
    assert "manage.py export_epcis --lot K-A0" in response.json()["detail"]

    call_command("export_epcis", lot=g.key("A0"), output=str(tmp_path / "a0.jsonld"), validate=True)
    document = json.loads((tmp_path / "a0.jsonld").read_text())
    assert [e["eventID"] for e in document["epcisBody"]["eventList"]] == hashes_by_the_package(document)
