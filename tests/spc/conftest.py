"""SPC fixtures: a part type measured at the dimensional station, with a builder that stores measured values the
way ingest leaves them (parts, inspections naming the drawing revision, measurements), in bulk."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.utils import timezone

from inspection.choices import Verdict
from inspection.models import Inspection, Measurement
from spc.models import Characteristic
from tests.support import factories
from traceability.choices import PartStatus
from traceability.models import Part, Station

FEATURE = "bore_diameter"


@pytest.fixture
def measured(cell: Any) -> dict[str, Any]:
    part_type = factories.make_part_type()
    batch = factories.make_batch(part_type, cell)
    drawing = part_type.drawings.get()
    feature = drawing.features.get(name=FEATURE)
    station = Station.objects.get(cell=cell, code="dimensional")
    return {
        "cell": cell,
        "part_type": part_type,
        "batch": batch,
        "drawing": drawing,
        "feature": feature,
        "station": station,
        "t": [timezone.now() - dt.timedelta(days=30)],
    }


@pytest.fixture
def add_values(measured: dict[str, Any]) -> Callable[[Sequence[float]], None]:
    """Store one part per value, captured 15 s apart after the previous ones."""

    def add(values: Sequence[float]) -> None:
        m = measured
        feature = m["feature"]
        t0 = m["t"][0]
        stamp = uuid.uuid4().hex[:8]
        parts = Part.objects.bulk_create(
            [
                Part(
                    serial=f"SN-{stamp}-{i:06d}",
                    part_type=m["part_type"],
                    batch=m["batch"],
                    status=PartStatus.IN_PROCESS,
                    created_at=t0 + dt.timedelta(seconds=15 * i),
                    status_changed_at=t0 + dt.timedelta(seconds=15 * i),
                )
                for i in range(len(values))
            ]
        )
        inspections = Inspection.objects.bulk_create(
            [
                Inspection(
                    result_id=uuid.uuid4(),
                    capture_id=uuid.uuid4(),
                    part=part,
                    station=m["station"],
                    drawing=m["drawing"],
                    verdict=Verdict.PASS,
                    captured_at=t0 + dt.timedelta(seconds=15 * i),
                    inspected_at=t0 + dt.timedelta(seconds=15 * i),
                    received_at=t0 + dt.timedelta(seconds=15 * i),
                )
                for i, part in enumerate(parts)
            ]
        )
        Measurement.objects.bulk_create(
            [
                Measurement(
                    inspection=inspection,
                    name=feature.name,
                    kind=feature.kind,
                    value=value,
                    nominal=feature.nominal,
                    lower_tol=feature.lower_tol,
                    upper_tol=feature.upper_tol,
                    passed=True,
                )
                for inspection, value in zip(inspections, values)
            ]
        )
        m["t"][0] = t0 + dt.timedelta(seconds=15 * len(values))

    return add


@pytest.fixture
def characteristic(measured: dict[str, Any], add_values: Callable[[Sequence[float]], None]) -> Characteristic:
    """The bore at the dimensional station, discovered from its first measurements."""
    from spc.actions import sync_characteristics

    feature = measured["feature"]
    add_values([feature.nominal + (feature.lower_tol + feature.upper_tol) / 2])  # mid-tolerance
    sync_characteristics(part_type=measured["part_type"])
    return Characteristic.objects.get(feature=measured["feature"], station=measured["station"])
