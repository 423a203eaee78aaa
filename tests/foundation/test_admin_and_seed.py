"""Admin edits are audited like any other write; the demo seed is believable and idempotent; production
settings pass Django's deployment checks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests import factories
from traceability.models import AuditRecord, Cell, FailureCase, LotLink, MaterialLot, Pallet, Part, StationEvent

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
        model._meta.label for app in ("traceability", "inspection")
        for model in apps.get_app_config(app).get_models() if model not in admin.site._registry
    ]
    assert missing == []


@pytest.mark.django_db
@pytest.mark.slow
def test_seed_demo_builds_a_believable_cell_and_is_idempotent(capsys: Any) -> None:
    call_command("seed_demo", parts=1000)
    counts = (Part.objects.count(), StationEvent.objects.count(), AuditRecord.objects.count())
    assert Cell.objects.get(code="ac-cell-1").stations.count() == 5
    assert Part.objects.filter(batch__batch_number__startswith="B-REVIEW").count() < 20  # Debug Mode's demo cases
    assert Part.objects.exclude(batch__batch_number__startswith="B-REVIEW").count() == 1000
    assert counts[1] > 3000
    assert FailureCase.objects.exists()
    assert LotLink.objects.filter(kind="merge").exists() and LotLink.objects.filter(kind="split").exists()
    assert MaterialLot.objects.values("supplier").distinct().count() >= 4
    assert Pallet.objects.filter(status="shipped").exists() or Pallet.objects.exists()
    assert "twinweb-demo" in capsys.readouterr().out

    call_command("seed_demo", parts=1000)
    assert (Part.objects.count(), StationEvent.objects.count()) == counts[:2]
    call_command("verify_audit")


def test_production_settings_pass_the_deployment_checks() -> None:
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
        "ALLOWED_HOSTS": "twinweb.plant.example",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://twinweb@127.0.0.1:5432/twinweb"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"DEBUG": "0", "REDIS_URL": "redis://127.0.0.1:6379/0"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
