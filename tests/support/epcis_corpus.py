"""A generated corpus of EPCIS events for the event-hash tests: every event type and field TwinWeb's export writes,
built by the export's own builders (`traceability.epcis._making_event`, `_station_event`, `_inspection_event`,
`_packing_events`, `_lot_family_events`) from random inputs, then variants no builder writes today (time zone
offsets, extra extension members, vocabulary look-alikes, old CBV URNs, ...), and events outside the fast path's
whitelist (error declarations, bizLocation, source lists, unknown terms, ...).

Each event carries the path the hasher must take: FAST (the direct pre-hash builder) or FALLBACK (GS1's reference
code); `failing_variant` makes events the reference itself cannot hash. Everything is drawn from a
`random.Random(seed)`: the same seed gives the same corpus.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.test import override_settings

from traceability import epcis
from traceability.choices import StationKind, StationOutcome
from traceability.genealogy import ForwardTrace, InspectionStep, MeasurementStep
from traceability.models import LotLink, MaterialDefinition, MaterialLot, Station, StationEvent

FAST = "fast"
FALLBACK = "fallback"

PLAIN = "abcxyzABCXYZ0123456789"
SAFE_PUNCTUATION = "-._"
PUNCTUATION = "!()*+,:;=/ %#?&'\"<>[]{}|\\^`~@$"
UNICODE = "éüßøåÆŁż部品検査🔩אבلعربيةΩ\u0301\u200b"  # accents, CJK, emoji, RTL, a combining mark, a zero-width space
WHITESPACE = " \t\u00a0\u3000"
# Strings that read as numbers to Python's float(), which the reference canonicalises.
NUMBER_LIKE = [
    "0",
    "007",
    "1.0",
    "1.50",
    "-0",
    "+5",
    "1e3",
    "1E-7",
    "1_000",
    ".5",
    "5.",
    " 42 ",
    "nan",
    "NaN",
    "٣",
    "12345678901234567890",
    "0x10",
    "1,5",
]
# Bare values that are tails of CBV / GS1 vocabulary IRIs: the reference replaces them document-wide.
VOCABULARY_TAILS = [
    "conformant",
    "non_conformant",
    "in_progress",
    "in_transit",
    "packing",
    "shipping",
    "inspecting",
    "commissioning",
    "assembling",
    "prodorder",
    "Length",
    "Mass",
    "Dimensionless",
    "BizStep-packing",
    "Disp-in_progress",
    "cbv/BizStep-shipping",
    "voc/Length",
    "pass",
    "fail",
]
UNITS = [*epcis.UOM, "um", "", "furlong", "KG"]
OFFSETS = ["Z", "+00:00", "-00:00", "+01:00", "+05:30", "+05:45", "-03:30", "+14:00", "-12:00", "+09:00"]


@dataclass
class CorpusEvent:
    path: str  # FAST or FALLBACK
    event: dict[str, Any]
    kind: str  # where it came from, for failure messages


def text(
    rng: random.Random, *, max_len: int = 24, pools: str = PLAIN + SAFE_PUNCTUATION + PUNCTUATION + UNICODE
) -> str:
    value = "".join(rng.choice(pools) for _ in range(rng.randint(0, max_len)))
    if rng.random() < 0.1:
        value = rng.choice(WHITESPACE) + value + rng.choice(WHITESPACE)
    return value


def key_text(rng: random.Random) -> str:
    """A serial, lot key or station code (the builders %-escape them into EPC and plant URIs)."""
    pools = rng.choice([PLAIN + SAFE_PUNCTUATION, PLAIN + PUNCTUATION, PLAIN + UNICODE])
    return text(rng, max_len=rng.choice([8, 20, 30]), pools=pools) or "K"


def moment(rng: random.Random) -> dt.datetime:
    """An aware datetime anywhere from 1971 to 2099, with microseconds, in a random fixed-offset zone."""
    seconds = rng.randint(0, 4_000_000_000)
    utc = dt.datetime(1971, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
        seconds=seconds, microseconds=rng.randint(0, 999_999)
    )
    zone = dt.timezone(dt.timedelta(minutes=rng.choice([0, 60, -300, 330, 345, 540, -720, 840])))
    return utc.astimezone(zone)


def gtin(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(14)) if rng.random() < 0.9 else ""


def sscc_code(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(18))


def number(rng: random.Random) -> float | int:
    return rng.choice(
        [
            round(rng.uniform(-1000, 1000), rng.randint(0, 6)),
            rng.uniform(0, 1e-6),
            rng.uniform(1e15, 1e22),
            float(rng.randint(-50, 50)),
            -0.0,
            0.1 + 0.2,
            rng.randint(-(10**6), 10**6),
            rng.randint(2**53, 2**64),
        ]
    )


def scalar(rng: random.Random) -> Any:
    """A value a station parameter or an extension member may hold."""
    kind = rng.random()
    if kind < 0.35:
        return text(rng)
    if kind < 0.5:
        return rng.choice(NUMBER_LIKE)
    if kind < 0.62:
        return rng.choice(VOCABULARY_TAILS)
    if kind < 0.68:
        return rng.choice(
            [
                "twinweb:" + key_text(rng),
                "urn:epcglobal:cbv:bizstep:shipping",
                "urn:epcglobal:cbv:disp:in_progress",
                "http://example.com/a.b",
                "urn:uuid:" + str(uuid.UUID(int=rng.getrandbits(128))),
                "",
                "   ",
            ]
        )
    if kind < 0.8:
        return number(rng)
    return rng.random() < 0.5


def parameter_name(rng: random.Random) -> str:
    return rng.choice("abcxyz_") + "".join(rng.choice(PLAIN + "_-") for _ in range(rng.randint(0, 12)))


def material_lot(rng: random.Random) -> MaterialLot:
    material = MaterialDefinition(code="m", name="m", unit=rng.choice(UNITS), gtin=gtin(rng))
    return MaterialLot(lot_key=key_text(rng), material=material)


def quantity(rng: random.Random) -> Decimal:
    return rng.choice(
        [
            Decimal(rng.randint(1, 5000)),
            Decimal(str(round(rng.uniform(0.001, 999), 3))),
            Decimal("0.420"),
            Decimal("1"),
            Decimal("1E+3"),
            Decimal("0.000001"),
        ]
    )


def epc(rng: random.Random) -> str:
    return epcis.sgtin(gtin(rng), key_text(rng))


# --- Events the export's builders write -----------------------------------------------------------------


def making_event(rng: random.Random) -> dict[str, Any]:
    lots = [(material_lot(rng), quantity(rng)) for _ in range(rng.choice([0, 0, 1, 2, 3]))]
    components = [epc(rng) for _ in range(rng.choice([0, 0, 1, 2, 4]))]
    return epcis._making_event(
        epc(rng),
        at=moment(rng),
        lots=lots,
        component_epcs=components,
        batch_number=key_text(rng) if rng.random() < 0.8 else None,
        read_point=epcis._local("cell", key_text(rng)) if rng.random() < 0.5 else None,
    )


def station_event(rng: random.Random) -> dict[str, Any]:
    kinds = [*StationKind.values, "paint_booth"]
    outcomes = [*StationOutcome.values, "aborted"]
    entered = moment(rng)
    event = StationEvent(
        station=Station(code=key_text(rng), name="s", kind=rng.choice(kinds), position=1),
        entered_at=entered,
        left_at=entered + dt.timedelta(seconds=rng.uniform(0, 90)) if rng.random() < 0.8 else None,
        outcome=rng.choice(outcomes),
        parameters={parameter_name(rng): scalar(rng) for _ in range(rng.choice([0, 1, 2, 5]))},
    )
    return epcis._station_event(event, epc(rng), rng.choice(["", key_text(rng)]))


def inspection_event(rng: random.Random) -> dict[str, Any]:
    captured = moment(rng)
    measurements = tuple(
        MeasurementStep(
            name=text(rng, max_len=16) or "f",
            kind="diameter",
            value=None if rng.random() < 0.15 else number(rng),
            nominal=float(number(rng)),
            lower_tol=-abs(rng.uniform(0, 0.5)),
            upper_tol=abs(rng.uniform(0, 0.5)),
            unit=rng.choice(["mm", "m", "um", "deg", "s", "kg", "g", "MM", "", "px"]),
            passed=rng.random() < 0.7,
        )
        for _ in range(rng.choice([0, 1, 2, 7]))
    )
    step = InspectionStep(
        key=str(uuid.UUID(int=rng.getrandbits(128))),
        part_id=1,
        station_id=1,
        station_code=key_text(rng),
        device_id=rng.choice([None, key_text(rng)]),
        verdict=rng.choice(["pass", "fail", "uncertain"]),
        reason="",
        defect_class=rng.choice(["", text(rng), rng.choice(VOCABULARY_TAILS)]),
        defect_confidence=None,
        model_version=rng.choice(["", "flange-cls-1.2.0", text(rng)]),
        backend="onnxruntime",
        captured_at=captured,
        inspected_at=captured + dt.timedelta(milliseconds=rng.randint(0, 5000)),
        needs_review=False,
        reviewer=rng.choice([None, text(rng, pools=PLAIN + UNICODE + " ")]),
        failure_case_id=None,
        measurements=measurements,
    )
    return epcis._inspection_event(step, epc(rng), rng.choice(["", key_text(rng)]))


def packing_events(rng: random.Random) -> list[dict[str, Any]]:
    packed = {moment(rng): [epc(rng) for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(1, 3))}
    return epcis._packing_events(sscc_code(rng), rng.choice(["shipped", "closed", None]), moment(rng), packed)


def lot_family_events(rng: random.Random) -> list[dict[str, Any]]:
    lots = {i: material_lot(rng) for i in range(1, 6)}
    at = moment(rng)
    links = []
    for link_id in range(1, rng.randint(2, 6)):
        parent, child = rng.sample(sorted(lots), 2)
        links.append(
            LotLink(
                id=link_id,
                parent_id=parent,
                child_id=child,
                kind=rng.choice(["split", "merge"]),
                quantity=quantity(rng),
                linked_at=at + dt.timedelta(hours=rng.choice([0, 0, 1])),
            )
        )
    trace = ForwardTrace(lot=lots[1], lots=lots, lot_links=links, sources={}, source_links=[], parts=[])
    return epcis._lot_family_events(trace)


def built_events(rng: random.Random) -> list[dict[str, Any]]:
    """One draw of each builder, under a random GS1 company prefix length (it moves the EPC URIs' partition)."""
    with override_settings(GS1_COMPANY_PREFIX_LENGTH=rng.choice([6, 7, 7, 7, 9, 12])):
        builders = [making_event, station_event, inspection_event]
        events = [rng.choice(builders)(rng) for _ in range(3)]
        if rng.random() < 0.3:
            events += packing_events(rng)
        if rng.random() < 0.2:
            events += lot_family_events(rng)
    return events


# --- Variants the fast path accepts although no builder writes them (yet) --------------------------------


def timestamp_text(rng: random.Random, at: dt.datetime) -> str:
    """`at` written with any offset and 0 to 6 fraction digits, avoiding the one rounding the reference fails on."""
    offset = rng.choice(OFFSETS)
    zone = (
        dt.timezone.utc
        if offset in ("Z", "+00:00", "-00:00")
        else dt.timezone(
            (-1 if offset[0] == "-" else 1) * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
        )
    )
    local = at.astimezone(zone)
    digits = rng.choice([0, 1, 3, 3, 4, 6])
    micro = rng.choice([local.microsecond, 500, 1500, 2500, 123456, 999_499])
    local = local.replace(microsecond=micro)
    fraction = f".{local.microsecond:06d}"[: digits + 1] if digits else ""
    return local.strftime("%Y-%m-%dT%H:%M:%S") + fraction + offset


def fast_variant(rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for _ in range(rng.randint(1, 4)):
        change = rng.randrange(9)
        if change == 0:
            event["eventTime"] = timestamp_text(rng, moment(rng))
            event["eventTimeZoneOffset"] = rng.choice(OFFSETS[1:])
        elif change == 1:
            event[f"twinweb:{parameter_name(rng)}"] = scalar(rng)
        elif change == 2:
            event[f"twinweb:{parameter_name(rng)}"] = {
                f"twinweb:{parameter_name(rng)}": scalar(rng) for _ in range(rng.randint(0, 3))
            }
        elif change == 3 and "sensorElementList" in event:
            element = event["sensorElementList"][0]
            element["sensorMetadata"]["time"] = timestamp_text(rng, moment(rng))
            for report in element["sensorReport"]:
                for name in rng.sample(["meanValue", "sDev", "stringValue", "booleanValue", "time", "deviceID"], 2):
                    report[name] = {
                        "meanValue": number(rng),
                        "sDev": abs(number(rng)),
                        "stringValue": text(rng),
                        "booleanValue": rng.random() < 0.5,
                        "time": timestamp_text(rng, moment(rng)),
                        "deviceID": "urn:twinweb:device:" + key_text(rng),
                    }[name]
                report[f"twinweb:{parameter_name(rng)}"] = scalar(rng)
        elif change == 4 and "bizTransactionList" in event:
            pair = event["bizTransactionList"][0]
            event["bizTransactionList"] = [
                {"bizTransaction": pair["bizTransaction"], "type": pair["type"]},  # the other member order
                {
                    "type": rng.choice(["po", "desadv", "prodorder"]),
                    "bizTransaction": "urn:twinweb:po:" + key_text(rng),
                },
            ]
        elif change == 5:
            event["eventID"] = "ni:///sha-256;" + "%064x" % rng.getrandbits(256) + "?ver=CBV2.0"  # never hashed
        elif change == 6:
            event["disposition"] = rng.choice(["conformant", "in_progress", "damaged", "recalled", "unknown"])
            event["bizStep"] = rng.choice(["other", "packing", "receiving", "sensor_reporting", "void_shipping"])
        elif change == 7:
            for key in epcis_list_keys(event):
                event[key] = event[key] + [epc(rng) for _ in range(rng.randint(0, 3))] + event[key][:1]  # duplicates
        else:
            event["type"] = rng.choice(["AssociationEvent", "TransactionEvent", event["type"]])
    return event


def epcis_list_keys(event: dict[str, Any]) -> list[str]:
    return [k for k in ("epcList", "inputEPCList", "outputEPCList", "childEPCs") if k in event]


# --- Events outside the whitelist: hashed by the reference ----------------------------------------------


def fallback_variant(rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    change = rng.randrange(22)
    if change == 0:
        event["errorDeclaration"] = {
            "declarationTime": "2024-01-01T00:00:00.000Z",
            "reason": rng.choice(["incorrect_data", "did_not_occur"]),
        }
    elif change == 1:
        event["bizLocation"] = {"id": "urn:epc:id:sgln:7891234.00001.0"}
    elif change == 2:
        event["sourceList"] = [{"type": "owning_party", "source": "urn:epc:id:pgln:7891234.00001"}]
    elif change == 3:
        event["persistentDisposition"] = {"set": ["completeness_verified"]}
    elif change == 4:
        event["ilmd"] = {"twinweb:heat": "H-" + key_text(rng)}
    elif change == 5:
        event["recordTime"] = "2024-01-01T00:00:00.000Z"
    elif change == 6:
        event["bizStep"] = rng.choice(
            [
                "urn:epcglobal:cbv:bizstep:shipping",
                "https://ref.gs1.org/cbv/BizStep-shipping",
                "making",
                "cbv:BizStep-packing",
            ]
        )
    elif change == 7:
        event["disposition"] = rng.choice(
            [
                "https://ref.gs1.org/cbv/Disp-conformant",
                "https://ref.gs1.org/cbv/Foo-pass",
                "https://ref.gs1.org/cbv/Disp-in_progress",
                "scrapped",
            ]
        )
    elif change == 8:
        event[f"twinweb:{parameter_name(rng)}List"] = scalar(rng)
    elif change == 9:
        event[f"twinweb:{parameter_name(rng)}"] = [scalar(rng), scalar(rng)]
    elif change == 10:
        event[f"twinweb:{parameter_name(rng)}"] = rng.choice(
            ["https://gs1.org/voc/Length", "https://ref.gs1.org/cbv/x-pass"]
        )
    elif change == 11:
        event["epcList"] = ["urn:epc:id:sgln:7891234.00001.0", *event.get("epcList", [])]
    elif change == 12:
        event["twinweb:link"] = "https://id.gs1.org/01/09506000134352/21/" + key_text(rng)
    elif change == 13:
        event["eventTime"] = rng.choice(
            [
                "2024-01-01T00:00:00.1234567Z",
                "2024-01-01 00:00:00Z",
                "yesterday",
                "2024-02-30T00:00:00Z",
                "2024-01-01T00:00:00",
            ]
        )
    elif change == 14:
        event["readPoint"] = {"id": "urn:twinweb:station:x", "twinweb:floor": "2"}
    elif change == 15:
        event["twinweb:missing"] = None
    elif change == 16:
        event["ext:notDeclared"] = "x"
    elif change == 17:
        event["quantityList"] = [{"epcClass": "urn:epc:class:lgtin:7891234.000901.L1", "quantity": 2.0, "uom": "KGM"}]
    elif change == 18:
        event["sensorElementList"] = [
            {
                "sensorMetadata": {"time": "2024-01-01T00:00:00.000Z"},
                "sensorReport": [{"type": "Length", "value": 1.5, "twinweb:transaction": "t"}],
            }
        ]
    elif change == 19:
        event["sensorElementList"] = [
            {"sensorReport": [{"type": rng.choice(["Sharpness", "gs1:Length", "temperature"]), "value": 3.0}]}
        ]
    elif change == 20:
        event["bizTransactionList"] = [
            {
                "type": rng.choice(["prodorder", "workorder"]),
                "bizTransaction": rng.choice(["urn:twinweb:batch:B1", "https://example.com/po/1"]),
            }
        ]
        event["bizTransactionList"][0]["twinweb:note"] = "n"
    else:
        del event["eventTime"]
    return event


def failing_variant(rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    """Events GS1's reference code itself cannot hash (it drops them): the fast path must not hash them either."""
    event = copy.deepcopy(event)
    if rng.random() < 0.5:
        event["twinweb:reading"] = rng.choice(["inf", "-Infinity", "1e400"])
    else:
        event["eventTime"] = "2024-01-01T00:00:00.9999Z"  # rounds to a millisecond past the second
    return event


def corpus(seed: int, size: int) -> list[CorpusEvent]:
    """About `size` events: three quarters as the builders write them, the rest variants and fallbacks."""
    rng = random.Random(seed)
    out: list[CorpusEvent] = []
    while len(out) < size:
        for event in built_events(rng):
            roll = rng.random()
            if roll < 0.7:
                out.append(CorpusEvent(FAST, event, "built"))
            elif roll < 0.9:
                out.append(CorpusEvent(FAST, fast_variant(rng, event), "variant"))
            else:
                out.append(CorpusEvent(FALLBACK, fallback_variant(rng, event), "fallback"))
    return out[:size]
