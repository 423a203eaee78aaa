"""The simulated PLC: the demo cell as an OPC UA server, in the address space a real cell's PLC serves
(gateway.address_space), with the simulated cobot's methods on it. The twin reaches it only through the cell
gateway (`run_cell_gateway`), exactly as it reaches a real PLC.

Every takt (cycle time / speed factor) each part on the conveyor ends its cycle at its station and starts the next
one, downstream first, and a new part is loaded:

    load -> visual -> dimensional -> unload          (both inspections passed)
                                  -> cobot           (anything else: failure analysis)

Each cycle start and end is an event in the station's ring buffer under a sequence number that only grows (until
a restart, which changes BootId). At an inspection station the PLC holds the part at the end of its cycle until
the twin writes the verdict for that serial into the station's InspectionResult (at most `result_timeout_s`; then
the part leaves NOK and goes to failure analysis). The PLC knows nothing of how a part looks: the edge device's
camera source (the demo renderer) sees that.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asyncua import Server, ua
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

from gateway.address_space import EventKind, MachineryItemState, PlcOutcome, slot_index
from gateway.opcua_nodes import CellNodes, build_cell, write

log = logging.getLogger(__name__)

DEMO_STATIONS: tuple[tuple[str, str], ...] = (
    ("load", "loading"),
    ("visual", "visual_inspection"),
    ("dimensional", "dimensional_inspection"),
    ("unload", "unloading"),
    ("cobot", "failure_analysis"),
)
INSPECTION_KINDS = ("visual_inspection", "dimensional_inspection")
FAULT_CODE_JAM = 101  # a jammed conveyor: the station is out of service for a takt


@dataclass(frozen=True)
class ServerSecurity:
    """Basic256Sha256 with SignAndEncrypt: the PLC's own certificate and key, and the client certificates it trusts."""

    certificate: Path
    private_key: Path
    trusted_clients: Path  # a folder of DER certificates


@dataclass
class PlcConfig:
    cell_code: str = "ac-cell-1"
    endpoint: str = "opc.tcp://127.0.0.1:4840/twinweb/"
    stations: tuple[tuple[str, str], ...] = DEMO_STATIONS
    cycle_s: float = 15.0
    speed: float = 1.0
    parts: int | None = None  # None: until stopped
    part_types: tuple[str, ...] = ("CF-80", "TF-12")
    lots: dict[str, str] = field(default_factory=dict)  # part type -> "<lot key>=<quantity>;..." loaded with it
    buffer_size: int = 32
    result_timeout_s: float = 60.0
    fault_rate: float = 0.0
    seed: int = 1
    security: ServerSecurity | None = None
    cobot_move_s: float = 0.5
    cobot_answers: bool = True
    serial_tag: str | None = None  # serials are <part type>-P<tag>-<n>; None: drawn at each start (unique per run)

    @property
    def takt_s(self) -> float:
        return self.cycle_s / self.speed


@dataclass
class PartOnLine:
    serial: str
    part_type: str
    route: list[str]
    index: int = 0
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    verdicts: dict[str, str] = field(default_factory=dict)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class SimulatedPLC:
    def __init__(self, config: PlcConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.kinds = dict(config.stations)
        flow = [code for code, kind in config.stations if kind not in ("unloading", "failure_analysis")]
        self.flow = flow
        self.unload = next(code for code, kind in config.stations if kind == "unloading")
        self.failure_analysis = next(code for code, kind in config.stations if kind == "failure_analysis")
        self.server: Server | None = None
        self.nodes: CellNodes | None = None
        self.sequences: dict[str, int] = {}
        self.line: list[PartOnLine] = []
        self.loaded = 0
        self.finished: list[PartOnLine] = []
        self.cobot_commands: list[tuple[str, ...]] = []
        self.boot_id = ""
        self._never = asyncio.Event()

    # --- server lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start (or restart) the server: a new BootId, counters from zero, an empty line."""
        self.boot_id = uuid.uuid4().hex
        self.sequences = {code: 0 for code, _ in self.config.stations}
        self.line = []
        server = Server()
        await server.init()
        server.set_endpoint(self.config.endpoint)
        server.set_server_name(f"TwinWeb simulated PLC ({self.config.cell_code})")
        security = self.config.security
        if security is None:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        else:
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            await server.load_certificate(str(security.certificate))
            await server.load_private_key(str(security.private_key))
            store = TrustStore([security.trusted_clients], [])
            await store.load()
            server.set_certificate_validator(
                CertificateValidator(
                    CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store
                )
            )
        self.nodes = await build_cell(
            server,
            cell_code=self.config.cell_code,
            buffer_size=self.config.buffer_size,
            boot_id=self.boot_id,
            stations=[(code, kind in INSPECTION_KINDS) for code, kind in self.config.stations],
            present_view=self._present_view,
            move_part=self._move_part,
        )
        await server.start()
        self.server = server
        log.info("simulated PLC %s serving %s (boot %s)", self.config.cell_code, self.config.endpoint, self.boot_id[:8])

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    async def restart(self) -> None:
        """A PLC restart: the link drops, and the counters start again under a new BootId."""
        await self.stop()
        await self.start()

    # --- the takt -----------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while not stop.is_set():
            await self.tick()
            if self.config.parts is not None and self.loaded >= self.config.parts and not self.line:
                break
            next_tick += self.config.takt_s
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, next_tick - loop.time()))
            except TimeoutError:
                pass

    async def tick(self) -> None:
        if self.config.fault_rate and self.rng.random() < self.config.fault_rate:
            await self._jam(self.rng.choice(self.flow))
            return
        for part in sorted(self.line, key=lambda p: -p.index):
            await self._advance(part)
        if self.config.parts is None or self.loaded < self.config.parts:
            await self._load()

    async def _jam(self, station: str) -> None:
        """A fault: the station is out of service with a fault code for one takt, and the line waits."""
        variables = self._station(station).variables
        await write(variables["FaultCode"], FAULT_CODE_JAM, ua.VariantType.UInt32)
        await write(variables["MachineryItemState"], int(MachineryItemState.OUT_OF_SERVICE), ua.VariantType.Int32)
        await asyncio.sleep(min(self.config.takt_s, 1.0))
        await write(variables["FaultCode"], 0, ua.VariantType.UInt32)
        await write(variables["MachineryItemState"], int(MachineryItemState.EXECUTING), ua.VariantType.Int32)

    async def _load(self) -> None:
        code = self.config.part_types[self.loaded % len(self.config.part_types)]
        self.loaded += 1
        serial = f"{code}-P{self.config.serial_tag or self.boot_id[:6].upper()}-{self.loaded:05d}"
        part = PartOnLine(serial=serial, part_type=code, route=list(self.flow))
        self.line.append(part)
        await self._start(part, lots=self.config.lots.get(code, ""))

    async def _start(self, part: PartOnLine, *, lots: str = "") -> None:
        station = part.route[part.index]
        part.started_at = _now()
        variables = self._station(station).variables
        await write(variables["PartSerial"], part.serial, ua.VariantType.String)
        await write(variables["PartPresent"], True, ua.VariantType.Boolean)
        await write(variables["MachineryItemState"], int(MachineryItemState.EXECUTING), ua.VariantType.Int32)
        await self.emit(
            station,
            EventKind.CYCLE_START,
            serial=part.serial,
            part_type=part.part_type,
            start=part.started_at,
            lots=lots,
        )

    async def _advance(self, part: PartOnLine) -> None:
        station = part.route[part.index]
        outcome = PlcOutcome.OK
        if self.kinds[station] in INSPECTION_KINDS:
            verdict = await self._verdict(station, part.serial)
            part.verdicts[station] = verdict
            outcome = PlcOutcome.OK if verdict == "pass" else PlcOutcome.NOK
        await self.emit(
            station,
            EventKind.CYCLE_END,
            serial=part.serial,
            part_type=part.part_type,
            start=part.started_at,
            end=_now(),
            outcome=outcome,
        )
        variables = self._station(station).variables
        await write(variables["PartPresent"], False, ua.VariantType.Boolean)
        await write(variables["PartSerial"], "", ua.VariantType.String)
        await write(variables["MachineryItemState"], int(MachineryItemState.NOT_EXECUTING), ua.VariantType.Int32)
        part.index += 1
        if part.index == len(self.flow):
            passed = all(part.verdicts.get(s) == "pass" for s in self.flow if self.kinds[s] in INSPECTION_KINDS)
            part.route.append(self.unload if passed else self.failure_analysis)
        if part.index >= len(part.route):
            self.line.remove(part)
            self.finished.append(part)
            return
        await self._start(part)

    async def _verdict(self, station: str, serial: str) -> str:
        """The twin's verdict for this part, waiting for it at most `result_timeout_s` (the line holds the part)."""
        result = self._station(station).result
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.result_timeout_s
        while True:
            if await result["Serial"].read_value() == serial:
                return str(await result["Verdict"].read_value())
            if loop.time() >= deadline:
                log.warning("PLC: no verdict for %s at %s within %.0f s", serial, station, self.config.result_timeout_s)
                return ""
            await asyncio.sleep(0.02)

    # --- events -------------------------------------------------------------------------------------------

    async def emit(
        self,
        station: str,
        kind: EventKind,
        *,
        serial: str,
        part_type: str,
        start: dt.datetime,
        end: dt.datetime | None = None,
        outcome: PlcOutcome | None = None,
        fault_code: int = 0,
        lots: str = "",
    ) -> int:
        """Write one event into the station's ring buffer, then raise its EventSequence (the slot is complete
        before the twin can see the new sequence; its own Sequence is written last)."""
        nodes = self._station(station)
        sequence = self.sequences[station] + 1
        slot = nodes.slots[slot_index(sequence, self.config.buffer_size)]
        await write(slot["Sequence"], 0, ua.VariantType.UInt32)
        await write(slot["Kind"], kind.value, ua.VariantType.String)
        await write(slot["Serial"], serial, ua.VariantType.String)
        await write(slot["PartType"], part_type, ua.VariantType.String)
        await write(slot["StartTime"], start, ua.VariantType.DateTime)
        await write(slot["EndTime"], end or dt.datetime(1601, 1, 1, tzinfo=dt.timezone.utc), ua.VariantType.DateTime)
        await write(slot["Outcome"], outcome.value if outcome else "", ua.VariantType.String)
        await write(slot["FaultCode"], fault_code, ua.VariantType.UInt32)
        await write(slot["Lots"], lots, ua.VariantType.String)
        await write(slot["Sequence"], sequence, ua.VariantType.UInt32)
        self.sequences[station] = sequence
        await write(nodes.variables["EventSequence"], sequence, ua.VariantType.UInt32)
        return sequence

    async def acknowledged(self, station: str) -> int:
        return int(await self._station(station).variables["AckSequence"].read_value())

    def _station(self, code: str):  # type: ignore[no-untyped-def]
        assert self.nodes is not None, "the PLC is not started"
        return self.nodes.stations[code]

    # --- the cobot ----------------------------------------------------------------------------------------

    async def _present_view(self, command_id: str, serial: str, finding: str, bbox: str) -> str:
        self.cobot_commands.append(("PresentView", command_id, serial, finding, bbox))
        return await self._move()

    async def _move_part(self, command_id: str, serial: str, destination: str) -> str:
        self.cobot_commands.append(("MovePart", command_id, serial, destination))
        return await self._move()

    async def _move(self) -> str:
        if not self.config.cobot_answers:
            await self._never.wait()  # a cobot that never completes: the caller's timeout must show it
        await asyncio.sleep(self.config.cobot_move_s)
        return "done"


def lots_string(lots: Sequence[tuple[str, str]]) -> str:
    return ";".join(f"{key}={quantity}" for key, quantity in lots)
