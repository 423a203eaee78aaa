"""The append-only, hash-chained audit trail.

`append` is called by actions inside their transaction. Each record's hash covers its canonical JSON payload
and the previous record's hash, so changing, removing or reordering any record breaks the chain from there on;
`verify_chain` finds the first broken record.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, models
from django.utils import timezone

from traceability.models import AuditRecord

GENESIS_HASH = "0" * 64
_LOCK_KEY = 0x7477_6E77  # "twnw": serialises appends on PostgreSQL


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot record {type(value).__name__} in the audit trail")


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def chain_hash(previous_hash: str, payload: str) -> str:
    return hashlib.sha256((previous_hash + payload).encode("utf-8")).hexdigest()


def subject_identity(subject: models.Model | tuple[str, str]) -> tuple[str, str]:
    """(type, key) naming what a record is about: the model label and its natural key where it has one."""
    if isinstance(subject, tuple):
        return subject
    label = subject._meta.label_lower
    for natural in ("serial", "lot_key", "batch_number", "sscc", "code", "device_id", "result_id"):
        if hasattr(subject, natural):
            return label, str(getattr(subject, natural))
    return label, str(subject.pk)


def actor_identity(actor: AbstractBaseUser | AnonymousUser | None) -> tuple[int | None, str]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, "system"
    full_name = actor.get_full_name() if hasattr(actor, "get_full_name") else ""
    return actor.pk, f"{full_name} ({actor.get_username()})" if full_name else actor.get_username()


@dataclass(frozen=True)
class PendingRecord:
    """An audit entry not yet chained; `append_many` chains and stores a list of them at once."""

    actor: AbstractBaseUser | AnonymousUser | None
    action: str
    subject: models.Model | tuple[str, str]
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str = ""
    corrects: AuditRecord | None = None
    at: dt.datetime | None = None


def _lock_and_read_head() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
    # SQLite: transactions begin IMMEDIATE (settings), so this transaction already holds the write lock.
    head = AuditRecord.objects.order_by("-id").values_list("record_hash", flat=True).first()
    return head or GENESIS_HASH


def append_many(entries: Iterable[PendingRecord]) -> list[AuditRecord]:
    if not connection.in_atomic_block:
        raise RuntimeError("audit records are written inside the action's transaction")
    previous_hash = _lock_and_read_head()
    records: list[AuditRecord] = []
    now = timezone.now()
    for entry in entries:
        actor_id, actor_name = actor_identity(entry.actor)
        subject_type, subject_key = subject_identity(entry.subject)
        created_at = entry.at or now
        payload = canonical_json(
            {
                "at": created_at,
                "actor_id": actor_id,
                "actor": actor_name,
                "action": entry.action,
                "subject_type": subject_type,
                "subject_key": subject_key,
                "before": entry.before,
                "after": entry.after,
                "reason": entry.reason,
                "corrects": entry.corrects.record_hash if entry.corrects else None,
            }
        )
        record_hash = chain_hash(previous_hash, payload)
        records.append(
            AuditRecord(
                created_at=created_at,
                actor_id=actor_id,
                actor_name=actor_name,
                action=entry.action,
                subject_type=subject_type,
                subject_key=subject_key,
                corrects=entry.corrects,
                payload=payload,
                previous_hash=previous_hash,
                record_hash=record_hash,
            )
        )
        previous_hash = record_hash
    return AuditRecord.objects.bulk_create(records)


def append(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    subject: models.Model | tuple[str, str],
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    corrects: AuditRecord | None = None,
) -> AuditRecord:
    [record] = append_many([PendingRecord(actor, action, subject, before, after, reason, corrects)])
    return record


@dataclass(frozen=True)
class ChainBreak:
    record_id: int
    problem: str


def _check(record: AuditRecord, previous_hash: str) -> str | None:
    if record.previous_hash != previous_hash:
        return "its previous-hash link does not match the record before it (a record was removed or reordered)"
    if chain_hash(previous_hash, record.payload) != record.record_hash:
        return "its content does not match its hash (the payload was changed)"
    try:
        payload = json.loads(record.payload)
    except ValueError:
        return "its payload is not valid JSON"
    columns = {
        "action": record.action,
        "subject_type": record.subject_type,
        "subject_key": record.subject_key,
        "actor": record.actor_name,
        "actor_id": record.actor_id,
    }
    for name, value in columns.items():
        if payload.get(name) != value:
            return f"its {name} column ({value!r}) differs from what was hashed ({payload.get(name)!r})"
    if payload.get("at") != record.created_at.isoformat():
        return "its created_at column differs from what was hashed"
    if payload.get("corrects") != getattr(record, "corrects_hash", None):
        return "its corrects column points at another record than the one whose hash was recorded"
    return None


@dataclass(frozen=True)
class ChainHead:
    record_id: int
    record_hash: str

    def __str__(self) -> str:
        return f"{self.record_id}:{self.record_hash}"

    @classmethod
    def parse(cls, text: str) -> "ChainHead":
        record_id, sep, record_hash = text.partition(":")
        if not sep or not record_id.isdigit() or len(record_hash) != 64:
            raise ValueError(f"expected RECORD_ID:SHA256, got {text!r}")
        return cls(int(record_id), record_hash.lower())


def verify_chain(anchor: ChainHead | None = None) -> tuple[int, ChainBreak | None, ChainHead | None]:
    """Walk the whole trail in order; return how many records were checked, the first break if any, and the head.

    The chain proves that nothing before a record was changed or removed; it cannot by itself show that the newest
    records were removed. `anchor` is a head recorded earlier outside the database (printed by verify_audit): the
    trail must still hold that record with that hash."""
    checked = 0
    previous_hash = GENESIS_HASH
    head: ChainHead | None = None
    anchor_seen = anchor is None
    records = AuditRecord.objects.annotate(corrects_hash=models.F("corrects__record_hash")).order_by("id")
    for record in records.iterator(chunk_size=2000):
        problem = _check(record, previous_hash)
        if problem:
            return checked, ChainBreak(record.pk, problem), head
        if anchor is not None and record.pk == anchor.record_id:
            if record.record_hash != anchor.record_hash:
                return checked, ChainBreak(record.pk, "its hash differs from the anchor recorded earlier"), head
            anchor_seen = True
        checked += 1
        previous_hash = record.record_hash
        head = ChainHead(record.pk, record.record_hash)
    if not anchor_seen:
        assert anchor is not None
        return (
            checked,
            ChainBreak(anchor.record_id, "the anchored record is gone: records were removed from the end of the trail"),
            head,
        )
    return checked, None, head
