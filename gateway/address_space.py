"""The OPC UA address space TwinWeb expects of a cell's PLC, node by node (docs/cell-integration.md explains it for
controls engineers). Shared by the gateway (the client) and the simulated PLC (the demo's server), and free of
Django so that either side reads the same names.

    Objects/
      <ns>:<cell code>                       the cell (BrowseName = the cell's code in TwinWeb)
        <ns>:BootId            String        changes whenever the PLC's counters restart (PLC start, program download)
        <ns>:Stations/
          <ns>:<station code>/               one folder per station, named by its code in TwinWeb
            <ns>:MachineryItemState   Int32  OPC 40001-1: 0 NotAvailable, 1 OutOfService, 2 NotExecuting, 3 Executing
            <ns>:FaultCode            UInt32 0 = no fault
            <ns>:PartPresent          Boolean
            <ns>:PartSerial           String  the serial at the station now ("" when empty)
            <ns>:EventSequence        UInt32  +1 for every cycle start and every cycle end; never goes down until
                                              BootId changes. DataReady: the twin reads every event up to it.
            <ns>:AckSequence          UInt32  written by the twin: the last event it has stored (the Ack)
            <ns>:ResultBuffer/        the last <BufferSize> events, slot = sequence % BufferSize
              <ns>:BufferSize         UInt32
              <ns>:Slot<NN>/          NN = 00, 01, ... (two digits, three from 100 slots)
                Sequence UInt32, Kind String ("CycleStart" | "CycleEnd"), Serial String, PartType String,
                StartTime DateTime, EndTime DateTime (CycleEnd only), Outcome String ("OK" | "NOK" | "", CycleEnd),
                FaultCode UInt32, Lots String ("<lot key>=<quantity>;..." consumed at loading, optional)
            <ns>:InspectionResult/    at inspection stations, written by the twin when the edge device's verdict is
                                      stored (OPC 40100 Machine Vision's result, reduced to what a PLC routes on)
              <ns>:Serial String, <ns>:Verdict String ("pass" | "fail" | "error"), <ns>:ResultSequence UInt32
        <ns>:Cobot/                          OPC 40010 Robotics names where they fit
          <ns>:MotionDeviceSystem/
            method <ns>:PresentView(CommandId String, Serial String, FindingName String, Bbox String) -> Status String
            method <ns>:MovePart(CommandId String, Serial String, Destination String) -> Status String
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any

NAMESPACE_URI = "urn:twinweb:cell"
DEFAULT_BUFFER_SIZE = 32
MAX_SERIAL = 60
MAX_PART_TYPE = 40
MAX_LOTS = 400

STATIONS_FOLDER = "Stations"
BUFFER_FOLDER = "ResultBuffer"
RESULT_FOLDER = "InspectionResult"
COBOT_FOLDER = "Cobot"
MOTION_DEVICE_SYSTEM = "MotionDeviceSystem"
STATION_VARIABLES = ("MachineryItemState", "FaultCode", "PartPresent", "PartSerial", "EventSequence", "AckSequence")
SLOT_VARIABLES = ("Sequence", "Kind", "Serial", "PartType", "StartTime", "EndTime", "Outcome", "FaultCode", "Lots")
RESULT_VARIABLES = ("Serial", "Verdict", "ResultSequence")


class MachineryItemState(enum.IntEnum):
    """OPC 40001-1 MachineryItemState (maps onto SEMI E10)."""

    NOT_AVAILABLE = 0
    OUT_OF_SERVICE = 1
    NOT_EXECUTING = 2
    EXECUTING = 3


class EventKind(str, enum.Enum):
    CYCLE_START = "CycleStart"
    CYCLE_END = "CycleEnd"


class PlcOutcome(str, enum.Enum):
    OK = "OK"
    NOK = "NOK"


class GapCause(str, enum.Enum):
    """Why events could not be read (the link knows no Django; gateway.actions words each cause, translated)."""

    NOT_IN_BUFFER = "not_in_buffer"  # a cut longer than the station's buffer: {"buffer_size": n}
    OVERWRITTEN = "overwritten"  # the slot was reused while being read: {"event": the sequence found there}


def slot_name(index: int, buffer_size: int) -> str:
    return f"Slot{index:0{max(2, len(str(buffer_size - 1)))}d}"


def slot_index(sequence: int, buffer_size: int) -> int:
    return sequence % buffer_size


class TagError(ValueError):
    """A tag value the twin cannot use; the message names the tag and the problem (it goes to a dead letter)."""


@dataclass(frozen=True)
class CycleEvent:
    """One event of a station's buffer, as read from the PLC and checked."""

    station: str
    boot_id: str
    sequence: int
    kind: EventKind
    serial: str
    part_type: str
    start_time: dt.datetime
    end_time: dt.datetime | None
    outcome: PlcOutcome | None
    fault_code: int
    lots: tuple[tuple[str, str], ...]

    @property
    def at(self) -> dt.datetime:
        return self.end_time if self.kind is EventKind.CYCLE_END and self.end_time else self.start_time


_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def _text(values: dict[str, Any], name: str, *, max_len: int, required: bool) -> str:
    value = values.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise TagError(f"{name}: expected a String, got {type(value).__name__} {str(value)[:40]!r}")
    if len(value) > max_len:
        raise TagError(f"{name}: {len(value)} characters, longer than {max_len}")
    if required and not value.strip():
        raise TagError(f"{name}: empty")
    return value.strip()


def _time(values: dict[str, Any], name: str, *, required: bool) -> dt.datetime | None:
    value = values.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, dt.datetime):
        raise TagError(f"{name}: expected a DateTime, got {type(value).__name__} {str(value)[:40]!r}")
    if value.year < 2000:  # OPC UA's null DateTime (1601) or a PLC clock that was never set
        if required:
            raise TagError(f"{name}: not set ({value.isoformat()})")
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _unsigned(values: dict[str, Any], name: str) -> int:
    value = values.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TagError(f"{name}: expected an unsigned integer, got {type(value).__name__} {str(value)[:40]!r}")
    return value


def parse_lots(raw: str) -> tuple[tuple[str, str], ...]:
    lots = []
    for entry in filter(None, (e.strip() for e in raw.split(";"))):
        key, sep, quantity = entry.partition("=")
        if not sep or not key.strip() or not quantity.strip():
            raise TagError(f"Lots: {entry[:40]!r} is not <lot key>=<quantity>")
        lots.append((key.strip(), quantity.strip()))
    return tuple(lots)


def parse_slot(station: str, boot_id: str, values: dict[str, Any]) -> CycleEvent:
    """A buffer slot's values, checked: a wrong type, an over-long serial or an unknown kind raises TagError."""
    sequence = _unsigned(values, "Sequence")
    kind_raw = _text(values, "Kind", max_len=20, required=True)
    try:
        kind = EventKind(kind_raw)
    except ValueError:
        raise TagError(f"Kind: {kind_raw!r} is not CycleStart or CycleEnd") from None
    serial = _text(values, "Serial", max_len=MAX_SERIAL, required=True)
    if not _SERIAL.fullmatch(serial):
        raise TagError(f"Serial: {serial[:40]!r} has characters a serial may not have")
    outcome_raw = _text(values, "Outcome", max_len=10, required=False)
    outcome = None
    if kind is EventKind.CYCLE_END:
        try:
            outcome = PlcOutcome(outcome_raw)
        except ValueError:
            raise TagError(f"Outcome: {outcome_raw!r} is not OK or NOK") from None
    start = _time(values, "StartTime", required=True)
    assert start is not None
    end = _time(values, "EndTime", required=kind is EventKind.CYCLE_END)
    if end is not None and end < start:
        raise TagError(f"EndTime {end.isoformat()} is before StartTime {start.isoformat()}")
    return CycleEvent(
        station=station,
        boot_id=boot_id,
        sequence=sequence,
        kind=kind,
        serial=serial,
        part_type=_text(values, "PartType", max_len=MAX_PART_TYPE, required=False),
        start_time=start,
        end_time=end if kind is EventKind.CYCLE_END else None,
        outcome=outcome,
        fault_code=_unsigned(values, "FaultCode"),
        lots=parse_lots(_text(values, "Lots", max_len=MAX_LOTS, required=False)),
    )
