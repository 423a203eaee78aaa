"""Building the cell's address space on an asyncua server: used by the simulated PLC (demo) and by the tests'
PLCs. The layout is `gateway.address_space`'s; this module only creates it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncua import Node, Server, ua

from gateway.address_space import (
    BUFFER_FOLDER,
    COBOT_FOLDER,
    MOTION_DEVICE_SYSTEM,
    NAMESPACE_URI,
    RESULT_FOLDER,
    STATIONS_FOLDER,
    MachineryItemState,
    slot_name,
)

NULL_TIME = dt.datetime(1601, 1, 1, tzinfo=dt.timezone.utc)

SLOT_TYPES: dict[str, tuple[Any, ua.VariantType]] = {
    "Sequence": (0, ua.VariantType.UInt32),
    "Kind": ("", ua.VariantType.String),
    "Serial": ("", ua.VariantType.String),
    "PartType": ("", ua.VariantType.String),
    "StartTime": (NULL_TIME, ua.VariantType.DateTime),
    "EndTime": (NULL_TIME, ua.VariantType.DateTime),
    "Outcome": ("", ua.VariantType.String),
    "FaultCode": (0, ua.VariantType.UInt32),
    "Lots": ("", ua.VariantType.String),
}
STATION_TYPES: dict[str, tuple[Any, ua.VariantType]] = {
    "MachineryItemState": (int(MachineryItemState.NOT_EXECUTING), ua.VariantType.Int32),
    "FaultCode": (0, ua.VariantType.UInt32),
    "PartPresent": (False, ua.VariantType.Boolean),
    "PartSerial": ("", ua.VariantType.String),
    "EventSequence": (0, ua.VariantType.UInt32),
    "AckSequence": (0, ua.VariantType.UInt32),
}
RESULT_TYPES: dict[str, tuple[Any, ua.VariantType]] = {
    "Serial": ("", ua.VariantType.String),
    "Verdict": ("", ua.VariantType.String),
    "ResultSequence": (0, ua.VariantType.UInt32),
}
WRITABLE_BY_THE_TWIN = {"AckSequence"}

CobotMethod = Callable[..., Awaitable[str]]


@dataclass
class StationNodes:
    code: str
    folder: Node
    variables: dict[str, Node]
    slots: list[dict[str, Node]]
    result: dict[str, Node] = field(default_factory=dict)


@dataclass
class CellNodes:
    namespace: int
    cell: Node
    boot_id: Node
    stations: dict[str, StationNodes]
    buffer_size: int


def node_id(path: str, ns: int) -> ua.NodeId:
    """A string NodeId that spells the browse path (`ac-cell-1.Stations.visual.EventSequence`)."""
    return ua.NodeId(path, ns)  # type: ignore[arg-type]  # asyncua types its arguments as its own aliases


def _path(node: Node) -> str:
    return str(node.nodeid.Identifier)


async def _variable(parent: Node, ns: int, name: str, spec: tuple[Any, ua.VariantType], *, writable: bool) -> Node:
    value, variant_type = spec
    node = await parent.add_variable(
        node_id(f"{_path(parent)}.{name}", ns), ua.QualifiedName(name, ns), ua.Variant(value, variant_type)
    )
    if writable:
        await node.set_writable()
    return node


async def build_cell(
    server: Server,
    *,
    cell_code: str,
    stations: Sequence[tuple[str, bool]],
    buffer_size: int,
    boot_id: str,
    present_view: CobotMethod | None = None,
    move_part: CobotMethod | None = None,
) -> CellNodes:
    """The cell object, one folder per station (`(code, is inspection station)`), and the cobot's methods.
    String NodeIds follow the browse path (`<cell>.Stations.<station>.EventSequence`) for readable logs."""
    ns = await server.register_namespace(NAMESPACE_URI)
    cell = await server.nodes.objects.add_object(node_id(cell_code, ns), ua.QualifiedName(cell_code, ns))
    boot = await _variable(cell, ns, "BootId", (boot_id, ua.VariantType.String), writable=False)
    folder = await cell.add_folder(node_id(f"{cell_code}.{STATIONS_FOLDER}", ns), ua.QualifiedName(STATIONS_FOLDER, ns))
    out: dict[str, StationNodes] = {}
    for code, inspects in stations:
        station = await folder.add_folder(
            node_id(f"{cell_code}.{STATIONS_FOLDER}.{code}", ns), ua.QualifiedName(code, ns)
        )
        variables = {
            name: await _variable(station, ns, name, spec, writable=name in WRITABLE_BY_THE_TWIN)
            for name, spec in STATION_TYPES.items()
        }
        buffer = await station.add_folder(
            node_id(f"{_path(station)}.{BUFFER_FOLDER}", ns), ua.QualifiedName(BUFFER_FOLDER, ns)
        )
        await _variable(buffer, ns, "BufferSize", (buffer_size, ua.VariantType.UInt32), writable=False)
        slots = []
        for index in range(buffer_size):
            slot = await buffer.add_object(
                node_id(f"{_path(buffer)}.{slot_name(index, buffer_size)}", ns),
                ua.QualifiedName(slot_name(index, buffer_size), ns),
            )
            slots.append(
                {name: await _variable(slot, ns, name, spec, writable=False) for name, spec in SLOT_TYPES.items()}
            )
        nodes = StationNodes(code, station, variables, slots)
        if inspects:
            result = await station.add_object(
                node_id(f"{_path(station)}.{RESULT_FOLDER}", ns), ua.QualifiedName(RESULT_FOLDER, ns)
            )
            nodes.result = {
                name: await _variable(result, ns, name, spec, writable=True) for name, spec in RESULT_TYPES.items()
            }
        out[code] = nodes
    cobot = await cell.add_object(node_id(f"{cell_code}.{COBOT_FOLDER}", ns), ua.QualifiedName(COBOT_FOLDER, ns))
    system = await cobot.add_object(
        node_id(f"{cell_code}.{COBOT_FOLDER}.{MOTION_DEVICE_SYSTEM}", ns), ua.QualifiedName(MOTION_DEVICE_SYSTEM, ns)
    )
    if present_view is not None:
        await _method(system, ns, "PresentView", present_view, ["CommandId", "Serial", "FindingName", "Bbox"])
    if move_part is not None:
        await _method(system, ns, "MovePart", move_part, ["CommandId", "Serial", "Destination"])
    return CellNodes(ns, cell, boot, out, buffer_size)


async def _method(parent: Node, ns: int, name: str, handler: CobotMethod, inputs: list[str]) -> None:
    async def call(_parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant]:
        status = await handler(*[a.Value for a in args])
        return [ua.Variant(status, ua.VariantType.String)]

    arguments = []
    for arg_name in inputs:
        argument = ua.Argument()
        argument.Name = arg_name
        argument.DataType = ua.NodeId(ua.ObjectIds.String)  # type: ignore[arg-type]
        argument.ValueRank = -1
        arguments.append(argument)
    status = ua.Argument()
    status.Name = "Status"
    status.DataType = ua.NodeId(ua.ObjectIds.String)  # type: ignore[arg-type]
    status.ValueRank = -1
    await parent.add_method(
        node_id(f"{_path(parent)}.{name}", ns), ua.QualifiedName(name, ns), call, arguments, [status]
    )


async def write(node: Node, value: Any, variant_type: ua.VariantType) -> None:
    await node.write_value(ua.DataValue(ua.Variant(value, variant_type)))
