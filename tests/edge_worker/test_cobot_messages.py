"""The simulated cobot: its messages and acknowledgements, that it runs without the server, and that nothing
moves unless the server signed the command for this device, recently, and only once."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from edge_worker import simulated_cobot
from edge_worker.contracts.cobot import CobotAck, MovePart, PresentView
from edge_worker.contracts.fields import MessageError
from edge_worker.contracts.queues import MOVE_PART_TASK, PRESENT_VIEW_TASK
from edge_worker.contracts.signing import DeviceSecret, sign, sign_command
from edge_worker.credentials import Credentials
from edge_worker.simulated_cobot import CommandGuard, perform_move_part, perform_present_view

# Celery itself imports django.utils.version when Django is installed; the ORM, settings and our apps must not load.
SERVER_MODULES = ["django.db", "django.conf", "twinweb", "traceability", "inspection"]
DEVICE = "jetson-cobot-01"


@pytest.fixture
def device() -> Credentials:
    return Credentials(DEVICE, DeviceSecret.generate())


@pytest.fixture
def motions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every motion of the arm."""
    moved: list[str] = []
    monkeypatch.setattr(simulated_cobot, "actuate", lambda motion, seconds: moved.append(motion))
    return moved


def move(**overrides: Any) -> dict[str, Any]:
    return {
        **MovePart(
            command_id=str(uuid.uuid4()),
            cell="ac-cell-1",
            serial="SN-1",
            result_id=str(uuid.uuid4()),
            destination="rework",
        ).to_dict(),
        **overrides,
    }


def signed_move(device: Credentials, **kwargs: Any) -> dict[str, Any]:
    return sign_command(move(), task=MOVE_PART_TASK, secrets_in_force=[device.secret], **kwargs)


def test_it_imports_the_cobot_without_the_server() -> None:
    code = (
        "import json, sys\nimport edge_worker.simulated_cobot\n"
        f"print(json.dumps([m for m in {SERVER_MODULES!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_it_acknowledges_a_move_and_a_view_with_the_command_id(device: Credentials, motions: list[str]) -> None:
    command = signed_move(device)
    ack = perform_move_part(command, credentials=device, guard=CommandGuard())
    assert (ack.command_id, ack.kind, ack.status) == (command["command_id"], "move_part", "done")
    assert CobotAck.from_dict(ack.to_dict()) == ack
    view = PresentView(
        command_id=str(uuid.uuid4()),
        cell="ac-cell-1",
        serial="SN-1",
        result_id=str(uuid.uuid4()),
        finding_index=1,
        finding_kind="defect",
        finding_name="scratch",
        bbox=[1.0, 2.0, 3.0, 4.0],
    )
    assert PresentView.from_dict(view.to_dict()) == view
    signed_view = sign_command(view.to_dict(), task=PRESENT_VIEW_TASK, secrets_in_force=[device.secret])
    assert perform_present_view(signed_view, credentials=device, guard=CommandGuard()).status == "done"
    assert motions == ["move SN-1 to rework", "present SN-1 finding 1"]


def test_it_verifies_a_command_signed_for_several_devices_with_its_own_secret(device: Credentials) -> None:
    other = DeviceSecret.generate()
    command = sign_command(move(), task=MOVE_PART_TASK, secrets_in_force=[other, device.secret])
    assert perform_move_part(command, credentials=device, guard=CommandGuard()).status == "done"


def test_it_refuses_a_move_to_nowhere(device: Credentials) -> None:
    command = sign_command(move(destination="the moon"), task=MOVE_PART_TASK, secrets_in_force=[device.secret])
    ack = perform_move_part(command, credentials=device, guard=CommandGuard())
    assert ack.status == "refused" and "destination" in ack.detail
    with pytest.raises(MessageError):
        CobotAck.from_dict({**ack.to_dict(), "status": "maybe"})


def test_it_answers_a_command_it_cannot_read_with_a_refusal(device: Credentials) -> None:
    ack = perform_present_view(["not", "a", "command"], credentials=device, guard=CommandGuard())
    assert (ack.kind, ack.status) == ("present_view", "refused")
    assert ack.detail == "unauthenticated command: unsigned command"


# --- Attacks: each moves nothing and is refused, with why, in the acknowledgement ---------------------------------


def test_it_moves_nothing_for_an_unsigned_command(device: Credentials, motions: list[str]) -> None:
    command = move()
    ack = perform_move_part(command, credentials=device, guard=CommandGuard())
    assert (ack.command_id, ack.status, ack.detail) == (
        command["command_id"],
        "refused",
        "unauthenticated command: unsigned command",
    )
    assert motions == []


@pytest.mark.parametrize(
    ("forge", "problem"),
    [
        (lambda c: c.update(destination="scrap"), "bad MAC"),  # the destination changed after signing
        (lambda c: c["auth"]["macs"].update({k: "0" * 64 for k in c["auth"]["macs"]}), "bad MAC"),
        (
            lambda c: c["auth"].update(ts=(dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).isoformat()),
            "bad MAC",
        ),  # its time changed: the MAC covers it
    ],
    ids=["tampered-body", "wrong-mac", "tampered-time"],
)
def test_it_moves_nothing_for_a_forged_command(
    device: Credentials, motions: list[str], forge: Any, problem: str
) -> None:
    command = signed_move(device)
    forge(command)
    ack = perform_move_part(command, credentials=device, guard=CommandGuard())
    assert (ack.status, ack.detail) == ("refused", f"unauthenticated command: {problem}")
    assert motions == []


def test_it_moves_nothing_for_a_command_signed_with_another_secret(device: Credentials, motions: list[str]) -> None:
    command = sign_command(move(), task=MOVE_PART_TASK, secrets_in_force=[DeviceSecret.generate()])
    ack = perform_move_part(command, credentials=device, guard=CommandGuard())
    assert ack.status == "refused" and ack.detail.startswith(
        f"unauthenticated command: not signed for this device's secret (kid {device.secret.kid}"
    )
    assert motions == []


def test_it_moves_nothing_for_a_view_command_passed_off_as_a_move(device: Credentials, motions: list[str]) -> None:
    # Signed as PRESENT_VIEW_TASK (harmless), delivered as MOVE_PART_TASK: the task is inside the MAC.
    command = sign_command(move(), task=PRESENT_VIEW_TASK, secrets_in_force=[device.secret])
    assert perform_move_part(command, credentials=device, guard=CommandGuard()).detail == (
        "unauthenticated command: bad MAC"
    )
    assert motions == []


def test_it_moves_nothing_for_what_a_device_signed_as_its_own_message(device: Credentials, motions: list[str]) -> None:
    # Whoever holds a device's messages cannot pass one off as a command: the direction is inside the MAC.
    forged = sign(move(), task=MOVE_PART_TASK, device_id=DEVICE, secret=device.secret)
    forged["auth"] = {
        "v": 1,
        "ts": forged["auth"]["ts"],
        "nonce": forged["auth"]["nonce"],
        "macs": {device.secret.kid: forged["auth"]["mac"]},
    }
    assert perform_move_part(forged, credentials=device, guard=CommandGuard()).detail == (
        "unauthenticated command: bad MAC"
    )
    assert motions == []


def test_it_moves_a_replayed_command_once(device: Credentials, motions: list[str]) -> None:
    command = signed_move(device)
    guard = CommandGuard()
    first = perform_move_part(command, credentials=device, guard=guard)
    again = perform_move_part(command, credentials=device, guard=guard)
    assert (first.status, again.status) == ("done", "refused")
    assert again.detail == "unauthenticated command: replayed (its nonce was used before)"
    assert motions == ["move SN-1 to rework"]


def test_it_moves_nothing_for_an_old_command(
    device: Credentials, motions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWINWEB_COBOT_COMMAND_MAX_AGE_S", "600")
    old = signed_move(device, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=601))
    ack = perform_move_part(old, credentials=device, guard=CommandGuard())
    assert ack.status == "refused" and ack.detail.startswith("unauthenticated command: expired (sent 601 s ago")
    fresh = signed_move(device, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=590))
    assert perform_move_part(fresh, credentials=device, guard=CommandGuard()).status == "done"
    assert motions == ["move SN-1 to rework"]


def test_it_moves_nothing_for_a_command_from_the_future(device: Credentials, motions: list[str]) -> None:
    ahead = signed_move(device, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    ack = perform_move_part(ahead, credentials=device, guard=CommandGuard())
    assert ack.status == "refused" and "clock skew" in ack.detail
    assert motions == []
