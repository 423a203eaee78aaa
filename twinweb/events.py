"""Every message of a cell's live stream, defined once: the events actions publish, the frames the cell consumer
sends the browser, and the channel-layer message that carries an event from one to the other.

Each event type is one frozen dataclass. Its field names are the JSON keys the browser reads
(`static/live/live.js`); `type` is a class constant, and `to_payload()` is the dict that goes on the wire. Actions
build their events through these classes and hand them to the publish helpers in `twinweb/live.py`, which check
them against the schema while `settings.TWINWEB_CHECK_LIVE_EVENTS` is on (DEBUG and tests).

`validate_event` / `validate_frame` are a small checker in the spirit of zulip's `event_schema` and
`check_events`: a payload is refused (`EventRefused`) for an unknown type, a missing or extra key, or a value of
the wrong type. Field types are plain JSON types (`str`, `int`, `float`, `bool`, `None`, `dict[str, Any]`,
`list[...]`, `Literal[...]`, unions) or a nested row (`AlarmRow`).

This module is wiring: it imports no app, so every app may build its events with it.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints


class EventRefused(ValueError):
    """A payload that does not match the schema of its type."""


@dataclass(frozen=True)
class Row:
    """A JSON object of fixed keys, nested in an event (an alarm as the live page lists it)."""

    def to_payload(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in _field_names(type(self))}


@dataclass(frozen=True)
class Message(Row):
    """A JSON object with a `type` key: an event, a frame, or a channel-layer message."""

    type: ClassVar[str]

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"type": self.type}
        for name in _field_names(type(self)):
            payload[name] = _plain(getattr(self, name))
        return payload


@dataclass(frozen=True)
class LiveEvent(Message):
    """An event published to a cell stream (the `event` of an event frame)."""


@dataclass(frozen=True)
class Frame(Message):
    """A WebSocket frame the cell consumer sends the browser."""


def _plain(value: Any) -> Any:
    return value.to_payload() if isinstance(value, Row) else value


_FIELD_NAMES: dict[type[Row], tuple[str, ...]] = {}


def _field_names(cls: type[Row]) -> tuple[str, ...]:
    """The payload keys of a schema, worked out once per class (to_payload runs on the ingest hot path)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


# --- Events: what actions publish ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InspectionRecorded(LiveEvent):
    """An edge device's result is stored (inspection.actions.ingest), built after commit with its commit time."""

    type: ClassVar[str] = "inspection.recorded"
    result_id: str
    serial: str
    station: str
    verdict: str
    defect_class: str | None
    defect_confidence: float | None
    needs_review: bool
    latency_ms: float
    avg_power_mw: float | None
    energy_mj: float | None
    model_version: str
    backend: str
    precision: str
    captured_at: str
    sent_at: str | None
    committed_at: str
    image_url: str


@dataclass(frozen=True)
class DeviceTelemetry(LiveEvent):
    """An edge device's heartbeat with what it says about itself (inspection.actions.ingest)."""

    type: ClassVar[str] = "device.telemetry"
    device_id: str
    at: str
    fps: float | None
    power_mw: float | None
    memory: dict[str, Any]
    temperature: dict[str, Any]
    gpu_load: float | None
    backend: str
    precision: str
    model_version: str


@dataclass(frozen=True)
class PartStatusChanged(LiveEvent):
    """A part in the cell changed status (traceability: set_part_status, containment and its release)."""

    type: ClassVar[str] = "part.status"
    serial: str
    status: str


@dataclass(frozen=True)
class StationEntered(LiveEvent):
    type: ClassVar[str] = "station.entered"
    station: str
    serial: str
    at: str


@dataclass(frozen=True)
class StationLeft(LiveEvent):
    type: ClassVar[str] = "station.left"
    station: str
    serial: str
    outcome: str
    at: str
    duration_s: float | None


@dataclass(frozen=True)
class ReviewClaimed(LiveEvent):
    """An operator claimed a case in Debug Mode (review.actions.claims)."""

    type: ClassVar[str] = "review.claimed"
    result_id: str
    serial: str
    holder: str


@dataclass(frozen=True)
class ReviewReleased(LiveEvent):
    type: ClassVar[str] = "review.released"
    result_id: str
    serial: str


@dataclass(frozen=True)
class ReviewSigned(LiveEvent):
    """A signed human decision on one inspection (review.actions.verdicts): one event per inspection decided."""

    type: ClassVar[str] = "review.signed"
    result_id: str
    serial: str
    verdict: str
    disposition: str
    status: str
    signer: str
    meaning: str
    at: str


@dataclass(frozen=True)
class CobotAcknowledged(LiveEvent):
    """The cobot acknowledged a command (review.actions.cobot)."""

    type: ClassVar[str] = "cobot.ack"
    command: str
    command_id: str
    status: str
    detail: str
    serial: str | None


@dataclass(frozen=True)
class AlarmRow(Row):
    """An andon alarm as the live page lists it (also the body of the alarm API and the snapshot's `alarms`)."""

    id: int
    rule: str
    rule_label: str
    station: str | None
    device_id: str | None
    message: str  # English (logs, API clients that predate `text`)
    # The msgid and parameters of live/alarm_texts.py ("" and {} for alarms raised before they were stored); the
    # cell consumer renders `text` from them in each connection's language.
    message_code: str
    message_params: dict[str, Any]
    text: str  # the words in the language of the request or connection that the row was made for
    raised_at: str | None
    cleared_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None
    ack_reason: str


@dataclass(frozen=True)
class AlarmRaised(LiveEvent):
    type: ClassVar[str] = "alarm.raised"
    alarm: AlarmRow


@dataclass(frozen=True)
class AlarmCleared(LiveEvent):
    type: ClassVar[str] = "alarm.cleared"
    alarm: AlarmRow


@dataclass(frozen=True)
class AlarmAcknowledged(LiveEvent):
    type: ClassVar[str] = "alarm.acknowledged"
    alarm: AlarmRow


# --- Frames: what the cell consumer sends the browser (live/consumers.py) ---------------------------------


@dataclass(frozen=True)
class SnapshotFrame(Frame):
    """On connect: the cell's state (the body of GET /api/cells/<id>/state/) and the sequence it is current to."""

    type: ClassVar[str] = "snapshot"
    seq: int | None
    state: dict[str, Any]


@dataclass(frozen=True)
class EventFrame(Frame):
    """One event; `coalesced` > 0 says how many older queued events of the same key it replaced."""

    type: ClassVar[str] = "event"
    seq: int
    published_at: float | None
    event: dict[str, Any]
    coalesced: int


@dataclass(frozen=True)
class HeartbeatFrame(Frame):
    type: ClassVar[str] = "heartbeat"
    seq: int | None
    server_time: str
    degraded: str | None


@dataclass(frozen=True)
class ResyncFrame(Frame):
    """The client fell too far behind: it drops what it has and re-fetches the snapshot."""

    type: ClassVar[str] = "resync"
    reason: str
    seq: int


@dataclass(frozen=True)
class PongFrame(Frame):
    type: ClassVar[str] = "pong"
    server_time: str


# --- The channel-layer message that carries an event to the consumers (twinweb/live.py) -------------------


@dataclass(frozen=True)
class CellEventMessage(Message):
    type: ClassVar[str] = "cell.event"  # Channels dispatches it to the consumer's cell_event handler
    seq: int
    published_at: float
    event: dict[str, Any]


# --- Registries -----------------------------------------------------------------------------------------------

EVENT_TYPES: dict[str, type[LiveEvent]] = {
    cls.type: cls
    for cls in (
        InspectionRecorded,
        DeviceTelemetry,
        PartStatusChanged,
        StationEntered,
        StationLeft,
        ReviewClaimed,
        ReviewReleased,
        ReviewSigned,
        CobotAcknowledged,
        AlarmRaised,
        AlarmCleared,
        AlarmAcknowledged,
    )
}
FRAME_TYPES: dict[str, type[Frame]] = {
    cls.type: cls for cls in (SnapshotFrame, EventFrame, HeartbeatFrame, ResyncFrame, PongFrame)
}
GROUP_MESSAGE_TYPES: dict[str, type[Message]] = {CellEventMessage.type: CellEventMessage}


# --- The checker ------------------------------------------------------------------------------------------------


def validate_event(payload: Any) -> None:
    """Refuse (EventRefused) an event payload of unknown type, with a missing or extra key, or a wrong type."""
    _validate(payload, EVENT_TYPES, "event")


def validate_frame(payload: Any) -> None:
    """Refuse a WebSocket frame that does not match its schema; an event frame's event is checked too."""
    _validate(payload, FRAME_TYPES, "frame")
    if payload["type"] == EventFrame.type:
        validate_event(payload["event"])


def validate_group_message(payload: Any) -> None:
    """Refuse a channel-layer message that does not match its schema; its event is checked too."""
    _validate(payload, GROUP_MESSAGE_TYPES, "message")
    validate_event(payload["event"])


def _validate(payload: Any, registry: dict[str, Any], what: str) -> None:
    if not isinstance(payload, dict):
        raise EventRefused(f"{what}: expected an object, got {type(payload).__name__}")
    kind = payload.get("type")
    schema = registry.get(kind) if isinstance(kind, str) else None
    if schema is None or not isinstance(kind, str):
        raise EventRefused(f"{what}: unknown type {kind!r} (known: {', '.join(sorted(registry))})")
    _check_object(payload, schema, kind, extra_keys=frozenset({"type"}))


def _check_object(
    data: dict[str, Any], schema: type[Row], where: str, extra_keys: frozenset[str] = frozenset()
) -> None:
    names = _field_names(schema)
    missing = [name for name in names if name not in data]
    extra = sorted(set(data) - set(names) - extra_keys)
    if missing:
        raise EventRefused(f"{where}: missing key(s) {', '.join(missing)}")
    if extra:
        raise EventRefused(f"{where}: unexpected key(s) {', '.join(extra)}")
    hints = _hints(schema)
    for name in names:
        _check_value(data[name], hints[name], f"{where}.{name}")


_HINTS: dict[type[Row], dict[str, Any]] = {}


def _hints(schema: type[Row]) -> dict[str, Any]:
    hints = _HINTS.get(schema)
    if hints is None:
        hints = _HINTS[schema] = get_type_hints(schema)
    return hints


def _check_value(value: Any, hint: Any, where: str) -> None:
    if not _matches(value, hint, where):
        raise EventRefused(f"{where}: expected {_describe(hint)}, got {type(value).__name__} {value!r:.80}")


def _matches(value: Any, hint: Any, where: str) -> bool:
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arm, where) for arm in get_args(hint))
    if origin is Literal:
        return value in get_args(hint)
    if origin is dict:
        key_hint, value_hint = get_args(hint)
        if not isinstance(value, dict):
            return False
        for key, item in value.items():
            _check_value(key, key_hint, f"{where} key")
            _check_value(item, value_hint, f"{where}[{key!r}]")
        return True
    if origin is list:
        (item_hint,) = get_args(hint)
        if not isinstance(value, list):
            return False
        for index, item in enumerate(value):
            _check_value(item, item_hint, f"{where}[{index}]")
        return True
    if isinstance(hint, type) and issubclass(hint, Row):
        if not isinstance(value, dict):
            return False
        _check_object(value, hint, where)
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # a JSON number: 3 is as good as 3.0
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    raise TypeError(f"{where}: the schema uses {hint!r}, which the checker does not know")


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
