"""CBV 2.0 Event Hash IDs by TwinWeb's own canonicalisation (traceability/epcis_hash.py) equal GS1's reference
implementation (`epcis-event-hash-generator`), event by event, on a generated corpus of every event type and field
the export writes, on variants with offsets, extensions and vocabulary look-alikes, and on events outside the fast
path (which the reference then hashes). Every random draw comes from a fixed seed."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from epcis_event_hash_generator import hash_generator, json_to_py

from tests.support import epcis_corpus
from tests.support.epcis_corpus import FALLBACK, FAST, CorpusEvent
from traceability import epcis, epcis_hash

SEED = 20_261_206
CONTEXT = epcis.CONTEXT


def document_of(events: list[dict[str, Any]], context: list[Any] = CONTEXT) -> dict[str, Any]:
    return {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-06T00:00:00.000Z",
        "epcisBody": {"eventList": copy.deepcopy(events)},
    }


def reference(events: list[dict[str, Any]], context: list[Any] = CONTEXT) -> tuple[list[str], list[str]]:
    """Pre-hash strings and hashes of GS1's reference code, as a receiver runs it on the serialised document."""
    parsed = json_to_py.event_list_from_epcis_document_str(json.dumps(document_of(events, context)))
    return hash_generator.derive_prehashes_from_events(parsed), hash_generator.epcis_hashes_from_events(parsed)


def documents(corpus: list[CorpusEvent], rng: random.Random) -> list[list[CorpusEvent]]:
    """The corpus cut into documents of 1 to 150 events: the hash of an event depends on its document."""
    out = []
    start = 0
    while start < len(corpus):
        size = rng.choice([1, 2, 10, 40, 150])
        out.append(corpus[start : start + size])
        start += size
    return out


def assert_hashed_like_the_reference(
    events: list[dict[str, Any]], context: list[Any] = CONTEXT
) -> epcis_hash.EventHasher:
    expected_pre_hashes, expected = reference(events, context)
    ids, hasher = epcis_hash.event_hash_ids(copy.deepcopy(events), context)
    for index, (ours, theirs) in enumerate(zip(ids, expected)):
        if ours != theirs:
            try:
                pre_hash = hasher.pre_hash(events[index])
            except Exception as error:  # noqa: BLE001 - only for the message
                pre_hash = f"(fell back: {error})"
            pytest.fail(
                f"event {index} of {len(events)} hashed differently:\n{json.dumps(events[index], indent=1)}"
                f"\nours:      {pre_hash!r}\nreference: {expected_pre_hashes[index]!r}"
            )
    assert len(ids) == len(expected) == len(events)
    return hasher


@pytest.fixture(scope="module")
def corpus() -> list[CorpusEvent]:
    return epcis_corpus.corpus(SEED, 3000)


def test_it_hashes_a_generated_corpus_exactly_as_gs1s_reference_code(corpus: list[CorpusEvent]) -> None:
    fast = fallbacks = 0
    for batch in documents(corpus, random.Random(SEED)):
        hasher = assert_hashed_like_the_reference([e.event for e in batch])
        fast += hasher.fast
        fallbacks += hasher.fallbacks

    # Each event went the way the corpus says: the fast path for what TwinWeb writes, the reference for the rest.
    assert (fast, fallbacks) == (sum(e.path == FAST for e in corpus), sum(e.path == FALLBACK for e in corpus))
    assert fast / len(corpus) > 0.85
    kinds = {e.event["type"] for e in corpus if e.path == FAST}
    assert {"ObjectEvent", "AggregationEvent", "TransformationEvent"} <= kinds


def test_the_corpus_holds_every_field_the_export_writes(corpus: list[CorpusEvent]) -> None:
    """A corpus that lost a shape would prove nothing about it."""
    keys: set[str] = set()
    for e in corpus:
        if e.kind == "built":
            keys |= set(e.event)
            for element in e.event.get("sensorElementList", []):
                keys |= {f"sensorMetadata.{k}" for k in element["sensorMetadata"]}
                keys |= {f"sensorReport.{k}" for report in element["sensorReport"] for k in report}
    assert keys >= {
        "eventTime",
        "eventTimeZoneOffset",
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "bizTransactionList",
        "parentID",
        "childEPCs",
        "sensorElementList",
        "sensorMetadata.time",
        "sensorMetadata.deviceID",
        "sensorReport.type",
        "sensorReport.value",
        "sensorReport.minValue",
        "sensorReport.maxValue",
        "sensorReport.uom",
        "sensorReport.twinweb:feature",
        "sensorReport.twinweb:passed",
        "twinweb:enteredAt",
        "twinweb:outcome",
        "twinweb:parameters",
        "twinweb:inspection",
        "twinweb:verdict",
        "twinweb:modelVersion",
        "twinweb:defectClass",
        "twinweb:reviewer",
        "twinweb:lotOperation",
    }


def test_its_vocabulary_is_what_json_ld_expansion_finds(corpus: list[CorpusEvent]) -> None:
    """The whitelist's vocabulary table (read from the context) against pyld's expansion, as the reference does it."""
    sample = random.Random(SEED).sample([e for e in corpus if e.path == FAST], 250)
    prefixes = epcis_hash.namespaces(CONTEXT)
    for e in sample:
        assert epcis_hash.event_vocabulary(e.event, prefixes) == epcis_hash.reference_vocabulary(e.event, CONTEXT)


def test_it_leaves_to_the_reference_what_the_reference_cannot_hash() -> None:
    rng = random.Random(SEED)
    for _ in range(20):
        event = epcis_corpus.failing_variant(rng, epcis_corpus.built_events(rng)[0])
        assert reference([event])[1] == []  # GS1's code drops the event
        with pytest.raises(ValueError, match="could not hash"):
            epcis_hash.event_hash_ids([event], CONTEXT)


def test_the_context_it_reads_is_the_one_the_reference_expands_with() -> None:
    import epcis_event_hash_generator

    package = Path(epcis_event_hash_generator.__file__).parent
    theirs = package / "14b10c9d3e92d35f577bfc610fe5ec15aa2941124987919389d7cd9998516861.jsonld"
    assert epcis_hash.CONTEXT_FILE.read_bytes() == theirs.read_bytes()
    assert CONTEXT[0] == "https://gs1.github.io/EPCIS/epcis-context.jsonld"  # the URL that file stands for


# --- Property-style checks, one dimension at a time (fixed seeds) ----------------------------------------


def test_it_writes_any_offset_and_precision_as_the_reference_does() -> None:
    rng = random.Random(SEED + 1)
    base = epcis_corpus.making_event(rng)
    events = []
    for _ in range(150):
        event = copy.deepcopy(base)
        event["eventTime"] = epcis_corpus.timestamp_text(rng, epcis_corpus.moment(rng))
        event["eventTimeZoneOffset"] = rng.choice(epcis_corpus.OFFSETS[1:])
        events.append(event)
    hasher = assert_hashed_like_the_reference(events)
    assert hasher.fallbacks == 0


def test_it_writes_numbers_and_number_like_text_as_the_reference_does() -> None:
    rng = random.Random(SEED + 2)
    events = []
    for _ in range(150):
        event = epcis_corpus.inspection_event(rng)
        event["twinweb:reading"] = rng.choice([epcis_corpus.number(rng), rng.choice(epcis_corpus.NUMBER_LIKE)])
        events.append(event)
    hasher = assert_hashed_like_the_reference(events)
    assert hasher.fallbacks == 0


def test_it_turns_epc_uris_into_digital_link_uris_as_the_reference_does() -> None:
    """Serials and lots of any text, %-escaped, under every company prefix length: SGTIN, LGTIN and SSCC URIs."""
    from django.test import override_settings

    rng = random.Random(SEED + 3)
    events = []
    for length in range(6, 13):
        with override_settings(GS1_COMPANY_PREFIX_LENGTH=length):
            for _ in range(20):
                events.append(epcis_corpus.making_event(rng))
                events += epcis_corpus.packing_events(rng)
    hasher = assert_hashed_like_the_reference(events)
    assert hasher.fallbacks == 0
    converted = [e for e in events if "id.gs1.org" in hasher.pre_hash(e)]
    assert len(converted) > len(events) / 2  # most of them did become Digital Link URIs


def test_an_events_hash_depends_on_the_vocabulary_of_its_document() -> None:
    """The reference replaces a bare value anywhere in the document by the one CBV IRI it is the tail of, if some
    event of the document expands to that IRI: an extension saying "in_progress" hashes differently alone and next
    to an event whose disposition is in_progress. Two such IRIs (a fallback event brings one) and it is left alone."""
    rng = random.Random(SEED + 4)
    observed = epcis_corpus.station_event(rng)
    observed.pop("disposition", None)
    observed["twinweb:outcome"] = "in_progress"
    busy = epcis_corpus.making_event(rng)
    assert busy["disposition"] == "in_progress"
    odd = copy.deepcopy(busy)
    odd["disposition"] = "https://ref.gs1.org/cbv/Foo-in_progress"  # not a CBV term: the reference hashes it

    alone = epcis_hash.event_hash_ids([observed], CONTEXT)[0][0]
    with_busy = epcis_hash.event_hash_ids([observed, busy], CONTEXT)[0][0]
    with_both = epcis_hash.event_hash_ids([observed, busy, odd], CONTEXT)[0][0]

    assert len({alone, with_busy, with_both}) == 2 and alone != with_busy and with_both == alone
    for events in ([observed], [observed, busy], [observed, busy, odd]):
        assert_hashed_like_the_reference(events)


def test_it_keeps_a_biz_transactions_member_order_as_the_reference_does() -> None:
    rng = random.Random(SEED + 5)
    event = next(e for e in iter(lambda: epcis_corpus.making_event(rng), None) if "bizTransactionList" in e)
    [pair] = event["bizTransactionList"]
    swapped = copy.deepcopy(event)
    swapped["bizTransactionList"] = [{"bizTransaction": pair["bizTransaction"], "type": pair["type"]}]

    [first], _ = epcis_hash.event_hash_ids([event], CONTEXT)
    [second], _ = epcis_hash.event_hash_ids([swapped], CONTEXT)

    assert first != second  # a quirk of the reference (it pairs the members in the order they come), kept
    assert_hashed_like_the_reference([event, swapped])


def test_the_fast_path_is_the_one_that_ran() -> None:
    """The counters are what the tests above rely on: a whitelisted event is never left to the reference, an
    event outside the whitelist always is."""
    rng = random.Random(SEED + 6)
    inside = epcis_corpus.making_event(rng)
    outside = {**copy.deepcopy(inside), "bizLocation": {"id": "urn:epc:id:sgln:7891234.00001.0"}}

    _, hasher = epcis_hash.event_hash_ids([inside, outside, inside], CONTEXT)

    assert (hasher.fast, hasher.fallbacks) == (2, 1)
    assert list(hasher.fallback_reasons) == ["key 'bizLocation'"]


def test_it_reads_other_namespaces_as_the_reference_does() -> None:
    """Extension keys and values of any namespace the document declares; the reference sets a sensor report's
    extensions apart only when their namespace IRI ends in "/", so one that does not is left to it."""
    context = [epcis.EPCIS_CONTEXT_URL, {"twinweb": epcis.TWINWEB_NAMESPACE, "acme": "urn:acme:epcis:"}]
    rng = random.Random(SEED + 7)
    events = []
    for _ in range(40):
        event = epcis_corpus.inspection_event(rng)
        event["acme:line"] = rng.choice(["acme:L1", "twinweb:x", "L2", 3])
        events.append(event)
    hasher = assert_hashed_like_the_reference(events, context)
    assert hasher.fallbacks == 0

    report_extension = copy.deepcopy(events[0])
    report_extension["sensorElementList"] = [{"sensorReport": [{"type": "Length", "value": 1.0, "acme:gauge": "g7"}]}]
    hasher = assert_hashed_like_the_reference([report_extension], context)
    assert (hasher.fast, hasher.fallbacks) == (0, 1)
