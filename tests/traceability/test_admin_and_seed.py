"""Admin edits are audited like any other write, and cannot bypass the plant's rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import factories
from traceability.models import AuditRecord, FailureCase, Pallet

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_an_admin_edit_lands_in_the_audit_trail(admin_user: Any, login: Any) -> None:
    defect = factories.make_defect_code("scratch")
    response = login(admin_user).post(
        f"/admin/traceability/defectcode/{defect.pk}/change/",
        {"code": "scratch", "name": "Surface scratch > 0.2 mm", "description": "", "severity": "major"},
    )
    assert response.status_code == 302, response.content[:2000]
    record = AuditRecord.objects.filter(action="traceability.defectcode.update").get()
    assert record.actor == admin_user
    assert '"name":"Surface scratch > 0.2 mm"' in record.payload


@pytest.mark.django_db
def test_the_audit_trail_is_read_only_in_the_admin(admin_user: Any, login: Any) -> None:
    factories.make_lot()
    record = AuditRecord.objects.latest("id")
    client = login(admin_user)
    assert client.get("/admin/traceability/auditrecord/").status_code == 200
    assert client.get("/admin/traceability/auditrecord/add/").status_code == 403
    assert client.post(f"/admin/traceability/auditrecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_every_model_has_an_admin(admin_user: Any, login: Any) -> None:
    from django.apps import apps
    from django.contrib import admin

    missing = [
        model._meta.label
        for app in ("traceability", "inspection")
        for model in apps.get_app_config(app).get_models()
        if model not in admin.site._registry
    ]
    assert missing == []


@pytest.mark.django_db
def test_the_admin_cannot_bypass_plant_rules_on_parts_lots_and_pallets(admin_user: Any, login: Any) -> None:
    """Status, pallet and disposition fields are read-only in the admin: a crafted POST changes nothing."""
    from traceability import actions, gs1

    client = login(admin_user)
    lot = factories.make_lot()
    part = factories.make_part()
    pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 76), actor=None)
    lot_form = client.get(f"/admin/traceability/materiallot/{lot.pk}/change/").content.decode()
    assert 'name="status"' not in lot_form and "Contain or release on the lot" in lot_form
    part_form = client.get(f"/admin/traceability/part/{part.pk}/change/").content.decode()
    assert 'name="status"' not in part_form and 'name="pallet"' not in part_form

    client.post(
        f"/admin/traceability/part/{part.pk}/change/",
        {
            "serial": part.serial,
            "part_type": part.part_type_id,
            "batch": part.batch_id,
            "status": "shipped",
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
            "status_changed_at_0": "2026-01-01",
            "status_changed_at_1": "00:00:00",
            "pallet": pallet.pk,
        },
    )
    part.refresh_from_db()
    assert part.status == "in_process" and part.pallet_id is None


@pytest.mark.django_db
def test_admin_actions_go_through_the_plant_rules(admin_user: Any, login: Any) -> None:
    from traceability import actions, gs1
    from traceability.choices import FoundBy

    client = login(admin_user)
    part = factories.make_part()
    case = actions.open_failure_case(
        part, defect_code=factories.make_defect_code("dent"), found_by=FoundBy.MACHINE, actor=None
    )
    decide = {"action": "decide", "_selected_action": [case.pk]}
    page = client.post("/admin/traceability/failurecase/", decide)
    assert "Your password or signing PIN" in page.content.decode()  # the action asks for a signature first
    unsigned = client.post(
        "/admin/traceability/failurecase/",
        {**decide, "apply": "Sign", "disposition": "rework", "reason": "burr", "credential": "guess"},
        follow=True,
    )
    assert "not accepted" in unsigned.content.decode()
    assert FailureCase.objects.get(pk=case.pk).status == "open"
    response = client.post(
        "/admin/traceability/failurecase/",
        {
            **decide,
            "apply": "Sign",
            "disposition": "rework",
            "reason": "burr removed",
            "credential": factories.PASSWORD,
        },
        follow=True,
    )
    assert "1 cases decided" in response.content.decode()
    part.refresh_from_db()
    assert part.status == "reworked"
    assert AuditRecord.objects.filter(action="failure_case.disposition", actor_id=admin_user.pk).exists()

    pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 77), actor=None)
    response = client.post(
        "/admin/traceability/pallet/", {"action": "ship_selected", "_selected_action": [pallet.pk]}, follow=True
    )
    assert "is empty" in response.content.decode()  # refused by the rule, shown to the admin
    assert Pallet.objects.get(pk=pallet.pk).status == "open"
