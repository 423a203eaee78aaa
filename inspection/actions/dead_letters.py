"""Dead letters: every message the server refuses is kept with the reason (and logged), never dropped silently."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from edge_worker.contracts.refusal import kept_payload
from inspection.choices import DeadLetterReason
from inspection.models import DeadLetter
from traceability import audit

log = logging.getLogger("inspection.actions.ingest")


class PayloadRefused(Exception):
    """The payload was not stored; `dead_letter` keeps it with the reason."""

    def __init__(self, dead_letter: DeadLetter) -> None:
        self.dead_letter = dead_letter
        super().__init__(f"{dead_letter.get_reason_display()}: {dead_letter.detail}")


def dead_letter(
    payload: Any, *, reason: DeadLetterReason, detail: str, source: str, payload_bytes: int | None = None
) -> DeadLetter:
    """Keep a refused message with the reason. Its own transaction: a refusal is recorded even when the caller's
    work rolls back. `payload_bytes`: the size of the whole message when `payload` is already cut down (an edge
    device's refusal)."""
    kept, size = kept_payload(payload)
    size = size if payload_bytes is None else payload_bytes
    log.warning("refused %s payload (%s): %s", source, reason.value, detail)
    with transaction.atomic():
        letter = DeadLetter.objects.create(
            received_at=timezone.now(),
            source=source,
            reason=reason,
            detail=detail[:5000],
            payload=kept,
            payload_bytes=size,
        )
        audit.append(
            actor=None,
            action="dead_letter.store",
            subject=("inspection.deadletter", str(letter.pk)),
            after={"source": source, "reason": reason.value, "detail": detail[:500], "payload_bytes": size},
        )
    return letter
