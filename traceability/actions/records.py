"""Generic master data (plant hierarchy, part types, materials, defect codes): create, update, delete and
correct any record through the audit trail."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction
from django.utils.translation import gettext

from traceability import audit
from traceability.actions.common import Actor, snapshot
from traceability.errors import RefusedByRule
from traceability.models import AuditRecord

_M = TypeVar("_M", bound=models.Model)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


# --- Generic master data (plant hierarchy, part types, materials, defect codes) ------------------------


@transaction.atomic
def save_record(instance: _M, *, actor: Actor, reason: str = "") -> _M:
    """Create or update a record through the audit trail (used by the admin and by setup code)."""
    instance.full_clean()
    creating = instance._state.adding or instance.pk is None
    before = {} if creating else snapshot(type(instance)._default_manager.get(pk=instance.pk))
    instance.save()
    after = snapshot(instance)
    label = instance._meta.label_lower
    if creating:
        audit.append(actor=actor, action=f"{label}.create", subject=instance, after=after, reason=reason)
    else:
        old, new = _changes(before, after)
        if new:
            audit.append(actor=actor, action=f"{label}.update", subject=instance, before=old, after=new, reason=reason)
    return instance


@transaction.atomic
def delete_record(instance: models.Model, *, actor: Actor, reason: str = "") -> None:
    before = snapshot(instance)
    audit.append(
        actor=actor, action=f"{instance._meta.label_lower}.delete", subject=instance, before=before, reason=reason
    )
    instance.delete()


@transaction.atomic
def correct_record(
    instance: models.Model, *, corrects: AuditRecord, changes: dict[str, Any], reason: str, actor: Actor
) -> AuditRecord:
    """Correct earlier recorded values. The original audit record stays as it was; the correction points at it."""
    if not reason.strip():
        raise RefusedByRule(gettext("A correction needs a reason."))
    subject_type, subject_key = audit.subject_identity(instance)
    if (corrects.subject_type, corrects.subject_key) != (subject_type, subject_key):
        raise RefusedByRule(gettext("The corrected record is about another subject."))
    before = snapshot(instance, changes.keys())
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save(update_fields=list(changes))
    return audit.append(
        actor=actor,
        action=f"{instance._meta.label_lower}.correct",
        subject=instance,
        before=before,
        after=snapshot(instance, changes.keys()),
        reason=reason,
        corrects=corrects,
    )
