"""Server side of the cobot: its acknowledgements arrive on the `ingest` queue. Thin: the action does the work
(authenticating the ack first), and a redelivered ack is a no-op (the command id is unique), so acks_late is
safe."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from edge_worker.contracts.fields import MessageError
from edge_worker.contracts.queues import COBOT_ACK_TASK
from inspection.actions.ingest import PayloadRefused
from review.actions import cobot
from traceability.errors import NotFound

log = logging.getLogger(__name__)


@shared_task(name=COBOT_ACK_TASK, acks_late=True)
def record_cobot_ack(data: dict[str, Any]) -> str:
    try:
        _command, recorded = cobot.record_cobot_ack(data)
    except PayloadRefused as refused:  # not authentic: already kept as a dead letter
        log.warning("cobot ack refused: %s", refused)
        return "refused"
    except (MessageError, ValueError, TypeError, NotFound) as exc:
        cobot.dead_letter_cobot_ack(data, problem=exc)
        log.warning("cobot ack refused: %s", exc)
        return "refused"
    return "recorded" if recorded else "duplicate"
