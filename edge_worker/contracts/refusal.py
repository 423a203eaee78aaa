"""Refusal: edge -> server `ingest` queue (task INGEST_REFUSAL_TASK). A message the edge could not use, kept by
the server in a dead-letter record instead of being lost on the device."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from edge_worker.contracts.fields import Integer, Json, Message, MessageError, Text, Timestamp, UUIDValue
from edge_worker.contracts.inspection import DEVICE_ID, utc_now

KEPT_PAYLOAD_CAP = 64 * 1024  # bytes of JSON kept whole; a larger payload loses its long strings (the image)
KEPT_STRING_CAP = 1024  # in a payload over the cap, strings longer than this are replaced by their length and hash
REFUSAL_NAMESPACE = uuid.UUID("0f6c2f4e-8d3a-4a4b-9b7e-5d1e3c2a9f60")
# What a kept payload may be. JSON escapes can make the kept text longer than the cap in bytes (a quote in the
# refused text is two characters once kept as a string).
KEPT_PAYLOAD = Json(max_depth=16, max_items=1000, max_text=KEPT_PAYLOAD_CAP, max_bytes=8 * KEPT_PAYLOAD_CAP)


def _bounded(kept: dict[str, Any]) -> bool:
    try:
        KEPT_PAYLOAD.parse(kept, "payload")
    except MessageError:
        return False
    return True


def kept_payload(payload: Any, cap: int = KEPT_PAYLOAD_CAP) -> tuple[dict[str, Any], int]:
    """A refused payload as it is kept, and the size of the whole payload as JSON in bytes.

    Whole when small; over `cap`, an object keeps its fields but each long string (a base64 image) becomes
    "<N characters omitted; sha256 ...>", so a person still sees what was sent and can match the image. A payload
    that is not an object is kept under "value" (or "repr" when it is not JSON at all). Whatever would break the
    refusal's own bounds (too deep, NaN) is kept as the start of its JSON text under "truncated"."""
    try:
        text = json.dumps(payload, default=str)
    except (TypeError, ValueError):
        text = repr(payload)
        return {"repr": text[:cap]}, len(text)
    size = len(text.encode("utf-8"))
    if not isinstance(payload, dict):
        kept: dict[str, Any] = {"value": payload if size <= cap else text[:cap]}
    elif size <= cap:
        kept = payload
    else:
        kept = {}
        for key, value in payload.items():
            if isinstance(value, str) and len(value) > KEPT_STRING_CAP:
                kept[key] = f"<{len(value)} characters omitted; sha256 {hashlib.sha256(value.encode()).hexdigest()}>"
            else:
                kept[key] = value
        if len(json.dumps(kept, default=str).encode("utf-8")) > cap:  # large without long strings: keep its start
            kept = {"truncated": json.dumps(kept, default=str)[:cap]}
    if not _bounded(kept):
        kept = {"truncated": text[:cap]}
    return kept, size


def _payload_digest(payload: Any) -> str:
    try:
        text = json.dumps(payload, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(payload)
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()


@dataclass(frozen=True)
class Refusal(Message):
    """A message an edge task could not use (it does not follow the schema).

    `refusal_id` is derived from (device, task, payload): a redelivered message refused again, or a refusal
    delivered twice, is kept once. `payload` is the refused message as `kept_payload` keeps it (a huge one loses
    its image); `payload_bytes` is the size of the whole message."""

    KIND: ClassVar[str] = "refusal"
    VERSIONED: ClassVar[bool] = True

    refusal_id: Annotated[uuid.UUID, UUIDValue()]
    device_id: Annotated[str, DEVICE_ID]
    task: Annotated[str, Text(max_len=80, blank=False)]
    reason: Annotated[str, Text(max_len=2000, blank=False)]
    payload: Annotated[dict[str, Any], KEPT_PAYLOAD]
    payload_bytes: Annotated[int, Integer(0, 2**53)]
    refused_at: Annotated[dt.datetime, Timestamp()]

    @classmethod
    def of(cls, payload: Any, *, device_id: str, task: str, reason: str) -> Refusal:
        kept, size = kept_payload(payload)
        return cls(
            refusal_id=uuid.uuid5(REFUSAL_NAMESPACE, f"{device_id}:{task}:{_payload_digest(payload)}"),
            device_id=device_id,
            task=task,
            reason=reason[:2000],
            payload=kept,
            payload_bytes=size,
            refused_at=utc_now(),
        )
