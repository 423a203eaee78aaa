"""EPCIS 2.0 export of a trace (GS1 EPCIS 2.0 JSON-LD, CBV 2.0).

A part's document (from its backward trace) holds:

- a TransformationEvent per part of the genealogy that consumed material or sub-assemblies: the lots as LGTIN
  classes with their quantity (`inputQuantityList`), the components as SGTINs (`inputEPCList`), the part as output;
  a part made from nothing recorded gets an ObjectEvent ADD (commissioning) instead;
- an ObjectEvent (OBSERVE) per station event, with the station as read point and its outcome as disposition;
- an ObjectEvent (OBSERVE, inspecting) per inspection, its measurements as `sensorElementList` reports: `value`
  is the measured value, `minValue` / `maxValue` the lower / upper tolerance limits (nominal + tolerance; GS1 reads
  them as observed extremes, we state the band here and name the feature in `twinweb:feature`);
- an AggregationEvent (ADD, packing) for the pallet it was packed on (parent: the pallet's SSCC), and an
  ObjectEvent (shipping) once the pallet shipped.

A lot's document (from its forward trace) holds the splits and merges of the lot family as TransformationEvents
between LGTIN classes, a TransformationEvent per part that consumed the family or took in a reached component,
and the packing / shipping events of the reached parts' pallets.

Every event's `eventID` is its CBV 2.0 Event Hash ID (`ni:///sha-256;...?ver=CBV2.0`), the one GS1's
`epcis-event-hash-generator` package computes over the document itself, so anyone can recompute it; we compute it
with `traceability.epcis_hash` (the same result, 20 to 30 times faster). Documents are streamed (StreamedDocument):
the API and `manage.py export_epcis` write them a chunk of events at a time.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, cast

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from traceability import epcis_hash
from traceability.choices import StationKind, StationOutcome
from traceability.errors import DomainError
from traceability.genealogy import BackwardTrace, ForwardTrace, InspectionStep
from traceability.models import LotConsumption, LotLink, MaterialLot, Part, StationEvent

logger = logging.getLogger(__name__)

EPCIS_CONTEXT_URL = "https://gs1.github.io/EPCIS/epcis-context.jsonld"
TWINWEB_NAMESPACE = "https://ns.twinweb.example/epcis/"
CONTEXT: list[Any] = [EPCIS_CONTEXT_URL, {"twinweb": TWINWEB_NAMESPACE}]
SCHEMA_DIR = Path(__file__).resolve().parent / "epcis_schema"
# Plant-local identifiers (stations, batches, devices) where GS1 keys (SGLN, GDTI) are not assigned.
LOCAL_URN = "urn:twinweb:"
UTC_OFFSET = "+00:00"

# UN/CEFACT Rec. 20 unit codes for the units the plant records.
UOM = {
    "kg": "KGM",
    "g": "GRM",
    "t": "TNE",
    "pcs": "H87",
    "pc": "H87",
    "ea": "H87",
    "m": "MTR",
    "mm": "MMT",
    "l": "LTR",
    "ml": "MLT",
    "deg": "DD",
    "s": "SEC",
}
MEASUREMENT_TYPE = {
    "mm": "Length",
    "m": "Length",
    "um": "Length",
    "deg": "Angle",
    "s": "Time",
    "kg": "Mass",
    "g": "Mass",
}

STATION_BIZ_STEP = {
    StationKind.LOADING: "arriving",
    StationKind.VISUAL_INSPECTION: "inspecting",
    StationKind.DIMENSIONAL_INSPECTION: "inspecting",
    StationKind.FAILURE_ANALYSIS: "inspecting",
    StationKind.UNLOADING: "departing",
}
OUTCOME_DISPOSITION = {
    StationOutcome.OK: "conformant",
    StationOutcome.NOK: "non_conformant",
    StationOutcome.IN_PROGRESS: "in_progress",
}
VERDICT_DISPOSITION = {"pass": "conformant", "fail": "non_conformant"}


# --- GS1 identifiers as EPC URIs ------------------------------------------------------------------------


def company_prefix_length() -> int:
    """Digits of the GS1 company prefix in our GTINs and SSCCs (EPC URIs split the key there). The demo plant's
    prefix is 7891234 (7 digits); a plant with another prefix sets GS1_COMPANY_PREFIX_LENGTH."""
    return int(settings.GS1_COMPANY_PREFIX_LENGTH)


def _epc_text(value: str) -> str:
    """Escape a serial or lot for an EPC URI (TDS: characters outside the safe set are %-encoded)."""
    return re.sub(r"[^A-Za-z0-9\-._]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), value)


def _gtin_parts(gtin: str) -> tuple[str, str]:
    length = company_prefix_length()
    return gtin[1 : 1 + length], gtin[0] + gtin[1 + length : 13]


def sgtin(gtin: str, serial: str) -> str:
    if not gtin:
        return f"{LOCAL_URN}part:{_epc_text(serial)}"
    prefix, item = _gtin_parts(gtin)
    return f"urn:epc:id:sgtin:{prefix}.{item}.{_epc_text(serial)}"


def lgtin(gtin: str, lot_key: str) -> str:
    if not gtin:
        return f"{LOCAL_URN}lot:{_epc_text(lot_key)}"
    prefix, item = _gtin_parts(gtin)
    return f"urn:epc:class:lgtin:{prefix}.{item}.{_epc_text(lot_key)}"


def sscc(code: str) -> str:
    length = company_prefix_length()
    return f"urn:epc:id:sscc:{code[1 : 1 + length]}.{code[0]}{code[1 + length : 17]}"


def part_epc(part: Part) -> str:
    return sgtin(part.part_type.gtin, part.serial)


def lot_class(lot: MaterialLot) -> str:
    return lgtin(lot.material.gtin, lot.lot_key)


def _local(kind: str, *keys: str) -> str:
    return f"{LOCAL_URN}{kind}:" + ".".join(_epc_text(k) for k in keys)


def event_time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _quantity(value: Decimal, unit: str) -> dict[str, Any]:
    element: dict[str, Any] = {"quantity": float(value)}
    if unit.lower() in UOM:
        element["uom"] = UOM[unit.lower()]
    return element


def _base(event_type: str, at: dt.datetime) -> dict[str, Any]:
    return {"type": event_type, "eventTime": event_time(at), "eventTimeZoneOffset": UTC_OFFSET}


# --- Events ---------------------------------------------------------------------------------------------


def _making_event(
    output_epc: str,
    *,
    at: dt.datetime,
    lots: Iterable[tuple[MaterialLot, Decimal]],
    component_epcs: list[str],
    batch_number: str | None,
    read_point: str | None,
) -> dict[str, Any]:
    inputs = [{"epcClass": lot_class(lot), **_quantity(quantity, lot.material.unit)} for lot, quantity in lots]
    if not inputs and not component_epcs:
        event = {**_base("ObjectEvent", at), "epcList": [output_epc], "action": "ADD", "bizStep": "commissioning"}
    else:
        event = _base("TransformationEvent", at)
        if component_epcs:
            event["inputEPCList"] = sorted(set(component_epcs))
        if inputs:
            event["inputQuantityList"] = inputs
        event["outputEPCList"] = [output_epc]
        event["bizStep"] = "assembling" if component_epcs else "commissioning"
    event["disposition"] = "in_progress"
    if read_point:
        event["readPoint"] = {"id": read_point}
    if batch_number:
        event["bizTransactionList"] = [{"type": "prodorder", "bizTransaction": _local("batch", batch_number)}]
    return event


def _station_event(event: StationEvent, epc: str, cell_code: str) -> dict[str, Any]:
    station = event.station
    out = {
        **_base("ObjectEvent", event.left_at or event.entered_at),
        "epcList": [epc],
        "action": "OBSERVE",
        "bizStep": STATION_BIZ_STEP.get(StationKind(station.kind), "other")
        if station.kind in StationKind.values
        else "other",
    }
    disposition = (
        OUTCOME_DISPOSITION.get(StationOutcome(event.outcome)) if event.outcome in StationOutcome.values else None
    )
    if disposition:
        out["disposition"] = disposition
    out["readPoint"] = {"id": _station_uri(cell_code, station.code)}
    out["twinweb:enteredAt"] = event_time(event.entered_at)
    out["twinweb:outcome"] = event.outcome
    parameters = {
        f"twinweb:{key}": value
        for key, value in sorted(event.parameters.items())
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", str(key)) and isinstance(value, (int, float, str, bool))
    }
    if parameters:
        out["twinweb:parameters"] = parameters
    return out


def _station_uri(cell_code: str, station_code: str) -> str:
    return _local("station", cell_code, station_code) if cell_code else _local("station", station_code)


def _inspection_event(step: InspectionStep, epc: str, cell_code: str) -> dict[str, Any]:
    out = {**_base("ObjectEvent", step.captured_at), "epcList": [epc], "action": "OBSERVE", "bizStep": "inspecting"}
    if step.verdict in VERDICT_DISPOSITION:
        out["disposition"] = VERDICT_DISPOSITION[step.verdict]
    out["readPoint"] = {"id": _station_uri(cell_code, step.station_code)}
    reports = []
    for m in step.measurements:
        report: dict[str, Any] = {"type": MEASUREMENT_TYPE.get(m.unit.lower(), "Dimensionless")}
        if m.value is not None:
            report["value"] = m.value
        report["minValue"] = round(m.lower_limit, 9)
        report["maxValue"] = round(m.upper_limit, 9)
        if m.unit.lower() in UOM:
            report["uom"] = UOM[m.unit.lower()]
        report["twinweb:feature"] = m.name
        report["twinweb:passed"] = m.passed
        reports.append(report)
    if reports:
        metadata: dict[str, Any] = {"time": event_time(step.inspected_at)}
        if step.device_id:
            metadata["deviceID"] = _local("device", step.device_id)
        out["sensorElementList"] = [{"sensorMetadata": metadata, "sensorReport": reports}]
    out["twinweb:inspection"] = f"urn:uuid:{step.key}"
    out["twinweb:verdict"] = step.verdict
    if step.model_version:
        out["twinweb:modelVersion"] = step.model_version
    if step.defect_class:
        out["twinweb:defectClass"] = step.defect_class
    if step.reviewer:
        out["twinweb:reviewer"] = step.reviewer
    return out


def _packing_event(pallet_sscc: str, at: dt.datetime, epcs: Iterable[str]) -> dict[str, Any]:
    return {
        **_base("AggregationEvent", at),
        "parentID": sscc(pallet_sscc),
        "childEPCs": sorted(set(epcs)),
        "action": "ADD",
        "bizStep": "packing",
        "disposition": "in_progress",
    }


def _shipping_event(pallet_sscc: str, at: dt.datetime) -> dict[str, Any]:
    return {
        **_base("ObjectEvent", at),
        "epcList": [sscc(pallet_sscc)],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
    }


def _packing_events(
    pallet_sscc: str, pallet_status: str | None, shipped_at: dt.datetime | None, packed: dict[dt.datetime, list[str]]
) -> list[dict[str, Any]]:
    events = [_packing_event(pallet_sscc, at, epcs) for at, epcs in sorted(packed.items())]
    if pallet_status == "shipped" and shipped_at:
        events.append(_shipping_event(pallet_sscc, shipped_at))
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
    return list(LotEvents(trace))


class LotEvents:
    """A lot document's events, in document order (by eventTime; events at the same millisecond in the order the
    export has always listed them: the family's splits and merges, the reached parts by serial, then each pallet
    by SSCC), built a chunk at a time. What stays in memory besides the trace is one small sort key per event;
    event dicts exist a chunk at a time. Iterable more than once (a validating export reads it twice)."""

    CHUNK = 1000  # events built at once (and the parts whose consumptions one query fetches)

    def __init__(self, trace: ForwardTrace) -> None:
        self.trace = trace
        self._lot_events = _lot_family_events(trace)
        parts = trace.parts
        self._by_serial = {p.serial: p for p in parts}
        times = _part_times([p.id for p in parts])
        # (eventTime, position in the old single list, what to build): the stable sort by eventTime, as before.
        keys: list[tuple[str, int, tuple[Any, ...]]] = [
            (event["eventTime"], position, ("lot", position)) for position, event in enumerate(self._lot_events)
        ]
        pallets: dict[str, dict[dt.datetime, list[int]]] = defaultdict(lambda: defaultdict(list))
        pallet_status: dict[str, str | None] = {}
        for index, p in enumerate(parts):
            created_at, packed_at = times[p.id]
            keys.append((event_time(created_at), len(keys), ("part", index, created_at)))
            if p.pallet_sscc and packed_at:
                pallets[p.pallet_sscc][packed_at].append(index)
                pallet_status[p.pallet_sscc] = p.pallet_status
        del times
        shipped = _pallet_ship_times(list(pallets))
        for code, packed in sorted(pallets.items()):
            for at, indexes in sorted(packed.items()):
                keys.append((event_time(at), len(keys), ("packing", code, at, indexes)))
            if pallet_status[code] == "shipped" and code in shipped:
                keys.append((event_time(shipped[code]), len(keys), ("shipping", code, shipped[code])))
        keys.sort()  # (eventTime, position) is unique: the steps themselves are never compared
        self._plan = [k[2] for k in keys]

    def __len__(self) -> int:
        return len(self._plan)

    def vocabulary(self) -> frozenset[str]:
        """The document's CBV vocabulary without building every event: an event's vocabulary (its bizStep,
        disposition, business transaction types) follows from what kind of event it is, so one event of each kind
        is built and read. The hasher checks that claim on every event it then hashes."""
        vocabulary = epcis_hash.DocumentVocabulary(CONTEXT)
        for event in self._lot_events:
            vocabulary.add(event)
        kinds_seen = set()
        for step in self._plan:
            if step[0] == "part":
                p = self.trace.parts[step[1]]
                kind: tuple[Any, ...] = (
                    "part",
                    any(s in self._by_serial for s in p.via_components),
                    bool(p.batch_number),
                )
            else:
                kind = (step[0],)
            if step[0] != "lot" and kind not in kinds_seen:
                kinds_seen.add(kind)
                vocabulary.add(self._build([step])[0])
        return frozenset(vocabulary.found)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for start in range(0, len(self._plan), self.CHUNK):
            yield from self._build(self._plan[start : start + self.CHUNK])

    def _build(self, plan: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        trace = self.trace
        part_ids = [trace.parts[step[1]].id for step in plan if step[0] == "part"]
        consumed: dict[int, list[tuple[MaterialLot, Decimal]]] = defaultdict(list)
        if part_ids:
            for part_id, lot_id, quantity in (
                LotConsumption.objects.filter(lot_id__in=list(trace.lots), part_id__in=part_ids)
                .values_list("part_id", "lot_id", "quantity")
                .order_by("part_id", "lot_id", "id")
            ):
                consumed[part_id].append((trace.lots[lot_id], quantity))
        events = []
        for step in plan:
            if step[0] == "lot":
                events.append(copy.deepcopy(self._lot_events[step[1]]))
            elif step[0] == "part":
                p = trace.parts[step[1]]
                components = [sgtin(self._by_serial[s].gtin, s) for s in p.via_components if s in self._by_serial]
                events.append(
                    _making_event(
                        sgtin(p.gtin, p.serial),
                        at=step[2],
                        lots=consumed.get(p.id, []),
                        component_epcs=components,
                        batch_number=p.batch_number,
                        read_point=None,
                    )
                )
            elif step[0] == "packing":
                epcs = [sgtin(trace.parts[i].gtin, trace.parts[i].serial) for i in step[3]]
                events.append(_packing_event(step[1], step[2], epcs))
            else:
                events.append(_shipping_event(step[1], step[2]))
        return events


def _lot_family_events(trace: ForwardTrace) -> list[dict[str, Any]]:
    """Splits (one parent, several children at once) and merges (several parents into one child) of the family."""
    events: list[dict[str, Any]] = []
    lots = {**trace.sources, **trace.lots}
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
    return events


def _part_times(part_ids: list[int]) -> dict[int, tuple[dt.datetime, dt.datetime | None]]:
    times: dict[int, tuple[dt.datetime, dt.datetime | None]] = {}
    for start in range(0, len(part_ids), 5000):  # stays under SQLite's bound-parameter limit
        chunk = part_ids[start : start + 5000]
        for pid, created_at, packed_at in Part.objects.filter(id__in=chunk).values_list(
            "id", "created_at", "packed_at"
        ):
            times[pid] = (created_at, packed_at)
    return times


def _pallet_ship_times(codes: list[str]) -> dict[str, dt.datetime]:
    from traceability.models import Pallet

    if not codes:
        return {}
    shipped = Pallet.objects.filter(sscc__in=codes, shipped_at__isnull=False).values_list("sscc", "shipped_at")
    return dict(cast("Iterable[tuple[str, dt.datetime]]", shipped))  # shipped_at__isnull=False: never None


# --- Documents and hashes -------------------------------------------------------------------------------

# The streamed export writes some 12,000 events a second on 2 shared cores (docs/benchmarks.md, "EPCIS export"): a
# lot reaching this many parts (about 40,000 events) answers in 3 to 4 s, its first bytes within a second; above
# it, the export is left to `manage.py export_epcis` rather than a web request.
WEB_EXPORT_MAX_PARTS = 20_000


class ExportTooLarge(DomainError):
    code = "export_too_large"
    http_status = 409


def check_web_export(trace: ForwardTrace) -> None:
    if len(trace.parts) > WEB_EXPORT_MAX_PARTS:
        raise ExportTooLarge(
            f"Lot {trace.lot.lot_key} reached {len(trace.parts):,} parts: its EPCIS export is too large for a web "
            f"request. Run `python manage.py export_epcis --lot {trace.lot.lot_key} --output FILE` instead."
        )


def _with_event_id(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    # eventID second, after type: the order readers expect (it is not part of the hash).
    return {"type": event["type"], "eventID": event_id, **{k: v for k, v in event.items() if k != "type"}}


def document(events: list[dict[str, Any]], *, created_at: dt.datetime | None = None) -> dict[str, Any]:
    """The whole document in memory, each eventID the event's CBV 2.0 Event Hash ID (`traceability.epcis_hash`:
    equal to what GS1's reference package computes over this document)."""
    hashes, _ = epcis_hash.event_hash_ids(events, CONTEXT)
    for event, event_id in zip(events, hashes):
        ordered = _with_event_id(event, event_id)
        event.clear()
        event.update(ordered)
    return _frame(created_at) | {"epcisBody": {"eventList": events}}


def _frame(created_at: dt.datetime | None) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": event_time(created_at or timezone.now()),
        "epcisBody": {"eventList": []},
    }


def part_document(trace: BackwardTrace) -> dict[str, Any]:
    return document(part_events(trace))


def lot_document(trace: ForwardTrace) -> dict[str, Any]:
    return document(lot_events(trace))


# --- Streamed documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonStyle:
    """How a document is written: the streamed text is exactly `json.dumps(document, indent=..., cls=...)`."""

    indent: int | None
    encoder: type[json.JSONEncoder] = json.JSONEncoder


FILE_STYLE = JsonStyle(indent=1)  # `manage.py export_epcis`
WEB_STYLE = JsonStyle(indent=None, encoder=DjangoJSONEncoder)  # what Django's JsonResponse writes

STREAM_CHUNK_CHARS = 64 * 1024


class EventSource(Protocol):
    """Events in document order, iterable more than once; it may also offer `vocabulary()` (see LotEvents)."""

    def __iter__(self) -> Iterator[dict[str, Any]]: ...


class StreamedDocument:
    """The EPCIS document of `events` as text, in pieces of about STREAM_CHUNK_CHARS: the same characters as
    `json.dumps(document(list(events)), ...)` in `style`, with memory bounded by a chunk of events, not by the
    document.

    Every event's hash depends on the document's CBV vocabulary (see `traceability.epcis_hash`). A source that
    can say it in advance (`events.vocabulary()`) is read once; any other is read twice: a first pass collects the
    vocabulary and, when `validate`, checks each event against GS1's schema (raising InvalidDocument before the
    first piece), the second hashes, writes and yields. The hasher checks the vocabulary against the events it
    hashes; a mismatch raises DocumentChanged before the document's last piece. Once iterated, `event_count` and
    `hasher` (`fast` / `fallbacks`) tell what was written."""

    def __init__(
        self,
        events: EventSource,
        *,
        style: JsonStyle = FILE_STYLE,
        created_at: dt.datetime | None = None,
        validate: bool = False,
    ) -> None:
        self.events = events
        self.style = style
        self.created_at = created_at or timezone.now()
        self.validate = validate
        self.event_count = 0
        self.hasher: epcis_hash.EventHasher | None = None

    def __iter__(self) -> Iterator[str]:
        style = self.style
        frame = _frame(self.created_at)
        declared = getattr(self.events, "vocabulary", None)
        if declared is not None and not self.validate:
            hasher = self.hasher = epcis_hash.EventHasher(declared(), context=CONTEXT)
        else:
            vocabulary = epcis_hash.DocumentVocabulary(CONTEXT)
            if self.validate:
                _raise_if_invalid(frame, self.events, vocabulary)
            else:
                for event in self.events:
                    vocabulary.add(event)
            hasher = self.hasher = vocabulary.hasher()

        head, tail = _dumps(frame, style).split('"eventList": []')
        yield head + '"eventList": ['
        if style.indent is None:
            separator, first, last = ", ", "", "]"
        else:
            item = "\n" + " " * (3 * style.indent)  # eventList items sit three levels deep
            separator, first, last = "," + item, item, "\n" + " " * (2 * style.indent) + "]"
        pending: list[str] = []
        size = 0
        count = 0
        for event in self.events:
            text = _dumps(_with_event_id(event, hasher.event_hash(event)), style)
            if style.indent is not None:
                text = text.replace("\n", item)  # JSON strings hold no raw newline: this only indents
            pending.append((separator if count else first) + text)
            size += len(pending[-1])
            count += 1
            if size >= STREAM_CHUNK_CHARS:
                yield "".join(pending)
                pending, size = [], 0
        self.event_count = count
        hasher.check_complete()  # before the document's last piece: an unfinished document if it fails
        yield "".join(pending) + (last if count else "]") + tail
        logger.debug(
            "EPCIS document of %d events: %d hashed by the fast path, %d by GS1's reference code",
            count,
            hasher.fast,
            hasher.fallbacks,
        )


def streamed_part_document(trace: BackwardTrace, **kwargs: Any) -> StreamedDocument:
    return StreamedDocument(part_events(trace), **kwargs)


def streamed_lot_document(trace: ForwardTrace, **kwargs: Any) -> StreamedDocument:
    return StreamedDocument(LotEvents(trace), **kwargs)


def _dumps(value: Any, style: JsonStyle) -> str:
    return json.dumps(value, indent=style.indent, cls=style.encoder)


class InvalidDocument(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("The document does not validate:\n" + "\n".join(errors))
        self.errors = errors


# An eventID of the exact shape every exported event gets: pass 1 checks events before their hashes exist.
_EVENT_ID_SHAPE = "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"


def _raise_if_invalid(
    frame: dict[str, Any], events: EventSource, vocabulary: epcis_hash.DocumentVocabulary, limit: int = 20
) -> None:
    """GS1's schema, one event at a time: the schema checks each eventList item on its own, so a one-event
    document reports the same errors (renumbered to the event's index)."""
    errors = validation_errors(frame)
    for index, event in enumerate(events):
        vocabulary.add(event)
        if len(errors) < limit:
            one = frame | {"epcisBody": {"eventList": [_with_event_id(event, _EVENT_ID_SHAPE)]}}
            errors += [
                e.replace("epcisBody/eventList/0", f"epcisBody/eventList/{index}", 1) for e in validation_errors(one)
            ]
    if errors:
        raise InvalidDocument(errors[:limit])


# --- Validation against GS1's schema, offline -----------------------------------------------------------

_format_checker = FormatChecker()


@_format_checker.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@_format_checker.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+", value) is not None


@lru_cache(maxsize=1)
def validator() -> Draft7Validator:
    """Draft-07 validator of GS1's EPCIS 2.0 JSON schema from `epcis_schema/`. References resolve only against
    the local registry (the schema under its `$id`): nothing is fetched."""
    schema = json.loads((SCHEMA_DIR / "EPCIS-JSON-Schema.json").read_text())
    resource = Resource.from_contents(schema, default_specification=DRAFT7)
    registry: Registry = Registry().with_resources([(schema["$id"], resource)])
    return Draft7Validator(schema, registry=registry, format_checker=_format_checker)


def validation_errors(doc: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}"
        for e in sorted(validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]
