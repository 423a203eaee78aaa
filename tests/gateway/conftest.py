"""The cell link's tests: a real asyncua OPC UA server (the simulated PLC) and the real gateway, on the test
database (committed: the gateway writes from its own database thread, as in production)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from demo.plc import PlcConfig, SimulatedPLC
from gateway.link import CellGateway, GatewayConfig
from inspection.models import EdgeDevice
from tests.support import factories
from tests.support.processes import free_port
from traceability.models import Cell, PartType


@dataclass
class Link:
    cell: Cell
    part_type: PartType
    plc: SimulatedPLC
    gateway: CellGateway
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None

    async def start_gateway(self) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.gateway.run(self.stop))

    async def stop_gateway(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=20)

    async def until_acknowledged(self, station: str, *, timeout: float = 20.0) -> None:
        """Wait until the gateway's AckSequence at a station reaches the PLC's last event."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.plc.acknowledged(station) != self.plc.sequences[station]:
            if loop.time() > deadline:
                raise AssertionError(
                    f"{station}: AckSequence stayed at {await self.plc.acknowledged(station)}, "
                    f"the PLC is at {self.plc.sequences[station]}"
                )
            await asyncio.sleep(0.05)

    async def until(self, condition: Callable[[], Any], *, timeout: float = 20.0, what: str = "") -> None:
        """Wait for a condition read from the database (on a thread: Django's ORM is not async)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await asyncio.to_thread(condition):
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")
            await asyncio.sleep(0.05)


@pytest.fixture
def plc_cell(transactional_db: Any) -> tuple[Cell, PartType]:
    cell = factories.make_cell(code="ac-cell-9")
    part_type = factories.make_part_type(code="CF-80")
    EdgeDevice.objects.create(device_id="jetson-link-01", cell=cell, name="Link test device")
    return cell, part_type


def plc_config(cell: Cell, **overrides: Any) -> PlcConfig:
    from traceability.models import Station

    stations = tuple((s.code, s.kind) for s in Station.objects.filter(cell=cell).order_by("position"))
    defaults: dict[str, Any] = dict(
        cell_code=cell.code,
        endpoint=f"opc.tcp://127.0.0.1:{free_port()}/twinweb/",
        stations=stations,
        cycle_s=0.3,
        part_types=("CF-80",),
        result_timeout_s=0.3,
        buffer_size=8,
        cobot_move_s=0.05,
    )
    return PlcConfig(**{**defaults, **overrides})


@contextlib.asynccontextmanager
async def running_link(
    cell: Cell,
    part_type: PartType,
    *,
    plc: PlcConfig | None = None,
    gateway: dict[str, Any] | None = None,
    start_gateway: bool = True,
) -> AsyncIterator[Link]:
    config = plc or await asyncio.to_thread(plc_config, cell)
    simulated = SimulatedPLC(config)
    await simulated.start()
    gateway_config = GatewayConfig(
        cell=cell.code,
        endpoint=config.endpoint,
        poll_s=0.3,
        backoff_initial_s=0.2,
        backoff_max_s=1.0,
        result_poll_s=0.05,
        **(gateway or {}),
    )
    link = Link(cell, part_type, simulated, CellGateway(gateway_config), asyncio.Event())
    if start_gateway:
        await link.start_gateway()
    try:
        yield link
    finally:
        if link.task is not None and not link.task.done():
            await link.stop_gateway()
        await simulated.stop()
