"""The cell gateway against a real OPC UA server: every PLC event is stored once, in order, and acknowledged;
parts are registered at loading, enter and leave each station, and the part the cell routes to failure analysis is
held. A cut, a PLC restart and values the twin cannot use lose nothing silently."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from gateway.address_space import EventKind, PlcOutcome
from gateway.choices import IncidentKind
from gateway.models import CycleRecord, LinkIncident
from inspection.choices import DeadLetterReason
from inspection.models import DeadLetter
from live.choices import AlarmRule
from live.models import Alarm
from tests.gateway.conftest import plc_config, running_link
from traceability.choices import PartStatus, StationOutcome
from traceability.models import Part, StationEvent

pytestmark = [pytest.mark.e2e]


def records(station: str | None = None) -> list[tuple[str, int, str]]:
    rows = CycleRecord.objects.order_by("station__position", "boot_id", "sequence")
    if station:
        rows = rows.filter(station__code=station)
    return list(rows.values_list("station__code", "sequence", "kind"))


def duplicates() -> int:
    seen = set(CycleRecord.objects.values_list("station_id", "boot_id", "sequence"))
    return CycleRecord.objects.count() - len(seen)


async def test_it_stores_every_cycle_of_the_plc_once_and_acknowledges_it(plc_cell: Any) -> None:
    cell, part_type = plc_cell
    async with running_link(cell, part_type) as link:
        for _ in range(4):
            await link.plc.tick()
        await link.until(lambda: CycleRecord.objects.filter(station__code="load").count() == 7, what="7 load events")
        await link.until(lambda: CycleRecord.objects.filter(station__code="visual").count() >= 5)
        for station in ("load", "visual"):
            # The Ack follows the commit of the last event read: wait for it, then compare the three.
            await link.until_acknowledged(station)
            stored = await asyncio.to_thread(CycleRecord.objects.filter(station__code=station).count)
            assert await link.plc.acknowledged(station) == link.plc.sequences[station] == stored
    parts = await asyncio.to_thread(lambda: list(Part.objects.order_by("serial").values_list("serial", "status")))
    assert len(parts) == 4 and all(serial.startswith("CF-80-P") for serial, _ in parts)
    load_events = await asyncio.to_thread(
        lambda: list(
            StationEvent.objects.filter(station__code="load").order_by("entered_at").values_list("outcome", flat=True)
        )
    )
    assert load_events == [StationOutcome.OK] * 3 + [StationOutcome.IN_PROGRESS]
    assert await asyncio.to_thread(duplicates) == 0


async def test_it_sends_a_capture_command_for_each_cycle_at_an_inspection_station(plc_cell: Any) -> None:
    cell, part_type = plc_cell
    async with running_link(cell, part_type) as link:
        for _ in range(3):
            await link.plc.tick()
        await link.until(lambda: CycleRecord.objects.filter(station__code="dimensional", kind="CycleStart").exists())
    starts = await asyncio.to_thread(
        lambda: list(
            CycleRecord.objects.filter(kind="CycleStart", station__code__in=("visual", "dimensional")).values_list(
                "capture_id", "capture_sent_at"
            )
        )
    )
    assert starts and all(capture_id and sent for capture_id, sent in starts)
    assert (
        await asyncio.to_thread(
            lambda: CycleRecord.objects.filter(
                kind="CycleStart", station__code="load", capture_id__isnull=False
            ).count()
        )
        == 0
    )


async def test_it_holds_a_part_the_cell_sends_to_failure_analysis_when_no_verdict_came(plc_cell: Any) -> None:
    cell, part_type = plc_cell
    async with running_link(cell, part_type, plc=await asyncio.to_thread(plc_config, cell, parts=1)) as link:
        for _ in range(4):
            await link.plc.tick()
        await link.until(lambda: CycleRecord.objects.filter(station__code="cobot").exists(), what="the cobot station")
    part = await asyncio.to_thread(lambda: Part.objects.get())
    assert part.status == PartStatus.ON_HOLD
    visual = await asyncio.to_thread(lambda: StationEvent.objects.get(station__code="visual", part=part))
    assert visual.outcome == StationOutcome.SKIPPED
    assert visual.parameters["inspection"] == "no inspection result when the cycle ended"


async def test_it_stores_every_cycle_once_across_a_plc_restart_that_resets_its_counters(plc_cell: Any) -> None:
    cell, part_type = plc_cell
    async with running_link(cell, part_type) as link:
        for _ in range(3):
            await link.plc.tick()
        await link.until(lambda: CycleRecord.objects.filter(station__code="load").count() == 5)
        first_boot = link.plc.boot_id
        await link.plc.restart()  # the link drops; the counters start again under a new BootId
        for _ in range(3):
            await link.plc.tick()
        await link.until(
            lambda: CycleRecord.objects.filter(station__code="load", boot_id=link.plc.boot_id).count() == 5,
            what="the events after the restart",
        )
        for _ in range(2):
            await link.plc.tick()
        await link.until(
            lambda: CycleRecord.objects.filter(station__code="load", boot_id=link.plc.boot_id).count() == 9
        )
    assert await asyncio.to_thread(duplicates) == 0
    boots = await asyncio.to_thread(lambda: set(CycleRecord.objects.values_list("boot_id", flat=True)))
    assert boots == {first_boot, link.plc.boot_id}
    kinds = await asyncio.to_thread(lambda: list(LinkIncident.objects.values_list("kind", flat=True)))
    assert IncidentKind.PLC_RESTARTED in kinds and IncidentKind.DISCONNECTED in kinds
    assert kinds.count(IncidentKind.CONNECTED) >= 2
    assert await asyncio.to_thread(lambda: Part.objects.count()) == 8


async def test_it_backfills_a_short_cut_from_the_plcs_buffer(plc_cell: Any) -> None:
    cell, part_type = plc_cell
    async with running_link(cell, part_type) as link:
        await link.plc.tick()
        await link.until(lambda: CycleRecord.objects.filter(station__code="load").count() == 1)
        await link.stop_gateway()
        for _ in range(3):  # 6 events at load, within its buffer of 8
            await link.plc.tick()
        await link.start_gateway()
        await link.until(lambda: CycleRecord.objects.filter(station__code="load").count() == 7, what="the backfill")
    assert [s for _, s, _ in await asyncio.to_thread(records, "load")] == list(range(1, 8))
    assert not await asyncio.to_thread(lambda: LinkIncident.objects.filter(kind=IncidentKind.GAP).exists())


async def test_it_shows_a_cut_longer_than_the_plcs_buffer_as_a_gap_on_the_andon(plc_cell: Any) -> None:
    cell, part_type = plc_cell
    async with running_link(cell, part_type) as link:
        await link.plc.tick()
        await link.until(lambda: CycleRecord.objects.filter(station__code="load").count() == 1)
        await link.stop_gateway()
        for _ in range(7):  # 14 events at load: 8 kept in the buffer, 5 lost (2..6), 1 stored before the cut
            await link.plc.tick()
        await link.start_gateway()
        await link.until(lambda: CycleRecord.objects.filter(station__code="load").count() == 9, what="the buffer")
    gap = await asyncio.to_thread(lambda: LinkIncident.objects.get(kind=IncidentKind.GAP, station__code="load"))
    assert (gap.first_sequence, gap.last_sequence, gap.lost_cycles) == (2, 7, 6)
    assert [s for _, s, _ in await asyncio.to_thread(records, "load")] == [1, *range(8, 16)]
    alarm = await asyncio.to_thread(lambda: Alarm.objects.get(rule=AlarmRule.LINK_GAP, station__code="load"))
    assert alarm.cleared_at is None and "6 PLC event(s) lost at load" in alarm.message


async def test_it_dead_letters_tag_values_it_cannot_use_and_moves_on(plc_cell: Any) -> None:
    cell, part_type = plc_cell
    now = dt.datetime.now(dt.timezone.utc)
    async with running_link(cell, part_type) as link:
        plc = link.plc
        await plc.emit("load", EventKind.CYCLE_START, serial="X" * 61, part_type="CF-80", start=now)
        await plc.emit("load", EventKind.CYCLE_START, serial="CF-80-UNKNOWN-TYPE", part_type="ZZ-99", start=now)
        await plc.emit(
            "visual",
            EventKind.CYCLE_END,
            serial="CF-80-NEVER-LOADED",
            part_type="CF-80",
            start=now,
            end=now,
            outcome=PlcOutcome.OK,
        )
        await plc.emit("load", EventKind.CYCLE_START, serial="CF-80-GOOD-1", part_type="CF-80", start=now)
        await link.until(lambda: CycleRecord.objects.count() == 4, what="all four events recorded")
        await link.until_acknowledged("load")  # the refused ones are acknowledged too: the link moves on
    letters = await asyncio.to_thread(lambda: list(DeadLetter.objects.order_by("id").values_list("reason", "detail")))
    assert letters[0][0] == DeadLetterReason.MALFORMED and "Serial: 61 characters, longer than 60" in letters[0][1]
    assert letters[1][0] == DeadLetterReason.MALFORMED and "PartType: 'ZZ-99' is not a part type" in letters[1][1]
    assert letters[2][0] == DeadLetterReason.UNKNOWN_PART and "was never loaded" in letters[2][1]
    assert await asyncio.to_thread(lambda: list(Part.objects.values_list("serial", flat=True))) == ["CF-80-GOOD-1"]
    assert await link.plc.acknowledged("load") == 3
