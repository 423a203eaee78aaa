"""The EPCIS export as it stood before the fast hash and the streamed writer (commit 53248fa): events built in one
list, hashed by GS1's reference package over the whole document, serialised in one piece. Kept as the oracle the
streamed export must equal byte for byte (tests/traceability/test_epcis_stream.py); the event builders it calls
(`_making_event`, `_station_event`, ...) are today's, unchanged by that work."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from traceability.epcis import (
    CONTEXT,
    _base,
    _inspection_event,
    _local,
    _making_event,
    _part_times,
    _pallet_ship_times,
    _quantity,
    _station_event,
    event_time,
    lot_class,
    part_epc,
    sgtin,
    sscc,
)
from traceability.genealogy import BackwardTrace, ForwardTrace
from traceability.models import LotConsumption, LotLink, MaterialLot


def _packing_events(
    pallet_sscc: str, pallet_status: str | None, shipped_at: dt.datetime | None, packed: dict[dt.datetime, list[str]]
) -> list[dict[str, Any]]:
    events = []
    for at, epcs in sorted(packed.items()):
        events.append(
            {
                **_base("AggregationEvent", at),
                "parentID": sscc(pallet_sscc),
                "childEPCs": sorted(set(epcs)),
                "action": "ADD",
                "bizStep": "packing",
                "disposition": "in_progress",
            }
        )
    if pallet_status == "shipped" and shipped_at:
        events.append(
            {
                **_base("ObjectEvent", shipped_at),
                "epcList": [sscc(pallet_sscc)],
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
            }
        )
    return events


def part_events(trace: BackwardTrace) -> list[dict[str, Any]]:
    parts = {node.part.pk: node.part for node in trace.parts}
    epcs = {pid: part_epc(part) for pid, part in parts.items()}
    cell = trace.part.batch.cell
    cell_code = cell.code if cell is not None else ""
    consumed: dict[int, list[tuple[MaterialLot, Decimal]]] = defaultdict(list)
    for c in trace.consumptions:
        consumed[c.part_id].append((trace.lots[c.lot_id], c.quantity))
    events: list[dict[str, Any]] = []
    for node in reversed(trace.parts):  # sub-assemblies are made before their assembly
        part = node.part
        components = [epcs[child.part.pk] for child in trace.components_of(part.pk)]
        events.append(
            _making_event(
                epcs[part.pk],
                at=part.created_at,
                lots=consumed.get(part.pk, []),
                component_epcs=components,
                batch_number=part.batch.batch_number,
                read_point=_local("cell", cell_code) if cell_code else None,
            )
        )
    events += [_station_event(e, epcs[e.part_id], cell_code) for e in trace.station_events]
    events += [
        _inspection_event(step, epcs[step.part_id], cell_code) for step in trace.inspections if step.part_id in epcs
    ]
    part = trace.part
    if part.packed_at and part.pallet is not None:
        events += _packing_events(
            part.pallet.sscc, part.pallet.status, part.pallet.shipped_at, {part.packed_at: [epcs[part.pk]]}
        )
    return sorted(events, key=lambda e: e["eventTime"])


def lot_events(trace: ForwardTrace) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    lots = {**trace.sources, **trace.lots}
    # Splits (one parent, several children at once) and merges (several parents into one child) of the family.
    groups: dict[tuple[str, int, dt.datetime], list[LotLink]] = defaultdict(list)
    for link in {link.pk: link for link in [*trace.source_links, *trace.lot_links]}.values():
        if link.parent_id not in lots or link.child_id not in lots:
            continue
        key = (
            ("split", link.parent_id, link.linked_at)
            if link.kind == "split"
            else ("merge", link.child_id, link.linked_at)
        )
        groups[key].append(link)
    for (kind, _, at), links in sorted(groups.items(), key=lambda g: (g[0][2], g[0][0], g[0][1])):
        parents = {link.parent_id: Decimal(0) for link in links}
        children = {link.child_id: Decimal(0) for link in links}
        for link in links:
            parents[link.parent_id] += link.quantity
            children[link.child_id] += link.quantity
        event = _base("TransformationEvent", at)
        event["inputQuantityList"] = [
            {"epcClass": lot_class(lots[i]), **_quantity(q, lots[i].material.unit)} for i, q in sorted(parents.items())
        ]
        event["outputQuantityList"] = [
            {"epcClass": lot_class(lots[i]), **_quantity(q, lots[i].material.unit)} for i, q in sorted(children.items())
        ]
        event["bizStep"] = "repackaging" if kind == "split" else "commissioning"
        event["twinweb:lotOperation"] = kind
        events.append(event)
    # What each reached part took in from the family: lot quantities, or reached components.
    consumed: dict[int, list[tuple[MaterialLot, Decimal]]] = defaultdict(list)
    for part_id, lot_id, quantity in (
        LotConsumption.objects.filter(lot_id__in=list(trace.lots))
        .values_list("part_id", "lot_id", "quantity")
        .order_by("part_id", "lot_id")
    ):
        consumed[part_id].append((trace.lots[lot_id], quantity))
    by_serial = {p.serial: p for p in trace.parts}
    times = _part_times([p.id for p in trace.parts])
    pallets: dict[str, dict[dt.datetime, list[str]]] = defaultdict(lambda: defaultdict(list))
    pallet_state: dict[str, tuple[str | None, dt.datetime | None]] = {}
    for p in trace.parts:
        epc = sgtin(p.gtin, p.serial)
        components = [sgtin(by_serial[s].gtin, s) for s in p.via_components if s in by_serial]
        created_at, packed_at = times[p.id]
        events.append(
            _making_event(
                epc,
                at=created_at,
                lots=consumed.get(p.id, []),
                component_epcs=components,
                batch_number=p.batch_number,
                read_point=None,
            )
        )
        if p.pallet_sscc and packed_at:
            pallets[p.pallet_sscc][packed_at].append(epc)
            pallet_state[p.pallet_sscc] = (p.pallet_status, None)
    shipped = _pallet_ship_times(list(pallets))
    for code, packed in sorted(pallets.items()):
        events += _packing_events(code, pallet_state[code][0], shipped.get(code), packed)
    return sorted(events, key=lambda e: e["eventTime"])


def event_hash_ids(document: dict[str, Any]) -> list[str]:
    """The CBV 2.0 Event Hash ID of each event of the document, by GS1's reference implementation (it ignores
    `eventID`, so the ids can be filled in afterwards). The JSON-LD context is read from the package's own copy."""
    from epcis_event_hash_generator import hash_generator, json_to_py

    # The package logs every event on the root logger at INFO (and dumps the document at DEBUG): our logs would
    # carry whole documents. Silence INFO and below for the duration of the call.
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.INFO))
    try:
        events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
        return hash_generator.epcis_hashes_from_events(events)
    finally:
        logging.disable(previous)


def document(events: list[dict[str, Any]], *, created_at: dt.datetime | None = None) -> dict[str, Any]:
    doc = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": event_time(created_at or timezone.now()),
        "epcisBody": {"eventList": events},
    }
    hashes = event_hash_ids(doc)
    if len(hashes) != len(events):
        raise RuntimeError(f"the hash generator returned {len(hashes)} hashes for {len(events)} events")
    for event, event_id in zip(events, hashes):
        # eventID first: the order readers expect (it is not part of the hash).
        ordered = {"type": event["type"], "eventID": event_id, **{k: v for k, v in event.items() if k != "type"}}
        event.clear()
        event.update(ordered)
    return doc


def part_document(trace: BackwardTrace, *, created_at: dt.datetime | None = None) -> dict[str, Any]:
    return document(part_events(trace), created_at=created_at)


def lot_document(trace: ForwardTrace, *, created_at: dt.datetime | None = None) -> dict[str, Any]:
    return document(lot_events(trace), created_at=created_at)


def file_text(doc: dict[str, Any]) -> str:
    """What `manage.py export_epcis --output FILE` wrote."""
    return json.dumps(doc, indent=1)


def web_bytes(doc: dict[str, Any]) -> bytes:
    """What the API's JsonResponse sent."""
    return json.dumps(doc, cls=DjangoJSONEncoder).encode()
