"""Part types, drawings and tolerances are records a quality engineer keeps without a developer: a new part type of
an existing family is measured with no code change, a changed tolerance releases a new revision that the next part
is measured against (the trace says which), earlier revisions stay readable, and a family without a measurement
programme is refused with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from edge_worker.vision.inspect import inspect_image
from edge_worker.vision.measure import PROGRAMME_FEATURES as EDGE_PROGRAMMES
from edge_worker.vision.parts import DEMO_PART_TYPES, PartTypeSpec
from edge_worker.vision.render import encode_png, render_part
from inspection.actions.ingest import record_inspection_result
from tests.support import factories, ingest_builders
from traceability import actions, selectors
from traceability.actions.drawings import PROGRAMME_FEATURES, features_of, next_revision, with_tolerance
from traceability.errors import RefusedByRule
from traceability.genealogy import backward_trace
from traceability.models import AuditRecord, DrawingRevision, PartType

SIX_HOLE_FLANGE = [
    {"name": "outer_diameter", "kind": "diameter", "nominal": 90.0, "lower_tol": -0.1, "upper_tol": 0.1, "unit": "mm"},
    {"name": "bore_diameter", "kind": "diameter", "nominal": 34.0, "lower_tol": 0.0, "upper_tol": 0.1, "unit": "mm"},
    *[
        {
            "name": f"bolt_hole_{n}_diameter",
            "kind": "diameter",
            "nominal": 8.0,
            "lower_tol": 0.0,
            "upper_tol": 0.1,
            "unit": "mm",
        }
        for n in range(1, 7)
    ],
    {
        "name": "bolt_circle_diameter",
        "kind": "distance",
        "nominal": 66.0,
        "lower_tol": -0.1,
        "upper_tol": 0.1,
        "unit": "mm",
    },
]


def formset(features: list[dict[str, Any]], extra: dict[str, str] | None = None, *, initial: int = 0) -> dict[str, Any]:
    """The features as the page's formset posts them (`initial`: how many rows the page showed filled in)."""
    data: dict[str, Any] = {
        "f-TOTAL_FORMS": str(len(features)),
        "f-INITIAL_FORMS": str(initial),
        "f-MIN_NUM_FORMS": "0",
        "f-MAX_NUM_FORMS": "1000",
    }
    for i, f in enumerate(features):
        data.update({f"f-{i}-{key}": str(value) for key, value in f.items()})
    return {**data, **(extra or {})}


def inspect_as_the_edge_would(part_type: PartType, *, seed: int, dimensions_mm: dict[str, float] | None = None) -> Any:
    spec = PartTypeSpec.from_dict(selectors.part_type_spec(part_type))
    png = encode_png(render_part(spec, seed=seed, dimensions_mm=dimensions_mm).image)
    return spec, png, inspect_image(png, spec, classifier=None)  # the measurement programme alone


@pytest.mark.django_db
def test_a_new_part_type_of_a_known_family_is_measured_with_no_code(quality_engineer: Any, login: Any) -> None:
    page = login(quality_engineer).post(
        "/drawings/new/",
        formset(
            SIX_HOLE_FLANGE,
            {
                "code": "CF-90",
                "name": "Compressor flange 90, six bolts",
                "family": "flange",
                "drawing_number": "DRW-CF-0090",
                "revision": "A",
                "gtin": "",
            },
        ),
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    part_type = PartType.objects.get(code="CF-90")
    assert "CF-90" not in DEMO_PART_TYPES  # known to the database alone
    _spec, _png, outcome = inspect_as_the_edge_would(part_type, seed=4)
    measured = {m["name"]: m for m in outcome.measurements}
    assert set(measured) == {f["name"] for f in SIX_HOLE_FLANGE}
    assert outcome.verdict == "pass", outcome.reason
    assert (
        abs(measured["bore_diameter"]["value"] - 34.05) < 0.06
        and abs(measured["bolt_circle_diameter"]["value"] - 66) < 0.1
    )
    assert AuditRecord.objects.filter(action="drawing.release").exists()


@pytest.mark.django_db
def test_a_family_without_a_measurement_programme_is_refused(quality_engineer: Any) -> None:
    with pytest.raises(RefusedByRule, match="No measurement programme for family 'gear'"):
        actions.create_part_type(
            code="GR-1",
            name="Gear",
            family="gear",
            drawing_number="D-G1",
            revision="A",
            features=SIX_HOLE_FLANGE,
            actor=quality_engineer,
        )  # type: ignore[arg-type]
    with pytest.raises(RefusedByRule, match="bolt_circle_diameter"):
        actions.create_part_type(
            code="CF-X",
            name="Flange",
            family="flange",
            drawing_number="D-X",
            revision="A",
            features=SIX_HOLE_FLANGE[:-1],
            actor=quality_engineer,
        )  # type: ignore[arg-type]
    assert not PartType.objects.exists()


def test_the_server_knows_the_same_programmes_as_the_edge() -> None:
    assert {family: tuple(names) for family, names in PROGRAMME_FEATURES.items()} == EDGE_PROGRAMMES


@pytest.mark.django_db
def test_a_tightened_tolerance_fails_the_next_part_and_the_trace_says_against_which_revision(
    cell: Any, quality_engineer: Any, login: Any
) -> None:
    part_type = factories.make_part_type(code="CF-80T")
    batch = factories.make_batch(part_type, cell)
    device = ingest_builders.make_device(cell)
    bore = {"bore_diameter": 30.07}  # inside H10 (+0.084), outside a tightened +0.05

    def inspect_next_part() -> Any:
        part = factories.make_part(batch)
        spec, png, outcome = inspect_as_the_edge_would(part_type, seed=3, dimensions_mm=bore)
        result = ingest_builders.result(
            serial=part.serial, station="dimensional", device_id=device.device_id, verdict=outcome.verdict, image=png
        )
        payload = ingest_builders.signed(
            {
                **result.to_dict(),
                "drawing_revision": spec.revision,
                "measurements": [
                    {k: v for k, v in m.items() if k not in ("value_px", "detail")} for m in outcome.measurements
                ],
            },
            device_id=device.device_id,
        )
        inspection, _ = record_inspection_result(payload)
        return part, inspection, outcome

    _part, before, outcome = inspect_next_part()
    assert outcome.verdict == "pass" and before.drawing.revision == "A"

    current = selectors.current_drawing(part_type)
    shown = features_of(current)
    page = login(quality_engineer).post(
        f"/drawings/{part_type.code}/",
        formset(
            with_tolerance(shown, "bore_diameter", upper_tol=0.05),  # type: ignore[arg-type]
            {"reason": "customer tightened the bore fit (8D 2026-114)"},
            initial=len(shown),
        ),
    )
    assert page.status_code == 302
    part_type.refresh_from_db()
    assert part_type.revision == "B"

    part, after, outcome = inspect_next_part()
    assert outcome.verdict == "fail" and "bore_diameter" in outcome.reason
    assert after.drawing.revision == "B"
    [step] = backward_trace(part).inspections
    assert step.drawing == f"{part_type.drawing_number} rev B"
    # The earlier revision stays as it was, readable.
    assert (
        DrawingRevision.objects.get(part_type=part_type, revision="A").features.get(name="bore_diameter").upper_tol
        == 0.084
    )
    assert "Rev A" in login(quality_engineer).get(f"/drawings/{part_type.code}/").content.decode()


def test_revisions_count_like_drawings_do() -> None:
    assert [next_revision(r) for r in ("A", "C", "Z", "AZ", "7", "")] == ["B", "D", "AA", "BA", "8", "A"]


@pytest.mark.django_db
def test_only_quality_engineers_change_drawings(operator: Any, quality_engineer: Any, login: Any) -> None:
    part_type = factories.make_part_type(code="CF-80R")
    assert login(operator).get(f"/drawings/{part_type.code}/").status_code == 200  # operators read them
    refused = login(operator).post(
        f"/drawings/{part_type.code}/", formset(features_of(selectors.current_drawing(part_type)), {"reason": "x"})
    )  # type: ignore[arg-type]
    assert refused.status_code == 403
    assert login(operator).get("/drawings/new/").status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_part_types_of_before_become_drawing_revisions() -> None:
    before = [
        ("traceability", "0006_electronic_signatures"),
        ("inspection", "0007_move_to_apps"),
        ("review", "0002_signing_pin_moves_to_traceability"),
    ]
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(before)
        old = MigrationExecutor(connection).loader.project_state(before).apps
        OldPartType = old.get_model("traceability", "PartType")
        OldFeature = old.get_model("traceability", "DimensionalFeature")
        for code in ("CF-80", "TF-12"):
            spec = DEMO_PART_TYPES[code]
            part_type = OldPartType.objects.create(
                code=code, name=spec.name, drawing_number=spec.drawing_number, revision=spec.revision
            )
            for f in spec.features:
                OldFeature.objects.create(
                    part_type=part_type,
                    name=f.name,
                    kind=f.kind,
                    nominal=f.nominal,
                    lower_tol=f.lower_tol,
                    upper_tol=f.upper_tol,
                    unit=f.unit,
                )
        call_command("migrate", verbosity=0)
        for code, family in (("CF-80", "flange"), ("TF-12", "tube_fitting")):
            part_type = PartType.objects.get(code=code)
            drawing = selectors.current_drawing(part_type)
            assert (part_type.family, drawing.revision) == (family, DEMO_PART_TYPES[code].revision)
            assert drawing.features.count() == len(DEMO_PART_TYPES[code].features)
    finally:
        call_command("migrate", verbosity=0)
