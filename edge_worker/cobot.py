"""Moved: the cobot's messages to edge_worker.contracts.cobot, its queue and task names to
edge_worker.contracts.queues, the simulated cobot (its tasks and `main`) to edge_worker.simulated_cobot. These
re-exports keep the server's existing `from edge_worker.cobot import ...` (and `celery -I edge_worker.cobot`, which
registers the cobot's tasks) working until it imports the new modules."""
from edge_worker.contracts.cobot import DESTINATIONS, VIEW_KINDS, CobotAck, MovePart, PresentView
from edge_worker.contracts.fields import MessageError as CobotMessageError
from edge_worker.contracts.queues import COBOT_ACK_TASK as ACK_TASK
from edge_worker.contracts.queues import INGEST_QUEUE as ACK_QUEUE
from edge_worker.contracts.queues import MOVE_PART_TASK, PRESENT_VIEW_TASK, cobot_queue
from edge_worker.simulated_cobot import (
    SIMULATED_MOVE_S,
    SIMULATED_VIEW_S,
    main,
    move_part,
    perform_move_part,
    perform_present_view,
    present_view,
)

__all__ = [
    "ACK_QUEUE", "ACK_TASK", "DESTINATIONS", "MOVE_PART_TASK", "PRESENT_VIEW_TASK", "SIMULATED_MOVE_S",
    "SIMULATED_VIEW_S", "VIEW_KINDS", "CobotAck", "CobotMessageError", "MovePart", "PresentView", "cobot_queue",
    "main", "move_part", "perform_move_part", "perform_present_view", "present_view",
]

if __name__ == "__main__":
    main()
