"""What every traceability action shares: who acts, the audited view of a record, and the part states that are
final."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

from django.contrib.auth.models import AnonymousUser, User
from django.db import models

from traceability.choices import PartStatus

# Who acts: a signed-in user (settings.AUTH_USER_MODEL is Django's own User), an anonymous visitor, or None for
# the system itself.
Actor: TypeAlias = User | AnonymousUser | None


def signed_in_user(actor: Actor) -> User | None:
    """The user behind an actor, for the tables that name one; None for the system and for anonymous visitors."""
    return actor if actor is not None and actor.is_authenticated else None


# Parts in these states may no longer change through production actions (only through a correction).
FINAL_PART_STATES = {PartStatus.SCRAPPED, PartStatus.SHIPPED}


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The audited view of a model instance: concrete field values, foreign keys as ids."""
    names = set(fields) if fields is not None else None
    data: dict[str, Any] = {}
    for f in instance._meta.concrete_fields:
        if names is not None and f.name not in names:
            continue
        data[f.attname if f.is_relation else f.name] = f.value_from_object(instance)
    return data
