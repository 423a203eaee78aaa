"""Signed verdicts: every verdict is re-authenticated, bound to the hash of what was signed, audited, applied to
the failure case and the part, sent to the cobot, and visible in the part's trace."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import uuid
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from edge_worker.contracts.queues import COBOT_ACK_TASK
from inspection.models import DeadLetter
from review.actions import claims, signing, verdicts
from review.choices import ReviewStatus, SignatureMeaning
from review.models import CobotCommand, Review, Signature
from review.selectors import review_time_by_shift
from review.tasks import record_cobot_ack
from tests.support import factories
from tests.support import ingest_builders as builders
from tests.support.review_cases import cell_device, cobot_answer, make_review_case
from traceability import roles
from traceability.choices import Disposition, FailureCaseStatus, FoundBy, PartStatus
from traceability.errors import RefusedByRule
from traceability.genealogy import backward_trace
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db


def sign(client: Any, inspection: Any, **decision: Any) -> Any:
    body = {"credential": factories.PASSWORD, "idempotency_key": str(uuid.uuid4()), **decision}
    return client.post(
        reverse("review-sign", args=[inspection.result_id]), json.dumps(body), content_type="application/json"
    )


def claimed(client: Any, inspection: Any) -> Any:
    assert client.post(reverse("review-claim", args=[inspection.result_id])).status_code == 302
    return client


def cobot_messages(cell_code: str) -> list[dict[str, Any]]:
    """The Celery messages waiting on the cell's cobot queue in the real broker (oldest first)."""
    r = redis.Redis.from_url(settings.REDIS_URL)
    messages = []
    for raw in reversed(r.lrange(f"cobot.{cell_code}", 0, -1)):
        envelope = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        messages.append({"task": envelope["headers"]["task"], "payload": args[0]})
    return messages


async def drain(layer: Any, channel: str) -> list[dict[str, Any]]:
    """Every event the cell group received, until none comes for a second."""
    events: list[dict[str, Any]] = []
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=1.0)
        except asyncio.TimeoutError:
            return events
        events.append(message["event"])


@pytest.fixture
def clear_cobot_queue(cell: Any) -> Any:
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(f"cobot.{cell.code}")
    yield
    r.delete(f"cobot.{cell.code}")


def test_it_scraps_a_confirmed_nok_part_and_records_everything(
    cell: Any, operator: Any, login: Any, clear_cobot_queue: Any, django_capture_on_commit_callbacks: Any
) -> None:
    case = make_review_case(cell, defect="scratch")
    client = claimed(login(operator), case)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"cell.{cell.pk}", channel)

    with django_capture_on_commit_callbacks(execute=True):
        response = sign(client, case, verdict="confirm_nok", disposition="scrap")

    assert response.status_code == 201, response.content
    review = Review.objects.get(inspection=case)
    case.refresh_from_db()
    case.part.refresh_from_db()
    assert (review.verdict, review.disposition, review.status) == ("confirm_nok", "scrap", ReviewStatus.COMPLETE)
    assert case.part.status == PartStatus.SCRAPPED
    assert case.failure_case.status == FailureCaseStatus.CLOSED and case.failure_case.disposition == Disposition.SCRAP
    assert case.needs_review is False
    [signature] = review.signatures.all()
    assert signature.printed_name == "Olivia Tester (olivia)" and signature.meaning == SignatureMeaning.AUTHOR
    assert signature.method == "password" and signing.signature_is_intact(signature)
    assert review.signed_content["decision"]["verdict"] == "confirm_nok"
    assert review.signed_content["image_sha256"] == case.image.sha256
    [record] = AuditRecord.objects.filter(action="review.sign", subject_key=case.part.serial)
    payload = json.loads(record.payload)
    assert payload["after"]["inspection"] == str(case.result_id)
    assert payload["after"]["content_sha256"] == review.content_sha256
    assert AuditRecord.objects.filter(action="failure_case.disposition").exists()
    assert (
        AuditRecord.objects.filter(action="part.status", subject_key=case.part.serial).last().payload.count("scrapped")
    )

    [move] = [m for m in cobot_messages(cell.code) if m["task"] == "edge_worker.cobot.move_part"]
    assert move["payload"]["destination"] == "scrap" and move["payload"]["serial"] == case.part.serial
    signed = [e for e in async_to_sync(drain)(layer, channel) if e["type"] == "review.signed"]
    assert signed and signed[0]["serial"] == case.part.serial and signed[0]["verdict"] == "confirm_nok"


def test_it_refuses_a_wrong_password_and_records_nothing(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = claimed(login(operator), case)
    response = sign(client, case, verdict="confirm_nok", disposition="rework", credential="not-my-password")
    assert response.status_code == 403
    assert response.json()["code"] == "signature_refused"
    case.part.refresh_from_db()
    assert case.part.status == PartStatus.FAILED
    assert not Review.objects.exists() and not Signature.objects.exists()
    assert not AuditRecord.objects.filter(action="review.sign").exists()


def test_it_accepts_a_pin_instead_of_the_password(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = claimed(login(operator), case)
    client.post(reverse("review-pin"), {"pin": "4711", "current_password": factories.PASSWORD})
    response = sign(client, case, verdict="confirm_nok", disposition="rework", credential="4711")
    assert response.status_code == 201
    assert Signature.objects.get().method == "pin"
    case.part.refresh_from_db()
    assert case.part.status == PartStatus.REWORKED


def test_it_applies_a_resubmitted_decision_once(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = claimed(login(operator), case)
    key = str(uuid.uuid4())
    first = sign(client, case, verdict="confirm_nok", disposition="scrap", idempotency_key=key)
    again = sign(client, case, verdict="confirm_nok", disposition="scrap", idempotency_key=key)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["applied"] is False and again.json()["review"] == first.json()["review"]
    assert Review.objects.count() == 1 and Signature.objects.count() == 1
    assert AuditRecord.objects.filter(action="review.sign").count() == 1
    assert CobotCommand.objects.filter(kind="move_part").count() == 1


def test_it_needs_a_listed_reason_for_an_override_and_a_note_for_other(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = claimed(login(operator), case)
    assert sign(client, case, verdict="override_ok").status_code == 409
    assert sign(client, case, verdict="override_ok", reason_code="because").status_code == 409
    assert sign(client, case, verdict="override_ok", reason_code="other").status_code == 409
    response = sign(client, case, verdict="override_ok", reason_code="glare")
    assert response.status_code == 201
    case.part.refresh_from_db()
    case.failure_case.refresh_from_db()
    assert case.part.status == PartStatus.PASSED
    assert case.failure_case.disposition == Disposition.USE_AS_IS
    assert CobotCommand.objects.get(kind="move_part").payload["destination"] == "line"


def test_it_refuses_a_verdict_from_someone_who_does_not_hold_the_case(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    claimed(login(operator), case)
    other = factories.make_user("oscar", roles.OPERATOR)
    response = sign(login(other), case, verdict="confirm_nok", disposition="scrap")
    assert response.status_code == 409
    assert not Review.objects.exists()


def test_it_waits_for_a_second_person_on_a_four_eyes_override(
    cell: Any, quality_engineer: Any, operator: Any, supervisor: Any, login: Any
) -> None:
    case = make_review_case(cell, four_eyes=True)
    reviewer = login(quality_engineer)  # may review and countersign, but not their own override
    claimed(reviewer, case)
    assert sign(reviewer, case, verdict="override_ok", reason_code="dirt", note="oil drop").status_code == 201
    review = Review.objects.get()
    case.part.refresh_from_db()
    assert review.status == ReviewStatus.AWAITING_COUNTERSIGN
    assert case.part.status == PartStatus.FAILED
    assert CobotCommand.objects.get(kind="move_part").payload["destination"] == "hold"

    url = reverse("review-countersign", args=[review.pk])
    reviewer.post(url, {"credential": factories.PASSWORD, "idempotency_key": str(uuid.uuid4())})
    login(operator).post(url, {"credential": factories.PASSWORD, "idempotency_key": str(uuid.uuid4())})
    login(supervisor).post(url, {"credential": "wrong", "idempotency_key": str(uuid.uuid4())})
    review.refresh_from_db()
    assert review.status == ReviewStatus.AWAITING_COUNTERSIGN and review.signatures.count() == 1

    page = login(supervisor).get(reverse("review-queue"))
    assert [r.pk for r in page.context["awaiting"]] == [review.pk]
    detail = login(supervisor).get(reverse("review-review", args=[review.pk]))
    assert detail.context["can_countersign"] and "Countersign this override" in detail.content.decode()
    assert not login(quality_engineer).get(reverse("review-review", args=[review.pk])).context["can_countersign"]
    login(supervisor).post(url, {"credential": factories.PASSWORD, "idempotency_key": str(uuid.uuid4())})
    review.refresh_from_db()
    case.part.refresh_from_db()
    assert review.status == ReviewStatus.COMPLETE
    assert [(s.signer.username, s.meaning) for s in review.signatures.all()] == [
        ("quinn", SignatureMeaning.AUTHOR),
        ("sam", SignatureMeaning.COUNTERSIGN),
    ]
    assert all(signing.signature_is_intact(s) for s in review.signatures.all())
    assert case.part.status == PartStatus.PASSED
    assert AuditRecord.objects.filter(action="review.countersign", subject_key=case.part.serial).count() == 1
    assert CobotCommand.objects.filter(kind="move_part").order_by("sent_at").last().payload["destination"] == "line"


def test_it_does_not_need_a_countersignature_without_four_eyes(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell, four_eyes=False)
    client = claimed(login(operator), case)
    sign(client, case, verdict="override_ok", reason_code="position")
    assert Review.objects.get().status == ReviewStatus.COMPLETE


def test_it_confirms_or_rejects_a_low_confidence_pass(cell: Any, operator: Any, login: Any) -> None:
    unsure = make_review_case(cell, defect="ok", confidence=0.5)
    client = claimed(login(operator), unsure)
    unsure.part.refresh_from_db()
    assert unsure.part.status == PartStatus.ON_HOLD
    assert sign(client, unsure, verdict="confirm_ok").status_code == 201
    unsure.part.refresh_from_db()
    assert unsure.part.status == PartStatus.PASSED

    found = make_review_case(cell, defect="ok", confidence=0.5, seed=3)
    client = claimed(client, found)
    assert sign(client, found, verdict="confirm_nok", disposition="scrap").status_code == 409  # which defect?
    assert sign(client, found, verdict="confirm_nok", disposition="scrap", reason_code="dent").status_code == 201
    found.refresh_from_db()
    assert found.failure_case.found_by == FoundBy.PERSON and found.failure_case.defect_code.code == "dent"
    assert found.part.status == PartStatus.SCRAPPED and found.review.defect_label == "dent"


def test_it_shows_the_verdict_in_the_parts_trace(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = claimed(login(operator), case)
    sign(client, case, verdict="confirm_nok", disposition="rework")
    trace = backward_trace(case.part)
    [step] = trace.inspections
    assert step.reviewer == "Olivia Tester"
    assert "review.sign" in [a.action for a in trace.audit_records]
    assert [c.disposition for c in trace.failure_cases] == [Disposition.REWORK]


def test_it_detects_a_changed_signed_content(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = claimed(login(operator), case)
    sign(client, case, verdict="confirm_nok", disposition="rework")
    review = Review.objects.get()
    review.signed_content["decision"]["disposition"] = "scrap"
    review.save(update_fields=["signed_content"])
    assert not signing.signature_is_intact(Signature.objects.get())


def test_it_records_the_cobots_acknowledgement_once(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = claimed(login(operator), case)
    sign(client, case, verdict="confirm_nok", disposition="scrap")
    command = CobotCommand.objects.get(kind="move_part")
    ack = cobot_answer(command)  # what the simulated cobot answers
    assert record_cobot_ack.run(ack) == "recorded"
    assert record_cobot_ack.run(ack) == "duplicate"
    command.refresh_from_db()
    assert command.acked_at is not None and command.ack["status"] == "done"
    assert AuditRecord.objects.filter(action="cobot.move_part", subject_key=case.part.serial).count() == 1
    unknown = builders.signed({**ack, "command_id": str(uuid.uuid4())}, COBOT_ACK_TASK, device_id=cell_device(cell))
    assert record_cobot_ack.run(unknown) == "refused"
    assert record_cobot_ack.run({"junk": 1}) == "refused"
    assert DeadLetter.objects.filter(source=COBOT_ACK_TASK).count() == 2


def test_it_records_review_time_and_shows_supervisors_the_median_per_shift(
    cell: Any, operator: Any, supervisor: Any, login: Any
) -> None:
    times = []
    base = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
    if base > timezone.now():
        base -= dt.timedelta(days=1)
    for seconds in (30, 50, 200):
        case = make_review_case(cell)
        claim = claims.claim_case(case, actor=operator, now=base)
        review, _ = verdicts.sign_verdict(
            case,
            actor=operator,
            verdict="confirm_nok",
            disposition="scrap",
            credential=factories.PASSWORD,
            idempotency_key=uuid.uuid4(),
            now=base + dt.timedelta(seconds=seconds),
        )
        times.append(review.review_seconds)
        assert review.opened_at == claim.claimed_at
    assert times == [30.0, 50.0, 200.0]
    page = login(supervisor).get(reverse("review-queue"))
    [row] = [r for r in page.context["shift_times"] if r.day == timezone.localtime(base).date()]
    assert (row.shift, row.reviews, row.median_s) == ("early", 3, 50.0)
    assert "Median review time" in page.content.decode()
    assert "Median review time" not in login(operator).get(reverse("review-queue")).content.decode()


def test_it_hands_the_step_through_page_each_finding_with_its_evidence(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell, defect="scratch", seed=1, confidence=0.81, dimensions_mm={"bore_diameter": 29.9})
    client = claimed(login(operator), case)
    response = client.get(reverse("review-case", args=[case.result_id]))
    assert response.status_code == 200
    data = response.context["case_data"]
    dimension, defect = data["findings"]
    assert dimension["kind"] == "dimension" and dimension["name"] == "bore_diameter"
    assert dimension["geometry"]["type"] == "circle" and dimension["lower_limit"] == 30.0
    assert dimension["value"] < dimension["lower_limit"]
    assert defect == {**defect, "kind": "defect", "defect_class": "scratch", "confidence": 0.81}
    assert [c["verdict"] for c in data["choices"]] == ["confirm_nok", "confirm_nok", "override_ok"]
    assert data["imageUrl"] == case.image.get_absolute_url()
    assert client.get(data["imageUrl"]).status_code == 200


def test_it_tells_the_cobot_which_finding_to_present(
    cell: Any, operator: Any, login: Any, clear_cobot_queue: Any, django_capture_on_commit_callbacks: Any
) -> None:
    case = make_review_case(cell, defect="scratch", seed=1, dimensions_mm={"bore_diameter": 29.9})
    client = claimed(login(operator), case)
    url = reverse("review-view", args=[case.result_id])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, json.dumps({"index": 1}), content_type="application/json").status_code == 200
    assert client.post(url, json.dumps({"index": 7}), content_type="application/json").status_code == 400
    [message] = cobot_messages(cell.code)
    assert message["task"] == "edge_worker.cobot.present_view"
    assert message["payload"]["finding_kind"] == "defect" and message["payload"]["finding_name"] == "scratch"
    other = factories.make_user("oscar", roles.OPERATOR)
    assert login(other).post(url, json.dumps({"index": 0}), content_type="application/json").status_code == 409


def test_it_audits_refused_signatures_and_locks_signing_after_too_many(
    cell: Any, operator: Any, login: Any, settings: Any
) -> None:
    settings.TWINWEB_SIGNATURE_MAX_FAILURES = 3
    case = make_review_case(cell)
    client = claimed(login(operator), case)
    for _ in range(3):
        assert sign(client, case, verdict="confirm_nok", disposition="scrap", credential="guess").status_code == 403
    refused = AuditRecord.objects.filter(action="review.signature_refused", actor_id=operator.pk)
    assert refused.count() == 3 and refused.first().subject_key == str(case.result_id)
    locked = sign(client, case, verdict="confirm_nok", disposition="scrap")  # the right password, too late
    assert locked.status_code == 403 and "locked" in locked.json()["detail"]
    assert not Review.objects.exists()


# --- One part, one verdict, one move ----------------------------------------------------------------------


def test_it_decides_a_part_flagged_by_two_stations_with_one_verdict_and_one_move(
    cell: Any, operator: Any, login: Any, clear_cobot_queue: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # The visual station found a scratch; the dimensional station passed the part, unsure of its surface.
    visual = make_review_case(cell, defect="scratch")
    dimensional = make_review_case(cell, part=visual.part, station="dimensional", defect="ok", confidence=0.5)
    olivia, oscar = login(operator), login(factories.make_user("oscar", roles.OPERATOR))
    claimed(olivia, visual)
    assert (
        "is reviewing"
        in oscar.post(reverse("review-claim", args=[dimensional.result_id]), follow=True).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sign(olivia, visual, verdict="confirm_nok", disposition="scrap").status_code == 201
        oscar.post(reverse("review-claim", args=[dimensional.result_id]))
        late = sign(oscar, dimensional, verdict="confirm_ok")
    assert late.status_code == 409
    moves = [
        m["payload"]["destination"] for m in cobot_messages(cell.code) if m["task"] == "edge_worker.cobot.move_part"
    ]
    assert moves == ["scrap"]
    review = Review.objects.get()
    assert {i.result_id for i in review.decided_inspections.all()} == {visual.result_id, dimensional.result_id}
    assert [i["inspection"] for i in review.signed_content["inspections"]] == [
        str(visual.result_id),
        str(dimensional.result_id),
    ]
    visual.part.refresh_from_db()
    assert visual.part.status == PartStatus.SCRAPPED
    assert [step.reviewer for step in backward_trace(visual.part).inspections] == ["Olivia Tester", "Olivia Tester"]
    assert login(operator).get(reverse("review-queue")).context["cases"] == []


# --- A verdict needs a live claim ----------------------------------------------------------------------------


def test_it_refuses_a_verdict_once_the_claim_has_lapsed(cell: Any, operator: Any, settings: Any) -> None:
    settings.TWINWEB_REVIEW_CLAIM_TTL_S = 60
    case = make_review_case(cell)
    t0 = timezone.now()
    claims.claim_case(case, actor=operator, now=t0)
    with pytest.raises(RefusedByRule, match="lapsed"):
        verdicts.sign_verdict(
            case,
            actor=operator,
            verdict="confirm_nok",
            disposition="scrap",
            credential=factories.PASSWORD,
            idempotency_key=uuid.uuid4(),
            now=t0 + dt.timedelta(hours=5),
        )
    assert not Review.objects.exists()
    assert review_time_by_shift(now=t0 + dt.timedelta(hours=5)) == []  # no 5-hour review in the shift median


def test_it_refuses_a_verdict_after_the_claim_was_released(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = claimed(login(operator), case)
    client.post(reverse("review-release", args=[case.result_id]))
    response = sign(client, case, verdict="confirm_nok", disposition="scrap")
    assert response.status_code == 409 and response.json()["code"] == "claim_lapsed"
    assert not Review.objects.exists()


def test_it_counts_review_time_from_the_live_claim_not_across_a_lapse(cell: Any, operator: Any, settings: Any) -> None:
    settings.TWINWEB_REVIEW_CLAIM_TTL_S = 60
    case = make_review_case(cell)
    t0 = timezone.now()
    claims.claim_case(case, actor=operator, now=t0)
    later = t0 + dt.timedelta(hours=5)
    again = claims.claim_case(case, actor=operator, now=later)
    review, _ = verdicts.sign_verdict(
        case,
        actor=operator,
        verdict="confirm_nok",
        disposition="scrap",
        credential=factories.PASSWORD,
        idempotency_key=uuid.uuid4(),
        now=later + dt.timedelta(seconds=40),
    )
    assert review.review_seconds == 40.0 and review.opened_at == again.claimed_at == later


def test_it_accepts_the_resent_copy_of_a_recorded_decision_without_a_claim(
    cell: Any, operator: Any, settings: Any
) -> None:
    settings.TWINWEB_REVIEW_CLAIM_TTL_S = 60
    case = make_review_case(cell)
    t0 = timezone.now()
    claims.claim_case(case, actor=operator, now=t0)
    key = uuid.uuid4()
    decision: dict[str, Any] = {
        "verdict": "confirm_nok",
        "disposition": "scrap",
        "credential": factories.PASSWORD,
        "idempotency_key": key,
    }
    first, applied = verdicts.sign_verdict(case, actor=operator, now=t0 + dt.timedelta(seconds=10), **decision)
    again, applied_again = verdicts.sign_verdict(case, actor=operator, now=t0 + dt.timedelta(hours=5), **decision)
    assert (applied, applied_again) == (True, False) and again.pk == first.pk


# --- What a signature binds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("printed_name", "Someone Else (someone)"),
        ("meaning", SignatureMeaning.COUNTERSIGN),
        ("signed_at", dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)),
    ],
)
def test_it_binds_the_printed_name_meaning_and_time_into_the_signatures_hash(
    cell: Any, operator: Any, login: Any, field: str, value: Any
) -> None:
    case = make_review_case(cell)
    sign(claimed(login(operator), case), case, verdict="confirm_nok", disposition="rework")
    signature = Signature.objects.get()
    assert signing.signature_is_intact(signature)
    Signature.objects.filter(pk=signature.pk).update(**{field: value})
    assert not signing.signature_is_intact(Signature.objects.get())


def test_it_binds_the_countersigners_name_meaning_and_time_too(
    cell: Any, quality_engineer: Any, supervisor: Any, login: Any
) -> None:
    case = make_review_case(cell, four_eyes=True)
    sign(claimed(login(quality_engineer), case), case, verdict="override_ok", reason_code="dirt")
    review = Review.objects.get()
    login(supervisor).post(
        reverse("review-countersign", args=[review.pk]),
        {"credential": factories.PASSWORD, "idempotency_key": str(uuid.uuid4())},
    )
    author, counter = review.signatures.all()
    assert counter.meaning == SignatureMeaning.COUNTERSIGN and signing.signature_is_intact(counter)
    assert author.content_sha256 != counter.content_sha256  # each binds its own name, meaning and time
    Signature.objects.filter(pk=counter.pk).update(printed_name="Quinn Tester (quinn)")
    assert not signing.signature_is_intact(Signature.objects.get(pk=counter.pk))


def test_it_still_verifies_a_signature_made_before_the_hash_was_versioned(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    sign(claimed(login(operator), case), case, verdict="confirm_nok", disposition="rework")
    review = Review.objects.get()
    # A version-1 signature bound the review's content hash alone.
    Signature.objects.update(hash_version=1, content_sha256=review.content_sha256)
    old = Signature.objects.get()
    assert signing.signature_is_intact(old)
    review.signed_content["decision"]["disposition"] = "scrap"
    review.save(update_fields=["signed_content"])
    assert not signing.signature_is_intact(Signature.objects.get())


def test_it_refuses_a_verdict_on_evidence_that_changed_while_the_operator_looked(
    cell: Any, operator: Any, login: Any
) -> None:
    case = make_review_case(cell, captured_at=timezone.now() - dt.timedelta(minutes=1))
    client = claimed(login(operator), case)
    shown = client.get(reverse("review-case", args=[case.result_id])).context["case_data"]["inspections"]
    make_review_case(
        cell, part=case.part, station="dimensional", defect="ok", seed=5, dimensions_mm={"bore_diameter": 29.9}
    )
    refused = sign(client, case, verdict="override_ok", reason_code="glare", inspections=shown)
    assert refused.status_code == 409 and "changed" in refused.json()["detail"]
    assert not Review.objects.exists()
    shown = client.get(reverse("review-case", args=[case.result_id])).context["case_data"]["inspections"]
    assert len(shown) == 2
    assert sign(client, case, verdict="confirm_nok", disposition="scrap", inspections=shown).status_code == 201
