from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import UserPreference
from traceability import audit


@transaction.atomic(durable=True)
def set_language(user: Any, *, language: str, actor: Any) -> UserPreference:
    """Set `user`'s language ("" follows the browser). Audited: who changed whose language."""
    preference, _ = UserPreference.objects.select_for_update().get_or_create(user=user)
    before = preference.language
    preference.language = language
    preference.full_clean()
    preference.save(update_fields=["language"])
    if before != language:
        audit.append(
            actor=actor,
            action="accounts.language",
            subject=preference,
            before={"language": before},
            after={"language": language},
        )
    return preference
