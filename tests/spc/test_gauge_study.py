"""A type-1 gauge study of the dimensional station from repeated renders of one reference part (the demo's
renderer and the edge's measurement programme), stored and shown beside capability."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command
from django.urls import reverse

from spc.models import Characteristic, GaugeStudy
from traceability.models import AuditRecord


def test_it_records_a_gauge_study_from_renders_and_shows_it(
    characteristic: Characteristic, quality_engineer: Any, login: Any
) -> None:
    # The demo renderer knows the demo part type codes: name the test part type after one.
    characteristic.part_type.code = "CF-80"
    characteristic.part_type.save(update_fields=["code"])
    out = io.StringIO()
    call_command(
        "demo_gauge_study", "--characteristic", str(characteristic.pk), "--user", "quinn", "--repeats", "12", stdout=out
    )
    study = GaugeStudy.objects.get(characteristic=characteristic)
    assert study.n == 12 and study.cg is not None and study.cgk is not None and study.cgk <= study.cg
    assert abs(study.bias) < 0.05 and study.sd > 0  # fresh noise and placement: the repeats differ
    assert AuditRecord.objects.filter(action="spc.gauge_study.record").exists()
    page = login(quality_engineer).get(reverse("spc-part-type", args=["CF-80"])).content.decode()
    assert f"Cg {study.cg:.2f}" in page
