"""CBV 2.0 Event Hash IDs of the events TwinWeb exports, computed directly from each event's dict.

GS1's reference implementation (`epcis-event-hash-generator`) expands the whole document as JSON-LD, rebuilds every
event as a tree of (name, value, children) tuples shaped like its XML form, and walks that tree. It costs about
0.6 ms per event. This module writes the same pre-hash string straight from the dict, for the keys and shapes
TwinWeb writes, and gives every other event to the reference code: same bytes in, same hash out.

What the reference does, and what this module reproduces (quirks included, since equality is the point):

- The pre-hash string is `eventType=<type>`, then the fields of CBV 2.0's canonical order (`eventTime`,
  `eventTimeZoneOffset`, `parentID`, `epcList`, ..., `readPoint`, ..., `sensorElementList`), then everything left
  over (user extensions, and `bizTransactionList`, whose ordered template never matches its JSON shape), each
  rendered as `name=value` and sorted as strings. `eventID`, `recordTime` and `errorDeclaration` never count.
- A value is stripped, then: a key with "time" in its name (not "offset") in the ordered part is re-written as UTC
  at milliseconds; anything else has its old CBV URNs rewritten, numbers written the shortest way ("1.0" -> "1"),
  and EPC URIs (SGTIN, LGTIN, SSCC here) turned into canonical GS1 Digital Link URIs.
- Before that, "bare string" values are replaced by CBV/GS1 vocabulary IRIs: the reference expands the whole
  document, keeps every expanded value that starts with `https://ref.gs1.org/cbv` or `https://gs1.org/voc` (the
  document's *vocabulary*), and replaces *any* string value of *any* event that is the tail of exactly one of
  them (after a "-" or "/"). So an event's hash depends on the vocabulary of the whole document: a
  `twinweb:outcome` of "in_progress" becomes `https://ref.gs1.org/cbv/Disp-in_progress` when some event of the
  document has that disposition. Hashing therefore takes the document's vocabulary: collected from its events
  (`document_vocabulary`, a first pass when streamed) or said in advance by the event source, and in both cases
  checked against every event hashed (`EventHasher`).
- Keys and values with a declared namespace prefix (`twinweb:`) are written with the namespace IRI.

An event is hashed here only when every key and value falls inside what this module can show equal (the
whitelist below, proven event by event against the reference by tests/traceability/test_epcis_hash.py on a
generated corpus); anything else raises `_Unprovable` internally and the event is hashed by the reference, with
the same document vocabulary. `EventHasher.fast` / `.fallbacks` count which path each event took.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

CONTEXT_FILE = Path(__file__).resolve().parent / "epcis_schema" / "epcis-context.jsonld"
VOCABULARY_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")  # what the reference keeps after expanding
EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransformationEvent", "AssociationEvent", "TransactionEvent"}
)
ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})
EPC_LIST_KEYS = ("epcList", "inputEPCList", "childEPCs", "outputEPCList")  # lists of URIs, written `<key>epc=..`
QUANTITY_LIST_KEYS = ("inputQuantityList", "outputQuantityList")
QUANTITY_KEYS = ("epcClass", "quantity", "uom")
SENSOR_METADATA_KEYS = ("time", "deviceID")
# The reference's sensorReport order, restricted to keys TwinWeb writes or may write as plain literals.
SENSOR_REPORT_KEYS = (
    "type",
    "deviceID",
    "time",
    "value",
    "stringValue",
    "booleanValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "uom",
)
URI_KEYS = frozenset({"parentID", "epcClass", "id", "bizTransaction", "deviceID"})  # @id-typed in the context
TOP_LEVEL_KEYS = frozenset(
    {
        "type",
        "eventID",
        "eventTime",
        "eventTimeZoneOffset",
        "parentID",
        *EPC_LIST_KEYS,
        *QUANTITY_LIST_KEYS,
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizTransactionList",
        "sensorElementList",
    }
)
EXTENSION_KEY = re.compile(r"(?P<prefix>[A-Za-z_][A-Za-z0-9_]*):(?P<name>[A-Za-z_][A-Za-z0-9_\-]*)")
UTC_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)

# EPC URIs the reference turns into GS1 Digital Link URIs (TDS 2.0 grammar, as the reference matches it).
_EPC_CHAR = (
    r"(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-])"
)
_GTIN_PARTITION = (
    r"((\d{6}\.\d{7})|(\d{7}\.\d{6})|(\d{8}\.\d{5})|(\d{9}\.\d{4})|(\d{10}\.\d{3})|(\d{11}\.\d{2})|(\d{12}\.\d{1}))"
)
SGTIN = re.compile(r"^urn:epc:id:sgtin:" + _GTIN_PARTITION + r"\." + _EPC_CHAR + r"{1,20}$")
LGTIN = re.compile(r"^urn:epc:class:lgtin:" + _GTIN_PARTITION + r"\." + _EPC_CHAR + r"{1,20}$")
SSCC = re.compile(
    r"^urn:epc:id:sscc:((\d{6}\.\d{11}$)|(\d{7}\.\d{10}$)|(\d{8}\.\d{9}$)|(\d{9}\.\d{8}$)|(\d{10}\.\d{7}$)"
    r"|(\d{11}\.\d{6}$)|(\d{12}\.\d{5}$))"
)
# A Digital Link URI the reference would normalise needs a primary key's AI followed by digits, or a 10-letter
# compressed path; without either, an http(s) value is left as it is.
_DL_KEY = re.compile(
    r"/(01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti"
    r"|401|ginc|402|gsin|8003|grai|8004|giai)/\d{4}"
)
_DL_COMPRESSED = re.compile(r"^https?:(//[^/?#]*)?/[A-Za-z_-]{10}$")
_CANONICAL_CACHE_SIZE = 4096


class DocumentChanged(RuntimeError):
    """The events hashed do not have the vocabulary the document was said to have: the hashes would be wrong."""


class _Unprovable(Exception):
    """The event has something the fast path cannot show equal to the reference: hash it with the reference."""


# --- The context's vocabularies -------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _context() -> dict[str, Any]:
    return json.loads(CONTEXT_FILE.read_text())["@context"]  # type: ignore[no-any-return]


def _expand_terms(terms: dict[str, str]) -> dict[str, str]:
    prefixes = {name: iri for name, iri in _context().items() if isinstance(iri, str) and iri.startswith("http")}
    expanded = {}
    for term, compact in terms.items():
        prefix, _, rest = compact.partition(":")
        expanded[term] = prefixes[prefix] + rest
    return expanded


@lru_cache(maxsize=1)
def vocabularies() -> dict[str, dict[str, str]]:
    """Bare value -> IRI of each vocabulary-typed field TwinWeb writes, read from the EPCIS 2.0 context (the
    package's own copy is the same file; a test checks). JSON-LD expands a bare value of these fields to that IRI."""
    ctx = _context()
    sensor = ctx["sensorElementList"]["@context"]["sensorReport"]["@context"]["type"]["@context"]
    return {
        "bizStep": _expand_terms(ctx["bizStep"]["@context"]),
        "disposition": _expand_terms(ctx["disposition"]["@context"]),
        "bizTransactionType": _expand_terms(ctx["bizTransactionList"]["@context"]["type"]["@context"]),
        "measurementType": _expand_terms({k: v for k, v in sensor.items() if not k.startswith("@")}),
    }


def _vocabulary_iri(field: str, value: Any) -> str:
    if not isinstance(value, str) or value not in vocabularies()[field]:
        raise _Unprovable(f"{field} {value!r} is not a term of the EPCIS context")
    return vocabularies()[field][value]


def _check_literal(value: Any) -> None:
    """A literal or URI value the JSON-LD expansion keeps as it is: it adds nothing to the vocabulary unless it
    starts like a vocabulary IRI (then the fast path leaves it to the reference)."""
    if isinstance(value, str):
        if value.startswith(VOCABULARY_PREFIXES):
            raise _Unprovable("a literal that reads as a CBV/GS1 vocabulary IRI")
    elif isinstance(value, int):  # bool included
        pass
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Unprovable("a non-finite number")
    else:
        raise _Unprovable(f"a {type(value).__name__} value")


def _check_uri(value: Any) -> None:
    """URI-typed fields: an absolute `urn:` URI expands to itself (a compact IRI such as `cbv:x` would not)."""
    if not isinstance(value, str) or not value.startswith("urn:"):
        raise _Unprovable("a URI-typed value that is not an absolute urn: URI")


def event_vocabulary(event: dict[str, Any], prefixes: Mapping[str, str]) -> frozenset[str]:
    """The CBV/GS1 vocabulary IRIs JSON-LD expansion finds in this event, or _Unprovable. This is also the
    whitelist of the pre-hash builder: every key and value is either vocabulary-typed (a term of the context),
    a URI, or a literal, in the shapes TwinWeb writes; anything else raises."""
    found: set[str] = set()
    if "eventTime" not in event:  # without it the reference would set top-level extensions apart
        raise _Unprovable("an event without eventTime")
    for key, value in event.items():
        if key == "type":
            if value not in EVENT_TYPES:
                raise _Unprovable(f"event type {value!r}")
        elif key == "action":
            if value not in ACTIONS:
                raise _Unprovable(f"action {value!r}")
        elif key in ("bizStep", "disposition"):
            found.add(_vocabulary_iri(key, value))
        elif key in ("eventID", "eventTime", "eventTimeZoneOffset"):
            _check_literal(value)
        elif key == "parentID":
            _check_uri(value)
        elif key in EPC_LIST_KEYS:
            for epc in _list(value):
                _check_uri(epc)
        elif key in QUANTITY_LIST_KEYS:
            for element in _list(value):
                _check_object(element, QUANTITY_KEYS)
                for name, item in element.items():
                    (_check_uri if name in URI_KEYS else _check_literal)(item)
        elif key == "readPoint":
            _check_object(value, ("id",), required=("id",))
            _check_uri(value["id"])
        elif key == "bizTransactionList":
            for element in _list(value):
                # exactly these two: the reference pairs an element's first two members, whatever they are
                _check_object(element, ("type", "bizTransaction"), required=("type", "bizTransaction"))
                found.add(_vocabulary_iri("bizTransactionType", element["type"]))
                _check_uri(element["bizTransaction"])
        elif key == "sensorElementList":
            for element in _list(value):
                _check_object(element, ("sensorMetadata", "sensorReport"))
                metadata = element.get("sensorMetadata", {})
                _check_object(metadata, SENSOR_METADATA_KEYS, empty_allowed=True)
                for name, item in metadata.items():
                    (_check_uri if name in URI_KEYS else _check_literal)(item)
                for report in _list(element.get("sensorReport", [])):
                    found |= _sensor_report_vocabulary(report, prefixes)
        elif _extension_key(key, prefixes):
            if isinstance(value, dict):
                for name, item in value.items():
                    if not _extension_key(name, prefixes):
                        raise _Unprovable(f"{key}.{name}")
                    _check_literal(item)
            else:
                _check_literal(value)
        else:
            raise _Unprovable(f"key {key!r}")
    return frozenset(found)


def _sensor_report_vocabulary(report: Any, prefixes: Mapping[str, str]) -> set[str]:
    if not isinstance(report, dict) or "type" not in report:
        raise _Unprovable("a sensorReport without a type")
    found = {_vocabulary_iri("measurementType", report["type"])}
    for name, item in report.items():
        if name in SENSOR_REPORT_KEYS:
            if name != "type":
                (_check_uri if name in URI_KEYS else _check_literal)(item)
        elif _extension_key(name, prefixes):
            # The reference sets a nested object's extensions apart only when its namespace IRI ends in "/" and
            # none of the object's members has "eventTime" or "action" in its (expanded) name.
            namespace = prefixes[name.partition(":")[0]]
            if (
                not namespace.endswith("/")
                or "eventTime" in namespace
                or "action" in namespace
                or "eventTime" in name
                or "action" in name
            ):
                raise _Unprovable(f"sensorReport extension {name!r}")
            _check_literal(item)
        else:
            raise _Unprovable(f"sensorReport.{name}")
    return found


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Unprovable("a list field that is not a list")
    return value


def _check_object(
    value: Any, allowed: tuple[str, ...], required: tuple[str, ...] = (), empty_allowed: bool = False
) -> None:
    if (
        not isinstance(value, dict)
        or (not value and not empty_allowed)
        or any(k not in allowed for k in value)
        or any(k not in value for k in required)
    ):
        raise _Unprovable(f"an object with members other than {allowed}")


def _extension_key(key: str, prefixes: Mapping[str, str]) -> bool:
    """A user extension key the fast path writes: `prefix:name` with a prefix the document's context declares,
    and a name the reference's XML-shaped rewrite leaves alone (it regroups `...List` members)."""
    match = EXTENSION_KEY.fullmatch(key)
    return match is not None and match["prefix"] in prefixes and not match["name"].endswith("List")


def reference_vocabulary(event: dict[str, Any], context: list[Any]) -> frozenset[str]:
    """The vocabulary the reference finds in one event: expand a one-event document with pyld, as it does. JSON-LD
    expands each event of a document on its own, so the union over events is the document's vocabulary."""
    from epcis_event_hash_generator import json_to_py
    from pyld import jsonld

    with _quiet_reference():
        expanded = jsonld.expand(_document([copy.deepcopy(event)], context))
    values: list[str] = []
    json_to_py._find_expanded_values(expanded, values)
    return frozenset(v for v in values if v.startswith(VOCABULARY_PREFIXES))


def _document(events: list[dict[str, Any]], context: list[Any]) -> dict[str, Any]:
    return {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2000-01-01T00:00:00.000Z",
        "epcisBody": {"eventList": events},
    }


@contextmanager
def _quiet_reference() -> Iterator[None]:
    """The reference logs every event on the root logger at INFO (whole documents at DEBUG)."""
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.INFO))
    try:
        yield
    finally:
        logging.disable(previous)


# --- The hasher -----------------------------------------------------------------------------------------


def _check_digit(digits: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _dl_escape(text: str) -> str:
    return (
        text.replace("!", "%21")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("*", "%2A")
        .replace("+", "%2B")
        .replace(",", "%2C")
        .replace(":", "%3A")
    )


def _digital_link(text: str) -> str | None:
    """The reference's Digital Link normaliser for the URIs TwinWeb writes: SGTIN, LGTIN, SSCC; None where it
    returns None; _Unprovable for any other EPC URI or a URL it might rewrite."""
    if "." not in text:
        return None
    if text.startswith("urn:epc:id:sgtin:"):
        if not SGTIN.match(text):
            return None
        prefix, rest = text[17:].split(".", 1)
        gtin = rest[0] + prefix + rest[1 : 13 - len(prefix)]
        return f"https://id.gs1.org/01/{gtin}{_check_digit(gtin)}/21/{_dl_escape(text[32:])}"
    if text.startswith("urn:epc:class:lgtin:"):
        if not LGTIN.match(text):
            return None
        prefix, rest = text[20:].split(".", 1)
        gtin = rest[0] + prefix + rest[1 : 13 - len(prefix)]
        return f"https://id.gs1.org/01/{gtin}{_check_digit(gtin)}/10/{_dl_escape(text[35:])}"
    if text.startswith("urn:epc:id:sscc:"):
        if not SSCC.match(text):
            return None
        prefix, rest = text[16:].split(".", 1)
        sscc = rest[0] + prefix + rest[1:]
        return f"https://id.gs1.org/00/{sscc}{_check_digit(sscc)}"
    if text.startswith("urn:epc:"):
        raise _Unprovable("an EPC URI scheme the fast path does not write")
    if text.startswith("http") and (_DL_KEY.search(text) or _DL_COMPRESSED.match(text)):
        raise _Unprovable("a URL that may be a GS1 Digital Link URI")
    return None


def _utc_milliseconds(text: str) -> str:
    """The reference's timestamp form: UTC, milliseconds (rounded half to even, as Python's round), `Z`."""
    match = UTC_TIME.fullmatch(text)
    if not match:
        raise _Unprovable("a timestamp in a form the fast path does not parse")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if int(year) < 1000 or (offset != "Z" and int(offset[4:6]) >= 60):
        raise _Unprovable("a year before 1000, or an offset with 60 minutes or more")
    try:
        zone = (
            dt.timezone.utc
            if offset == "Z"
            else dt.timezone(
                (-1 if offset[0] == "-" else 1) * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            )
        )
        moment = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=zone,
        ).astimezone(dt.timezone.utc)
    except (ValueError, OverflowError) as error:
        raise _Unprovable(f"timestamp: {error}") from error
    microsecond = round(moment.microsecond, -3)
    if microsecond == 1_000_000 or moment.year < 1000:
        raise _Unprovable("a timestamp the reference would fail on or write differently")
    return moment.replace(microsecond=microsecond).isoformat(timespec="milliseconds")[:-6] + "Z"


class EventHasher:
    """Hashes the events of one document. `vocabulary` is the document's (`document_vocabulary`): the bare string
    replacement in every event depends on it. `fast` and `fallbacks` count the events each path hashed.

    It checks what it is told: an event whose own vocabulary is not all in the document's raises DocumentChanged,
    and `check_complete()` raises unless the events hashed brought the whole of it (a document vocabulary declared
    in advance, or read in a first pass over events that then changed, would give other hashes than the
    reference's on the document actually written)."""

    def __init__(self, vocabulary: Iterable[str], *, context: list[Any]) -> None:
        self.vocabulary = frozenset(vocabulary)
        self.context = context
        self.fast = 0
        self.fallbacks = 0
        self.fallback_reasons: Counter[str] = Counter()
        self.seen: set[str] = set()
        tails: dict[str, set[str]] = {}
        for iri in self.vocabulary:
            for i, char in enumerate(iri):
                if char in "-/":
                    tails.setdefault(iri[i + 1 :], set()).add(iri)
        # A value is replaced only when it is the tail of exactly one IRI (several: left alone, as the reference).
        self._replacement = {tail: iris.pop() for tail, iris in tails.items() if len(iris) == 1}
        self._namespaces = namespaces(context)
        self._canonical: dict[str, str] = {}

    def event_hash(self, event: dict[str, Any]) -> str:
        try:
            own = event_vocabulary(event, self._namespaces)  # the whitelist (and the event's share of vocabulary)
        except _Unprovable as reason:
            self._count(reference_vocabulary(event, self.context))
            self.fallbacks += 1
            self.fallback_reasons[str(reason)] += 1
            return reference_event_hash(event, self.vocabulary, self.context)
        self._count(own)
        try:
            pre_hash = self._pre_hash(event)
        except _Unprovable as reason:
            self.fallbacks += 1
            self.fallback_reasons[str(reason)] += 1
            return reference_event_hash(event, self.vocabulary, self.context)
        self.fast += 1
        return "ni:///sha-256;" + hashlib.sha256(pre_hash.encode("utf-8")).hexdigest() + "?ver=CBV2.0"

    def check_complete(self) -> None:
        if self.seen != self.vocabulary:
            raise DocumentChanged(
                f"the document's vocabulary was said to hold {sorted(self.vocabulary - self.seen)}, "
                "which none of its events has"
            )

    def _count(self, own: frozenset[str]) -> None:
        if not own <= self.vocabulary:
            raise DocumentChanged(
                f"an event brings {sorted(own - self.vocabulary)}, not in the document's vocabulary "
                "(did the events change between two passes?)"
            )
        self.seen |= own

    def pre_hash(self, event: dict[str, Any]) -> str:
        """The reference's pre-hash string of the event, or _Unprovable."""
        event_vocabulary(event, self._namespaces)
        return self._pre_hash(event)

    def _pre_hash(self, event: dict[str, Any]) -> str:
        ordered: list[str] = []
        for key in ("eventTime", "eventTimeZoneOffset", "parentID"):
            if key in event:
                ordered.append(self._ordered_leaf(key, event[key]))
        for key in ("epcList", "inputEPCList", "childEPCs", "inputQuantityList", "outputEPCList", "outputQuantityList"):
            if key in QUANTITY_LIST_KEYS and key in event:
                ordered.append(
                    self._wrap(
                        key, [self._ordered_group("quantityElement", element, QUANTITY_KEYS) for element in event[key]]
                    )
                )
            elif key in event:
                ordered.append(self._wrap(key, [self._ordered_leaf("epc", epc) for epc in event[key]]))
        for key in ("action", "bizStep", "disposition"):
            if key in event:
                ordered.append(self._ordered_leaf(key, event[key]))
        if "readPoint" in event:
            ordered.append(self._wrap("readPoint", [self._ordered_leaf("id", event["readPoint"]["id"])]))
        if "sensorElementList" in event:
            ordered.append(
                self._wrap(
                    "sensorElementList", [self._sensor_element(element) for element in event["sensorElementList"]]
                )
            )
        # The rest, sorted: user extensions, and bizTransactionList (its template in the reference's canonical
        # order never matches the JSON shape, so it always lands here).
        rest = [
            self._generic(key, value)
            for key, value in event.items()
            if (key not in TOP_LEVEL_KEYS or key == "bizTransactionList") and value != []
        ]
        return "eventType=" + self._bare(event["type"]) + "".join(ordered) + "".join(sorted(rest))

    # The reference's rendering, piece by piece

    @staticmethod
    def _wrap(name: str, children: list[str]) -> str:
        """An element with children: its name, then its children's strings sorted, unless all are empty."""
        joined = "".join(sorted(children))
        return name + joined if joined else ""

    def _ordered_leaf(self, name: str, value: Any) -> str:
        text = self._text(value)
        if text:
            lowered = name.lower()
            text = (
                _utc_milliseconds(text)
                if "time" in lowered and "offset" not in lowered
                else self._canonical_value(text)
            )
        return f"{name}={text}" if text else ""

    def _ordered_group(self, name: str, value: dict[str, Any], order: tuple[str, ...]) -> str:
        inner = "".join(self._ordered_leaf(key, value[key]) for key in order if key in value)
        return name + inner if inner else ""

    def _sensor_element(self, element: dict[str, Any]) -> str:
        metadata = self._ordered_group("sensorMetadata", element.get("sensorMetadata", {}), SENSOR_METADATA_KEYS)
        reports = "".join(sorted(self._sensor_report(report) for report in element.get("sensorReport", [])))
        inner = metadata + reports
        return "sensorElement" + inner if inner else ""

    def _sensor_report(self, report: dict[str, Any]) -> str:
        inner = "".join(self._ordered_leaf(key, report[key]) for key in SENSOR_REPORT_KEYS if key in report)
        inner += "".join(
            sorted(self._generic(key, value) for key, value in report.items() if key not in SENSOR_REPORT_KEYS)
        )
        return "sensorReport" + inner if inner else ""

    def _generic(self, key: str, value: Any) -> str:
        """An element outside the canonical order: its (expanded) name, `=value` unless the value is empty, then
        its children sorted."""
        if key == "bizTransactionList":
            # Each (type, bizTransaction) pair keeps its JSON member order; the pairs are sorted.
            return key + "".join(
                sorted("".join(self._generic(name, item) for name, item in element.items()) for element in value)
            )
        name = self._expanded_key(key)
        if isinstance(value, dict):
            return name + "".join(sorted(self._generic(k, v) for k, v in value.items()))
        text = self._text(value)
        return f"{name}={self._canonical_value(text)}" if text else name

    def _expanded_key(self, key: str) -> str:
        prefix, colon, name = key.partition(":")
        if colon and prefix in self._namespaces:
            return "{" + self._namespaces[prefix] + "}" + name
        return key

    def _bare(self, value: str) -> str:
        return self._replacement.get(value, value)

    def _text(self, value: Any) -> str:
        """The value as the reference reads it: bare strings replaced, a namespace prefix expanded, str(), strip."""
        if isinstance(value, str):
            value = self._bare(value)
            prefix, colon, rest = value.partition(":")
            if colon and prefix in self._namespaces:
                value = self._namespaces[prefix].replace("{", "").replace("}", "") + rest
            return value.strip()
        return str(value).strip()

    def _canonical_value(self, text: str) -> str:
        """Old CBV URNs to web vocabulary, numbers the shortest way, EPC URIs to GS1 Digital Link."""
        cached = self._canonical.get(text)
        if cached is not None:
            return cached
        value = text
        if "urn:epcglobal:cbv:" in value:
            value = (
                value.replace("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-")
                .replace("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
                .replace("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-")
                .replace("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-")
                .replace("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-")
            )
        try:
            number = float(value)  # what Python's float() reads, as the reference: "1_0", " +1e3", "nan" ...
        except ValueError:
            pass
        else:
            if math.isinf(number):
                raise _Unprovable("a value that reads as an infinite number")  # the reference fails on it
            if not math.isnan(number):
                value = str(int(number)) if int(number) == number else str(number)
        value = _digital_link(value) or value
        if len(self._canonical) >= _CANONICAL_CACHE_SIZE:
            self._canonical.clear()  # bounded: most URIs occur once
        self._canonical[text] = value
        return value


def namespaces(context: list[Any]) -> dict[str, str]:
    """Prefix -> namespace IRI, as the reference collects them: the objects of the document's context, on top of
    what its module-global table holds from documents it read earlier in this process."""
    collected: dict[str, str] = {}
    reference = sys.modules.get("epcis_event_hash_generator.json_to_py")
    if reference is not None:
        collected.update({k: v[1:-1] for k, v in getattr(reference, "_namespaces", {}).items()})
    for entry in context:
        if isinstance(entry, dict):
            collected.update(entry)
    return collected


# --- The reference, for what the fast path leaves --------------------------------------------------------


def reference_event_hash(event: dict[str, Any], vocabulary: Iterable[str], context: list[Any]) -> str:
    """GS1's reference code on one event of a document whose vocabulary is given: the steps of its
    `event_list_from_epcis_document_json` after the JSON-LD expansion (which only yields the vocabulary), then its
    hash. Raises where the reference would drop the event."""
    from epcis_event_hash_generator import hash_generator, json_to_py
    from epcis_event_hash_generator.json_xml_model_mismatch_correction import deep_structure_correction

    with _quiet_reference():
        replaced = json_to_py._replace_bare_string_values(copy.deepcopy(event), set(vocabulary))
        json_to_py._collect_namespaces_from_jsonld_context(context)
        tree = deep_structure_correction(json_to_py._json_to_py(replaced))
        hashes = hash_generator.epcis_hashes_from_events(("EventList", "", [tree]))
    if len(hashes) != 1:
        raise ValueError(f"GS1's reference code could not hash the event {event!r}")
    return hashes[0]  # type: ignore[no-any-return]


class DocumentVocabulary:
    """Collects a document's vocabulary event by event (the first of the two passes of a streamed export)."""

    def __init__(self, context: list[Any]) -> None:
        self.context = context
        self.found: set[str] = set()
        self.expanded = 0  # events the whitelist could not read, expanded with pyld instead
        self._namespaces = namespaces(context)

    def add(self, event: dict[str, Any]) -> None:
        try:
            self.found |= event_vocabulary(event, self._namespaces)
        except _Unprovable:
            self.expanded += 1
            self.found |= reference_vocabulary(event, self.context)

    def hasher(self) -> EventHasher:
        return EventHasher(self.found, context=self.context)


def document_vocabulary(events: Iterable[dict[str, Any]], context: list[Any]) -> frozenset[str]:
    vocabulary = DocumentVocabulary(context)
    for event in events:
        vocabulary.add(event)
    return frozenset(vocabulary.found)


def event_hash_ids(events: list[dict[str, Any]], context: list[Any]) -> tuple[list[str], EventHasher]:
    """The CBV 2.0 Event Hash ID of each event of a document (its other members do not count), and the hasher,
    whose `fast` / `fallbacks` say which path each event took."""
    hasher = EventHasher(document_vocabulary(events, context), context=context)
    hashes = [hasher.event_hash(event) for event in events]
    hasher.check_complete()
    return hashes, hasher
