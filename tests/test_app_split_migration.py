"""A database made before the live view, Debug Mode and edge profiling had apps of their own keeps every row.

The database is rolled back to the migrations as they stood before the split (inspection 0006), filled there
through the historical models of that state (one row of every model the inspection app then had, and the
permissions granted on them), migrated forward, and every row is found again through today's models, with its
content type and the grants on it carried to the new app.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps as current_apps
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor

BEFORE_SPLIT = [
    ("inspection", "0006_review_per_part"),
    ("traceability", "0005_containment"),
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
]
NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc)
# Values a generic row cannot guess: the check constraints' business rules.
OVERRIDES: dict[str, dict[str, Any]] = {
    "inspection.reviewclaim": {"expires_at": NOW + dt.timedelta(minutes=10), "ended_at": None, "end_reason": ""},
    "inspection.review": {
        "verdict": "confirm_ok",
        "disposition": "line",
        "status": "complete",
        "completed_at": NOW,
        "review_seconds": 12.5,
        "reason_code": "",
    },
    "inspection.alarm": {"cleared_at": None, "device": None},
}
MOVED = {
    "alarm": "live",
    "reviewclaim": "review",
    "review": "review",
    "reviewedinspection": "review",
    "signature": "review",
    "cobotcommand": "review",
    "profilingrun": "profiling",
    "profilingvariant": "profiling",
    "profilingseries": "profiling",
}


def _value(field: models.Field, made: dict[str, Any], n: int) -> Any:
    if field.is_relation:
        return made[field.related_model._meta.label_lower]
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, (models.DateTimeField,)):
        return NOW
    if isinstance(field, models.DateField):
        return NOW.date()
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DecimalField):
        return Decimal("1")
    if isinstance(field, (models.FloatField,)):
        return 1.0
    if isinstance(field, (models.IntegerField,)):
        return 1
    if isinstance(field, models.JSONField):
        return {"row": n}
    if isinstance(field, models.FileField):
        return f"images/{n}.png"
    if isinstance(field, (models.CharField, models.TextField)):
        limit = getattr(field, "max_length", None) or 64
        return f"r{n}-{field.name}"[:limit] if limit >= 8 else "x" * limit
    raise TypeError(f"no value for {field!r}")


def _fill(model: type[models.Model], made: dict[str, Any], n: int) -> models.Model:
    label = model._meta.label_lower
    kwargs: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and field.auto_created:
            continue
        if field.name in OVERRIDES.get(label, {}):
            kwargs[field.name] = OVERRIDES[label][field.name]
        elif field.is_relation and field.null and field.related_model._meta.label_lower not in made:
            kwargs[field.name] = None
        else:
            kwargs[field.name] = _value(field, made, n)
    return model.objects.create(**kwargs)


def _dependency_order(models_: list[type[models.Model]]) -> list[type[models.Model]]:
    ordered: list[type[models.Model]] = []
    pending = list(models_)
    while pending:
        for model in pending:
            needs = {f.related_model for f in model._meta.concrete_fields if f.is_relation and not f.null}
            if all(dep in ordered or dep not in pending for dep in needs):
                ordered.append(model)
                pending.remove(model)
                break
        else:
            raise RuntimeError(f"circular foreign keys among {pending}")
    return ordered


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_it_keeps_every_row_when_the_apps_are_split() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE_SPLIT)
        old = MigrationExecutor(connection).loader.project_state(BEFORE_SPLIT).apps
        wanted = [m for m in old.get_app_config("inspection").get_models()]
        prerequisites = {f.related_model for m in wanted for f in m._meta.concrete_fields if f.is_relation}
        closure = set(wanted)
        while prerequisites - closure:
            closure |= prerequisites
            prerequisites = {
                f.related_model for m in closure for f in m._meta.concrete_fields if f.is_relation and not f.null
            }
        made: dict[str, Any] = {}
        for n, model in enumerate(_dependency_order(sorted(closure, key=lambda m: m._meta.label_lower))):
            made[model._meta.label_lower] = _fill(model, made, n)
        before = {m._meta.model_name: set(m.objects.values_list("pk", flat=True)) for m in wanted}
        assert set(MOVED) <= set(before) and all(before.values())
        # Signing PINs later serve every signature: they move on to traceability.SigningPin (review 0002).
        pin_holders = set(old.get_model("inspection", "ReviewPin").objects.values_list("user_id", flat=True))
        del before["reviewpin"]
        # A role's grant on a moved model (its content type is the inspection app's, before the split).
        ContentType = old.get_model("contenttypes", "ContentType")
        Permission = old.get_model("auth", "Permission")
        Group = old.get_model("auth", "Group")
        review_type = ContentType.objects.get_or_create(app_label="inspection", model="review")[0]
        grant = Permission.objects.get_or_create(
            content_type=review_type, codename="view_review", defaults={"name": "Can view review"}
        )[0]
        group = Group.objects.create(name="auditors before the split")
        group.permissions.add(grant)

        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

        for model_name, pks in before.items():
            app_label = MOVED.get(model_name, "inspection")
            model = current_apps.get_model(app_label, model_name)
            assert set(model.objects.values_list("pk", flat=True)) == pks, f"{app_label}.{model_name} lost rows"
        assert (
            set(current_apps.get_model("traceability", "SigningPin").objects.values_list("user_id", flat=True))
            == pin_holders
        )
        review = current_apps.get_model("review", "Review").objects.get()
        assert review.verdict == "confirm_ok" and review.inspection_id == made["inspection.inspection"].pk
        moved_grant = current_apps.get_model("auth", "Permission").objects.get(pk=grant.pk)
        assert (moved_grant.content_type.app_label, moved_grant.codename) == ("review", "view_review")
        assert current_apps.get_model("auth", "Group").objects.get(pk=group.pk).permissions.get() == moved_grant
    finally:
        call_command("migrate", verbosity=0)
