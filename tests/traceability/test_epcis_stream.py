"""The streamed EPCIS export (API and `manage.py export_epcis`) writes byte for byte the document the export wrote
before it was streamed and before its hashes were computed without GS1's reference code (the oracle:
tests/support/epcis_before.py), builds its events a chunk at a time, and uses the fast hash path throughout."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.support import epcis_before
from tests.support import known_genealogy as known
from traceability import actions, epcis, epcis_hash, genealogy, gs1

pytestmark = pytest.mark.django_db

CREATED = dt.datetime(2026, 12, 6, 9, 30, 15, 123456, tzinfo=dt.timezone.utc)


@pytest.fixture
def g(db: Any) -> known.KnownGenealogy:
    """The known genealogy with station history, inspections, and three pallets: one packed all at once (one
    event, several children) and shipped, one packed part by part, one packed at the very millisecond the parts
    were made (ties in eventTime keep the order the export has always used)."""
    g = known.build()
    known.add_station_history(g, "T1")
    known.add_inspection(g, "T1", verdict="pass")
    known.add_inspection(g, "S01", verdict="fail")
    at = g.parts["S03"].created_at + dt.timedelta(hours=1)
    first = actions.create_pallet(sscc=gs1.sscc("7891234", 42), actor=None)
    actions.pack_parts([g.parts[n] for n in ("S03", "S04", "S05", "S20")], pallet=first, actor=None, at=at)
    actions.close_pallet(first, actor=None)
    actions.ship_pallet(first, actor=None, at=at + dt.timedelta(days=1))
    second = actions.create_pallet(sscc=gs1.sscc("7891234", 7), actor=None)
    for minutes, name in enumerate(("T1", "M2", "S16")):
        actions.pack_part(g.parts[name], pallet=second, actor=None, at=at + dt.timedelta(minutes=minutes))
    third = actions.create_pallet(sscc=gs1.sscc("7891234", 9), actor=None)
    actions.pack_parts([g.parts["S10"], g.parts["S11"]], pallet=third, actor=None, at=g.parts["S10"].created_at)
    for part in g.parts.values():
        part.refresh_from_db()
    return g


@pytest.fixture
def small_chunks(monkeypatch: Any) -> None:
    """Chunks far smaller than the documents: every boundary case of the chunking is crossed."""
    monkeypatch.setattr(epcis.LotEvents, "CHUNK", 4)
    monkeypatch.setattr(epcis, "STREAM_CHUNK_CHARS", 700)


def streamed(document: epcis.StreamedDocument) -> str:
    return "".join(document)


def created_at_of(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(json.loads(text)["creationDate"].replace("Z", "+00:00"))


@pytest.mark.parametrize("lot", ["A0", "A1", "R1", "X", "A1a"])
def test_it_writes_a_lots_document_exactly_as_before(g: known.KnownGenealogy, small_chunks: None, lot: str) -> None:
    trace = genealogy.forward_trace(g.lots[lot])
    before = epcis_before.lot_document(trace, created_at=CREATED)

    as_file = epcis.streamed_lot_document(trace, created_at=CREATED)
    assert streamed(as_file) == epcis_before.file_text(before)
    assert streamed(
        epcis.streamed_lot_document(trace, created_at=CREATED, style=epcis.WEB_STYLE)
    ).encode() == epcis_before.web_bytes(before)
    assert (as_file.event_count, as_file.hasher.fast, as_file.hasher.fallbacks) == (
        len(before["epcisBody"]["eventList"]),
        as_file.event_count,
        0,
    )


@pytest.mark.parametrize("part", ["T1", "S01", "M2", "U1"])
def test_it_writes_a_parts_document_exactly_as_before(g: known.KnownGenealogy, small_chunks: None, part: str) -> None:
    trace = genealogy.backward_trace(g.parts[part])
    before = epcis_before.part_document(trace, created_at=CREATED)

    as_file = epcis.streamed_part_document(trace, created_at=CREATED)
    assert streamed(as_file) == epcis_before.file_text(before)
    assert streamed(
        epcis.streamed_part_document(trace, created_at=CREATED, style=epcis.WEB_STYLE)
    ).encode() == epcis_before.web_bytes(before)
    assert as_file.hasher.fallbacks == 0


def test_the_whole_document_in_memory_is_the_same_document(g: known.KnownGenealogy) -> None:
    trace = genealogy.forward_trace(g.lots["A0"])
    assert epcis.document(epcis.lot_events(trace), created_at=CREATED) == epcis_before.lot_document(
        trace, created_at=CREATED
    )


def test_the_api_streams_the_document_it_sent_before(
    g: known.KnownGenealogy, auditor: Any, login: Any, small_chunks: None
) -> None:
    client = login(auditor)
    for path, before in (
        (
            f"/api/lots/{g.key('A0')}/epcis/",
            lambda at: epcis_before.lot_document(genealogy.forward_trace(g.lots["A0"]), created_at=at),
        ),
        (
            f"/api/parts/{g.key('T1')}/epcis/",
            lambda at: epcis_before.part_document(genealogy.backward_trace(g.parts["T1"]), created_at=at),
        ),
    ):
        response = client.get(path)
        assert response.status_code == 200 and response.streaming
        pieces = list(response.streaming_content)
        body = b"".join(pieces)
        assert len(pieces) > 2  # sent in pieces, not as one body
        assert body == epcis_before.web_bytes(before(created_at_of(body.decode())))


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_each_piece_is_sent_as_it_is_written(auditor: Any, small_chunks: None) -> None:
    """Daphne serves TwinWeb: Django would read a synchronous iterator to its end before sending anything, so the
    API hands it an asynchronous one (each piece built in the ORM's thread)."""
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    g = await sync_to_async(known.build)()
    client = AsyncClient()
    await client.aforce_login(auditor)

    response = await client.get(f"/api/lots/{g.key('A0')}/epcis/")

    assert response.status_code == 200 and response.is_async
    body = b"".join([piece async for piece in response.streaming_content])
    trace = await sync_to_async(genealogy.forward_trace)(g.lots["A0"])
    before = await sync_to_async(epcis_before.lot_document)(trace, created_at=created_at_of(body.decode()))
    assert body == epcis_before.web_bytes(before)


def test_the_command_writes_the_file_it_wrote_before(
    g: known.KnownGenealogy, tmp_path: Path, capsys: Any, small_chunks: None
) -> None:
    call_command("export_epcis", lot=g.key("A0"), output=str(tmp_path / "a0.jsonld"), validate=True)
    text = (tmp_path / "a0.jsonld").read_text()
    before = epcis_before.lot_document(genealogy.forward_trace(g.lots["A0"]), created_at=created_at_of(text))
    assert text == epcis_before.file_text(before)
    assert list(tmp_path.iterdir()) == [tmp_path / "a0.jsonld"]  # no temporary file left behind

    call_command("export_epcis", part=g.key("T1"))
    out = capsys.readouterr().out
    before = epcis_before.part_document(genealogy.backward_trace(g.parts["T1"]), created_at=created_at_of(out))
    assert out == epcis_before.file_text(before) + "\n"


def test_it_builds_each_event_once_and_a_chunk_at_a_time(g: known.KnownGenealogy, monkeypatch: Any) -> None:
    """Event dicts are built CHUNK at a time, each once (and one of each kind beforehand, for the vocabulary); what
    stays for the whole export is the trace and one small sort key per event."""
    monkeypatch.setattr(epcis.LotEvents, "CHUNK", 5)
    built: list[int] = []
    build = epcis.LotEvents._build
    monkeypatch.setattr(epcis.LotEvents, "_build", lambda self, plan: built.append(len(plan)) or build(self, plan))
    document = epcis.streamed_lot_document(genealogy.forward_trace(g.lots["A0"]))

    streamed(document)

    assert document.event_count > 20
    assert max(built) == 5
    assert document.event_count < sum(built) <= document.event_count + 6  # the kinds: making (4), packing, shipping


def test_validation_fails_before_anything_is_written(g: known.KnownGenealogy, tmp_path: Path, monkeypatch: Any) -> None:
    shipping = epcis._shipping_event
    monkeypatch.setattr(
        epcis, "_shipping_event", lambda *args: {k: v for k, v in shipping(*args).items() if k != "eventTimeZoneOffset"}
    )

    with pytest.raises(CommandError, match="eventTimeZoneOffset"):
        call_command("export_epcis", lot=g.key("A0"), output=str(tmp_path / "a0.jsonld"), validate=True)
    assert list(tmp_path.iterdir()) == []


def test_events_that_change_between_the_two_passes_stop_the_export() -> None:
    """The first pass fixes the document's vocabulary, on which every hash depends: a second pass that reads other
    events (data changed in between) must not be written with hashes computed for the first."""

    class Changing:
        def __init__(self) -> None:
            self.passes = 0

        def __iter__(self) -> Any:
            self.passes += 1
            at = "2026-01-01T00:00:00.000Z"
            yield {
                "type": "ObjectEvent",
                "eventTime": at,
                "eventTimeZoneOffset": "+00:00",
                "epcList": ["urn:epc:id:sgtin:7891234.000001.A"],
                "action": "OBSERVE",
                "bizStep": "shipping" if self.passes == 1 else "receiving",
            }

    with pytest.raises(epcis_hash.DocumentChanged):
        streamed(epcis.StreamedDocument(Changing()))


class Declaring(list):  # type: ignore[type-arg]
    """Events, with a document vocabulary said in advance (as LotEvents says it)."""

    def __init__(self, events: list[dict[str, Any]], vocabulary: set[str]) -> None:
        super().__init__(events)
        self.said = frozenset(vocabulary)

    def vocabulary(self) -> frozenset[str]:
        return self.said


def test_a_vocabulary_said_in_advance_is_checked_against_every_event(g: known.KnownGenealogy) -> None:
    events = epcis.lot_events(genealogy.forward_trace(g.lots["A0"]))
    actual = epcis_hash.document_vocabulary(events, epcis.CONTEXT)
    assert "https://ref.gs1.org/cbv/BizStep-shipping" in actual

    assert streamed(epcis.StreamedDocument(Declaring(events, actual), created_at=CREATED)) == epcis_before.file_text(
        epcis_before.lot_document(genealogy.forward_trace(g.lots["A0"]), created_at=CREATED)
    )
    with pytest.raises(epcis_hash.DocumentChanged, match="BizStep-shipping"):  # an event brings more: stop there
        streamed(epcis.StreamedDocument(Declaring(events, actual - {"https://ref.gs1.org/cbv/BizStep-shipping"})))
    pieces = []
    with pytest.raises(epcis_hash.DocumentChanged, match="Disp-damaged"):  # said more than the events bring
        for piece in epcis.StreamedDocument(Declaring(events, actual | {"https://ref.gs1.org/cbv/Disp-damaged"})):
            pieces.append(piece)
    assert not "".join(pieces).endswith("}")  # the document was left unfinished: no reader takes it as whole
