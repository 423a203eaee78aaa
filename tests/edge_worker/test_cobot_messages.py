"""The simulated cobot: its messages and acknowledgements, and that it runs without the server."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from edge_worker.contracts.cobot import CobotAck, MovePart, PresentView
from edge_worker.contracts.fields import MessageError
from edge_worker.simulated_cobot import perform_move_part, perform_present_view

# Celery itself imports django.utils.version when Django is installed; the ORM, settings and our apps must not load.
SERVER_MODULES = ["django.db", "django.conf", "twinweb", "traceability", "inspection"]


def test_it_imports_the_cobot_without_the_server() -> None:
    code = ("import json, sys\nimport edge_worker.simulated_cobot\n"
            f"print(json.dumps([m for m in {SERVER_MODULES!r} if m in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_it_acknowledges_a_move_and_a_view_with_the_command_id() -> None:
    move = MovePart(command_id=str(uuid.uuid4()), cell="ac-cell-1", serial="SN-1", result_id=str(uuid.uuid4()),
                    destination="rework")
    ack = perform_move_part(move.to_dict())
    assert (ack.command_id, ack.kind, ack.status) == (move.command_id, "move_part", "done")
    assert CobotAck.from_dict(ack.to_dict()) == ack
    view = PresentView(command_id=str(uuid.uuid4()), cell="ac-cell-1", serial="SN-1", result_id=str(uuid.uuid4()),
                       finding_index=1, finding_kind="defect", finding_name="scratch", bbox=[1.0, 2.0, 3.0, 4.0])
    assert PresentView.from_dict(view.to_dict()) == view
    assert perform_present_view(view.to_dict()).status == "done"


def test_it_refuses_a_move_to_nowhere() -> None:
    ack = perform_move_part({"command_id": str(uuid.uuid4()), "cell": "c", "serial": "s", "result_id": "r",
                             "destination": "the moon"})
    assert ack.status == "refused" and "destination" in ack.detail
    with pytest.raises(MessageError):
        CobotAck.from_dict({**ack.to_dict(), "status": "maybe"})


def test_it_answers_a_command_it_cannot_read_with_a_refusal() -> None:
    ack = perform_present_view(["not", "a", "command"])
    assert (ack.kind, ack.status) == ("present_view", "refused")
    assert "must be a JSON object" in ack.detail
