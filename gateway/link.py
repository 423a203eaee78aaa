"""The cell gateway: an OPC UA client of the cell's PLC that turns its tags into the twin's records.

One asyncio process per cell (`python manage.py run_cell_gateway --cell <code>`):

- It resolves the address space by browse path (gateway.address_space), subscribes to every station's
  EventSequence, and on each change reads the new events from the station's ring buffer, in order, and stores each
  once (`gateway.actions.record_cycle_event`, idempotent on station, BootId and sequence). Then it writes
  AckSequence: the PLC may hold a part until the twin has recorded it.
- Counters, not levels: a cycle-start pulse shorter than the sampling interval is still an event in the buffer.
- A watchdog reads BootId and every EventSequence each `poll_s`, so a missed notification or a subscription that
  died with a PLC program download costs at most one poll, and a changed BootId (a PLC restart) starts a new
  sequence. A cut link or a failed read drops the session; it reconnects with a new client, with backoff, and
  catches up from the buffer. Events no longer in the buffer are recorded as a gap and raised on the andon.
- A database outage pauses the catch-up (the events stay in the PLC's buffer, unacknowledged) and retries.
- When the edge device's verdict for a capture is stored, it writes it to the station's InspectionResult.
- Each state change of the link is a LinkIncident, and a heartbeat key in Redis says whether the link is up.

Database calls run on one worker thread (Django's connections are per thread), never on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from asyncua import Client, Node, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.uaerrors import BadCertificateUntrusted, UaError, UaStatusCodeError

from gateway.address_space import (
    BUFFER_FOLDER,
    NAMESPACE_URI,
    RESULT_FOLDER,
    SLOT_VARIABLES,
    STATIONS_FOLDER,
    GapCause,
    MachineryItemState,
    TagError,
    parse_slot,
    slot_index,
    slot_name,
)

log = logging.getLogger("gateway")
T = TypeVar("T")
HEARTBEAT_EVERY_S = 5.0
_db_executor: concurrent.futures.ThreadPoolExecutor | None = None


def database_thread() -> concurrent.futures.ThreadPoolExecutor:
    """The process's one database thread, shared by every cell's gateway in it: Django's connections are per
    thread, and the live-event publisher after each commit must not run on two threads at once."""
    global _db_executor
    if _db_executor is None:
        _db_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-db")
    return _db_executor


class LinkError(RuntimeError):
    """The link cannot work as configured (wrong address space, refused certificate); the message says why."""


class DatabaseUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class ClientSecurity:
    """Basic256Sha256 + SignAndEncrypt with the gateway's certificate (DER) and key (PEM), checking the PLC's."""

    certificate: Path
    private_key: Path
    server_certificate: Path | None = None
    application_uri: str = "urn:twinweb:gateway"

    def __post_init__(self) -> None:
        for name in ("certificate", "private_key", "server_certificate"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise LinkError(f"OPC UA security: the {name.replace('_', ' ')} file {path} does not exist")


@dataclass
class GatewayConfig:
    cell: str
    endpoint: str
    namespace_uri: str = NAMESPACE_URI
    security: ClientSecurity | None = None
    publishing_ms: int = 50
    poll_s: float = 1.0
    timeout_s: float = 4.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0
    result_poll_s: float = 0.1
    cobot_poll_s: float = 0.5
    resend_after_s: float = 10.0
    cobot_timeout_s: float = 30.0


@dataclass
class StationLink:
    code: str
    station_id: int
    inspects: bool
    event_sequence: Node
    ack_sequence: Node
    state: Node
    fault_code: Node
    buffer_folder: Node
    buffer_size: int
    result: dict[str, Node] = field(default_factory=dict)
    slots: dict[int, list[Node]] = field(default_factory=dict)
    last_stored: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class _Changes:
    """asyncua's subscription handler: only queues the change (never block inside a notification)."""

    def __init__(self, queue: asyncio.Queue[str], by_node: dict[str, str]) -> None:
        self.queue = queue
        self.by_node = by_node

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        station = self.by_node.get(node.nodeid.to_string())
        if station is not None:
            self.queue.put_nowait(station)

    def status_change_notification(self, status: Any) -> None:
        log.warning("subscription status changed: %s", status)


def describe_ua_error(exc: BaseException) -> str:
    """What went wrong, in words an engineer can act on (certificate problems named as such)."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, BadCertificateUntrusted) or "BadCertificateUntrusted" in text:
        return f"the PLC does not trust the gateway's certificate (BadCertificateUntrusted): {exc}"
    if "BadSecurityChecksFailed" in text:
        return f"the PLC refused the gateway's certificate (BadSecurityChecksFailed): {exc}"
    if "BadCertificateUriInvalid" in text:
        return (
            "the certificate's URI does not match the application URI (BadCertificateUriInvalid): the "
            f"gateway's application URI must be the certificate's SubjectAltName URI: {exc}"
        )
    if "BadSecurityPolicyRejected" in text or "No matching endpoints" in text:
        return f"the PLC offers no endpoint with the configured security policy: {exc}"
    return text


class CellGateway:
    def __init__(self, config: GatewayConfig, *, store: Any = None) -> None:
        from gateway.store import DjangoStore

        self.config = config
        self.store = store or DjangoStore(config.cell, source=config.endpoint)
        self.stations: dict[str, StationLink] = {}
        self.boot_id = ""
        self.connected = False
        self.reconnects = 0
        self.last_error = ""
        self.events_stored = 0
        self._awaiting_verdicts = True  # checked once after start: captures of an earlier run may await theirs
        self._client: Client | None = None

    # --- database, on its own thread ------------------------------------------------------------------------

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(database_thread(), lambda: fn(*args, **kwargs))
        except Exception as exc:
            from django.db import DatabaseError

            if isinstance(exc, DatabaseError):
                await loop.run_in_executor(database_thread(), self.store.reset_connection)
                raise DatabaseUnavailable(str(exc)) from exc
            raise

    # --- the process ----------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the link up until `stop` is set: reconnect with backoff after any failure."""
        delay = self.config.backoff_initial_s
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await self._session(stop)
                except LinkError:
                    raise
                except (
                    OSError,
                    TimeoutError,
                    asyncio.TimeoutError,
                    UaError,
                    ConnectionError,
                    DatabaseUnavailable,
                    ua.UaError,
                ) as exc:
                    await self._link_lost(describe_ua_error(exc))
                if stop.is_set():
                    break
                if time.monotonic() - started > 30:  # it had been up a while: start the backoff again
                    delay = self.config.backoff_initial_s
                log.info("reconnecting to %s in %.1f s", self.config.endpoint, delay)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
                delay = min(delay * 2, self.config.backoff_max_s)
                self.reconnects += 1
        finally:
            await self._close_client()
            try:
                await self.db(self.store.heartbeat, state="stopped", reconnects=self.reconnects, error=self.last_error)
            except Exception:  # the heartbeat expires by itself
                pass

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.disconnect(), timeout=2)
            except Exception:
                client.disconnect_socket()

    async def _link_lost(self, reason: str) -> None:
        await self._close_client()
        self.last_error = reason
        if self.connected:
            self.connected = False
            log.warning("link to %s lost: %s", self.config.endpoint, reason)
            try:
                await self.db(self.store.link_down, reason)
            except DatabaseUnavailable:
                pass
        else:
            log.warning("cannot reach %s: %s", self.config.endpoint, reason)
        try:
            await self.db(self.store.heartbeat, state="down", reconnects=self.reconnects, error=reason)
        except DatabaseUnavailable:
            pass

    async def _connect(self) -> Client:
        client = Client(self.config.endpoint, timeout=self.config.timeout_s)
        security = self.config.security
        if security is not None:
            client.application_uri = security.application_uri
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                str(security.certificate),
                str(security.private_key),
                server_certificate=str(security.server_certificate) if security.server_certificate else None,
                mode=ua.MessageSecurityMode.SignAndEncrypt,
            )
        self._client = client
        try:
            await client.connect()
        except (UaStatusCodeError, UaError) as exc:
            text = describe_ua_error(exc)
            if "certificate" in text.lower() or "security" in text.lower():
                raise LinkError(f"cannot connect to {self.config.endpoint}: {text}") from exc
            raise
        return client

    async def _session(self, stop: asyncio.Event) -> None:
        client = await self._connect()
        await self._resolve(client)
        previous = await self.db(self.store.link_up, self.boot_id)
        self.connected = True
        self.last_error = ""
        log.info(
            "link to %s up (boot %s)%s",
            self.config.endpoint,
            self.boot_id[:12],
            f"; the PLC restarted since boot {previous[:12]}" if previous and previous != self.boot_id else "",
        )
        for station in self.stations.values():
            station.last_stored = await self.db(self.store.last_sequence, station.station_id, self.boot_id)
        changes: asyncio.Queue[str] = asyncio.Queue()
        handler = _Changes(changes, {s.event_sequence.nodeid.to_string(): s.code for s in self.stations.values()})
        subscription = await client.create_subscription(self.config.publishing_ms, handler)
        await subscription.subscribe_data_change([s.event_sequence for s in self.stations.values()], queuesize=100)
        for station in self.stations.values():
            await self._catch_up(client, station)
        tasks = [
            asyncio.create_task(coro)
            for coro in (
                self._consume(client, changes),
                self._watchdog(client),
                self._report_verdicts(client),
                self._heartbeat(client),
                self._cobot(client),
            )
        ]
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in [*tasks, stopper]:
                task.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)
            if stop.is_set():
                await self._close_client()

    async def _resolve(self, client: Client) -> None:
        """Find the cell and each station the twin knows, by browse path; say exactly what is missing."""
        try:
            ns = await client.get_namespace_index(self.config.namespace_uri)
        except ValueError:
            raise LinkError(
                f"the PLC at {self.config.endpoint} has no namespace {self.config.namespace_uri!r}"
            ) from None
        objects = client.nodes.objects

        async def child(path: list[str]) -> Node:
            try:
                return await objects.get_child([f"{ns}:{p}" for p in path])
            except UaStatusCodeError:
                raise LinkError(
                    f"the PLC has no node Objects/{'/'.join(path)} (docs/cell-integration.md lists the address space)"
                ) from None

        cell = self.config.cell
        self.boot_id = str(await (await child([cell, "BootId"])).read_value())
        stations = await self.db(self.store.stations)
        self.stations = {}
        for code, station_id, inspects in stations:
            base = [cell, STATIONS_FOLDER, code]
            buffer_folder = await child([*base, BUFFER_FOLDER])
            size = int(await (await child([*base, BUFFER_FOLDER, "BufferSize"])).read_value())
            if size < 1:
                raise LinkError(f"station {code}: BufferSize is {size}")
            link = StationLink(
                code=code,
                station_id=station_id,
                inspects=inspects,
                event_sequence=await child([*base, "EventSequence"]),
                ack_sequence=await child([*base, "AckSequence"]),
                state=await child([*base, "MachineryItemState"]),
                fault_code=await child([*base, "FaultCode"]),
                buffer_folder=buffer_folder,
                buffer_size=size,
            )
            if inspects:
                link.result = {
                    name: await child([*base, RESULT_FOLDER, name]) for name in ("Serial", "Verdict", "ResultSequence")
                }
            self.stations[code] = link

    async def _slot_nodes(self, station: StationLink, index: int) -> list[Node]:
        nodes = station.slots.get(index)
        if nodes is None:
            slot = await station.buffer_folder.get_child(
                f"{station.buffer_folder.nodeid.NamespaceIndex}:{slot_name(index, station.buffer_size)}"
            )
            ns = station.buffer_folder.nodeid.NamespaceIndex
            nodes = [await slot.get_child(f"{ns}:{name}") for name in SLOT_VARIABLES]
            station.slots[index] = nodes
        return nodes

    async def _consume(self, client: Client, changes: asyncio.Queue[str]) -> None:
        while True:
            code = await changes.get()
            await self._catch_up(client, self.stations[code])

    async def _watchdog(self, client: Client) -> None:
        """BootId and every station's EventSequence in one read per poll: a restart, or an event whose notification
        was lost (a subscription that died with a program download), costs at most one poll."""
        boot_node = await self._boot_id_node(client)
        stations = list(self.stations.values())
        while True:
            await asyncio.sleep(self.config.poll_s)
            boot, *targets = await client.read_values([boot_node, *(s.event_sequence for s in stations)])
            if str(boot) != self.boot_id:
                raise ConnectionError(
                    f"the PLC's BootId changed ({self.boot_id[:12]} -> {str(boot)[:12]}): it restarted"
                )
            for station, target in zip(stations, targets):
                if int(target) != station.last_stored:
                    await self._catch_up(client, station, target=int(target))

    async def _boot_id_node(self, client: Client) -> Node:
        ns = await client.get_namespace_index(self.config.namespace_uri)
        return await client.nodes.objects.get_child([f"{ns}:{self.config.cell}", f"{ns}:BootId"])

    async def _catch_up(self, client: Client, station: StationLink, *, target: int | None = None) -> None:
        """Store every event after the last stored one, up to the PLC's EventSequence, in order; then Ack. One
        station catches up in one coroutine at a time (a notification and the watchdog may ask together)."""
        async with station.lock:
            await self._catch_up_locked(client, station, target)

    async def _catch_up_locked(self, client: Client, station: StationLink, target: int | None) -> None:
        target = int(await station.event_sequence.read_value()) if target is None else target
        if target < station.last_stored:
            raise ConnectionError(
                f"{station.code}: EventSequence went down ({station.last_stored} -> {target}) without a BootId change"
            )
        if target == station.last_stored:
            return
        first = station.last_stored + 1
        oldest_kept = max(1, target - station.buffer_size + 1)
        if first < oldest_kept:
            await self.db(
                self.store.gap,
                station.station_id,
                self.boot_id,
                first,
                oldest_kept - 1,
                GapCause.NOT_IN_BUFFER,
                {"buffer_size": station.buffer_size},
            )
            first = oldest_kept
        sequences = list(range(first, target + 1))
        nodes = [
            node
            for sequence in sequences
            for node in await self._slot_nodes(station, slot_index(sequence, station.buffer_size))
        ]
        read = await client.read_values(nodes) if nodes else []  # every new event's slot in one request
        width = len(SLOT_VARIABLES)
        for position, sequence in enumerate(sequences):
            values = dict(zip(SLOT_VARIABLES, read[position * width : (position + 1) * width]))
            if values.get("Sequence") != sequence:
                found = values.get("Sequence")
                if isinstance(found, int) and found > sequence:  # overwritten while we read: lost
                    await self.db(
                        self.store.gap,
                        station.station_id,
                        self.boot_id,
                        sequence,
                        sequence,
                        GapCause.OVERWRITTEN,
                        {"event": found},
                    )
                    station.last_stored = sequence
                    continue
                raise ConnectionError(
                    f"{station.code}: slot for event {sequence} holds {found!r}: "
                    "the PLC raised EventSequence before writing the slot"
                )
            try:
                event = parse_slot(station.code, self.boot_id, values)
            except TagError as exc:
                await self.db(self.store.refuse, station.station_id, self.boot_id, sequence, values, str(exc))
            else:
                if await self.db(self.store.record, station.station_id, event) == "capture":
                    self._awaiting_verdicts = True
                self.events_stored += 1
            station.last_stored = sequence
        await station.ack_sequence.write_value(ua.DataValue(ua.Variant(station.last_stored, ua.VariantType.UInt32)))

    async def _report_verdicts(self, client: Client) -> None:
        """Write each stored verdict into its station's InspectionResult; re-send overdue capture commands."""
        counters: dict[str, int] = {}
        while True:
            await asyncio.sleep(self.config.result_poll_s)
            if not self._awaiting_verdicts:  # no capture outstanding: no query
                continue
            pending = await self.db(self.store.verdicts_to_report, self.config.resend_after_s)
            self._awaiting_verdicts = bool(pending)
            for item in pending:
                station = next((s for s in self.stations.values() if s.station_id == item["station_id"]), None)
                if station is None or not station.result:
                    continue
                if item["verdict"] is None:
                    continue
                counters[station.code] = counters.get(station.code, 0) + 1
                nodes = station.result
                await client.write_values(
                    [nodes["Serial"], nodes["Verdict"], nodes["ResultSequence"]],
                    [
                        ua.DataValue(ua.Variant(item["serial"], ua.VariantType.String)),
                        ua.DataValue(ua.Variant(item["verdict"], ua.VariantType.String)),
                        ua.DataValue(ua.Variant(counters[station.code], ua.VariantType.UInt32)),
                    ],
                )
                await self.db(self.store.verdict_reported, item["record_id"], item["verdict"])

    async def _heartbeat(self, client: Client) -> None:
        # A third of the heartbeat's lifetime (15 s by default): the key never lapses while the link is up.
        every_s = max(1.0, HEARTBEAT_EVERY_S)
        while True:
            await self.db(
                self.store.heartbeat,
                state="up",
                reconnects=self.reconnects,
                error="",
                states=await self._station_states(client),
            )
            await asyncio.sleep(every_s)

    async def _station_states(self, client: Client) -> dict[str, Any]:
        stations = list(self.stations.values())
        values = await client.read_values([n for s in stations for n in (s.state, s.fault_code)])
        out: dict[str, Any] = {}
        for index, station in enumerate(stations):
            state, fault = values[2 * index], values[2 * index + 1]
            try:
                out[station.code] = {"state": MachineryItemState(int(state)).name, "fault_code": int(fault)}
            except (ValueError, TypeError):
                out[station.code] = {"state": "UNKNOWN"}
        return out

    async def _cobot(self, client: Client) -> None:
        """Send Debug Mode's cobot commands as OPC UA method calls; the call's return is the cobot's completion."""
        from gateway.address_space import COBOT_FOLDER, MOTION_DEVICE_SYSTEM

        ns = await client.get_namespace_index(self.config.namespace_uri)
        try:
            system = await client.nodes.objects.get_child(
                [f"{ns}:{self.config.cell}", f"{ns}:{COBOT_FOLDER}", f"{ns}:{MOTION_DEVICE_SYSTEM}"]
            )
        except UaStatusCodeError:
            log.info("the PLC has no cobot node: cobot commands stay with their queue")
            await asyncio.Event().wait()
            return
        while True:
            for command in await self.db(self.store.cobot_commands_to_send):
                method, arguments = command["method"], command["arguments"]
                started = time.monotonic()
                try:
                    status = await asyncio.wait_for(
                        system.call_method(f"{ns}:{method}", *arguments), timeout=self.config.cobot_timeout_s
                    )
                except (TimeoutError, asyncio.TimeoutError):
                    await self.db(
                        self.store.cobot_failed,
                        command["command_id"],
                        f"the cobot did not complete {method} within {self.config.cobot_timeout_s:g} s",
                    )
                    continue
                except UaStatusCodeError as exc:
                    await self.db(self.store.cobot_failed, command["command_id"], f"the cobot refused {method}: {exc}")
                    continue
                await self.db(
                    self.store.cobot_done,
                    command["command_id"],
                    str(status),
                    round((time.monotonic() - started) * 1000, 1),
                )
            await asyncio.sleep(self.config.cobot_poll_s)
