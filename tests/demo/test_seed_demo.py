"""The demo seed builds a believable cell with history, through the same write paths as live production."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.test import Client

from accounts.models import UserPreference
from edge_worker.vision.parts import DEMO_PART_TYPES
from inspection.models import Inspection, Measurement
from modelops.models import ModelAlias
from traceability.models import (
    AuditRecord,
    Cell,
    FailureCase,
    LotLink,
    MaterialLot,
    Pallet,
    Part,
    StationEvent,
)


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
    assert Pallet.objects.filter(status="shipped").exists() and Pallet.objects.filter(status="closed").exists()
    out = capsys.readouterr().out
    assert "twinweb-demo" in out
    # One operator works in Portuguese: João's pages speak pt-BR whatever his tablet's browser asks for.
    assert UserPreference.objects.get(user__username="joao").language == "pt-br"
    assert "joao     operator (pages in pt-br)" in out
    client = Client()
    signed_in = client.post("/accounts/login/", {"username": "joao", "password": "twinweb-demo"})
    assert signed_in.status_code == 302
    assert "Células de produção" in client.get("/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()

    # The registry starts with the shipped model as the cell's champion, moved there by the quality engineer's
    # signature, so a trained candidate has a champion to be compared with and shadowed beside.
    champion = ModelAlias.objects.select_related("version").get(cell__code="ac-cell-1", alias="champion")
    assert champion.version.provenance["shipped"] is True
    assert AuditRecord.objects.filter(action__startswith="modelops.alias").exists()

    call_command("seed_demo", parts=1000)
    assert (Part.objects.count(), StationEvent.objects.count()) == counts[:2]
    assert ModelAlias.objects.count() == 1
    call_command("verify_audit")


@pytest.mark.django_db
@pytest.mark.slow
def test_every_historic_part_has_its_inspections_stored_through_ingest() -> None:
    call_command("seed_demo", parts=500)
    history = Part.objects.exclude(batch__batch_number__startswith="B-REVIEW")
    per_part = history.annotate(n=Count("inspections")).values_list("n", flat=True)
    assert set(per_part) == {2}  # the visual and the dimensional station, every part
    dimensional = Inspection.objects.filter(part__in=history, station__code="dimensional")
    features = {
        f.name for spec in DEMO_PART_TYPES.values() for f in spec.features if spec.code == history[0].part_type.code
    }
    assert set(Measurement.objects.filter(inspection=dimensional[0]).values_list("name", flat=True)) == features
    assert Measurement.objects.filter(inspection__in=dimensional).count() == len(features) * history.count()
    # Stored by the ingest action: one "inspection.record" audit entry per result, and a failed part was failed by
    # its own result (a machine failure case), not by the seed.
    assert AuditRecord.objects.filter(action="inspection.record").count() >= dimensional.count() * 2
    failed = Inspection.objects.filter(part__in=history, verdict="fail", failure_case__isnull=False)
    assert failed.exists() and {i.failure_case.found_by for i in failed} == {"machine"}
    assert set(Inspection.objects.filter(part__in=history).values_list("model_version", flat=True)) == {"history-sim"}
