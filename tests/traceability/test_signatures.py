"""Signatures cannot be bypassed (21 CFR Part 11 §11.200 in spirit): every signature re-authenticates through one
path with an atomic lockout, a PIN needs the password, and a failed part is decided one way whatever the door (Debug
Mode, the API, the admin): a reason, a signature, the four-eyes rule, and an override awaiting its countersignature
holds every other decision."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from review.models import Review
from tests.support import factories
from tests.support.factories import PASSWORD
from tests.support.review_cases import make_review_case
from traceability import actions
from traceability.actions import esign
from traceability.choices import FailureCaseStatus, PartStatus
from traceability.models import AuditRecord, FailureCase, RecordSignature, SigningPin

JSON = "application/json"


def claim_and_sign(client: Any, case: Any, **fields: Any) -> Any:
    client.post(reverse("review-claim", args=[case.result_id]))
    body = {
        "verdict": "override_ok",
        "reason_code": "glare",
        "note": "",
        "credential": PASSWORD,
        "idempotency_key": str(uuid.uuid4()),
        **fields,
    }
    return client.post(reverse("review-sign", args=[case.result_id]), data=json.dumps(body), content_type=JSON)


def failed_case(cell: Any, *, four_eyes: bool = False) -> FailureCase:
    inspection = make_review_case(cell, four_eyes=four_eyes)
    return FailureCase.objects.get(pk=inspection.failure_case_id)


def decide(client: Any, case: FailureCase, **fields: Any) -> Any:
    body = {
        "disposition": "use_as_is",
        "reason": "cosmetic only, customer concession 12",
        "credential": PASSWORD,
        **fields,
    }
    return client.post(f"/api/failure-cases/{case.pk}/disposition/", body, content_type=JSON)


# --- Signing PINs ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_to_set_a_pin_from_the_session_alone(cell: Any, operator: Any, login: Any) -> None:
    # An operator walks away from an unlocked tablet; someone sets a PIN, then signs a verdict with it.
    client = login(operator)
    client.post(reverse("review-pin"), {"pin": "1234"})
    client.post(reverse("review-pin"), {"pin": "1234", "current_password": "not-the-password"})
    assert not SigningPin.objects.filter(user=operator).exists()
    case = make_review_case(cell)
    response = claim_and_sign(
        client, case, verdict="confirm_nok", disposition="scrap", reason_code="", credential="1234"
    )
    assert response.status_code == 403 and response.json()["code"] == "signature_refused"
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_a_pin_set_with_the_password_signs(cell: Any, operator: Any, login: Any) -> None:
    client = login(operator)
    client.post(reverse("review-pin"), {"pin": "4711", "current_password": PASSWORD})
    assert SigningPin.objects.filter(user=operator).exists()
    assert AuditRecord.objects.filter(action="signing_pin.set").exists()
    # A PIN cannot vouch for a new PIN: only the password can.
    client.post(reverse("review-pin"), {"pin": "9999", "current_password": "4711"})
    assert esign.authenticate_signer(operator, "4711", subject=("test", "1")) == "pin"


# --- The lockout ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_burst_of_parallel_wrong_signatures_gets_no_more_guesses_than_the_limit(settings: Any) -> None:
    settings.TWINWEB_SIGNATURE_MAX_FAILURES = 5
    # The real, deliberately slow hasher: twelve guesses are in flight at once, as in the reported attack.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    signer = factories.make_user("olivia", None)
    outcomes: list[str] = []
    start = threading.Barrier(12)

    def guess(n: int) -> None:
        start.wait()
        try:
            esign.authenticate_signer(signer, f"guess-{n}", subject=("test", "burst"))
            outcomes.append("accepted")
        except esign.SignatureRefused as refusal:
            outcomes.append("locked" if "locked" in str(refusal) else "checked")
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["checked"] * 5 + ["locked"] * 7
    assert AuditRecord.objects.filter(action="signature.refused").count() == 5
    # Locked now, even for the right password, until the window ends.
    with pytest.raises(esign.SignatureRefused, match="locked"):
        esign.authenticate_signer(signer, PASSWORD, subject=("test", "burst"))


@pytest.mark.django_db
def test_a_good_signature_does_not_use_up_the_guesses(settings: Any) -> None:
    settings.TWINWEB_SIGNATURE_MAX_FAILURES = 2
    signer = factories.make_user("olivia", None)
    for _ in range(10):
        assert esign.authenticate_signer(signer, PASSWORD, subject=("test", "ok")) == "password"
    with pytest.raises(esign.SignatureRefused, match="not accepted"):
        esign.authenticate_signer(signer, "typo", subject=("test", "ok"))
    assert esign.authenticate_signer(signer, PASSWORD, subject=("test", "ok")) == "password"


# --- One way to decide a failed part ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_pending_debug_mode_override_blocks_the_api_and_the_admin(
    cell: Any, operator: Any, quality_engineer: Any, admin_user: Any, login: Any
) -> None:
    inspection = make_review_case(cell, four_eyes=True)
    response = claim_and_sign(login(operator), inspection)
    assert response.status_code == 201 and response.json()["status"] == "awaiting_countersign"
    case = FailureCase.objects.get(pk=inspection.failure_case_id)
    assert case.status == FailureCaseStatus.AWAITING_COUNTERSIGN

    refused = decide(login(quality_engineer), case)
    assert refused.status_code == 409 and "countersignature" in refused.json()["detail"]
    admin = login(admin_user).post(
        "/admin/traceability/failurecase/",
        {
            "action": "decide",
            "_selected_action": [case.pk],
            "apply": "Sign",
            "disposition": "use_as_is",
            "reason": "concession",
            "credential": PASSWORD,
        },
        follow=True,
    )
    assert "countersignature" in admin.content.decode()
    inspection.part.refresh_from_db()
    assert inspection.part.status == PartStatus.FAILED
    assert Review.objects.get().status == "awaiting_countersign"


@pytest.mark.django_db
def test_the_api_decides_a_failed_part_only_with_a_reason_and_a_signature(
    cell: Any, quality_engineer: Any, login: Any
) -> None:
    case = failed_case(cell)
    client = login(quality_engineer)
    assert decide(client, case, reason="").status_code == 400
    assert decide(client, case, credential="").status_code == 400
    assert decide(client, case, credential="guess").status_code == 403
    assert FailureCase.objects.get(pk=case.pk).status == FailureCaseStatus.OPEN

    response = decide(client, case, disposition="scrap", reason="crack through the flange")
    assert response.status_code == 200
    body = response.json()
    # The response shows the state after the change, the part's included.
    assert (body["status"], body["disposition"], body["part"]["status"]) == ("closed", "scrap", "scrapped")
    [signature] = RecordSignature.objects.filter(subject_key=str(case.pk))
    assert (signature.meaning, signature.printed_name, signature.method) == ("disposition", "Quinn Tester", "password")
    assert signature.signed_content["reason"] == "crack through the flange"
    assert esign.record_signature_is_intact(signature)
    signature.signed_content["disposition"] = "use_as_is"
    assert not esign.record_signature_is_intact(signature)


@pytest.mark.django_db
def test_using_a_four_eyes_part_as_is_waits_for_a_second_person(
    cell: Any, quality_engineer: Any, supervisor: Any, login: Any
) -> None:
    case = failed_case(cell, four_eyes=True)
    response = decide(login(quality_engineer), case)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["part"]["status"]) == ("awaiting_countersign", "failed")
    # Nothing else is accepted meanwhile, not even from the same engineer.
    assert decide(login(quality_engineer), case, disposition="scrap").status_code == 409
    same = login(quality_engineer).post(
        f"/api/failure-cases/{case.pk}/countersign/", {"credential": PASSWORD}, content_type=JSON
    )
    assert same.status_code == 403  # not the same person

    done = login(supervisor).post(
        f"/api/failure-cases/{case.pk}/countersign/", {"credential": PASSWORD}, content_type=JSON
    )
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["disposition"], done.json()["part"]["status"]) == (
        "closed",
        "use_as_is",
        "passed",
    )
    meanings = sorted(RecordSignature.objects.filter(subject_key=str(case.pk)).values_list("meaning", flat=True))
    assert meanings == ["countersign", "disposition"]


@pytest.mark.django_db
def test_an_api_override_awaiting_countersignature_blocks_debug_mode(
    cell: Any, quality_engineer: Any, operator: Any, login: Any
) -> None:
    inspection = make_review_case(cell, four_eyes=True)
    case = FailureCase.objects.get(pk=inspection.failure_case_id)
    assert decide(login(quality_engineer), case).status_code == 200
    response = claim_and_sign(login(operator), inspection, verdict="confirm_nok", disposition="scrap", reason_code="")
    assert response.status_code == 409 and "countersignature" in response.json()["detail"]
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_releasing_a_containment_is_signed(quality_engineer: Any) -> None:
    lot = factories.make_lot()
    actions.contain_lot(lot, actor=quality_engineer, reason="porosity")
    with pytest.raises(esign.SignatureRefused):
        actions.release_containment(lot, actor=quality_engineer, reason="cleared", credential="guess")
    actions.release_containment(lot, actor=quality_engineer, reason="cleared", credential=PASSWORD)
    [signature] = RecordSignature.objects.filter(meaning="release")
    assert signature.signed_content["lot"] == lot.lot_key


# --- Sessions -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signing_tablet_signs_out_after_the_idle_time(operator: Any, login: Any, settings: Any) -> None:
    settings.TWINWEB_SIGNING_SESSION_IDLE_S = 60
    client = login(operator)
    assert client.get(reverse("review-queue")).status_code == 200
    session = client.session
    session["last_activity"] = session["last_activity"] - 61
    session.save()
    response = client.get(reverse("review-queue"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(reverse("review-queue")).status_code == 302  # signed out, not only redirected once


@pytest.mark.django_db
def test_a_desk_session_that_never_signs_keeps_its_normal_lifetime(auditor: Any, login: Any, settings: Any) -> None:
    settings.TWINWEB_SIGNING_SESSION_IDLE_S = 60
    client = login(auditor)
    assert client.get("/trace/").status_code == 200
    assert "last_activity" not in client.session
