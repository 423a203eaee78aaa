"""Authenticated edge messages, the server's side: a message that is unsigned, forged, replayed, expired or from a
device the server does not know is kept as an `unauthenticated` dead letter, with the reason, and changes nothing;
the same signed message delivered again (a worker died before acknowledging it) is processed once; a device's
secret is issued once and rotated with a grace period; a cobot acknowledgement counts only from the cell's device.

Each test sends what an attacker on the plant network could send, through the action or task the ingest worker
runs, and checks what was stored."""

from __future__ import annotations

import copy
import json
import datetime as dt
import threading
import uuid
from typing import Any

import pytest
from django.utils import timezone

from edge_worker.contracts.queues import (
    COBOT_ACK_TASK,
    INGEST_REFUSAL_TASK,
    INGEST_RESULT_TASK,
    INGEST_TELEMETRY_TASK,
    STORE_PROFILING_RUN_TASK,
)
from edge_worker.contracts.refusal import Refusal
from edge_worker.contracts.signing import DeviceSecret, sign
from inspection.actions.edge_auth import issue_edge_secret, nonce_key
from inspection.actions.ingest import (
    PayloadRefused,
    record_edge_refusal,
    record_inspection_result,
    record_inspection_results,
    record_telemetry,
)
from inspection.choices import DeadLetterReason
from inspection.models import DeadLetter, EdgeDevice, Inspection, TelemetrySample
from inspection.tasks import ingest_result, ingest_telemetry
from profiling.models import ProfilingRun
from profiling.tasks import store_profiling_run_task
from review.models import CobotCommand
from review.tasks import record_cobot_ack
from tests.support import factories
from tests.support import ingest_builders as builders
from tests.support.profiling_reports import profiling_report
from tests.support.review_cases import cell_device, cobot_answer, make_review_case
from traceability.choices import PartStatus
from traceability.models import AuditRecord, Part

UNAUTHENTICATED = DeadLetterReason.UNAUTHENTICATED


def refused(message: Any) -> DeadLetter:
    with pytest.raises(PayloadRefused) as raised:
        record_inspection_result(message)
    return raised.value.dead_letter


def assert_nothing_changed(edge: dict[str, Any]) -> None:
    assert not Inspection.objects.exists()
    assert Part.objects.get(pk=edge["part"].pk).status == PartStatus.IN_PROCESS
    device = EdgeDevice.objects.get(pk=edge["device"].pk)
    assert device.last_heartbeat_at is None, "a refused message is no heartbeat"
    assert not TelemetrySample.objects.exists()


def a_fail(edge: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The result an attacker would most like to inject: a good part failed (or a bad part passed)."""
    return builders.body(
        serial=edge["part"].serial, verdict="fail", defect_class="crack", defect_confidence=0.99, **kwargs
    )


# --- Unsigned ---------------------------------------------------------------------------------------------------


def test_it_stores_the_signed_result_and_dead_letters_the_same_result_unsigned(edge: dict[str, Any]) -> None:
    body = a_fail(edge)
    letter = refused(body)
    assert (letter.source, letter.reason, letter.detail) == (
        "inspection.tasks.ingest_result",
        UNAUTHENTICATED,
        "unsigned",
    )
    assert letter.payload == body, "kept whole for someone to look at"
    assert AuditRecord.objects.filter(action="dead_letter.store", subject_key=str(letter.pk)).exists()
    assert_nothing_changed(edge)

    inspection, created = record_inspection_result(builders.signed(body))  # the real device's message
    assert created and inspection.verdict == "fail"


def test_it_dead_letters_unsigned_telemetry_refusals_acks_and_reports(edge: dict[str, Any]) -> None:
    refusal = Refusal.of(
        {"serial": "X"},
        device_id=builders.DEVICE_ID,
        task="edge_worker.tasks.inspect_capture",
        reason="malformed capture: capture_id: missing",
    ).to_dict()
    outcomes = [
        ingest_telemetry.run(builders.telemetry_body()),
        record_cobot_ack.run(
            {
                "command_id": str(uuid.uuid4()),
                "cell": edge["cell"].code,
                "kind": "move_part",
                "status": "done",
                "detail": "moved",
                "done_at": timezone.now().isoformat(),
            }
        ),
        store_profiling_run_task.run(profiling_report(builders.DEVICE_ID, [])),
    ]
    letter, created = record_edge_refusal(refusal)
    assert (
        outcomes[0]["refused"] == UNAUTHENTICATED and outcomes[1] == "refused" and "unsigned" in outcomes[2]["refused"]
    )
    assert created and (letter.reason, letter.detail) == (UNAUTHENTICATED, "unsigned")
    assert sorted(DeadLetter.objects.values_list("source", "reason", "detail")) == sorted(
        [
            ("inspection.tasks.ingest_telemetry", UNAUTHENTICATED, "unsigned"),
            ("inspection.tasks.ingest_refusal", UNAUTHENTICATED, "unsigned"),
            (COBOT_ACK_TASK, UNAUTHENTICATED, "unsigned"),
            (STORE_PROFILING_RUN_TASK, UNAUTHENTICATED, "unsigned"),
        ]
    )
    assert not ProfilingRun.objects.exists()
    assert_nothing_changed(edge)


# --- Forged -----------------------------------------------------------------------------------------------------


def test_it_dead_letters_a_result_changed_after_it_was_signed(edge: dict[str, Any]) -> None:
    message = builders.signed(builders.body(serial=edge["part"].serial, verdict="pass"))
    message.update(verdict="fail", defect_class="crack", reason="cracked")  # in transit
    letter = refused(message)
    assert (letter.reason, letter.detail) == (
        UNAUTHENTICATED,
        "bad MAC: the message is not what device 'jetson-test-01' signed as inspection.tasks.ingest_result",
    )
    assert_nothing_changed(edge)


def test_it_dead_letters_a_result_with_a_made_up_mac(edge: dict[str, Any]) -> None:
    message = builders.signed(a_fail(edge))
    message["auth"]["mac"] = "ab" * 32
    assert refused(message).detail.startswith("bad MAC")
    assert_nothing_changed(edge)


def test_it_dead_letters_a_result_signed_with_a_secret_the_device_was_never_issued(edge: dict[str, Any]) -> None:
    attacker = DeviceSecret.generate()
    letter = refused(builders.signed(a_fail(edge), secret=attacker))
    assert letter.detail == f"unknown secret: device 'jetson-test-01' has no secret {attacker.kid}"
    # Claiming the real secret's key id does not help without the secret itself.
    message = sign(a_fail(edge), task=INGEST_RESULT_TASK, device_id=builders.DEVICE_ID, secret=attacker)
    message["auth"]["kid"] = builders.credentials().secret.kid
    assert refused(message).detail.startswith("bad MAC")
    assert_nothing_changed(edge)


def test_it_dead_letters_telemetry_passed_off_as_a_result(edge: dict[str, Any]) -> None:
    # Signed by the device as telemetry, sent as a result: the task is inside the MAC.
    message = builders.signed(a_fail(edge), INGEST_TELEMETRY_TASK)
    assert refused(message).detail.startswith("bad MAC")
    assert_nothing_changed(edge)


def test_it_dead_letters_a_device_speaking_for_another_device(edge: dict[str, Any], cell: Any) -> None:
    builders.make_device(cell, "jetson-test-02")
    impostor = builders.signed(a_fail(edge), device_id="jetson-test-02")  # its own secret, the other's id inside
    assert refused(impostor).detail == "device mismatch: signed by 'jetson-test-02' but sent as 'jetson-test-01'"
    with pytest.raises(PayloadRefused, match="device mismatch"):
        record_telemetry(builders.signed(builders.telemetry_body(), INGEST_TELEMETRY_TASK, device_id="jetson-test-02"))
    assert_nothing_changed(edge)


def test_it_dead_letters_a_message_from_an_unknown_device_and_from_a_device_without_a_secret(
    edge: dict[str, Any], cell: Any
) -> None:
    letter = refused(builders.signed(a_fail(edge, device_id="jetson-rogue")))
    assert letter.detail == "unknown device: no edge device 'jetson-rogue' is registered"
    factories_device = EdgeDevice.objects.create(device_id="jetson-fresh", name="no secret yet", cell=cell)
    letter = refused(
        builders.signed(a_fail(edge, device_id=factories_device.device_id), secret=DeviceSecret.generate())
    )
    assert letter.detail.startswith("unknown secret: device 'jetson-fresh' has no secret")
    assert letter.detail.endswith("(none was ever issued: issue one in the admin)")
    assert_nothing_changed(edge)


# --- Replayed and expired ---------------------------------------------------------------------------------------


def test_it_dead_letters_a_replayed_nonce_with_other_content(edge: dict[str, Any]) -> None:
    first = builders.signed(builders.body(serial=edge["part"].serial, verdict="pass"))
    record_inspection_result(first)
    # Someone holding the device's secret for a moment, or a device bug: the nonce is spent.
    replay = sign(
        a_fail(edge),
        task=INGEST_RESULT_TASK,
        device_id=builders.DEVICE_ID,
        secret=builders.credentials().secret,
        nonce=first["auth"]["nonce"],
    )
    letter = refused(replay)
    assert (letter.reason, letter.detail) == (
        UNAUTHENTICATED,
        f"replayed nonce {first['auth']['nonce']}: already used by device 'jetson-test-01' for other content",
    )
    assert list(Inspection.objects.values_list("verdict", flat=True)) == ["pass"]


def test_it_dead_letters_an_old_message_and_one_from_the_future(edge: dict[str, Any], settings: Any) -> None:
    settings.TWINWEB_EDGE_MESSAGE_MAX_AGE_S, settings.TWINWEB_EDGE_CLOCK_SKEW_S = 3600.0, 300.0
    secret, now = builders.credentials().secret, timezone.now()
    old = sign(
        a_fail(edge),
        task=INGEST_RESULT_TASK,
        device_id=builders.DEVICE_ID,
        secret=secret,
        now=now - dt.timedelta(seconds=3700),
    )
    assert refused(old).detail.startswith("expired (sent 3700 s ago > limit 3600 s)")
    ahead = sign(
        a_fail(edge),
        task=INGEST_RESULT_TASK,
        device_id=builders.DEVICE_ID,
        secret=secret,
        now=now + dt.timedelta(seconds=400),
    )
    assert refused(ahead).detail.startswith("expired (clock skew: sent 400 s in the future > limit 300 s)")
    assert_nothing_changed(edge)


def test_it_dead_letters_the_same_message_replayed_after_the_maximum_age(edge: dict[str, Any], settings: Any) -> None:
    settings.TWINWEB_EDGE_MESSAGE_MAX_AGE_S = 60.0
    message = sign(
        builders.body(serial=edge["part"].serial),
        task=INGEST_RESULT_TASK,
        device_id=builders.DEVICE_ID,
        secret=builders.credentials().secret,
        now=timezone.now() - dt.timedelta(seconds=50),
    )
    record_inspection_result(message)  # in time
    settings.TWINWEB_EDGE_MESSAGE_MAX_AGE_S = 40.0  # as if 10 more seconds had passed (and its nonce expired)
    assert refused(message).detail.startswith("expired (sent 50 s ago > limit 40 s)")
    assert Inspection.objects.count() == 1


def test_it_remembers_a_nonce_as_long_as_a_message_may_be_accepted(edge: dict[str, Any], settings: Any) -> None:
    import redis

    settings.TWINWEB_EDGE_MESSAGE_MAX_AGE_S, settings.TWINWEB_EDGE_CLOCK_SKEW_S = 1000.0, 200.0
    message = builders.signed(builders.body(serial=edge["part"].serial))
    record_inspection_result(message)
    key = nonce_key(builders.DEVICE_ID, message["auth"]["nonce"])
    ttl = redis.Redis.from_url(settings.REDIS_URL).ttl(key)
    assert 1190 <= ttl <= 1200
    telemetry = builders.telemetry()
    record_telemetry(telemetry)
    assert (
        redis.Redis.from_url(settings.REDIS_URL).ttl(nonce_key(builders.DEVICE_ID, telemetry["auth"]["nonce"])) <= 500
    )


# --- Redelivery: the same signed message again is processed once, never dead-lettered --------------------------


def test_it_processes_a_redelivered_result_once(edge: dict[str, Any]) -> None:
    message = builders.signed(a_fail(edge))
    first = ingest_result.run(copy.deepcopy(message))
    again = ingest_result.run(copy.deepcopy(message))  # acks_late: the worker died before acknowledging it
    assert (first["created"], again["created"], again["inspection"]) == (True, False, first["inspection"])
    assert Inspection.objects.count() == 1 and not DeadLetter.objects.exists()
    assert AuditRecord.objects.filter(action="inspection.record").count() == 1


def test_it_processes_a_redelivered_telemetry_message_once(edge: dict[str, Any]) -> None:
    message = builders.telemetry()
    first = ingest_telemetry.run(copy.deepcopy(message))
    again = ingest_telemetry.run(copy.deepcopy(message))
    assert first == again and TelemetrySample.objects.count() == 1 and not DeadLetter.objects.exists()


def test_it_processes_a_message_redelivered_after_its_first_delivery_failed(
    edge: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first delivery got past authentication (its nonce is spent) and then the database failed: the retry
    # is the same message, and must still be stored.
    import inspection.actions.ingest as ingest
    from django.db import OperationalError

    message = builders.telemetry()
    real = ingest._store_telemetry

    def database_away(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("the database went away")

    monkeypatch.setattr(ingest, "_store_telemetry", database_away)
    with pytest.raises(OperationalError):
        record_telemetry(copy.deepcopy(message))
    monkeypatch.setattr(ingest, "_store_telemetry", real)
    record_telemetry(copy.deepcopy(message))
    assert TelemetrySample.objects.count() == 1 and not DeadLetter.objects.exists()


@pytest.mark.django_db(transaction=True)  # the two workers are threads with their own database connections
def test_it_settles_the_same_nonce_delivered_to_two_workers_at_once(edge: dict[str, Any]) -> None:
    # Two ingest workers, one nonce, different content: exactly one is accepted, whichever comes first.
    from inspection.actions.edge_auth import verify

    secret, nonce = builders.credentials().secret, "N" * 22
    messages = [
        sign(
            builders.body(serial=edge["part"].serial, verdict=v),
            task=INGEST_RESULT_TASK,
            device_id=builders.DEVICE_ID,
            secret=secret,
            nonce=nonce,
        )
        for v in ("pass", "fail")
    ]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def deliver(message: dict[str, Any]) -> None:
        barrier.wait()
        try:
            verify(message, task=INGEST_RESULT_TASK)
            outcomes.append("accepted")
        except Exception as exc:  # AuthError
            outcomes.append(str(exc).split(" ")[0])

    threads = [threading.Thread(target=deliver, args=(m,)) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["accepted", "replayed"]


def test_it_authenticates_each_result_of_a_group_commit_on_its_own(edge: dict[str, Any], cell: Any) -> None:
    other = builders.make_edge_part(cell)
    good = builders.payload(serial=edge["part"].serial)
    outcomes = record_inspection_results([good, a_fail(edge), builders.payload(serial=other.serial), good])
    assert [(o.created, o.refused.reason if o.refused else None) for o in outcomes] == [
        (True, None),
        (False, UNAUTHENTICATED),
        (True, None),
        (False, None),
    ]
    assert Inspection.objects.count() == 2


# --- Secrets: issued once, stored nowhere, rotated with a grace period -------------------------------------------


def test_it_accepts_the_old_secret_during_the_grace_period_and_not_after(edge: dict[str, Any], settings: Any) -> None:
    settings.TWINWEB_EDGE_SECRET_GRACE_S = 600.0
    old = builders.credentials().secret
    issued = issue_edge_secret(edge["device"], actor=None)
    assert issued.secret != old and [s.kid for s in issued.replaced] == [old.kid]
    record_inspection_result(builders.signed(builders.body(serial=edge["part"].serial), secret=old))  # not yet updated
    record_inspection_result(builders.signed(builders.body(serial=edge["part"].serial), secret=issued.secret))
    assert Inspection.objects.count() == 2

    edge["device"].secrets.filter(kid=old.kid).update(expires_at=timezone.now() - dt.timedelta(seconds=1))  # grace over
    letter = refused(builders.signed(builders.body(serial=edge["part"].serial), secret=old))
    assert letter.detail.startswith(f"retired secret: {old.kid} of device 'jetson-test-01' expired at ")
    assert Inspection.objects.count() == 2


def test_it_revokes_a_leaked_secret_at_once(edge: dict[str, Any]) -> None:
    leaked = builders.credentials().secret
    issue_edge_secret(edge["device"], actor=None, revoke_previous=True)
    assert refused(builders.signed(a_fail(edge), secret=leaked)).detail.startswith("retired secret")
    assert_nothing_changed(edge)


def test_it_shows_a_new_secret_once_in_the_admin_and_stores_only_its_fingerprint(
    edge: dict[str, Any], admin_user: Any, login: Any
) -> None:
    client = login(admin_user)
    response = client.post(
        "/admin/inspection/edgedevice/", {"action": "issue_secret", "_selected_action": [edge["device"].pk]}
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = response.content.decode()
    [shown] = [w.split("<")[0] for w in html.split('class="edge-secret">')[1:]]
    secret = DeviceSecret.parse(shown)
    assert "shown this once" in html

    record = edge["device"].secrets.get(expires_at__isnull=True)
    assert (record.kid, record.issued_by) == (secret.kid, admin_user)
    stored = repr(list(edge["device"].secrets.values())) + repr(list(AuditRecord.objects.values()))
    assert shown not in stored and secret.key.hex() not in stored, "the secret is stored nowhere"
    audit = AuditRecord.objects.get(action="edge_device.secret_issued", actor=admin_user)
    assert json.loads(audit.payload)["after"]["kid"] == secret.kid
    # The device list and its page show key ids only; the secret is not shown again.
    page = client.get(f"/admin/inspection/edgedevice/{edge['device'].pk}/change/").content.decode()
    assert secret.kid in page and shown not in page
    # And it is the secret the device signs with from now on.
    record_inspection_result(builders.signed(builders.body(serial=edge["part"].serial), secret=secret))


def test_only_who_may_change_devices_issues_secrets(edge: dict[str, Any], auditor: Any, login: Any) -> None:
    response = login(auditor).post(
        "/admin/inspection/edgedevice/", {"action": "issue_secret", "_selected_action": [edge["device"].pk]}
    )
    assert b"twe1_" not in response.content
    assert edge["device"].secrets.count() == 1


def test_the_command_prints_a_new_secret_once(edge: dict[str, Any]) -> None:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("issue_edge_secret", "--device", builders.DEVICE_ID, "--quiet", stdout=out)
    secret = DeviceSecret.parse(out.getvalue())
    record_inspection_result(builders.signed(builders.body(serial=edge["part"].serial), secret=secret))
    assert edge["device"].secrets.count() == 2


# --- Cobot acknowledgements ---------------------------------------------------------------------------------------


def test_it_counts_a_cobot_acknowledgement_only_from_the_commands_cell(cell: Any, operator: Any) -> None:
    from review.actions import cobot as cobot_actions

    case = make_review_case(cell)
    command = cobot_actions.move_part(case, destination="scrap", reason="test")
    ack = cobot_answer(command)
    other_cell = factories.make_cell(code="other-cell")
    builders.make_device(other_cell, "jetson-other-cell")
    foreign = builders.signed(ack, COBOT_ACK_TASK, device_id="jetson-other-cell")
    assert record_cobot_ack.run(foreign) == "refused"
    letter = DeadLetter.objects.get(source=COBOT_ACK_TASK)
    assert (letter.reason, letter.detail) == (
        UNAUTHENTICATED,
        (
            f"wrong cell: device 'jetson-other-cell' (other-cell) acknowledged command {command.command_id} of another cell"
        ),
    )
    assert CobotCommand.objects.get(pk=command.pk).acked_at is None
    assert record_cobot_ack.run(ack) == "recorded"  # the cell's own device
    assert cell_device(cell) == ack["auth"]["device_id"]


def test_it_keeps_a_refusal_signed_by_its_device_only(edge: dict[str, Any]) -> None:
    refusal = Refusal.of(
        {"serial": "X"},
        device_id=builders.DEVICE_ID,
        task="edge_worker.tasks.inspect_capture",
        reason="malformed capture: capture_id: missing",
    ).to_dict()
    forged = builders.signed(refusal, INGEST_REFUSAL_TASK)
    forged["reason"] = "nothing to see here"
    letter, _ = record_edge_refusal(forged)
    assert (letter.reason, letter.detail[:7]) == (UNAUTHENTICATED, "bad MAC")
    letter, _ = record_edge_refusal(builders.signed(refusal, INGEST_REFUSAL_TASK))
    assert letter.reason == DeadLetterReason.MALFORMED and "capture_id: missing" in letter.detail


def test_the_demo_replaces_a_secret_issued_under_another_secret_key(edge: dict[str, Any], settings: Any) -> None:
    from inspection.actions.edge_auth import current_secret, ensure_edge_secret
    from inspection.models import SecretUnavailable

    settings.SECRET_KEY = "another-secret-key-than-the-one-it-was-issued-under"
    with pytest.raises(SecretUnavailable):
        current_secret(edge["device"])
    assert refused(builders.signed(a_fail(edge), secret=DeviceSecret.generate())).reason == UNAUTHENTICATED
    secret = ensure_edge_secret(edge["device"], actor=None)  # what run_demo does on its next start
    assert current_secret(edge["device"]) == secret
    record_inspection_result(builders.signed(builders.body(serial=edge["part"].serial), secret=secret))
